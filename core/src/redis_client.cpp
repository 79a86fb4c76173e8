// chat::redis::Client: request/response commands over a self-reconnecting connection, failing fast while Redis is down.
#include <hiredis/async.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <deque>
#include <exception>
#include <span>
#include <string_view>

#include "redis_connection.h"

namespace chat::redis {

namespace {

struct Completion {
    ReplyCallback cb;
    Result<Reply> result;
};

// Completions made during one loop turn, handed to user code from one posted
// task. Posting keeps user code off hiredis's stack (it may then shut down or
// destroy the client freely) and command() from ever calling back inline.
// Only the posted task may touch a taken batch.
struct Batch {
    std::vector<Completion> items;
    bool taken = false;
};

void run_batch(Batch& b) noexcept {
    b.taken = true;
    auto items = std::move(b.items);
    for (auto& c : items) {
        try {
            c.cb(std::move(c.result));
        } catch (...) {
            // A throwing callback must not unwind into the host's loop.
        }
    }
}

bool is_subscribe_like(const std::string& name) {
    std::string n(name);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return n == "subscribe" || n == "psubscribe" || n == "unsubscribe" || n == "punsubscribe" || n == "monitor";
}

Error unavailable(const std::string& why) {
    return make_error(Errc::unavailable, why.empty() ? "redis unavailable" : "redis unavailable: " + why);
}

}  // namespace

struct Client::Impl final : detail::ConnectionEvents {
    // The posted flush of the commands of one loop turn; it may run after the Impl is gone.
    struct Flush {
        Impl* self;
        bool posted = false;
    };

    struct Pending {
        ReplyCallback cb;
        std::uint64_t deadline_ms;
        bool failures_only = false;  // publish(): a reply that is no error calls nothing
    };

    EventLoop& loop;
    Config cfg;
    std::deque<Pending> pending;  // in send order; Redis answers in order
    std::shared_ptr<Batch> batch;
    std::shared_ptr<Flush> flush = std::make_shared<Flush>(Flush{this});
    std::unique_ptr<Timer> command_timer;
    std::unique_ptr<detail::Connection> conn;  // last: its callbacks use the members above
    bool shut_down = false;
    std::uint64_t commands = 0, errors = 0;
    std::string wire;  // the command being sent, in the protocol, at its start (its size kept)
    static constexpr std::size_t kWireKept = 64 * 1024;

    // "*3\r\n" or "$7\r\n" at p: a RESP array's count or a bulk string's length (at most 23 bytes)
    static char* put_count(char* p, char tag, std::size_t n) {
        *p++ = tag;
        p = std::to_chars(p, p + 20, n).ptr;
        *p++ = '\r';
        *p++ = '\n';
        return p;
    }

    Impl(EventLoop& l, Config c)
        : loop(l),
          cfg(std::move(c)),
          command_timer(loop.timer([this] { on_command_timer(); })),
          conn(std::make_unique<detail::Connection>(loop, cfg, *this, "redis")) {}

    ~Impl() override {
        flush->self = nullptr;
        // Fails what is pending (their callbacks are posted and run later).
        conn->stop();
        conn.reset();
    }

    void deliver(ReplyCallback cb, Result<Reply> r) {
        if (!r.ok() || r.value().type == Reply::Type::error) errors++;
        if (!batch || batch->taken) {
            batch = std::make_shared<Batch>();
            loop.post([b = batch] { run_batch(*b); });
        }
        batch->items.push_back(Completion{std::move(cb), std::move(r)});
    }

    // Runs `send`; what it throws reaches `cb` as Errc::internal (exactly once, if at all).
    template <class Send>
    void guarded(ReplyCallback& cb, Send send) noexcept {
        try {
            send();
        } catch (const std::exception& e) {
            try {
                if (cb) deliver(std::move(cb), make_error(Errc::internal, e.what()));
            } catch (...) {
            }
        } catch (...) {
        }
    }

    void command(std::vector<std::string>& argv, ReplyCallback& cb) {
        if (!cb) return;
        if (argv.empty()) return deliver(std::move(cb), make_error(Errc::bad_request, "empty redis command"));
        if (is_subscribe_like(argv[0]))
            return deliver(std::move(cb), make_error(Errc::bad_request, "use a redis::Subscriber for " + argv[0]));
        std::vector<std::string_view> views(argv.begin(), argv.end());
        send(views, cb);
    }

