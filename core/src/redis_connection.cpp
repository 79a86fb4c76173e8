// The hiredis-to-EventLoop adapter: one self-reconnecting redisAsyncContext with connect timeout, PING handshake and backoff.
#include "redis_connection.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>

namespace chat::redis::detail {

Connection::Connection(EventLoop& loop, const Config& cfg, ConnectionEvents& events, std::string name)
    : loop_(loop),
      cfg_(cfg),
      events_(events),
      connect_timer_(loop.timer([this] {
          // Covers TCP connect and the PING: a stopped or overloaded Redis
          // may accept connections without ever answering.
          try {
              if (state_ == State::connecting || state_ == State::handshake) drop("connect timeout");
          } catch (...) {
              // Only allocation can fail here; the next timeout or I/O error retries.
          }
      })),
      retry_timer_(loop.timer([this] {
          try {
              if (state_ == State::waiting) connect_now();
          } catch (...) {
              if (state_ == State::waiting || state_ == State::connecting) schedule_retry();
          }
      })),
      backoff_ms_(std::max<std::uint64_t>(cfg.backoff_min_ms, 1)),
      name_(std::move(name)),
      alive_(std::make_shared<Connection*>(this)) {}

Connection::~Connection() {
    // The owner never destroys us from inside a hiredis callback (all user
    // code runs from posted tasks), so freeing synchronously here is safe.
    stop();
}

void Connection::start() {
    if (state_ != State::idle) return;
    connect_now();
}

void Connection::stop() {
    if (state_ == State::stopped) return;
    state_ = State::stopped;
    reason_ = "redis client shut down";
    connect_timer_->cancel();
    retry_timer_->cancel();
    if (!ac_) return;
    if (in_hiredis_ > 0) {
        drop(reason_);
        return;
    }
    free_context();
}

void Connection::drop(std::string why) {
    if (!ac_) return;
    reason_ = std::move(why);
    if (in_hiredis_ > 0) {
        // hiredis is on the stack and still uses the context: free it once
        // control is back in the loop, unless it is gone (or replaced) by then.
        std::weak_ptr<Connection*> weak = alive_;
        loop_.post([weak, ac = ac_] {
            if (auto self = weak.lock(); self && (*self)->ac_ == ac) (*self)->free_context();
        });
        return;
    }
    free_context();
}

void Connection::free_context() {
    if (!ac_) return;
    // redisAsyncFree runs every pending callback with NULL, then hook_cleanup,
    // all synchronously; mark it so nested drops defer.
    ++in_hiredis_;
    freeing_ = true;
    redisAsyncFree(ac_);
    freeing_ = false;
    --in_hiredis_;
}

void Connection::connect_now() {
    // Endpoint.ip is numeric, so redisAsyncConnect does not resolve a name
    // and returns at once with the connect in progress.
    state_ = State::connecting;
    redisAsyncContext* ac = redisAsyncConnect(cfg_.endpoint.ip.c_str(), cfg_.endpoint.port);
    if (ac == nullptr) {
        reason_ = "out of memory";
        schedule_retry();
        return;
    }
    if (ac->err) {
        // Failed before any hook was set (e.g. refused at once on loopback):
        // nothing of ours is attached, free it here.
        reason_ = ac->errstr;
        redisAsyncFree(ac);
        schedule_retry();
        return;
    }
    try {
        // The closure copies only the pointer into on_io's parameter: the
        // IoWatch (and with it this closure) may be destroyed inside on_io.
        watch_ = loop_.watch(ac->c.fd, [self = this](bool r, bool w) { on_io(self, r, w); });
    } catch (const std::exception& e) {
        reason_ = e.what();
        redisAsyncFree(ac);
        schedule_retry();
        return;
    }
    // A peer that vanishes without a FIN or RST is noticed by TCP keepalive
    // (hiredis: idle 15 s); a Subscriber sends nothing that could time out.
    redisEnableKeepAlive(&ac->c);
    ac->c.reader->fn = reply_objects();  // nothing has been read yet
    ac_ = ac;
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = &hook_add_read;
    ac->ev.delRead = &hook_del_read;
    ac->ev.addWrite = &hook_add_write;
    ac->ev.delWrite = &hook_del_write;
    ac->ev.cleanup = &hook_cleanup;
    connect_timer_->arm(cfg_.connect_timeout_ms);
    // Asks for writability: the first write event completes the connect.
    redisAsyncSetConnectCallback(ac, &on_connect);
}

std::uint64_t Connection::jittered(std::uint64_t ms) {
    // Half fixed, half random: spreads the reconnects of many workers.
    std::array<std::byte, 4> b{};
    try {
        loop_.random_bytes(b);
    } catch (...) {
        // Jitter is a nicety; without randomness use the full delay.
    }
    std::uint32_t r = 0;
    for (auto x : b) r = (r << 8) | std::to_integer<std::uint32_t>(x);
    std::uint64_t half = ms / 2;
    return half + (r % (ms - half + 1));
}

// Every failure ends in schedule_retry, every success in pong: the two places to log.
void Connection::say_down() {
    const std::string& why = reason_.empty() ? std::string("unknown reason") : reason_;
    if (said_ == Said::down && said_reason_ == why) return;
    said_ = Said::down;
    said_reason_ = why;
    loop_.log(LogLevel::error, name_ + " unavailable: " + why);
}

void Connection::say_up() {
    if (said_ == Said::down) loop_.log(LogLevel::notice, name_ + " available again");
    said_ = Said::up;
    said_reason_.clear();
}

void Connection::schedule_retry() {
    say_down();
    state_ = State::waiting;
    retry_timer_->arm(jittered(backoff_ms_));
    backoff_ms_ = std::min(backoff_ms_ * 2, std::max(cfg_.backoff_max_ms, cfg_.backoff_min_ms));
}

void Connection::flush() {
    const bool deferred = write_deferred_;
    write_deferred_ = false;
    if (state_ != State::up || in_hiredis_ > 0) {
        // not written now: the writable event writes it, as without deferring
        if (deferred && watch_) watch_->want_write(true);
        return;
    }
    // hiredis asks for the writable event itself when the socket takes less than everything
    on_io(this, false, true);  // an I/O error frees the context, as on a writable event
}

void Connection::on_io(Connection* self, bool readable, bool writable) {
    redisAsyncContext* ac = self->ac_;
    if (ac == nullptr) return;
    ++self->in_hiredis_;
    if (writable) redisAsyncHandleWrite(ac);
    // HandleWrite may have freed the context (hook_cleanup cleared ac_).
    if (readable && self->ac_ == ac) redisAsyncHandleRead(ac);
    --self->in_hiredis_;
}

void Connection::hook_add_read(void* data) {
    auto* self = static_cast<Connection*>(data);
    if (self->watch_) self->watch_->want_read(true);
}

void Connection::hook_del_read(void* data) {
    auto* self = static_cast<Connection*>(data);
    if (self->watch_) self->watch_->want_read(false);
}

void Connection::hook_add_write(void* data) {
    auto* self = static_cast<Connection*>(data);
    if (self->deferring_write_) {
        self->write_deferred_ = true;
        return;
    }
    if (self->watch_) self->watch_->want_write(true);
}

void Connection::hook_del_write(void* data) {
    auto* self = static_cast<Connection*>(data);
    if (self->watch_) self->watch_->want_write(false);
}

void Connection::hook_cleanup(void* data) {
    // hiredis is freeing the context; the fd is closed right after we return,
    // so stop watching it now (an fd number may be reused at once).
    auto* self = static_cast<Connection*>(data);
    self->watch_.reset();
    if (self->ac_ != nullptr) {
        // A context hiredis dropped on an I/O error carries the reason; one we
        // freed has reason_ set by drop()/stop().
        if (!self->freeing_ && self->ac_->err) self->reason_.assign(self->ac_->errstr);
        self->ac_->data = nullptr;
        self->ac_->ev.data = nullptr;
    }
    self->ac_ = nullptr;
    self->connect_timer_->cancel();
    bool was_up = self->announced_up_;
    self->announced_up_ = false;
    bool stopped = self->state_ == State::stopped;
    if (!stopped) self->state_ = State::waiting;
    try {
        self->events_.on_down(was_up);
    } catch (...) {
        // on_down implementations do not throw; nothing may unwind into hiredis.
    }
    if (!stopped) self->schedule_retry();
}

void Connection::on_connect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<Connection*>(ac->data);
    if (self == nullptr) return;
    try {
        if (status != REDIS_OK) {
            // hiredis frees the context right after this returns (hook_cleanup).
            self->reason_.assign(ac->errstr);
            return;
        }
        self->state_ = State::handshake;
        if (redisAsyncCommand(self->ac_, &on_pong, self, "PING") != REDIS_OK) self->drop("cannot send PING");
    } catch (...) {
        // Nothing may unwind into hiredis; the connect timeout cleans up.
    }
}

void Connection::on_pong(redisAsyncContext*, void* reply, void* data) {
    auto* self = static_cast<Connection*>(data);
    if (reply == nullptr) return;  // the context is going away; hook_cleanup follows
    try {
        self->pong(*static_cast<redisReply*>(reply));
    } catch (...) {
        // Nothing may unwind into hiredis; the connect timeout cleans up.
    }
}

void Connection::pong(const redisReply& r) {
    if (r.type == REDIS_REPLY_ERROR) {
        // e.g. LOADING: reachable but not ready; try again after backoff.
        drop("PING failed: " + std::string(r.str, r.len));
        return;
    }
    connect_timer_->cancel();
    state_ = State::up;
    reason_.clear();
    backoff_ms_ = std::max<std::uint64_t>(cfg_.backoff_min_ms, 1);
    if (ever_up_) reconnects_++;
    ever_up_ = true;
    announced_up_ = true;
    say_up();
    events_.on_up();
}

}  // namespace chat::redis::detail
