// A socket's ping, dead-peer and close-wait decisions.
#include "chat/ws_liveness.h"

namespace chat::ws {

Liveness::Liveness(std::uint64_t now_ms, Timing timing) noexcept
    : timing_(timing), last_seen_(now_ms), last_ping_(now_ms) {}

void Liveness::closing(std::uint64_t now_ms) noexcept {
    if (!closing_since_) closing_since_ = now_ms;
}

Due Liveness::tick(std::uint64_t now_ms, bool exiting) noexcept {
    if (closing_since_) return now_ms - *closing_since_ >= timing_.close_wait_ms ? Due::give_up : Due::nothing;
    if (exiting) return Due::going_away;
    if (now_ms - last_seen_ > timing_.dead_ms) return Due::dead;
    if (now_ms - last_seen_ > timing_.ping_ms && now_ms - last_ping_ > timing_.ping_ms) {
        last_ping_ = now_ms;
        return Due::ping;
    }
    return Due::nothing;
}

}  // namespace chat::ws
