// The operations endpoints' questions to the backends: does Postgres answer, does Redis,
// and the live counts /chat/status shows (the queue, the agents online).
#pragma once

#include <cstdint>
#include <functional>

#include "chat/event_loop.h"
#include "chat/result.h"

namespace chat::pg {
class Pool;
}
namespace chat::redis {
class Client;
}

namespace chat::ops {

// What Postgres says when asked; -1 while it cannot say (down, not configured).
struct Counts {
    std::int64_t queue_length = -1;   // conversations waiting for an agent
    std::int64_t agents_online = -1;  // agents online, deleted ones excepted
};

// Every callback runs exactly once, from the loop, never inside the call.
class Service {
public:
    // `pg` and `redis` may be nullptr (not configured); they must outlive the Service
    // and be destroyed after it.
    Service(EventLoop& loop, pg::Pool* pg, redis::Client* redis) noexcept
        : loop_(loop), pg_(pg), redis_(redis) {}

    // A real round trip through the worker's pool (GET /health/db); Errc::unavailable
    // with the reason when it fails or Postgres is not configured.
    void probe_postgres(std::function<void(Result<void>)> done) noexcept;
    // A real PING through the worker's client (GET /health/redis); an error reply
    // counts as a failure, with its text as the reason.
    void probe_redis(std::function<void(Result<void>)> done) noexcept;
    // The queue length and the agents online, as /chat/status reports them.
    void counts(std::function<void(Counts)> done) noexcept;

private:
    EventLoop& loop_;
    pg::Pool* pg_;
    redis::Client* redis_;
};

}  // namespace chat::ops
