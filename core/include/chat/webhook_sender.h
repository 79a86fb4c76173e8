// The webhook sender of one worker: on a timer it claims due deliveries from the outbox
// (chat_webhook_claim, sql/functions/97_webhooks.sql) and POSTs each on its own non-blocking
// socket driven by the event loop, then records the result (chat_webhook_done).
//
// Contract:
// - Never blocks: each delivery goes through chat/webhook_transport.h (c-ares for host names,
//   non-blocking sockets and TLS watched through the EventLoop, nginx's epoll in the module)
//   with one deadline (timeout_ms from resolving the host to the status line).
// - Only the status line of the answer is read (at most limits::kWebhookStatusLineMax
//   bytes): 2xx is delivered, anything else (another status, a timeout, a refused or reset
//   connection, a broken answer) is a failure retried with backoff by the database.
// - Order per conversation and one node at a time: the claim hands out only the oldest
//   pending event of each (webhook, conversation) and leases it; the next one of that
//   conversation is claimable only after this one is done. Each delivery has its own socket
//   and deadline, and a webhook never holds more than per_webhook leases, so a slow or dead
//   receiver delays nobody else.
// - At most max_in_flight deliveries per worker. A failure of Postgres skips a tick.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "chat/event_loop.h"

namespace chat::pg {
class Pool;
}

namespace chat::webhook {

struct SenderConfig {
    std::uint64_t backoff_ms = 5000;    // chat_webhook_backoff: the first retry's delay, doubled per retry
    bool allow_private = false;         // chat_webhook_private: may deliveries reach private addresses
    std::uint64_t timeout_ms = 10000;   // resolve, connect, TLS, send and the status line
    std::string ca_file;                // chat_webhook_ca: a PEM file of CAs trusted besides the system's
    std::uint64_t tick_ms = 1000;       // how often an idle sender looks for due deliveries
    int max_in_flight = 128;            // per worker
    int per_webhook = 48;               // leases per webhook at a time, over every node
    int give_up_s = 24 * 3600;          // an event older than this is dropped after its next failure
    std::string chat_secret;            // the key webhook secrets are stored under (seal_secret)
};

struct SenderStats {
    std::uint64_t delivered = 0, failed = 0;
    int in_flight = 0;
};

class Sender {
public:
    // log: one line per failed delivery (the operator's view is last_error in the API).
    Sender(EventLoop& loop, pg::Pool& pg, SenderConfig cfg, std::function<void(const std::string&)> log);
    ~Sender();
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;

    void start();
    SenderStats stats() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace chat::webhook
