// A socket's send, close and tick over its Outbox and Liveness.
#include "chat/ws_socket.h"

#include <utility>

namespace chat::ws {

Socket::Socket(std::uint64_t now_ms, std::size_t out_max, Timing timing) : out_(out_max), live_(now_ms, timing) {}

void Socket::send(std::string frame) {
    if (closing_) return;
    if (!out_.push(std::move(frame))) {
        close(CloseCode::policy, kTooSlow);
        return;
    }
    flush();
}

void Socket::close(CloseCode code, std::string_view reason) {
    if (closing_) return;
    out_.push_control(frame_close(code, reason));
    closing_ = true;
    live_.closing(now_ms());
    flush();
}

Socket::Tick Socket::tick(std::uint64_t now_ms, bool exiting) {
    switch (live_.tick(now_ms, exiting)) {
        case Due::give_up:
            return Tick::give_up;
        case Due::going_away:
            close(CloseCode::going_away, "server restarting");
            return Tick::closing;
        case Due::dead:
            close(CloseCode::policy, "ping timeout");
            return Tick::closing;
        case Due::ping:
            out_.push_control(frame_ping("ping"));
            flush();
            return Tick::open;
        case Due::nothing:
            break;
    }
    return closing_ ? Tick::closing : Tick::open;
}

}  // namespace chat::ws
