// One webhook delivery on the wire: resolve, guard, connect, TLS, send, status line (see
// chat/webhook_transport.h for the contract).
//
// An attempt is a small state machine driven by one level-triggered watch on its socket:
// connecting (wait writable, SO_ERROR; a failure moves on to the next allowed address),
// handshaking (TLS only: whatever SSL_do_handshake wants), sending, reading (up to the status
// line). Before a new socket or at the end, the watch goes first, then the SSL, then the fd,
// so no watch ever outlives its fd and no SSL outlives its socket.
#include "chat/webhook_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "chat/limits.h"
#include "chat/resolver.h"
#include "chat/tls_client.h"

namespace chat::webhook {

struct Transport::Impl : std::enable_shared_from_this<Transport::Impl> {
    EventLoop& loop;
    TransportConfig cfg;
    std::function<void(const std::string&)> log;
    std::unique_ptr<dns::Resolver> resolver;
    std::string resolver_error;
    std::optional<tls::ClientContext> tls;
    std::string tls_error;

    Impl(EventLoop& l, TransportConfig c, std::function<void(const std::string&)> lg)
        : loop(l), cfg(std::move(c)), log(std::move(lg)) {
        auto r = dns::Resolver::make(loop);
        if (r.ok()) {
            resolver = std::move(r.value());
        } else {
            resolver_error = r.error().message;
            log("webhook host names cannot be resolved: " + resolver_error);
        }
        auto t = tls::ClientContext::make(cfg.ca_file);
        if (t.ok()) {
            tls = std::move(t.value());
        } else {
            tls_error = t.error().message;
            log("https webhooks cannot be delivered: " + tls_error);
        }
    }
};

namespace {

enum class Stage { resolving, connecting, handshaking, sending, reading };

const char* stage_name(Stage s) {
    switch (s) {
        case Stage::resolving: return "resolving";
        case Stage::connecting: return "connecting";
        case Stage::handshaking: return "TLS handshake";
        case Stage::sending: return "sending";
        case Stage::reading: return "waiting for the status line";
    }
    return "";
}

class Exchange final : public std::enable_shared_from_this<Exchange> {
public:
    Exchange(std::shared_ptr<Transport::Impl> t, Url url, std::string request, Transport::Done done)
        : t_(std::move(t)), url_(std::move(url)), out_(std::move(request)), done_(std::move(done)) {}

    ~Exchange() { close_socket(); }
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    void begin() {
        deadline_ = t_->loop.timer([this] {
            if (stage_ == Stage::resolving) return finish(false, "cannot resolve host " + url_.name + ": timed out");
            finish(false, std::string("timed out (") + stage_name(stage_) + ")");
        });
        deadline_->arm(t_->cfg.timeout_ms);
        if (url_.https && !t_->tls) return finish(false, "TLS unavailable: " + t_->tls_error);
        if (!url_.ip.empty()) {
            if (!allowed(url_.ip, url_.v6))
                return finish(false, "address not allowed: " + url_.ip +
                                         " is not a public address (chat_webhook_private off)");
            addresses_.push_back({url_.ip, url_.v6});
            stage_ = Stage::connecting;
            return connect_next();
        }
        if (!t_->resolver) return finish(false, "cannot resolve host " + url_.name + ": " + t_->resolver_error);
        std::weak_ptr<Exchange> self = weak_from_this();
        lookup_ = t_->resolver->resolve(url_.name, [self](Result<std::vector<dns::Address>> r) {
            if (auto me = self.lock()) me->resolved(std::move(r));
        });
    }

private:
    bool allowed(const std::string& ip, bool v6) const { return t_->cfg.allow_private || public_address(ip, v6); }

    void resolved(Result<std::vector<dns::Address>> r) noexcept {
        try {
            if (finished_) return;
            if (!r.ok()) return finish(false, "cannot resolve host " + url_.name + ": " + r.error().message);
            std::string refused;
            for (const dns::Address& a : r.value()) {
                if (allowed(a.ip, a.v6)) {
                    addresses_.push_back(a);
                } else {
                    refused += (refused.empty() ? "" : ", ") + a.ip;
                }
            }
            if (addresses_.empty())
                return finish(false, "address not allowed: " + url_.name + " resolves to " + refused +
                                         " (not public; chat_webhook_private off)");
            stage_ = Stage::connecting;
            connect_next();
        } catch (const std::exception& e) {
            finish(false, e.what());
        }
    }

    // The next allowed address; the last connect error when none is left.
    void connect_next() {
        close_socket();
        while (next_ < addresses_.size()) {
            const dns::Address& a = addresses_[next_++];
            sockaddr_storage ss{};
            socklen_t len = 0;
            if (a.v6) {
                auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(url_.port);
                inet_pton(AF_INET6, a.ip.c_str(), &s6->sin6_addr);
                len = sizeof(sockaddr_in6);
            } else {
                auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
                s4->sin_family = AF_INET;
                s4->sin_port = htons(url_.port);
                inet_pton(AF_INET, a.ip.c_str(), &s4->sin_addr);
                len = sizeof(sockaddr_in);
            }
            fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd_ < 0) {
                last_error_ = std::string("socket: ") + std::strerror(errno);
                continue;
            }
            int one = 1;
            (void)::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
                last_error_ = "connect to " + a.ip + ": " + std::strerror(errno);
                close_socket();
                continue;
            }
            current_ = a.ip;
            watch_ = t_->loop.watch(fd_, [this](bool r, bool w) { ready(r, w); });
            watch_->want_write(true);
            return;
        }
        finish(false, last_error_.empty() ? std::string("connect: no address") : last_error_);
    }

