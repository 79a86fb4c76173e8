// The worker's event bus: where the events of a write go so that every socket that should
// hear them does, on this worker, on the node's other workers and on every other node.
//
// With Redis, an event is PUBLISHed on its channel and every worker (this one included)
// hears it back through its subscription, then hands it to its sockets: all of them in
// Redis's order. This worker knows its own events when they come back (it keeps each
// published payload until its echo, the same bytes, is heard) and hands its sockets the
// event as it built it, without parsing it again or touching the cache its write already
// updated. While its subscription is down, its sockets hear its events at once. Without Redis
// configured, the event goes to this worker's sockets at once and to the node's other
// workers through the host's shared memory (Sink::share). While a configured Redis is
// down, or when a PUBLISH fails, only this worker's sockets hear it: the other workers'
// clients catch up when they reconnect (replay from Postgres with after=).
//
// With batches on (a loop given to the Bus: chat_redis ... batch=on), the events this worker
// publishes during one loop turn go to Redis together, one PUBLISH per run of events of one
// channel (events::append_to_batch), sent from a task posted in that turn: a post's three
// events, or a whole batch answer's, cost one PUBLISH and one message heard by every worker.
// The order every worker hears them in is the publish order still (one connection, and a
// batch is read in its order), its echo is the batch's bytes, and while the subscription is
// down this worker's sockets hear them at once as before. Every worker reads batches whether it
// publishes them or not, so that a cluster switches them on once every node reads them.
//
// The bus never touches sockets or shared memory itself: its host (the nginx module)
// implements Sink. Everything the host hears on a subscribed channel goes through
// heard(), so the channel of a message is always known to both sides: routing by
// conversation shard (DESIGN.md "Scale": sharded pub/sub, one channel per shard, each
// worker subscribed to the shards of the sockets it holds) changes channel_of() and
// channels() here and what the host subscribes to, not the Sink.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/event_loop.h"
#include "chat/events.h"
#include "chat/result.h"

namespace chat::pg {
class Pool;
}
namespace chat::redis {
class Client;
}

namespace chat::bus {

// The one channel every event travels on today.
inline constexpr std::string_view kEventsChannel = "chat:events";

// The channel an event is published on.
std::string channel_of(const events::Event& e);
// The channels a worker subscribes to.
std::vector<std::string> channels();

// What the bus needs from its host. Called from the loop; must not throw.
class Sink {
public:
    virtual ~Sink() = default;
    // Hand the event to this worker's sockets that should see it.
    virtual void dispatch(const events::Event& e) noexcept = 0;
    // Hand it to the node's other workers (no Redis configured: a ring in shared memory).
    virtual void share(const events::Event& e) noexcept = 0;
    // A write elsewhere changed a cached conversation: drop a cached copy of `cache_key`
    // older than `version`.
    virtual void forget(std::string_view cache_key, std::int64_t version) noexcept = 0;
    // These conversations were deleted (retention, `chatctl erase`): close their sockets.
    virtual void end(std::span<const std::string> conversation_ids) noexcept = 0;
    // Whether any of this worker's sockets could hear an event of `conversation_id` ("": a
    // presence change), so that heard() parses only the events someone may be handed (every
    // worker hears every event). True when unsure; a host that cannot tell keeps the default.
    virtual bool listens(std::string_view conversation_id) const noexcept {
        (void)conversation_id;
        return true;
    }
};

// What went wrong where no caller waits for an answer (the host logs it).
using Report = std::function<void(const Error&)>;

class Bus {
public:
    // `pg` reads the conversations of side effects (nullptr: none are read); `redis`
    // nullptr means no Redis is configured. `batch_loop`, when given with a Redis, is the
    // loop whose turns batch the events published (nullptr: one PUBLISH per event, the
    // payloads every node reads). All must outlive the Bus; callbacks still pending when the
    // Bus is destroyed do nothing.
    Bus(Sink& sink, pg::Pool* pg, redis::Client* redis, Report report = {}, EventLoop* batch_loop = nullptr);
    ~Bus();
    Bus(const Bus&) = delete;
    Bus& operator=(const Bus&) = delete;

    // Publishes the events in order; events without JSON are skipped.
    void publish(std::span<const events::Event> events) noexcept;
    // The same, taking the events: a PUBLISH's callback keeps its event without a copy.
    void publish(std::vector<events::Event>&& events) noexcept;
    // Conversations a write changed besides its own (events::side_effects): each is read
    // once (chat_conversation_event_json) and its events published, so that waiting
    // customers hear at once that an agent took them or that they were requeued.
    void publish_side_effects(std::span<const std::string> conversation_ids) noexcept;
    // A message heard on a subscribed channel: the cached copy it makes stale is
    // forgotten, then the event dispatched (each event of a batch, in its order). A forget or end message of deleted sessions
    // and conversations (retention.h) goes to Sink::forget / Sink::end. Anything else
    // is ignored.
    // An echo of this worker's own event is dispatched as it was published.
    void heard(std::string_view channel, std::string_view payload) noexcept;
    // The host's subscription is confirmed (true) or lost (false): no echo comes while it is
    // down, so this worker's sockets hear its events at once, those still awaiting an echo
    // too. Assumed confirmed until told otherwise.
    void subscribed(bool up) noexcept;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace chat::bus
