// The transport of one webhook delivery: resolve the URL's host, connect to an address the
// SSRF guard allows, TLS for https://, send the request, read the status line. The sender
// (chat/webhook_sender.h) decides what to send and records what came of it.
//
// Contract:
// - Never blocks: names go through the c-ares resolver (chat/resolver.h), sockets are
//   non-blocking and watched through the EventLoop, TLS steps follow WANT_READ/WANT_WRITE
//   (chat/tls_client.h). One deadline (timeout_ms) covers resolve, connect, TLS handshake,
//   send and the status line.
// - The SSRF guard (allow_private false: public addresses only, chat::webhook::public_address)
//   is applied to every address a name resolves to; only addresses that pass are tried, in
//   the resolver's order, and the connection goes to the address that was checked (one
//   lookup per delivery: a second answer can never slip in a private address).
// - https:// verifies the receiver's certificate (system CAs plus ca_file) and that it names
//   the URL's host; it cannot be switched off.
// - `done(ok, error)` runs once, later on the loop (never inside send()), with ok for a 2xx
//   status line and otherwise a sentence for last_error: "cannot resolve host …",
//   "address not allowed: …", "connect to …", "TLS certificate verification failed: …",
//   "timed out (…)", "HTTP 500", … Destroying the Attempt aborts it (closes its socket, frees
//   its SSL, forgets its lookup) and `done` is not called after that. done must not destroy
//   the Attempt itself (post that).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "chat/event_loop.h"
#include "chat/webhook.h"

namespace chat::webhook {

struct TransportConfig {
    bool allow_private = false;        // chat_webhook_private
    std::uint64_t timeout_ms = 10000;  // resolve + connect + TLS + send + status line
    std::string ca_file;               // chat_webhook_ca: CAs trusted besides the system's
};

class Attempt {
public:
    virtual ~Attempt() = default;
};

class Transport {
public:
    // log: what an operator must act on once (the resolver or TLS cannot start).
    Transport(EventLoop& loop, TransportConfig cfg, std::function<void(const std::string&)> log);
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    using Done = std::function<void(bool ok, std::string error)>;
    std::unique_ptr<Attempt> send(const Url& url, std::string request, Done done);

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace chat::webhook
