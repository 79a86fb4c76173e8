// A socket's transport state without its I/O: the Transport a Session talks to, over a
// bounded Outbox and the Liveness of its client; the host only writes and reads bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chat/ws.h"
#include "chat/ws_liveness.h"
#include "chat/ws_outbox.h"
#include "chat/ws_session.h"

namespace chat::ws {

// The host derives from it: flush() writes what out() holds (out().unsent(), then
// out().sent(n)) and may be called from inside send() and close(); now_ms() is its clock.
// Neither may free the socket (see ws_session.h's "Lifetime").
class Socket : public Transport {
public:
    explicit Socket(std::uint64_t now_ms, std::size_t out_max = Outbox::kMaxBytesDefault, Timing timing = {});

    // Queued and flushed unless closing; a frame that overflows the Outbox closes the
    // socket 1008 kTooSlow instead (the client resumes with after=).
    void send(std::string frame) final;
    // Queues the close frame and flushes; from then on closing(). Once only.
    void close(CloseCode code, std::string_view reason) final;
    bool closing() const final { return closing_; }

    // The socket ends without a close frame (the host is tearing it down).
    void end() noexcept { closing_ = true; }
    // The client sent bytes.
    void heard(std::uint64_t now_ms) noexcept { live_.heard(now_ms); }

    enum class Tick {
        open,     // open after the tick (maybe pinged)
        closing,  // closing: closed by this tick (shutdown, dead peer) or before
        give_up,  // its close did not get through in time: the host ends it
    };
    // The host's periodic tick at now_ms (`exiting`: the worker shuts down): does what
    // Liveness says is due; a ping or a close is queued and flushed.
    Tick tick(std::uint64_t now_ms, bool exiting);

    Outbox& out() noexcept { return out_; }

protected:
    virtual void flush() = 0;
    virtual std::uint64_t now_ms() const = 0;

private:
    Outbox out_;
    Liveness live_;
    bool closing_ = false;
};

}  // namespace chat::ws
