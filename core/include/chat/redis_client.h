// core's asynchronous Redis client: a request/response connection and a subscription connection, both driven by an EventLoop.
//
// Built on hiredis's async API with an adapter onto chat::EventLoop, so the
// same code runs on nginx's loop and on the epoll test loop. Nothing here
// blocks except resolve_endpoint(), which is for configuration time only.
// No public function lets an exception escape; only the constructors may
// throw (std::bad_alloc, or whatever EventLoop::timer throws).
//
// What the EventLoop must allow (the epoll loop and the module's loop do): an
// IoWatch destroyed inside its own callback, and an IoWatch destroyed just
// before hiredis closes its fd (the watch must not close the fd itself).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/event_loop.h"
#include "chat/result.h"

namespace chat::redis {

// Where Redis listens. ip is a numeric IPv4/IPv6 address: connecting to a name
// would resolve it synchronously inside hiredis.
struct Endpoint {
    std::string ip;
    int port = 6379;
};

// Blocking (getaddrinfo); config time only (nginx master, CLI).
// Accepts "host:port", "host", "[v6addr]:port", "[v6addr]" and a bare IPv6
// address; the port defaults to 6379. Errc::validation on malformed input,
// Errc::not_found when the name does not resolve.
Result<Endpoint> resolve_endpoint(std::string_view host_port) noexcept;

struct Config {
    Endpoint endpoint;
    std::uint64_t connect_timeout_ms = 1000;  // TCP connect plus the PING that proves Redis answers
    std::uint64_t command_timeout_ms = 1000;  // a command without reply in time: connection dropped, callbacks get unavailable
    std::uint64_t backoff_min_ms = 100, backoff_max_ms = 2000;  // reconnect backoff, exponential with jitter
    std::size_t max_pending = 10000;  // commands in flight beyond this fail fast with unavailable
};

// An owned copy of a redisReply tree.
struct Reply {
    enum class Type { string, array, integer, nil, status, error } type = Type::nil;
    std::string str;  // string, status and error
    long long integer = 0;
    std::vector<Reply> elements;  // array
};

// A Redis error reply arrives as a Reply of type error, not as an Error; an
// Error means no reply (Errc::unavailable: down, connection lost, timed out).
using ReplyCallback = std::function<void(Result<Reply>)>;

struct ClientStats {
    bool connected = false;
    std::uint64_t commands = 0;    // commands sent to Redis
    std::uint64_t errors = 0;      // commands that failed or got an error reply
    std::uint64_t reconnects = 0;  // connections established after the first
    std::size_t pending = 0;       // commands awaiting a reply
};

// Request/response connection (PING, PUBLISH, ...). Reconnects by itself.
//
// Callbacks run from the loop, never inside command(), and exactly once each,
// also when the client is shut down or destroyed first (they then get
// unavailable, posted). While disconnected commands fail fast: Redis is an
// accelerator and callers fall back, so nothing is queued.
class Client {
public:
    Client(EventLoop& loop, Config cfg);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    void start() noexcept;
    // Binary-safe (redisAsyncCommandArgv). SUBSCRIBE-like commands are refused
    // (bad_request): they belong to a Subscriber.
    void command(std::vector<std::string> argv, ReplyCallback cb) noexcept;
    // PUBLISH `message` on `channel`, written straight from the views (the caller keeps
    // its copy of the message, e.g. to know it when its subscription hears it back).
    // `on_failure` runs only when it failed: no reply (unavailable) or an error reply; a
    // PUBLISH Redis took calls nothing (a worker's events pay for no completion).
    void publish(std::string_view channel, std::string_view message, ReplyCallback on_failure) noexcept;
    bool connected() const noexcept;
    ClientStats stats() const noexcept;
    // Drops the connection, fails what is pending, stops reconnecting.
    void shutdown() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Subscription connection: SUBSCRIBE to channels and PSUBSCRIBE to patterns;
// re-subscribes after every reconnect. For a pattern match the channel passed
// to on_message is the channel the message was published on.
//
// Callbacks run from the loop; none runs after shutdown() or destruction.
class Subscriber {
public:
    using MessageFn = std::function<void(std::string_view channel, std::string_view payload)>;
    // Called with true once every channel and pattern is (re)subscribed and
    // with false when such a subscription is lost, so the owner can e.g. tell
    // clients to resume from Postgres. Calls alternate, starting with true.
    using StateFn = std::function<void(bool connected)>;

    Subscriber(EventLoop& loop, Config cfg, std::vector<std::string> channels,
               std::vector<std::string> patterns, MessageFn on_message, StateFn on_state = {});
    ~Subscriber();
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

    void start() noexcept;
    bool connected() const noexcept;  // every subscription confirmed
    void shutdown() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace chat::redis
