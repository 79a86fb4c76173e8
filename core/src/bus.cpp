// chat::bus::Bus: publishing events through Redis or, without it, to the host's sockets and ring.
#include "chat/bus.h"

#include <cstring>
#include <deque>
#include <limits>
#include <utility>

#include "chat/pg_pool.h"
#include "chat/redis_client.h"
#include "chat/retention.h"

namespace chat::bus {

std::string channel_of(const events::Event&) { return std::string(kEventsChannel); }

std::vector<std::string> channels() { return {std::string(kEventsChannel)}; }

namespace {
// Echoes awaited at most: published events are heard back within a loop turn or two, so
// this is only reached while the subscription is down (the oldest is then long lost).
constexpr std::size_t kEchoesMax = 256;
}  // namespace

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

    // This worker's published events, in publish order, until their echo (the same bytes,
    // heard back through the worker's own subscription) comes: Redis hands one
    // connection's PUBLISHes to a subscriber in that order, so the echo of the front one
    // normally comes next. An echo found here is not parsed: its event is dispatched as it
    // was built, the sockets hearing it exactly where they would have. `delivered`: its
    // sockets heard it already (the PUBLISH failed, or no echo could be counted on), so
    // its echo, if one still comes, is dropped.
    //
    // Why the bytes and not a tag naming the publisher: a tag would change the payload, and
    // nodes not yet upgraded parse it. Two workers may publish the same bytes (a typing
    // event): whichever of the two echoes is found here, each is dispatched once (from
    // here, or parsed), and both are the same event. An entry is dispatched once at most,
    // and while it is kept its echo is not dispatched again.
    struct Echo {
        std::string payload;
        events::Event event;  // emptied once delivered
        std::uint64_t id = 0;
        bool delivered = false;
    };
    std::deque<Echo> echoes;
    std::uint64_t next_id = 0;
    bool subscribed = true;

    // E: const events::Event& (copied into the echo queue) or events::Event (moved there).
    template <class E>
    void publish_one(E&& e) {
        if (e.json.empty()) return;

        if (redis && redis->connected()) {
            std::string channel = channel_of(e);
            if (echoes.size() >= kEchoesMax) echoes.pop_front();  // its echo, if any, gets parsed
            Echo& echo = echoes.emplace_back(Echo{events::encode(e), {}, next_id++, false});
            if (subscribed) {
                echo.event = std::forward<E>(e);
            } else {
                // The subscription is down or not confirmed yet: this worker's sockets hear it
                // now (an echo that still comes, its SUBSCRIBE having just gone through, is dropped).
                echo.delivered = true;
                sink.dispatch(e);
            }
            redis->publish(channel, echo.payload, [weak = weak_from_this(), id = echo.id](Result<redis::Reply>) {
                auto self = weak.lock();
                if (self) self->unsent(id);  // no reply, or Redis refused it
            });
            return;
        }

        sink.dispatch(e);
        // Redis configured but down: the node's other workers miss it; their
        // sockets resume from Postgres once the subscription is back.
        if (!redis) sink.share(e);
    }

    // A PUBLISH that failed: it may never have reached Redis, so this worker's sockets hear it now.
    void unsent(std::uint64_t id) noexcept {
        for (Echo& x : echoes) {
            if (x.id != id) continue;
            deliver(x);
            return;
        }
    }

    void deliver(Echo& x) noexcept {
        if (x.delivered) return;
        x.delivered = true;
        const events::Event e = std::move(x.event);  // x may be gone once a socket handled it
        sink.dispatch(e);
    }

    // Whether `payload` is the echo of an event this worker published; if so its sockets
    // hear that event (unless they did already). Entries before it are dropped: their echo
    // never came (published while the subscription was being lost or set up) or came first
    // as another worker's identical bytes, and is parsed when it comes.
    bool echo(std::string_view payload) noexcept {
        for (auto it = echoes.begin(); it != echoes.end(); ++it) {
            if (it->payload.size() != payload.size() ||
                std::memcmp(it->payload.data(), payload.data(), payload.size()) != 0)
                continue;
            const bool due = !it->delivered;
            const events::Event mine = due ? std::move(it->event) : events::Event{};
            echoes.erase(echoes.begin(), it + 1);  // before a socket's handling may publish
            if (due) sink.dispatch(mine);
            return true;
        }
        return false;
    }

    // The subscription was lost: no echo still due will come on it, so this worker's sockets
    // hear those events now, in order; until it is back, they hear the next ones at once.
    void set_subscribed(bool up) noexcept {
        subscribed = up;
        if (up) return;
        try {
            std::vector<events::Event> due;  // taken first: a socket's handling may publish
            due.reserve(echoes.size());
            for (Echo& x : echoes) {
                if (x.delivered) continue;
                x.delivered = true;
                due.push_back(std::move(x.event));
            }
            for (const events::Event& e : due) sink.dispatch(e);
        } catch (const std::exception& x) {
            fail(std::string("delivering this worker's events failed: ") + x.what());
        }
    }

    void publish_side_effects(std::span<const std::string> ids) noexcept {
        if (!pg) return;
        try {
            for (const std::string& id : ids) {
                pg->query("SELECT chat_conversation_event_json($1::uuid)::text", {id},
                          [weak = weak_from_this()](Result<pg::QueryResult> res) {
                              auto self = weak.lock();
                              const auto text = res.ok() && res.value().rows() == 1 ? res.value().text(0, 0)
                                                                                    : std::nullopt;
                              if (!self || !text) return;
                              self->publish(events::from_answer(*text));
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

void Bus::subscribed(bool up) noexcept { impl_->set_subscribed(up); }

void Bus::heard(std::string_view, std::string_view payload) noexcept {
    // This worker's own event heard back: dispatched as built, neither parsed nor forgotten
    // (the write that raised it updated the node's cache already)
    if (impl_->echo(payload)) return;
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
