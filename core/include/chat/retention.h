// Retention and erasure (API.md "Retention"): the worker's questions to Postgres for
// chat_retention's batches and for the sessions whose conversations were deleted (by a
// batch or by `chatctl erase`), whose cached copies must go; and the cache's forget
// message that `chatctl erase` publishes on Redis. The rules themselves (what is deleted,
// one node at a time, how small a batch) are sql/functions/97_retention.sql's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/event_loop.h"
#include "chat/result.h"

namespace chat::pg {
class Pool;
}

namespace chat::retention {

// One batch's answer (chat_retention_sweep). locked false: another node or worker holds
// the batch's lock right now, nothing was done.
struct Sweep {
    bool locked = false;
    std::int64_t conversations = 0;
    std::int64_t customers = 0;
    std::int64_t unmatched = 0;
    bool more = false;  // the batch was full: another one may follow at once
};
Result<Sweep> parse_sweep(std::string_view json) noexcept;

// The sessions erased after an erasures id (chat_erasures_since), at most 1000 of them,
// and the conversations deleted with them (whose sockets must close; rows recorded before
// migration 023 name none).
struct Erased {
    std::int64_t last = 0;  // the id to ask after next time
    std::vector<std::string> sessions;
    std::vector<std::string> conversations;
};
Result<Erased> parse_erased(std::string_view json) noexcept;

// How long until the next batch: at once (kNextBatchMs) while batches come back full,
// else the retention itself, at most limits::kRetentionEveryMsMax and at least a second.
inline constexpr std::int64_t kNextBatchMs = 100;
std::int64_t next_sweep_ms(std::int64_t retention_s, const std::optional<Sweep>& last) noexcept;

// The Redis message that makes every worker of every node drop the cached copies of
// these sessions (bus::Bus::heard): "f1\n<session>\n<session>\n...". At most kForgetMax
// sessions of at most kForgetKeyMax bytes each (no line break) per message; forget_message
// splits a longer list into several.
inline constexpr std::size_t kForgetMax = 1000;
inline constexpr std::size_t kForgetKeyMax = 128;
std::vector<std::string> forget_messages(std::span<const std::string> sessions);
// The sessions of a forget message; nullopt when the payload is not one (or breaks its bounds).
std::optional<std::vector<std::string>> parse_forget(std::string_view payload) noexcept;

// The Redis message that makes every worker of every node close the WebSockets of these
// deleted conversations (bus::Sink::end): "x1\n<conversation>\n...", with the bounds of a
// forget message. A session's older conversation may go (retention) while a newer one of
// the same session lives on, so sockets are closed by conversation, not by session.
std::vector<std::string> end_messages(std::span<const std::string> conversations);
// The conversations of an end message; nullopt when the payload is not one (or breaks its bounds).
std::optional<std::vector<std::string>> parse_end(std::string_view payload) noexcept;

// Every callback runs exactly once, from the loop, never inside the call.
class Service {
public:
    Service(EventLoop& loop, pg::Pool& pg) noexcept : loop_(loop), pg_(pg) {}

    // One batch of at most `batch` conversations closed more than `retention_s` ago.
    void sweep(std::int64_t retention_s, int batch, std::function<void(Result<Sweep>)> done) noexcept;
    // The sessions erased after `after` (an erasures id; 0 at the start).
    void erased_since(std::int64_t after, std::function<void(Result<Erased>)> done) noexcept;

private:
    EventLoop& loop_;
    pg::Pool& pg_;
};

}  // namespace chat::retention