    // argv checked by the caller: not empty, no SUBSCRIBE-like verb
    void send(std::span<const std::string_view> argv, ReplyCallback& cb, bool failures_only = false) {
        redisAsyncContext* ac = shut_down ? nullptr : conn->context();
        if (ac == nullptr) return deliver(std::move(cb), unavailable(""));
        if (pending.size() >= cfg.max_pending)
            return deliver(std::move(cb), unavailable("too many pending commands"));

        // The command in Redis's protocol, written here into a buffer kept between commands:
        // hiredis's own formatting (redisAsyncCommandArgv) goes through sdscatfmt and a fresh
        // allocation per argument, about half the instructions of a PUBLISH per event
        // (sized for the longest counts, its first len bytes sent: one write per piece, not an append)
        std::size_t most = 23;
        for (const std::string_view a : argv) most += 23 + a.size() + 2;
        // zero-filled only when it grows, not each command (a batch of events is kilobytes)
        if (wire.size() < most) wire.resize(most);
        char* p = put_count(wire.data(), '*', argv.size());
        for (const std::string_view a : argv) {
            p = put_count(p, '$', a.size());
            if (!a.empty()) std::memcpy(p, a.data(), a.size());
            p += a.size();
            *p++ = '\r';
            *p++ = '\n';
        }
        const auto len = static_cast<std::size_t>(p - wire.data());
        auto now = loop.now_ms();
        pending.push_back(Pending{std::move(cb), now + cfg.command_timeout_ms, failures_only});
        // written by the flush posted below, in this turn: no writable event armed for it
        conn->defer_write_event(true);
        const int sent = redisAsyncFormattedCommand(ac, &on_reply, this, wire.data(), len);
        conn->defer_write_event(false);
        if (sent != REDIS_OK) {
            auto p = std::move(pending.back());
            pending.pop_back();
            return deliver(std::move(p.cb), unavailable("command not accepted"));
        }
        if (wire.capacity() > kWireKept) std::string().swap(wire);  // a rare large command
        commands++;
        if (!command_timer->armed()) command_timer->arm(cfg.command_timeout_ms);
        post_flush();
    }

    // hiredis only buffers a command and asks for a writable event: the command would
    // leave at the next loop turn, after everything else this turn does (an event's
    // PUBLISH waited behind the rest of its turn). The commands of one turn are written
    // together from a task posted in this turn, off hiredis's stack and the caller's.
    void post_flush() {
        if (flush->posted) return;
        loop.post([f = flush] {
            f->posted = false;
            if (f->self && !f->self->shut_down) f->self->conn->flush();
        });
        flush->posted = true;
    }

    // One timer tracks the oldest pending command; younger ones are checked
    // when it fires and re-arms.
    void on_command_timer() {
        try {
            if (pending.empty()) return;
            auto now = loop.now_ms();
            auto deadline = pending.front().deadline_ms;
            if (deadline <= now) {
                // Redis is stuck or the network silently dropped us: give the
                // connection up so every caller hears now, not after TCP timeouts.
                conn->drop("command timeout");
                return;
            }
            command_timer->arm(deadline - now);
        } catch (...) {
            // Allocation failure only; the next timer or I/O error retries.
        }
    }

    static void on_reply(redisAsyncContext* ac, void* reply, void* data) {
        auto* self = static_cast<Impl*>(data);
        if (self->pending.empty()) return;  // cannot happen: one callback per sent command
        auto p = std::move(self->pending.front());
        self->pending.pop_front();
        try {
            if (reply == nullptr) {
                // The connection is going away (error, timeout or shutdown).
                std::string why = ac != nullptr && ac->err ? std::string(ac->errstr) : self->conn->reason();
                self->deliver(std::move(p.cb), unavailable(why));
            } else if (!p.failures_only || static_cast<redisReply*>(reply)->type == REDIS_REPLY_ERROR) {
                self->deliver(std::move(p.cb), detail::copy_reply(*static_cast<redisReply*>(reply)));
            }
        } catch (...) {
            // Out of memory while copying: the callback still runs exactly once
            // if it can be posted at all.
            try {
                self->deliver(std::move(p.cb), make_error(Errc::internal, "out of memory"));
            } catch (...) {
            }
        }
        if (self->pending.empty()) self->command_timer->cancel();
    }

    void on_up() override {}

    void on_down(bool) override {
        // hiredis has already failed every sent command; this is a safety net.
        while (!pending.empty()) {
            auto p = std::move(pending.front());
            pending.pop_front();
            deliver(std::move(p.cb), unavailable(conn->reason()));
        }
        command_timer->cancel();
    }
};

Client::Client(EventLoop& loop, Config cfg) : impl_(std::make_unique<Impl>(loop, std::move(cfg))) {}

Client::~Client() = default;

void Client::start() noexcept {
    try {
        if (!impl_->shut_down) impl_->conn->start();
    } catch (...) {
        // connect_now handles its own failures; nothing else can throw.
    }
}

void Client::command(std::vector<std::string> argv, ReplyCallback cb) noexcept {
    impl_->guarded(cb, [&] { impl_->command(argv, cb); });
}

void Client::publish(std::string_view channel, std::string_view message, ReplyCallback on_failure) noexcept {
    if (!on_failure) return;
    const std::string_view argv[] = {"PUBLISH", channel, message};
    impl_->guarded(on_failure, [&] { impl_->send(argv, on_failure, true); });
}

bool Client::connected() const noexcept { return !impl_->shut_down && impl_->conn->up(); }

ClientStats Client::stats() const noexcept {
    ClientStats s;
    s.connected = connected();
    s.commands = impl_->commands;
    s.errors = impl_->errors;
    s.reconnects = impl_->conn->reconnects();
    s.pending = impl_->pending.size();
    return s;
}

void Client::shutdown() noexcept {
    try {
        impl_->shut_down = true;
        impl_->conn->stop();
    } catch (...) {
    }
}

}  // namespace chat::redis
