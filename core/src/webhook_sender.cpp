// The webhook sender: claims due deliveries on a timer, POSTs each on its own non-blocking
// socket, records the outcome (see chat/webhook_sender.h for the contract).
#include "chat/webhook_sender.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <vector>

#include "chat/limits.h"
#include "chat/pg_pool.h"
#include "chat/webhook.h"

namespace chat::webhook {

namespace {

struct Claimed {
    std::string webhook_id, outbox_id, url, secret, body;
};

}  // namespace

struct Sender::Impl : std::enable_shared_from_this<Sender::Impl> {
    // One delivery in flight: a socket, its watch, its deadline.
    struct Delivery {
        Claimed job;
        int fd = -1;
        std::unique_ptr<IoWatch> watch;
        std::unique_ptr<Timer> deadline;
        std::string out;
        std::size_t sent = 0;
        std::string in;
        bool connected = false;
        bool finished = false;
    };

    EventLoop& loop;
    pg::Pool& pg;
    SenderConfig cfg;
    std::function<void(const std::string&)> log;
    std::unique_ptr<Timer> tick;
    std::list<std::unique_ptr<Delivery>> flying;
    bool claiming = false;
    bool claim_soon = false;
    static constexpr std::uint64_t kSoonMs = 50;
    SenderStats st;

    Impl(EventLoop& l, pg::Pool& p, SenderConfig c, std::function<void(const std::string&)> lg)
        : loop(l), pg(p), cfg(c), log(std::move(lg)) {}

    ~Impl() {
        for (auto& d : flying) close_socket(*d);
    }

    static void close_socket(Delivery& d) noexcept {
        d.watch.reset();
        if (d.deadline) d.deadline->cancel();
        if (d.fd >= 0) ::close(d.fd);
        d.fd = -1;
    }

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
                             Claimed c{std::string(q.get(i, 0)), std::string(q.get(i, 1)), std::string(q.get(i, 2)),
                                       std::string(q.get(i, 3)), std::string(q.get(i, 4))};
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
            if (!cfg.allow_private && !public_address(url.value().ip, url.value().v6))
                return finish(raw, false, "refused: " + url.value().ip +
                                              " is a private address (chat_webhook_private off)");
            auto secret = open_secret(cfg.chat_secret, raw->job.secret);
            if (!secret.ok()) return finish(raw, false, secret.error().message);
            raw->out = request(url.value(), raw->job.body, signature(secret.value(), raw->job.body));

            sockaddr_storage ss{};
            socklen_t len = 0;
            if (url.value().v6) {
                auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
                a->sin6_family = AF_INET6;
                a->sin6_port = htons(url.value().port);
                inet_pton(AF_INET6, url.value().ip.c_str(), &a->sin6_addr);
                len = sizeof(sockaddr_in6);
            } else {
                auto* a = reinterpret_cast<sockaddr_in*>(&ss);
                a->sin_family = AF_INET;
                a->sin_port = htons(url.value().port);
                inet_pton(AF_INET, url.value().ip.c_str(), &a->sin_addr);
                len = sizeof(sockaddr_in);
            }
            raw->fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (raw->fd < 0) return finish(raw, false, std::string("socket: ") + std::strerror(errno));
            int one = 1;
            (void)::setsockopt(raw->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (::connect(raw->fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
                return finish(raw, false, std::string("connect: ") + std::strerror(errno));

            std::weak_ptr<Impl> self = weak_from_this();
            raw->deadline = loop.timer([self, raw] {
                if (auto me = self.lock()) me->finish(raw, false, "timed out");
            });
            raw->deadline->arm(cfg.timeout_ms);
            raw->watch = loop.watch(raw->fd, [self, raw](bool readable, bool writable) {
                if (auto me = self.lock()) me->ready(raw, readable, writable);
            });
            raw->watch->want_write(true);
        } catch (const std::exception& e) {
            log(std::string("webhook delivery failed to start: ") + e.what());
        }
    }

    void ready(Delivery* d, bool readable, bool writable) noexcept {
        if (d->finished) return;
        if (!d->connected && (writable || readable)) {
            int err = 0;
            socklen_t len = sizeof(err);
            if (::getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) return finish(d, false, std::string("connect: ") + std::strerror(err));
            d->connected = true;
        }
        if (writable && d->sent < d->out.size()) {
            while (d->sent < d->out.size()) {
                ssize_t n = ::send(d->fd, d->out.data() + d->sent, d->out.size() - d->sent, MSG_NOSIGNAL);
                if (n > 0) {
                    d->sent += static_cast<std::size_t>(n);
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
                if (n < 0 && errno == EINTR) continue;
                return finish(d, false, std::string("send: ") + std::strerror(errno));
            }
            d->watch->want_write(false);
            d->watch->want_read(true);
            return;
        }
        if (readable) {
            char buf[512];
            const std::size_t room = limits::kWebhookStatusLineMax - std::min(d->in.size(), limits::kWebhookStatusLineMax);
            ssize_t n = ::recv(d->fd, buf, std::min(sizeof(buf), std::max<std::size_t>(room, 1)), 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
            if (n < 0) return finish(d, false, std::string("recv: ") + std::strerror(errno));
            if (n == 0) return finish(d, false, "connection closed before a status line");
            d->in.append(buf, static_cast<std::size_t>(n));
            StatusLine s = parse_status_line(d->in);
            if (s.state == StatusLine::State::more) return;
            if (s.state == StatusLine::State::bad) return finish(d, false, "the answer is not HTTP/1.x");
            if (delivered(s.code)) return finish(d, true, {});
            return finish(d, false, "HTTP " + std::to_string(s.code));
        }
    }

    // Records the outcome and forgets the delivery (posted: never inside its own callback).
    void finish(Delivery* d, bool ok, std::string error) noexcept {
        try {
            if (d->finished) return;
            d->finished = true;
            // The socket is closed in the posted step below: this may run inside its watch's
            // own callback, which must not destroy the watch under itself.
            if (d->watch) {
                d->watch->want_read(false);
                d->watch->want_write(false);
            }
            if (d->deadline) d->deadline->cancel();
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
                             [self = weak_from_this(), url = d->job.url](Result<std::string> r) {
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
                me->flying.remove_if([d](const std::unique_ptr<Delivery>& x) {
                    if (x.get() != d) return false;
                    close_socket(*x);
                    return true;
                });
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
