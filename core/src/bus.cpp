// chat::bus::Bus: publishing events through Redis or, without it, to the host's sockets and ring.
#include "chat/bus.h"

#include <cstring>
#include <deque>
#include <limits>
#include <utility>

#include "chat/pg_pool.h"
#include "chat/redis_client.h"
#include "chat/retention.h"
#include "chat/spare.h"

namespace chat::bus {

std::string channel_of(const events::Event&) { return std::string(kEventsChannel); }

std::vector<std::string> channels() { return {std::string(kEventsChannel)}; }

namespace {
// Echoes awaited at most: published events are heard back within a loop turn or two, so
// this is only reached while the subscription is down (the oldest is then long lost).
constexpr std::size_t kEchoesMax = 256;
// Events a turn's batch has room for when it starts (it grows beyond, doubling).
constexpr std::size_t kGatherRoom = 16;
// Bytes a turn's batch payload has room for when it starts.
constexpr std::size_t kGatherBytes = 4096;
// The largest payload and events vector (its capacity) kept, once their echo came, for the next
// turn's batch: what a worker publishes every turn is not allocated and freed every turn (a 4 KB
// payload and ~6 KB of events, each a large request that makes malloc merge its fastbins); one
// that grew beyond (a turn of many posts, a long message) is freed, so what is kept stays small.
constexpr std::size_t kSpareBytes = 64 * 1024;
constexpr std::size_t kSpareEvents = 64;
}  // namespace

// Callbacks hold a weak_ptr to this: once the Bus is gone they find nothing and do nothing.
struct Bus::Impl : std::enable_shared_from_this<Impl> {
    Impl(Sink& s, pg::Pool* p, redis::Client* r, Report rep, EventLoop* l)
        : sink(s), pg(p), redis(r), report(std::move(rep)), batch_loop(r ? l : nullptr) {}

    Sink& sink;
    pg::Pool* pg;
    redis::Client* redis;
    Report report;
    EventLoop* batch_loop;  // set: a turn's events are sent together (see bus.h)

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
    // normally comes next. An echo found here is not parsed: its events are dispatched as they
    // were built, the sockets hearing them exactly where they would have. `delivered`: its
    // sockets heard them already (the PUBLISH failed, or no echo could be counted on), so
    // its echo, if one still comes, is dropped.
    //
    // With batches, the events of this loop turn gather in entries not `sent` yet, always
    // the last ones (one per run of a channel), their payload growing as a batch; the task
    // posted in the turn sends them (send_unsent). A batch of one event goes as that event's
    // own payload.
    //
    // Why the bytes and not a tag naming the publisher: a tag would change the payload, and
    // nodes not yet upgraded parse it. Two workers may publish the same bytes (a typing
    // event): whichever of the two echoes is found here, each is dispatched once (from
    // here, or parsed), and both are the same events. An entry is dispatched once at most,
    // and while it is kept its echo is not dispatched again.
    struct Echo {
        std::string payload;
        std::vector<events::Event> events;  // emptied once delivered
        std::uint64_t id = 0;
        bool delivered = false;
        bool sent = true;
        std::string channel;  // not sent yet: where it goes
        std::size_t count = 0;  // not sent yet: the events in `payload`
    };
    std::deque<Echo> echoes;
    // a heard echo's payload and events vector, emptied, for the next batch (kSpareBytes)
    std::string spare_payload;
    std::vector<events::Event> spare_events;
    std::uint64_t next_id = 0;
    bool subscribed = true;
    bool send_posted = false;

    // Room for one more entry: the oldest goes (its echo, if any, gets parsed).
    void make_room() {
        if (echoes.size() < kEchoesMax) return;
        if (!echoes.front().sent) send_unsent();
        echoes.pop_front();
    }

