// The webhook sender: claims due deliveries on a timer, POSTs each on its own non-blocking
// socket, records the outcome (see chat/webhook_sender.h for the contract).
#include "chat/webhook_sender.h"

#include <list>
#include <vector>

#include "chat/pg_pool.h"
#include "chat/webhook.h"
#include "chat/webhook_transport.h"

namespace chat::webhook {

namespace {

struct Claimed {
    std::string webhook_id, outbox_id, url, secret, body;
};

}  // namespace

struct Sender::Impl : std::enable_shared_from_this<Sender::Impl> {
    // One delivery in flight: its attempt on the wire (chat/webhook_transport.h).
    struct Delivery {
        Claimed job;
        std::unique_ptr<Attempt> attempt;
        bool finished = false;
    };

    EventLoop& loop;
    pg::Pool& pg;
    SenderConfig cfg;
    std::function<void(const std::string&)> log;
    std::unique_ptr<Timer> tick;
    Transport transport;  // outlives every attempt in `flying`
    std::list<std::unique_ptr<Delivery>> flying;
    bool claiming = false;
    bool claim_soon = false;
    static constexpr std::uint64_t kSoonMs = 50;
    SenderStats st;

    Impl(EventLoop& l, pg::Pool& p, SenderConfig c, std::function<void(const std::string&)> lg)
        : loop(l),
          pg(p),
          cfg(c),
          log(std::move(lg)),
          transport(l, TransportConfig{c.allow_private, c.timeout_ms, c.ca_file}, log) {}

    void arm(std::uint64_t ms) {
        if (tick) tick->arm(ms);
    }

    // A claim within kSoonMs (after the one running, if any), however many ask.
    void soon() {
        if (claim_soon) return;
        claim_soon = true;
        if (!claiming) arm(kSoonMs);
    }

    // Claims what this worker has room for; again at once when the claim came back full.
    void claim() noexcept {
        try {
            if (claiming) return;
            const int room = cfg.max_in_flight - static_cast<int>(flying.size());
            if (room <= 0) return arm(cfg.tick_ms);
            claiming = true;
            claim_soon = false;
            const auto lease = cfg.timeout_ms + 20000;
            std::weak_ptr<Impl> self = weak_from_this();
            pg.query("SELECT webhook_id::text, outbox_id::text, url, secret, body FROM chat_webhook_claim($1, $2, $3)",
                     {std::to_string(room), std::to_string(lease), std::to_string(cfg.per_webhook)},
                     [self, room](Result<pg::QueryResult> r) {
                         auto me = self.lock();
                         if (!me) return;
                         me->claiming = false;
                         if (!r.ok()) {
                             if (r.error().code != Errc::unavailable)
                                 me->log("webhook claim failed: " + r.error().message);
                             return me->arm(me->cfg.tick_ms);
                         }
                         const pg::QueryResult& q = r.value();
                         for (int i = 0; i < q.rows(); i++) {
                             const auto at = [&](int col) { return std::string(q.text(i, col).value_or("")); };
                             Claimed c{at(0), at(1), at(2), at(3), at(4)};
                             me->begin(std::move(c));
                         }
                         me->arm(q.rows() >= room ? 0 : me->claim_soon ? kSoonMs : me->cfg.tick_ms);
                     });
        } catch (const std::exception& e) {
            claiming = false;
            log(std::string("webhook claim failed: ") + e.what());
            arm(cfg.tick_ms);
        }
    }

    void begin(Claimed job) noexcept {
        try {
            auto d = std::make_unique<Delivery>();
            d->job = std::move(job);
            Delivery* raw = d.get();
            flying.push_back(std::move(d));
            st.in_flight = static_cast<int>(flying.size());

            auto url = parse_url(raw->job.url);
            if (!url.ok()) return finish(raw, false, url.error().message);
            auto secret = open_secret(cfg.chat_secret, raw->job.secret);
            if (!secret.ok()) return finish(raw, false, secret.error().message);
            std::string out = request(url.value(), raw->job.body, signature(secret.value(), raw->job.body));
            std::weak_ptr<Impl> self = weak_from_this();
            raw->attempt = transport.send(url.value(), std::move(out), [self, raw](bool ok, std::string error) {
                if (auto me = self.lock()) me->finish(raw, ok, std::move(error));
            });
        } catch (const std::exception& e) {
            log(std::string("webhook delivery failed to start: ") + e.what());
        }
    }

    // Records the outcome and forgets the delivery (posted: never inside its own callback).
    void finish(Delivery* d, bool ok, std::string error) noexcept {
        try {
            if (d->finished) return;
            d->finished = true;
            // The attempt (socket, SSL) goes in the posted step below: this may run inside its
            // own callback, which must not destroy it under itself.
            if (ok) {
                st.delivered++;
            } else {
                st.failed++;
                log("webhook delivery of event " + d->job.outbox_id + " to " + d->job.url + " failed: " + error);
            }
            // Deliveries that end while the pool is busy are recorded together, in one call
            // (group commit: a transaction per delivery cost as much as a post).
            static const auto done_batch = std::make_shared<const pg::BatchKind>(pg::BatchKind{
                "SELECT * FROM chat_webhook_done($1::uuid[], $2::bigint[], $3::bool[], $4::text[], "
                "($5::int[])[1], ($6::int[])[1])",
                64});
            pg.query_batched(done_batch,
                             {d->job.webhook_id, d->job.outbox_id, std::string(ok ? "true" : "false"), error,
                              std::to_string(cfg.backoff_ms), std::to_string(cfg.give_up_s)},
                             [self = weak_from_this(), url = d->job.url](Result<pg::BatchRow> r) {
                                 auto me = self.lock();
                                 if (!me) return;
                                 if (!r.ok())
                                     me->log("recording a webhook delivery to " + url + " failed: " + r.error().message);
                                 // a conversation's next event may be due now: claim soon, once for
                                 // every delivery that ends meanwhile (a claim per delivery kept
                                 // Postgres busy with claims under load)
                                 me->soon();
                             });
            std::weak_ptr<Impl> self = weak_from_this();
            loop.post([self, d] {
                auto me = self.lock();
                if (!me) return;
                me->flying.remove_if([d](const std::unique_ptr<Delivery>& x) { return x.get() == d; });
                me->st.in_flight = static_cast<int>(me->flying.size());
            });
        } catch (const std::exception& e) {
            log(std::string("webhook delivery bookkeeping failed: ") + e.what());
        }
    }
};

Sender::Sender(EventLoop& loop, pg::Pool& pg, SenderConfig cfg, std::function<void(const std::string&)> log)
    : impl_(std::make_shared<Impl>(loop, pg, cfg, std::move(log))) {}

Sender::~Sender() = default;

void Sender::start() {
    std::weak_ptr<Impl> self = impl_;
    impl_->tick = impl_->loop.timer([self] {
        if (auto me = self.lock()) me->claim();
    });
    impl_->arm(impl_->cfg.tick_ms);
}

SenderStats Sender::stats() const { return impl_->st; }

}  // namespace chat::webhook
