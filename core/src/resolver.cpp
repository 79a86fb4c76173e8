// The non-blocking resolver: one c-ares channel whose sockets and timeouts are driven by the
// EventLoop (see chat/resolver.h for the contract).
//
// c-ares tells us which sockets to watch through its socket-state callback (ARES_OPT_SOCK_STATE_CB):
// (fd, readable, writable) adds or changes a watch, (fd, 0, 0) comes right before c-ares closes
// the fd, so the watch is dropped then (possibly inside that watch's own callback, which both
// EventLoops allow) and a reused fd number never meets a stale watch. Readiness goes back in
// with ares_process_fd; after every call into c-ares the one Timer is re-armed to ares_timeout()
// so retransmissions and server timeouts happen without any socket being ready.
#include "chat/resolver.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <list>
#include <map>
#include <mutex>

#include "chat/limits.h"

namespace chat::dns {

namespace {

struct Pending {
    Resolver::Impl* impl = nullptr;
    Resolver::Done done;
};

class PendingLookup final : public Lookup {
public:
    explicit PendingLookup(std::weak_ptr<Pending> p) : p_(std::move(p)) {}
    ~PendingLookup() override {
        if (auto p = p_.lock()) p->done = nullptr;  // c-ares may still answer: nobody listens
    }

private:
    std::weak_ptr<Pending> p_;
};

class DoneLookup final : public Lookup {};

Result<std::vector<Address>> addresses(int status, const ares_addrinfo* ai) {
    if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_ENONAME)
        return Error{Errc::not_found, "no such host"};
    if (status != ARES_SUCCESS) return Error{Errc::unavailable, ares_strerror(status)};
    std::vector<Address> out;
    for (const ares_addrinfo_node* n = ai ? ai->nodes : nullptr; n; n = n->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        if (n->ai_family == AF_INET && n->ai_addr) {
            const auto* a = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
            if (inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text))) out.push_back({text, false});
        } else if (n->ai_family == AF_INET6 && n->ai_addr) {
            const auto* a = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
            if (inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text))) out.push_back({text, true});
        }
        if (out.size() >= limits::kWebhookAddressesMax) break;
    }
    if (out.empty()) return Error{Errc::not_found, "no address"};
    return out;
}

}  // namespace

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
    EventLoop& loop;
    ares_channel channel = nullptr;
    std::map<int, std::unique_ptr<IoWatch>> watches;
    std::unique_ptr<Timer> timer;
    std::list<std::shared_ptr<Pending>> pending;
    bool destroying = false;

    explicit Impl(EventLoop& l) : loop(l) {}

    ~Impl() {
        destroying = true;
        timer.reset();
        if (channel) ares_destroy(channel);  // answers ARES_EDESTRUCTION to every lookup: ignored
        channel = nullptr;
        watches.clear();
    }

    static void sock_state(void* data, ares_socket_t fd, int readable, int writable) {
        auto* me = static_cast<Impl*>(data);
        try {
            if (!readable && !writable) {
                me->watches.erase(fd);
                return;
            }
            auto& w = me->watches[fd];
            if (!w)
                w = me->loop.watch(fd, [me, fd](bool r, bool wr) {
                    // may drop this very watch (c-ares closes the fd): touch nothing after
                    me->process(r ? fd : ARES_SOCKET_BAD, wr ? fd : ARES_SOCKET_BAD);
                });
            w->want_read(readable != 0);
            w->want_write(writable != 0);
        } catch (const std::exception& e) {
            me->loop.log(LogLevel::error, std::string("resolver: watching a socket failed: ") + e.what());
        }
    }

    void process(ares_socket_t r, ares_socket_t w) noexcept {
        if (!channel) return;
        ares_process_fd(channel, r, w);
        rearm();
    }

    void rearm() noexcept {
        if (!timer || !channel) return;
        timeval tv{};
        if (ares_timeout(channel, nullptr, &tv) == nullptr) {
            timer->cancel();
            return;
        }
        timer->arm(static_cast<std::uint64_t>(tv.tv_sec) * 1000 + static_cast<std::uint64_t>(tv.tv_usec + 999) / 1000);
    }

    static void answered(void* arg, int status, int /*timeouts*/, ares_addrinfo* ai) {
        auto* p = static_cast<Pending*>(arg);
        Impl* me = p->impl;
        auto freer = std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)>(ai, &ares_freeaddrinfo);
        if (me->destroying || status == ARES_EDESTRUCTION) return;
        try {
            std::shared_ptr<Pending> keep;
            for (auto it = me->pending.begin(); it != me->pending.end(); ++it) {
                if (it->get() != p) continue;
                keep = std::move(*it);
                me->pending.erase(it);
                break;
            }
            if (!keep || !keep->done) return;
            auto result = std::make_shared<Result<std::vector<Address>>>(addresses(status, ai));
            // always later, on the loop: never inside resolve() nor inside c-ares
            me->loop.post([self = me->weak_from_this(), keep, result] {
                if (self.expired() || !keep->done) return;
                auto done = std::move(keep->done);
                keep->done = nullptr;
                done(std::move(*result));
            });
        } catch (const std::exception& e) {
            me->loop.log(LogLevel::error, std::string("resolver: answering a lookup failed: ") + e.what());
        }
    }
};

Result<std::unique_ptr<Resolver>> Resolver::make(EventLoop& loop, ResolverConfig cfg) {
    static std::once_flag once;
    static int init_status = ARES_SUCCESS;
    std::call_once(once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
    if (init_status != ARES_SUCCESS)
        return Error{Errc::internal, std::string("c-ares: ") + ares_strerror(init_status)};

    auto impl = std::make_shared<Impl>(loop);
    ares_options opts{};
    opts.sock_state_cb = &Impl::sock_state;
    opts.sock_state_cb_data = impl.get();
    opts.timeout = static_cast<int>(cfg.try_timeout_ms);
    opts.tries = cfg.tries;
    const int rc = ares_init_options(&impl->channel, &opts, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        impl->channel = nullptr;
        return Error{Errc::internal, std::string("c-ares: ") + ares_strerror(rc)};
    }
    Impl* raw = impl.get();
    impl->timer = loop.timer([raw] { raw->process(ARES_SOCKET_BAD, ARES_SOCKET_BAD); });
    return std::make_unique<Resolver>(std::move(impl));
}

Resolver::Resolver(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Resolver::~Resolver() = default;

std::unique_ptr<Lookup> Resolver::resolve(std::string_view name, Done done) {
    if (name.empty() || name.size() > limits::kWebhookHostBytes || name.find('\0') != std::string_view::npos) {
        impl_->loop.post([self = impl_->weak_from_this(), done = std::move(done)] {
            if (!self.expired()) done(Error{Errc::not_found, "not a host name"});
        });
        return std::make_unique<DoneLookup>();
    }
    auto p = std::make_shared<Pending>();
    p->impl = impl_.get();
    p->done = std::move(done);
    impl_->pending.push_back(p);
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string n(name);
    ares_getaddrinfo(impl_->channel, n.c_str(), nullptr, &hints, &Impl::answered, p.get());
    impl_->rearm();
    return std::make_unique<PendingLookup>(p);
}

}  // namespace chat::dns
