// chat::redis::Subscriber: a subscription connection that re-subscribes after every reconnect and reports its state.
#include <hiredis/async.h>

#include <cstring>
#include <exception>

#include "redis_connection.h"

namespace chat::redis {

namespace {

// A message or a state change, waiting for its posted task. A message's channel and payload
// are the reply's own string objects, taken from it (no copy of the payload, no allocation).
struct Event {
    bool is_state = false;
    bool state = false;
    detail::OwnedReply channel, payload;
};

// What posted tasks may touch: they can run after the Subscriber is gone,
// and then must call nothing.
struct Shared {
    bool alive = true;
    Subscriber::MessageFn on_message;
    Subscriber::StateFn on_state;
};

struct Batch {
    std::vector<Event> items;
    bool taken = false;
};
constexpr std::size_t kBatchRoom = 8;

void run_batch(Shared& sh, Batch& b) noexcept {
    b.taken = true;
    auto items = std::move(b.items);
    for (auto& e : items) {
        if (!sh.alive) return;  // shut down or destroyed by an earlier callback
        try {
            if (e.is_state) {
                if (sh.on_state) sh.on_state(e.state);
            } else if (sh.on_message) {
                sh.on_message(detail::reply_text(e.channel.get()), detail::reply_text(e.payload.get()));
            }
        } catch (...) {
            // A throwing callback must not unwind into the host's loop.
        }
    }
}

bool is(const redisReply* r, const char* word) {
    return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           r->len == std::strlen(word) && std::memcmp(r->str, word, r->len) == 0;
}

// Element i of an array reply, taken out of it: the reply's free (after the callback) skips it.
detail::OwnedReply take(redisReply& r, std::size_t i) noexcept {
    detail::OwnedReply e(r.element[i]);
    r.element[i] = nullptr;
    return e;
}

}  // namespace

struct Subscriber::Impl final : detail::ConnectionEvents {
    EventLoop& loop;
    Config cfg;
    std::vector<std::string> channels, patterns;
    std::shared_ptr<Shared> shared;
    std::shared_ptr<Batch> batch;
    std::size_t confirmed = 0;
    bool subscribed = false;
    // A SUBSCRIBE refused by the server (e.g. ACL) is never confirmed, and
    // hiredis 0.14 reports no error for it: give up and retry after a while.
    std::unique_ptr<Timer> confirm_timer;
    std::unique_ptr<detail::Connection> conn;  // last: its callbacks use the members above

    Impl(EventLoop& l, Config c, std::vector<std::string> ch, std::vector<std::string> pa, MessageFn m, StateFn s)
        : loop(l),
          cfg(std::move(c)),
          channels(std::move(ch)),
          patterns(std::move(pa)),
          shared(std::make_shared<Shared>(Shared{true, std::move(m), std::move(s)})),
          confirm_timer(loop.timer([this] {
              try {
                  if (!subscribed && conn->up()) conn->drop("subscribe not confirmed");
              } catch (...) {
              }
          })),
          conn(std::make_unique<detail::Connection>(loop, cfg, *this, "redis subscriber")) {}

    ~Impl() override {
        shared->alive = false;
        conn->stop();
        conn.reset();
    }

    void post(Event e) {
        if (!shared->alive) return;
        if (!batch || batch->taken) {
            batch = std::make_shared<Batch>();
            // a write's events come together (a post's three): room for them at once, not 1, 2, 4
            batch->items.reserve(kBatchRoom);
            loop.post([sh = shared, b = batch] { run_batch(*sh, *b); });
        }
        batch->items.push_back(std::move(e));
    }

    std::size_t expected() const { return channels.size() + patterns.size(); }

    bool send(redisAsyncContext* ac, const char* verb, const std::vector<std::string>& names) {
        if (names.empty()) return true;
        std::vector<const char*> ptrs{verb};
        std::vector<std::size_t> lens{std::strlen(verb)};
        for (auto& n : names) {
            ptrs.push_back(n.data());
            lens.push_back(n.size());
        }
        return redisAsyncCommandArgv(ac, &on_push, this, static_cast<int>(ptrs.size()), ptrs.data(), lens.data()) ==
               REDIS_OK;
    }

    void on_up() override {
        confirmed = 0;
        if (expected() == 0) {
            subscribed = true;
            post(Event{true, true, nullptr, nullptr});
            return;
        }
        redisAsyncContext* ac = conn->context();
        if (!send(ac, "SUBSCRIBE", channels) || !send(ac, "PSUBSCRIBE", patterns)) {
            conn->drop("cannot subscribe");
            return;
        }
        confirm_timer->arm(cfg.connect_timeout_ms);
    }

    void on_down(bool) override {
        confirm_timer->cancel();
        confirmed = 0;
        if (subscribed) {
            subscribed = false;
            post(Event{true, false, nullptr, nullptr});
        }
    }

    // Every push of the subscription: confirmations, message, pmessage.
    static void on_push(redisAsyncContext*, void* reply, void* data) {
        auto* self = static_cast<Impl*>(data);
        // NULL: the connection is going away, once per channel and pattern;
        // on_down reports the loss once.
        if (reply == nullptr) return;
        try {
            self->push(*static_cast<redisReply*>(reply));
        } catch (...) {
            // Out of memory: losing one message is what a reconnect would do too.
        }
    }

    void push(redisReply& r) {
        if (r.type != REDIS_REPLY_ARRAY || r.elements < 3) return;
        const redisReply* kind = r.element[0];
        if (is(kind, "message")) {
            post(Event{false, false, take(r, 1), take(r, 2)});
        } else if (is(kind, "pmessage") && r.elements >= 4) {
            post(Event{false, false, take(r, 2), take(r, 3)});
        } else if (is(kind, "subscribe") || is(kind, "psubscribe")) {
            // Redis confirms each channel and pattern on its own.
            if (++confirmed == expected() && !subscribed) {
                subscribed = true;
                confirm_timer->cancel();
                post(Event{true, true, nullptr, nullptr});
            }
        }
    }
};

Subscriber::Subscriber(EventLoop& loop, Config cfg, std::vector<std::string> channels,
                       std::vector<std::string> patterns, MessageFn on_message, StateFn on_state)
    : impl_(std::make_unique<Impl>(loop, std::move(cfg), std::move(channels), std::move(patterns),
                                   std::move(on_message), std::move(on_state))) {}

Subscriber::~Subscriber() = default;

void Subscriber::start() noexcept {
    try {
        if (impl_->shared->alive) impl_->conn->start();
    } catch (...) {
    }
}

bool Subscriber::connected() const noexcept { return impl_->subscribed; }

void Subscriber::shutdown() noexcept {
    try {
        impl_->shared->alive = false;
        impl_->conn->stop();
    } catch (...) {
    }
}

}  // namespace chat::redis
