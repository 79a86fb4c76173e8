// A webhook delivery on the wire (chat/webhook_transport.h, chat/resolver.h): a host name is
// resolved without blocking (from /etc/hosts), every resolved address meets the SSRF guard,
// a receiver on 127.0.0.1 gets the request and its status line decides; a refused connect, a
// TLS peer that never speaks (the one deadline) and an aborted attempt end cleanly.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <optional>
#include <string>

#include "chat/epoll_loop.h"
#include "chat/resolver.h"
#include "chat/tls_client.h"
#include "chat/webhook.h"
#include "chat/webhook_transport.h"

namespace {

using chat::EpollLoop;
using chat::webhook::Transport;
using chat::webhook::TransportConfig;

// A receiver on 127.0.0.1 run by the test's loop: reads a request head, then answers
// `answer` (or, when empty, holds the connection and says nothing).
struct Receiver {
    EpollLoop& loop;
    std::string answer;
    int lfd = -1;
    int port = 0;
    int cfd = -1;
    std::string got;
    std::unique_ptr<chat::IoWatch> lw, cw;

    Receiver(EpollLoop& l, std::string a) : loop(l), answer(std::move(a)) {
        lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
        EXPECT_EQ(::listen(lfd, 8), 0);
        socklen_t len = sizeof(sa);
        ::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
        port = ntohs(sa.sin_port);
        lw = loop.watch(lfd, [this](bool, bool) {
            if (cfd >= 0) return;
            cfd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (cfd < 0) return;
            cw = loop.watch(cfd, [this](bool, bool) {
                char buf[4096];
                ssize_t n = ::recv(cfd, buf, sizeof(buf), 0);
                if (n > 0) got.append(buf, static_cast<std::size_t>(n));
                if (got.find("\r\n\r\n") != std::string::npos && !answer.empty()) {
                    (void)::send(cfd, answer.data(), answer.size(), MSG_NOSIGNAL);
                    answer.clear();
                }
                if (n <= 0) cw->want_read(false);
            });
            cw->want_read(true);
        });
        lw->want_read(true);
    }
    ~Receiver() {
        cw.reset();
        lw.reset();
        if (cfd >= 0) ::close(cfd);
        ::close(lfd);
    }
};

struct Outcome {
    bool ok = false;
    std::string error;
};

std::optional<Outcome> deliver(EpollLoop& loop, const std::string& url, TransportConfig cfg,
                               std::uint64_t wait_ms = 5000) {
    Transport t(loop, cfg, [](const std::string&) {});
    auto u = chat::webhook::parse_url(url);
    EXPECT_TRUE(u.ok()) << url;
    if (!u.ok()) return std::nullopt;
    std::optional<Outcome> out;
    auto attempt = t.send(u.value(), chat::webhook::request(u.value(), "{}", "sha256=00"),
                          [&out](bool ok, std::string error) { out = Outcome{ok, std::move(error)}; });
    EXPECT_FALSE(out) << "never inside send()";
    loop.run_until([&] { return out.has_value(); }, wait_ms);
    return out;
}

TEST(Resolver, ANameFromEtcHostsResolvesLaterOnTheLoop) {
    EpollLoop loop;
    auto r = chat::dns::Resolver::make(loop);
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::optional<chat::Result<std::vector<chat::dns::Address>>> got;
    auto lookup = r.value()->resolve("localhost", [&](auto res) { got.emplace(std::move(res)); });
    EXPECT_FALSE(got) << "never inside resolve()";
    ASSERT_TRUE(loop.run_until([&] { return got.has_value(); }, 5000));
    ASSERT_TRUE(got->ok()) << got->error().message;
    bool loopback = false;
    for (const auto& a : got->value()) loopback = loopback || a.ip == "127.0.0.1" || a.ip == "::1";
    EXPECT_TRUE(loopback);
}

TEST(Resolver, AForgottenLookupNeverAnswersAndAnOverlongNameIsRefused) {
    EpollLoop loop;
    auto r = chat::dns::Resolver::make(loop);
    ASSERT_TRUE(r.ok());
    bool called = false;
    auto lookup = r.value()->resolve("localhost", [&](auto) { called = true; });
    lookup.reset();
    loop.run_until([] { return false; }, 200);
    EXPECT_FALSE(called);
    std::optional<chat::Result<std::vector<chat::dns::Address>>> got;
    auto l2 = r.value()->resolve(std::string(254, 'a'), [&](auto res) { got.emplace(std::move(res)); });
    ASSERT_TRUE(loop.run_until([&] { return got.has_value(); }, 1000));
    EXPECT_FALSE(got->ok());
}

TEST(WebhookTransport, AHostNameIsResolvedAndTheReceiverAnswersTheStatusLine) {
    EpollLoop loop;
    Receiver rx(loop, "HTTP/1.1 204 No Content\r\n\r\n");
    auto out = deliver(loop, "http://localhost:" + std::to_string(rx.port) + "/in", {true, 5000, ""});
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->ok) << out->error;
    EXPECT_TRUE(rx.got.starts_with("POST /in HTTP/1.1\r\nHost: localhost:" + std::to_string(rx.port))) << rx.got;
}

