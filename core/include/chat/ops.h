// The operations endpoints' questions to the backends: does Postgres answer, does Redis,
// and the live counts /chat/status shows (the queue, the agents online; in total and per site).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chat/event_loop.h"
#include "chat/result.h"

namespace chat::pg {
class Pool;
}
namespace chat::redis {
class Client;
}

namespace chat::ops {

// One site's share of the counts (chat_site): the conversations waiting in its queue,
// and its agents online (an agent granted several sites counts on each of them).
struct SiteCounts {
    std::string site;
    std::int64_t queue_length = 0;
    std::int64_t agents_online = 0;
};

// The sites /chat/status lists at most (by name): a site name is a tenant's, not a row,
// so the list is bounded here.
inline constexpr std::size_t kStatusSitesMax = 1000;

// What Postgres says when asked; -1 while it cannot say (down, not configured). The
// totals span every site (the operator's view: /chat/status is not a tenant's
// endpoint); `sites` breaks them down by site, for the sites with a conversation waiting
// or an agent online.
struct Counts {
    std::int64_t queue_length = -1;   // conversations waiting for an agent, every site
    std::int64_t agents_online = -1;  // agents online, deleted ones excepted, each once
    std::vector<SiteCounts> sites;    // by name, at most kStatusSitesMax
    std::int64_t webhooks_backlog = -1;  // webhook deliveries pending, every site
    std::int64_t webhooks_failing = -1;  // webhooks whose last attempt failed
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
    // The queue length and the agents online, in total and per site, as /chat/status
    // reports them (one query).
    void counts(std::function<void(Counts)> done) noexcept;

private:
    EventLoop& loop_;
    pg::Pool* pg_;
    redis::Client* redis_;
};

}  // namespace chat::ops