    void close_socket() noexcept {
        watch_.reset();
        ssl_.reset();
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    void want(tls::Want w) {
        watch_->want_read(w == tls::Want::read);
        watch_->want_write(w == tls::Want::write);
    }

    void ready(bool readable, bool writable) noexcept {
        try {
            if (finished_) return;
            if (stage_ == Stage::connecting) {
                if (!readable && !writable) return;
                int err = 0;
                socklen_t len = sizeof(err);
                if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
                if (err != 0) {
                    last_error_ = "connect to " + current_ + ": " + std::strerror(err);
                    return connect_next();  // drops this watch: touch nothing after
                }
                if (url_.https) {
                    auto c = tls::Connection::make(*t_->tls, fd_, url_.host(), !url_.ip.empty());
                    if (!c.ok()) return finish(false, c.error().message);
                    ssl_.emplace(std::move(c.value()));
                    stage_ = Stage::handshaking;
                } else {
                    stage_ = Stage::sending;
                }
            }
            drive();
        } catch (const std::exception& e) {
            finish(false, e.what());
        }
    }

    // Runs the stages as far as the socket allows, then waits for what the next step wants.
    void drive() {
        if (stage_ == Stage::handshaking) {
            tls::Step s = ssl_->handshake();
            if (s.want == tls::Want::error) return finish(false, s.error);
            if (s.want != tls::Want::done) return want(s.want);
            stage_ = Stage::sending;
        }
        if (stage_ == Stage::sending) {
            while (sent_ < out_.size()) {
                const std::string_view rest = std::string_view(out_).substr(sent_);
                if (ssl_) {
                    tls::Step s = ssl_->write(rest);
                    if (s.want == tls::Want::error) return finish(false, s.error);
                    if (s.want != tls::Want::done) return want(s.want);
                    sent_ += s.bytes;
                    continue;
                }
                ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
                if (n > 0) {
                    sent_ += static_cast<std::size_t>(n);
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return want(tls::Want::write);
                if (n < 0 && errno == EINTR) continue;
                return finish(false, std::string("send: ") + std::strerror(errno));
            }
            stage_ = Stage::reading;
        }
        if (stage_ == Stage::reading) {
            for (;;) {
                char buf[512];
                const std::size_t room =
                    limits::kWebhookStatusLineMax - std::min(in_.size(), limits::kWebhookStatusLineMax);
                const std::size_t cap = std::min(sizeof(buf), std::max<std::size_t>(room, 1));
                std::size_t got = 0;
                if (ssl_) {
                    tls::Step s = ssl_->read(buf, cap);
                    if (s.want == tls::Want::error) return finish(false, s.error);
                    if (s.want != tls::Want::done) return want(s.want);
                    got = s.bytes;
                } else {
                    ssize_t n = ::recv(fd_, buf, cap, 0);
                    if (n < 0 && errno == EINTR) continue;
                    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return want(tls::Want::read);
                    if (n < 0) return finish(false, std::string("recv: ") + std::strerror(errno));
                    got = static_cast<std::size_t>(n);
                }
                if (got == 0) return finish(false, "connection closed before a status line");
                in_.append(buf, got);
                StatusLine s = parse_status_line(in_);
                if (s.state == StatusLine::State::more) continue;
                if (s.state == StatusLine::State::bad) return finish(false, "the answer is not HTTP/1.x");
                if (delivered(s.code)) return finish(true, {});
                return finish(false, "HTTP " + std::to_string(s.code));
            }
        }
    }

    // Stops everything and answers once; the socket is closed when the Attempt is destroyed
    // (this may run inside the watch's own callback, which must not destroy the watch).
    void finish(bool ok, std::string error) noexcept {
        if (finished_) return;
        finished_ = true;
        if (watch_) {
            watch_->want_read(false);
            watch_->want_write(false);
        }
        if (deadline_) deadline_->cancel();
        std::weak_ptr<Exchange> self = weak_from_this();
        try {
            t_->loop.post([self, ok, error = std::move(error)]() mutable {
                auto me = self.lock();
                if (!me || !me->done_) return;
                auto done = std::move(me->done_);
                me->done_ = nullptr;
                me->lookup_.reset();
                done(ok, std::move(error));
            });
        } catch (const std::exception& e) {
            t_->log(std::string("webhook delivery bookkeeping failed: ") + e.what());
        }
    }

    std::shared_ptr<Transport::Impl> t_;
    Url url_;
    std::string out_;
    Transport::Done done_;
    Stage stage_ = Stage::resolving;
    std::unique_ptr<Timer> deadline_;
    std::unique_ptr<dns::Lookup> lookup_;
    std::vector<dns::Address> addresses_;
    std::size_t next_ = 0;
    std::string current_;
    std::string last_error_;
    int fd_ = -1;
    std::unique_ptr<IoWatch> watch_;
    std::optional<tls::Connection> ssl_;
    std::size_t sent_ = 0;
    std::string in_;
    bool finished_ = false;
};

// The handle the sender holds: destroying it destroys the exchange (posted steps hold only
// weak references).
class Handle final : public Attempt {
public:
    explicit Handle(std::shared_ptr<Exchange> x) : x_(std::move(x)) {}

private:
    std::shared_ptr<Exchange> x_;
};

}  // namespace

Transport::Transport(EventLoop& loop, TransportConfig cfg, std::function<void(const std::string&)> log)
    : impl_(std::make_shared<Impl>(loop, std::move(cfg), std::move(log))) {}

Transport::~Transport() = default;

std::unique_ptr<Attempt> Transport::send(const Url& url, std::string request, Done done) {
    auto x = std::make_shared<Exchange>(impl_, url, std::move(request), std::move(done));
    std::weak_ptr<Exchange> self = x;
    impl_->loop.post([self] {
        if (auto me = self.lock()) me->begin();
    });
    return std::make_unique<Handle>(std::move(x));
}

}  // namespace chat::webhook
