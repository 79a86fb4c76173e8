// One self-reconnecting hiredis async connection driven by a chat::EventLoop (private to core).
//
// This is the adapter hiredis 0.14 lacks: its ev.addRead/delRead/addWrite/
// delWrite hooks map onto an IoWatch whose callback calls
// redisAsyncHandleRead/Write, and its ev.cleanup hook drops the IoWatch before
// hiredis closes the fd. On top it does the connect timeout, a PING handshake
// (a TCP accept alone does not prove Redis answers) and reconnects with
// exponential backoff and jitter.
//
// Lifetimes. The redisAsyncContext is owned by hiredis: it frees it itself on
// an I/O error (inside redisAsyncHandleRead/Write), and we free it with
// redisAsyncFree otherwise. Either way hiredis first calls every pending reply
// callback with a NULL reply, then ev.cleanup (our single "context gone"
// signal), then closes the fd. redisAsyncFree is never called from inside a
// hiredis callback: such requests are deferred with loop.post.
//
// It logs, through the loop, why Redis is unavailable: once when it goes down,
// once when the reason changes, once when it is back; never once per retry.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <hiredis/async.h>

#include "chat/event_loop.h"
#include "chat/redis_client.h"

namespace chat::redis::detail {

// What the owner (Client, Subscriber) hears. Both run inside hiredis
// callbacks: they may send commands but must not destroy the Connection.
class ConnectionEvents {
public:
    virtual ~ConnectionEvents() = default;
    // Connected and PING answered; commands may be sent through context().
    virtual void on_up() = 0;
    // The context is gone (every pending reply callback already got NULL).
    // was_up tells whether on_up had been called for it.
    virtual void on_down(bool was_up) = 0;
};

class Connection {
public:
    // name says which connection a log line is about ("redis", "redis subscriber").
    Connection(EventLoop& loop, const Config& cfg, ConnectionEvents& events, std::string name);
    // Frees the context synchronously, so pending reply callbacks and on_down
    // run from here: the owner destroys the Connection first.
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void start();
    // Frees the context and does not reconnect.
    void stop();
    // Frees the context (deferred when inside a hiredis callback) and
    // reconnects after backoff. why becomes reason().
    void drop(std::string why);

    // Writes what hiredis holds for the server now, instead of at the next writable
    // event (one loop turn later); does nothing unless up. Not from a hiredis callback.
    void flush();
    // Around a command that the owner flush()es later in this loop turn: hiredis's request
    // for a writable event is only noted, not armed (epoll_ctl to arm it, and to disarm it
    // once flush() wrote everything, were two system calls per flush); flush() arms it when
    // the socket took less than everything, or when it cannot write now.
    void defer_write_event(bool on) { deferring_write_ = on; }

    // Non-null only while up.
    redisAsyncContext* context() const { return state_ == State::up ? ac_ : nullptr; }
    bool up() const { return state_ == State::up; }
    // Why the last context went away, for error messages and the log.
    const std::string& reason() const { return reason_; }
    std::uint64_t reconnects() const { return reconnects_; }

private:
    enum class State { idle, connecting, handshake, up, waiting, stopped };

    void connect_now();
    void schedule_retry();
    void free_context();
    std::uint64_t jittered(std::uint64_t ms);
    void say_down();
    void say_up();

    // hiredis hooks; data is the Connection.
    static void hook_add_read(void* data);
    static void hook_del_read(void* data);
    static void hook_add_write(void* data);
    static void hook_del_write(void* data);
    static void hook_cleanup(void* data);
    static void on_connect(const redisAsyncContext* ac, int status);
    static void on_pong(redisAsyncContext* ac, void* reply, void* data);
    static void on_io(Connection* self, bool readable, bool writable);
    void pong(const redisReply& r);

    EventLoop& loop_;
    const Config& cfg_;
    ConnectionEvents& events_;
    State state_ = State::idle;
    redisAsyncContext* ac_ = nullptr;  // hiredis's; see the lifetime note above
    std::unique_ptr<IoWatch> watch_;   // on ac_'s fd; reset in hook_cleanup
    std::unique_ptr<Timer> connect_timer_;
    std::unique_ptr<Timer> retry_timer_;
    std::uint64_t backoff_ms_;
    std::uint64_t reconnects_ = 0;
    bool ever_up_ = false;
    bool announced_up_ = false;  // on_up called for the current context
    int in_hiredis_ = 0;   // depth of our calls into hiredis that may run callbacks
    bool freeing_ = false;  // inside our redisAsyncFree: reason_ is already set
    bool deferring_write_ = false;  // see defer_write_event
    bool write_deferred_ = false;   // hiredis asked for a writable event while deferring
    std::string reason_;
    std::string name_;
    // What the log last said about this connection.
    enum class Said { nothing, up, down };
    Said said_ = Said::nothing;
    std::string said_reason_;
    // Posted deferrals check it: the Connection may be gone when they run.
    std::shared_ptr<Connection*> alive_;
};

// Deep copy of a hiredis reply.
Reply copy_reply(const redisReply& r);

// The reply builders our connections' readers use (redis_reply.cpp): hiredis's redisReply
// objects, each in one allocation. Set on a reader before it reads anything.
redisReplyObjectFunctions* reply_objects() noexcept;

// A reply object taken out of the reply hiredis frees after its callback (its slot in the array
// set to NULL, which that free skips): its bytes live on, not copied, until this goes.
struct ReplyFree {
    void operator()(redisReply* r) const noexcept { reply_objects()->freeObject(r); }
};
using OwnedReply = std::unique_ptr<redisReply, ReplyFree>;

// The bytes of a string reply, empty for none.
inline std::string_view reply_text(const redisReply* r) noexcept {
    return r == nullptr || r->str == nullptr ? std::string_view() : std::string_view(r->str, r->len);
}

}  // namespace chat::redis::detail
