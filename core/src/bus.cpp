// chat::bus::Bus: publishing events through Redis or, without it, to the host's sockets and ring.
#include "chat/bus.h"

#include <limits>
#include <utility>

#include "chat/pg_pool.h"
#include "chat/redis_client.h"
#include "chat/retention.h"

namespace chat::bus {

std::string channel_of(const events::Event&) { return std::string(kEventsChannel); }

std::vector<std::string> channels() { return {std::string(kEventsChannel)}; }

// Callbacks hold a weak_ptr to this: once the Bus is gone they find nothing and do nothing.
struct Bus::Impl : std::enable_shared_from_this<Impl> {
    Impl(Sink& s, pg::Pool* p, redis::Client* r, Report rep)
        : sink(s), pg(p), redis(r), report(std::move(rep)) {}

    Sink& sink;
    pg::Pool* pg;
    redis::Client* redis;
    Report report;

    void fail(std::string message) noexcept {
        try {
            if (report) report(make_error(Errc::internal, std::move(message)));
        } catch (...) {
        }
    }

    void publish(std::span<const events::Event> events) noexcept {
        try {
            for (const events::Event& e : events) publish_one(e);
        } catch (const std::exception& x) {
            fail(std::string("publishing an event failed: ") + x.what());
        }
    }

    void publish(std::vector<events::Event>&& events) noexcept {
        try {
            for (events::Event& e : events) publish_one(std::move(e));
        } catch (const std::exception& x) {
            fail(std::string("publishing an event failed: ") + x.what());
        }
    }

    // E: const events::Event& (copied into the PUBLISH's callback) or events::Event (moved there).
    template <class E>
    void publish_one(E&& e) {
        if (e.json.empty()) return;

        if (redis && redis->connected()) {
            // Every worker hears it back through its subscription, this one
            // too; if it never reached Redis, this worker's sockets still do.
            std::vector<std::string> argv{"PUBLISH", channel_of(e), events::encode(e)};
            redis->command(std::move(argv), [weak = weak_from_this(), copy = std::forward<E>(e)](Result<redis::Reply> res) {
                auto self = weak.lock();
                if (self && !res.ok()) self->sink.dispatch(copy);
            });
            return;
        }

        sink.dispatch(e);
        // Redis configured but down: the node's other workers miss it; their
        // sockets resume from Postgres once the subscription is back.
        if (!redis) sink.share(e);
    }

    void publish_side_effects(std::span<const std::string> ids) noexcept {
        if (!pg) return;
        try {
            for (const std::string& id : ids) {
                pg->query("SELECT chat_conversation_event_json($1::uuid)::text", {id},
                          [weak = weak_from_this()](Result<pg::QueryResult> res) {
                              auto self = weak.lock();
                              if (!self || !res.ok() || res.value().rows() != 1 || res.value().is_null(0, 0))
                                  return;
                              self->publish(events::from_answer(res.value().get(0, 0)));
                          });
            }
        } catch (const std::exception& x) {
            fail(std::string("publishing side effects failed: ") + x.what());
        }
    }
};

Bus::Bus(Sink& sink, pg::Pool* pg, redis::Client* redis, Report report)
    : impl_(std::make_shared<Impl>(sink, pg, redis, std::move(report))) {}

Bus::~Bus() = default;

void Bus::publish(std::span<const events::Event> events) noexcept { impl_->publish(events); }

void Bus::publish(std::vector<events::Event>&& events) noexcept { impl_->publish(std::move(events)); }

void Bus::publish_side_effects(std::span<const std::string> conversation_ids) noexcept {
    impl_->publish_side_effects(conversation_ids);
}

void Bus::heard(std::string_view, std::string_view payload) noexcept {
    // `chatctl erase`: these sessions' conversations are gone, and so must every cached copy be.
    if (auto keys = retention::parse_forget(payload)) {
        for (const std::string& k : *keys) impl_->sink.forget(k, std::numeric_limits<std::int64_t>::max());
        return;
    }
    // ... and every socket of those conversations must close
    if (auto ids = retention::parse_end(payload)) {
        if (!ids->empty()) impl_->sink.end(*ids);
        return;
    }
    // Nobody here listens: the cached copy is all this worker has to do with it.
    if (auto p = events::peek(payload); p && !impl_->sink.listens(p->conversation_id)) {
        if (!p->cache_key.empty()) impl_->sink.forget(p->cache_key, p->version);
        return;
    }
    auto e = events::parse(payload);
    if (!e.ok()) return;
    // A write on another node: this node's older cached copy goes.
    if (!e.value().cache_key.empty()) impl_->sink.forget(e.value().cache_key, e.value().version);
    impl_->sink.dispatch(e.value());
}

}  // namespace chat::bus
