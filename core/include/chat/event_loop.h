// The seam between core and its host: an event loop, a clock, random bytes and a log.
//
// core's Postgres and Redis clients are written against this interface only.
// The nginx module implements it on nginx's connections, timers and posted
// events; core's tests implement it on a small epoll loop (chat/epoll_loop.h).
// Readiness is level-triggered in both: a watcher that wants reads is called
// for as long as the fd is readable, so a client may read once per callback
// and need not drain the socket to EAGAIN.
//
// The log is for what an operator must act on (the database refuses our
// password, Redis is unreachable), written by core's clients once per change
// of state, never once per request or retry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace chat {

// Interest in one file descriptor. Destroying it stops watching (before the
// owner closes the fd). Callbacks run on the loop thread only.
class IoWatch {
public:
    virtual ~IoWatch() = default;
    virtual void want_read(bool on) = 0;
    virtual void want_write(bool on) = 0;
};

// A one-shot timer. Destroying it cancels it.
class Timer {
public:
    virtual ~Timer() = default;
    virtual void arm(std::uint64_t ms) = 0;  // re-arming replaces the deadline
    virtual void cancel() = 0;
    virtual bool armed() const = 0;
};

// Severities, named as nginx names them; the host maps them onto its own.
enum class LogLevel { error, warn, notice, info };

class EventLoop {
public:
    virtual ~EventLoop() = default;

    // on_ready(readable, writable) runs while the fd is ready for what was asked.
    virtual std::unique_ptr<IoWatch> watch(int fd, std::function<void(bool readable, bool writable)> on_ready) = 0;
    virtual std::unique_ptr<Timer> timer(std::function<void()> on_fire) = 0;
    // Runs fn soon, on the loop, after the current callback returns.
    virtual void post(std::function<void()> fn) = 0;

    // Monotonic milliseconds, for timeouts and backoff.
    virtual std::uint64_t now_ms() = 0;
    // Wall clock in milliseconds since the epoch, for timestamps and token expiry.
    virtual std::int64_t wall_ms() = 0;
    // Cryptographically secure random bytes.
    virtual void random_bytes(std::span<std::byte> out) = 0;
    // One line per call, no trailing newline, never a secret (passwords, tokens);
    // the host adds time and process. Callable from any callback.
    virtual void log(LogLevel level, std::string_view line) noexcept = 0;
};

}  // namespace chat
