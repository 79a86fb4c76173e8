// A TLS client over a connected non-blocking socket (OpenSSL), for webhook deliveries.
//
// Contract:
// - ClientContext is one SSL_CTX for every connection of its owner: TLS 1.2 or newer, the
//   peer's certificate always verified (SSL_VERIFY_PEER; there is no switch to turn it off)
//   against the system's CA store (SSL_CTX_set_default_verify_paths) plus, when given, one
//   extra PEM file of CAs (chat_webhook_ca).
// - Connection is one SSL on a socket it does not own (the caller closes the fd after the
//   Connection is gone). The host a URL names is checked against the certificate: a name
//   by SSL_set1_host (and sent as SNI), an IP literal against the certificate's IP SANs.
// - Every step is non-blocking: handshake/write/read answer Want::read or Want::write when
//   the socket must become readable/writable first (the caller watches it and calls again),
//   Want::error with a sentence in `error` (naming a certificate verification failure as
//   such), Want::done when the step is complete.
// - OpenSSL writes with write(2): a peer that resets the connection raises SIGPIPE, which the
//   host must ignore (nginx's workers do; core's tests set SIG_IGN).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "chat/result.h"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace chat::tls {

enum class Want { done, read, write, error };

struct Step {
    Want want = Want::done;
    std::size_t bytes = 0;  // written or read by this call
    std::string error;
};

class ClientContext {
public:
    // Errc::internal naming the file when ca_file cannot be read as PEM certificates.
    static Result<ClientContext> make(std::string_view ca_file);
    SSL_CTX* get() const noexcept { return ctx_.get(); }

private:
    struct Free {
        void operator()(SSL_CTX* c) const noexcept;
    };
    std::shared_ptr<SSL_CTX> ctx_;
};

class Connection {
public:
    // host: the URL's host (a name, or an IP literal when ip_literal).
    static Result<Connection> make(const ClientContext& ctx, int fd, std::string_view host, bool ip_literal);

    Step handshake() noexcept;
    Step write(std::string_view data) noexcept;
    // bytes == 0 with Want::done: the peer closed the connection.
    Step read(char* buf, std::size_t cap) noexcept;

private:
    struct Free {
        void operator()(SSL* s) const noexcept;
    };
    Step failed(int ret, std::string_view what) noexcept;
    std::unique_ptr<SSL, Free> ssl_;
};

}  // namespace chat::tls
