// A non-blocking host name resolver (c-ares) on core's EventLoop, for webhook deliveries.
//
// Contract:
// - Never blocks: c-ares' sockets are watched through the EventLoop (nginx's epoll in the
//   module) and its retransmissions are driven by a Timer; /etc/hosts and /etc/resolv.conf
//   are read once, when the Resolver is made (as c-ares does).
// - resolve() answers every address of the name (IPv4 and IPv6, in c-ares' RFC 6724 order)
//   through `done`, always later on the loop (never inside resolve()), at most once.
//   A name that does not exist or has no address is Errc::not_found; anything else
//   (a timeout of every server, a refused query) Errc::unavailable.
// - Destroying the Lookup handle forgets the answer: `done` is never called after that.
//   Destroying the Resolver cancels every lookup (their `done` are never called).
// - Names longer than limits::kWebhookHostBytes are refused without a query; the size of
//   answers is bounded by c-ares (UDP 512 bytes, TCP retry of a truncated answer).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/event_loop.h"
#include "chat/result.h"

namespace chat::dns {

// One resolved address: the text form ("192.0.2.7", "2001:db8::1") and its family.
struct Address {
    std::string ip;
    bool v6 = false;
};

struct ResolverConfig {
    std::uint64_t try_timeout_ms = 2000;  // one server's first try; c-ares grows it per try
    int tries = 2;                        // per server
};

class Lookup {
public:
    virtual ~Lookup() = default;
};

class Resolver {
public:
    // Fails (Errc::internal) when c-ares cannot start (e.g. no memory); the reason says why.
    static Result<std::unique_ptr<Resolver>> make(EventLoop& loop, ResolverConfig cfg = {});
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    using Done = std::function<void(Result<std::vector<Address>>)>;
    std::unique_ptr<Lookup> resolve(std::string_view name, Done done);

    struct Impl;
    explicit Resolver(std::shared_ptr<Impl> impl);  // through make()

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace chat::dns