TEST(WebhookTransport, ANonTwoHundredIsAFailureNamingTheStatus) {
    EpollLoop loop;
    Receiver rx(loop, "HTTP/1.1 503 Busy\r\n\r\n");
    auto out = deliver(loop, "http://127.0.0.1:" + std::to_string(rx.port) + "/", {true, 5000, ""});
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->ok);
    EXPECT_EQ(out->error, "HTTP 503");
}

TEST(WebhookTransport, WithoutPrivateAddressesEveryResolvedAddressIsCheckedAndNothingIsSent) {
    EpollLoop loop;
    Receiver rx(loop, "HTTP/1.1 204 No Content\r\n\r\n");
    auto out = deliver(loop, "http://localhost:" + std::to_string(rx.port) + "/", {false, 5000, ""});
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->ok);
    EXPECT_TRUE(out->error.starts_with("address not allowed: localhost resolves to ")) << out->error;
    auto lit = deliver(loop, "https://127.0.0.1:" + std::to_string(rx.port) + "/", {false, 5000, ""});
    ASSERT_TRUE(lit);
    EXPECT_TRUE(lit->error.starts_with("address not allowed: 127.0.0.1 ")) << lit->error;
    loop.run_until([] { return false; }, 50);
    EXPECT_EQ(rx.cfd, -1) << "never connected";
}

TEST(WebhookTransport, ARefusedConnectionSaysWhere) {
    EpollLoop loop;
    int port = 0;
    {
        Receiver gone(loop, "");
        port = gone.port;
    }
    auto out = deliver(loop, "https://127.0.0.1:" + std::to_string(port) + "/", {true, 5000, ""});
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->ok);
    EXPECT_EQ(out->error, "connect to 127.0.0.1: Connection refused");
}

TEST(WebhookTransport, OneDeadlineEndsATlsHandshakeThatNeverProgresses) {
    std::signal(SIGPIPE, SIG_IGN);
    EpollLoop loop;
    Receiver rx(loop, "");  // accepts, reads the ClientHello, never answers
    auto out = deliver(loop, "https://localhost:" + std::to_string(rx.port) + "/", {true, 300, ""});
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->ok);
    EXPECT_EQ(out->error, "timed out (TLS handshake)");
    EXPECT_FALSE(rx.got.empty()) << "a ClientHello was sent";
}

TEST(WebhookTransport, AReceiverThatIsNotTlsFailsTheHandshake) {
    std::signal(SIGPIPE, SIG_IGN);
    EpollLoop loop;
    Receiver rx(loop, "");
    rx.answer = "HTTP/1.1 400 Bad Request\r\n\r\n";
    // the ClientHello has no "\r\n\r\n": answer at once instead
    auto out = std::optional<Outcome>();
    {
        Transport t(loop, {true, 3000, ""}, [](const std::string&) {});
        auto u = chat::webhook::parse_url("https://127.0.0.1:" + std::to_string(rx.port) + "/");
        ASSERT_TRUE(u.ok());
        auto a = t.send(u.value(), "x", [&](bool ok, std::string e) { out = Outcome{ok, std::move(e)}; });
        loop.run_until([&] { return rx.cfd >= 0 && !rx.got.empty(); }, 3000);
        ASSERT_GE(rx.cfd, 0);
        (void)::send(rx.cfd, rx.answer.data(), rx.answer.size(), MSG_NOSIGNAL);
        loop.run_until([&] { return out.has_value(); }, 3000);
    }
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->ok);
    EXPECT_TRUE(out->error.starts_with("TLS handshake")) << out->error;
}

TEST(WebhookTransport, AnAbortedAttemptNeverAnswersAndClosesItsSocket) {
    EpollLoop loop;
    Receiver rx(loop, "");
    Transport t(loop, {true, 5000, ""}, [](const std::string&) {});
    auto u = chat::webhook::parse_url("http://localhost:" + std::to_string(rx.port) + "/");
    ASSERT_TRUE(u.ok());
    bool called = false;
    auto a = t.send(u.value(), chat::webhook::request(u.value(), "{}", "sha256=00"), [&](bool, std::string) {
        called = true;
    });
    ASSERT_TRUE(loop.run_until([&] { return rx.got.find("\r\n\r\n") != std::string::npos; }, 5000));
    a.reset();
    char c;
    bool closed = false;
    loop.run_until([&] { return (closed = ::recv(rx.cfd, &c, 1, MSG_DONTWAIT) == 0); }, 2000);
    EXPECT_TRUE(closed) << "the peer sees the connection closed";
    loop.run_until([] { return false; }, 50);
    EXPECT_FALSE(called);
}

TEST(WebhookTransport, ACaFileThatHoldsNoCertificateIsRefused) {
    char path[] = "/tmp/chat-ca-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "junk\n", 5), 5);
    ::close(fd);
    EXPECT_FALSE(chat::tls::ClientContext::make(path).ok());
    ::unlink(path);
    EXPECT_TRUE(chat::tls::ClientContext::make("").ok()) << "the system store alone";
}

}  // namespace
