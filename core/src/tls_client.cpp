// The TLS client of webhook deliveries: one verifying SSL_CTX, non-blocking SSL steps that
// say which readiness they wait for (see chat/tls_client.h for the contract).
#include "chat/tls_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

namespace chat::tls {

namespace {

std::string openssl_error() {
    const unsigned long e = ERR_peek_last_error();
    if (e == 0) return "unknown error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    const char* reason = ERR_reason_error_string(e);
    return reason ? std::string(reason) : std::string(buf);
}

}  // namespace

void ClientContext::Free::operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }

void Connection::Free::operator()(SSL* s) const noexcept { SSL_free(s); }

Result<ClientContext> ClientContext::make(std::string_view ca_file) {
    ERR_clear_error();
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), Free{});
    if (!ctx) return Error{Errc::internal, "TLS: " + openssl_error()};
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // a receiver that closes without close_notify after its status line is not an error of ours
    SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) ERR_clear_error();  // no system store: only ca_file
    if (!ca_file.empty()) {
        const std::string path(ca_file);
        if (SSL_CTX_load_verify_locations(ctx.get(), path.c_str(), nullptr) != 1)
            return Error{Errc::internal, "TLS: cannot load CA file \"" + path + "\": " + openssl_error()};
    }
    ClientContext out;
    out.ctx_ = std::move(ctx);
    return out;
}

Result<Connection> Connection::make(const ClientContext& ctx, int fd, std::string_view host, bool ip_literal) {
    ERR_clear_error();
    Connection c;
    c.ssl_.reset(SSL_new(ctx.get()));
    if (!c.ssl_) return Error{Errc::internal, "TLS: " + openssl_error()};
    const std::string h(host);
    if (SSL_set_fd(c.ssl_.get(), fd) != 1) return Error{Errc::internal, "TLS: " + openssl_error()};
    if (ip_literal) {
        // no SNI for addresses (RFC 6066); the certificate must carry the address as an IP SAN
        X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl_.get());
        if (X509_VERIFY_PARAM_set1_ip_asc(param, h.c_str()) != 1)
            return Error{Errc::internal, "TLS: bad address " + h};
    } else {
        if (SSL_set_tlsext_host_name(c.ssl_.get(), h.c_str()) != 1 || SSL_set1_host(c.ssl_.get(), h.c_str()) != 1)
            return Error{Errc::internal, "TLS: bad host name " + h};
        SSL_set_hostflags(c.ssl_.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    SSL_set_connect_state(c.ssl_.get());
    return c;
}

Step Connection::failed(int ret, std::string_view what) noexcept {
    try {
        const int err = SSL_get_error(ssl_.get(), ret);
        if (err == SSL_ERROR_WANT_READ) return {Want::read, 0, {}};
        if (err == SSL_ERROR_WANT_WRITE) return {Want::write, 0, {}};
        if (err == SSL_ERROR_ZERO_RETURN) return {Want::done, 0, {}};
        const long verify = SSL_get_verify_result(ssl_.get());
        if (verify != X509_V_OK)
            return {Want::error, 0,
                    std::string("TLS certificate verification failed: ") + X509_verify_cert_error_string(verify)};
        if (err == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
            return {Want::error, 0,
                    "TLS " + std::string(what) + ": " + (errno ? std::strerror(errno) : "connection closed")};
        return {Want::error, 0, "TLS " + std::string(what) + " failed: " + openssl_error()};
    } catch (...) {
        return {Want::error, 0, {}};
    }
}

Step Connection::handshake() noexcept {
    ERR_clear_error();
    errno = 0;
    const int r = SSL_do_handshake(ssl_.get());
    if (r == 1) return {Want::done, 0, {}};
    Step s = failed(r, "handshake");
    if (s.want == Want::done) return {Want::error, 0, "TLS handshake: connection closed"};
    return s;
}

Step Connection::write(std::string_view data) noexcept {
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    const int r = SSL_write_ex(ssl_.get(), data.data(), data.size(), &n);
    if (r == 1) return {Want::done, n, {}};
    Step s = failed(r, "write");
    if (s.want == Want::done) return {Want::error, 0, "TLS write: connection closed"};
    return s;
}

Step Connection::read(char* buf, std::size_t cap) noexcept {
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_.get(), buf, cap, &n);
    if (r == 1) return {Want::done, n, {}};
    Step s = failed(r, "read");
    // OpenSSL 3 with SSL_OP_IGNORE_UNEXPECTED_EOF reports a bare close as ZERO_RETURN
    return s;
}

}  // namespace chat::tls