    // E: const events::Event& (copied into the echo queue) or events::Event (moved there).
    template <class E>
    void publish_one(E&& e) {
        if (e.json.empty()) return;

        if (redis && redis->connected()) {
            if (batch_loop) return gather(std::forward<E>(e));
            std::string channel = channel_of(e);
            make_room();
            Echo& echo = echoes.emplace_back();
            echo.payload = events::encode(e);
            echo.id = next_id++;
            if (subscribed) {
                echo.events.push_back(std::forward<E>(e));
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

        // Redis went while this turn's batch waits: its events come first.
        if (batch_loop) deliver_unsent();
        sink.dispatch(e);
        // Redis configured but down: the node's other workers miss it; their
        // sockets resume from Postgres once the subscription is back.
        if (!redis) sink.share(e);
    }

    // The event joins this turn's batch of its channel (a new one after another channel's,
    // so that every worker still hears the events in publish order).
    template <class E>
    void gather(E&& e) {
        std::string channel = channel_of(e);
        const bool now = !subscribed;  // as above: no echo to count on
        Echo* b = echoes.empty() ? nullptr : &echoes.back();
        if (!b || b->sent || b->delivered != now || b->channel != channel) {
            make_room();
            b = &echoes.emplace_back();
            b->id = next_id++;
            b->delivered = now;
            b->sent = false;
            b->channel = std::move(channel);
            if (spare_payload.capacity() >= kGatherBytes) b->payload.swap(spare_payload);
            if (b->payload.capacity() < kGatherBytes) b->payload.reserve(kGatherBytes);
            // a post's three events, and the turn's other posts: room for several posts at once,
            // not 1, 2, 4, 8 (each growth moves every Event's strings)
            if (!now) {
                if (spare_events.capacity() >= kGatherRoom) b->events.swap(spare_events);
                if (b->events.capacity() < kGatherRoom) b->events.reserve(kGatherRoom);
            }
            post_send();
        }
        events::append_to_batch(b->payload, e);
        b->count++;
        const bool full = b->count >= events::kBatchEventsMax || b->payload.size() >= events::kBatchBytes;
        if (!now) b->events.push_back(std::forward<E>(e));
        if (full) send_unsent();
        if (now) sink.dispatch(e);
    }

    void post_send() {
        if (send_posted) return;
        batch_loop->post([weak = weak_from_this()] {
            auto self = weak.lock();
            if (!self) return;
            self->send_posted = false;
            self->send_unsent();
        });
        send_posted = true;
    }

    // This turn's batches go to Redis, in order.
    void send_unsent() noexcept {
        try {
            for (Echo& x : echoes) {
                if (x.sent) continue;
                x.sent = true;
                if (x.count == 1)  // one event: its own payload, as without batches
                    if (auto parts = events::split_batch(x.payload); parts.ok() && parts.value().size() == 1)
                        x.payload.erase(0, static_cast<std::size_t>(parts.value()[0].data() - x.payload.data()));
                redis->publish(x.channel, x.payload, [weak = weak_from_this(), id = x.id](Result<redis::Reply>) {
                    auto self = weak.lock();
                    if (self) self->unsent(id);  // no reply, or Redis refused it
                });
            }
        } catch (const std::exception& x) {
            fail(std::string("publishing events failed: ") + x.what());
        }
    }

    // Redis is gone before this turn's batches were sent: this worker's sockets hear them now.
    void deliver_unsent() noexcept {
        for (Echo& x : echoes)
            if (!x.sent) deliver(x);
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
        const std::vector<events::Event> due = std::move(x.events);  // x may be gone once a socket handled one
        for (const events::Event& e : due) sink.dispatch(e);
    }

    // Whether `payload` is the echo of events this worker published; if so its sockets
    // hear those events (unless they did already). Entries before it are dropped: their echo
    // never came (published while the subscription was being lost or set up) or came first
    // as another worker's identical bytes, and is parsed when it comes.
    bool echo(std::string_view payload) noexcept {
        for (auto it = echoes.begin(); it != echoes.end() && it->sent; ++it) {
            if (it->payload.size() != payload.size() ||
                std::memcmp(it->payload.data(), payload.data(), payload.size()) != 0)
                continue;
            const bool due = !it->delivered;
            std::vector<events::Event> mine = due ? std::move(it->events) : std::vector<events::Event>{};
            keep_spare(spare_payload, it->payload, kSpareBytes);
            echoes.erase(echoes.begin(), it + 1);  // before a socket's handling may publish
            const auto self = shared_from_this();  // here still after the sockets' handling
            for (const events::Event& e : mine) sink.dispatch(e);
            keep_spare(spare_events, mine, kSpareEvents);
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
            for (Echo& x : echoes) {
                if (x.delivered) continue;
                x.delivered = true;
                for (events::Event& e : x.events) due.push_back(std::move(e));
                x.events.clear();
            }
            for (const events::Event& e : due) sink.dispatch(e);
        } catch (const std::exception& x) {
            fail(std::string("delivering this worker's events failed: ") + x.what());
        }
    }

    // The cached copy a heard payload told this worker to forget: the events of one write (its
    // messages, the conversation) carry the same key and version, and a batch holds them one after
    // the other, so the first one's forget does the others' (the zone is looked at once a write,
    // not once an event). Only within one heard batch: its views point into its payload.
    struct Forgotten {
        std::string_view key;
        std::int64_t version = 0;
        // The conversation the last part was about when no socket here listened to it: a write's
        // events follow one another, and the hub is asked once for them, not once an event (a hash
        // of the id each). Cleared once a part is dispatched: only a socket's handling changes
        // what the hub would answer, and nothing else runs between the parts of a batch.
        std::string_view deaf;
    };

    void forget_once(std::string_view key, std::int64_t version, Forgotten* last) noexcept {
        if (key.empty()) return;
        if (last) {
            if (last->version == version && last->key == key) return;
            last->key = key;
            last->version = version;
        }
        sink.forget(key, version);
    }

    // One payload heard (alone, or as a part of a batch) that is not this worker's echo.
    void heard_one(std::string_view payload, Forgotten* last = nullptr) noexcept {
        // `chatctl erase`: these sessions' conversations are gone, and so must every cached copy be.
        if (auto keys = retention::parse_forget(payload)) {
            for (const std::string& k : *keys) sink.forget(k, std::numeric_limits<std::int64_t>::max());
            return;
        }
        // ... and every socket of those conversations must close
        if (auto ids = retention::parse_end(payload)) {
            if (!ids->empty()) sink.end(*ids);
            return;
        }
        // Nobody here listens: the cached copy is all this worker has to do with it.
        const auto p = events::peek(payload);
        if (p && last && !last->deaf.empty() && p->conversation_id == last->deaf) {
            forget_once(p->cache_key, p->version, last);
            return;
        }
        if (p && !sink.listens(p->conversation_id)) {
            if (last) last->deaf = p->conversation_id;  // a view into the batch, as the key's
            forget_once(p->cache_key, p->version, last);
            return;
        }
        if (last) last->deaf = {};
        auto e = events::parse(payload);
        if (!e.ok()) return;
        // A write on another node: this node's older cached copy goes (remembered only as the
        // peek's views into the payload: the event's own strings go with it)
        const events::Event& ev = e.value();
        if (p && p->cache_key == ev.cache_key && p->version == ev.version)
            forget_once(p->cache_key, p->version, last);
        else
            forget_once(ev.cache_key, ev.version, nullptr);
        sink.dispatch(ev);
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

Bus::Bus(Sink& sink, pg::Pool* pg, redis::Client* redis, Report report, EventLoop* batch_loop)
    : impl_(std::make_shared<Impl>(sink, pg, redis, std::move(report), batch_loop)) {}

Bus::~Bus() = default;

void Bus::publish(std::span<const events::Event> events) noexcept { impl_->publish(events); }

void Bus::publish(std::vector<events::Event>&& events) noexcept { impl_->publish(std::move(events)); }

void Bus::publish_side_effects(std::span<const std::string> conversation_ids) noexcept {
    impl_->publish_side_effects(conversation_ids);
}

void Bus::subscribed(bool up) noexcept { impl_->set_subscribed(up); }

void Bus::heard(std::string_view, std::string_view payload) noexcept {
    // This worker's own events heard back: dispatched as built, neither parsed nor forgotten
    // (the write that raised them updated the node's cache already)
    if (impl_->echo(payload)) return;
    if (!events::is_batch(payload)) return impl_->heard_one(payload);
    // Another worker's batch: each of its events as if heard alone, in order; a broken one
    // is not read at all.
    auto parts = events::split_batch(payload);
    if (!parts.ok()) return;
    Impl::Forgotten last;
    for (const std::string_view part : parts.value()) impl_->heard_one(part, &last);
}

}  // namespace chat::bus
