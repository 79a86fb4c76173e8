// The timing rules of one socket, read by the worker's tick: when to ping its client, when
// the client counts as dead, when a close that does not get through is waited for no longer.
#pragma once

#include <cstdint>
#include <optional>

namespace chat::ws {

struct Timing {
    std::uint64_t ping_ms = 30000;       // silent this long: ping (at most this often)
    std::uint64_t dead_ms = 75000;       // silent this long: closed 1008 "ping timeout"
    std::uint64_t close_wait_ms = 5000;  // closing this long: given up (a peer that stops
                                         // reading must not pin an old worker after a reload)
};

// What the tick does with a socket.
enum class Due {
    nothing,
    ping,        // queue a ping (tick() recorded it)
    going_away,  // the worker shuts down: close 1001 "server restarting"
    dead,        // close 1008 "ping timeout"
    give_up,     // the close did not get through in time: end the socket
};

// Times are a monotonic clock in milliseconds, as the host reads it; differences are taken
// unsigned, so a clock that wraps is read the way nginx reads its own.
class Liveness {
public:
    explicit Liveness(std::uint64_t now_ms, Timing timing = {}) noexcept;

    // The client sent bytes.
    void heard(std::uint64_t now_ms) noexcept { last_seen_ = now_ms; }
    // The socket started closing (its close frame is queued); once only.
    void closing(std::uint64_t now_ms) noexcept;

    // The tick at now_ms; `exiting` when the worker shuts down. A closing socket only
    // waits for its close (give_up after close_wait_ms); an open one is closed when the
    // worker exits, then when silent past dead_ms, and pinged when silent past ping_ms
    // and not pinged for ping_ms.
    Due tick(std::uint64_t now_ms, bool exiting) noexcept;

private:
    Timing timing_;
    std::uint64_t last_seen_;
    std::uint64_t last_ping_;
    std::optional<std::uint64_t> closing_since_;
};

}  // namespace chat::ws
