// One non-blocking libpq connection driven by EventLoop readiness: connect, run one query at a time, notice loss.
#pragma once

#include <optional>
#include <string>

#include "chat/event_loop.h"
#include "pg_detail.h"

namespace chat::pg::detail {

class Conn;

// Told about what a connection did. Every call is the last thing the connection does in
// its handler, so the listener may call back into it (send, connect) or leave it alone.
class ConnListener {
public:
    virtual ~ConnListener() = default;
    // The connection came up (Idle) or went down (Down) without a request in flight.
    virtual void conn_changed(Conn& c) = 0;
    // A request finished; c is already Idle again, or Down if the connection died with it.
    virtual void conn_done(Conn& c, Request req, Result<QueryResult> res) = 0;
};

class Conn {
public:
    enum class State { down, connecting, idle, busy };
    enum class DownReason { none, connect_failed, lost, timeout };

    Conn(EventLoop& loop, ConnListener& listener, const PoolConfig& cfg);
    ~Conn();  // closes without telling the listener
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    // down -> connecting. False when libpq failed at once (state stays down, see error()).
    bool connect(const std::string& conninfo);
    // idle -> busy. On failure the request is left in req, the result to give it is
    // returned, and the state is idle (a local error) or down (connection broken).
    std::optional<Error> send(Request& req);
    // Any state -> down, without telling the listener; returns the request in flight.
    std::optional<Request> close();

    State state() const { return state_; }
    DownReason down_reason() const { return down_reason_; }
    const std::string& error() const { return error_; }
    bool up() const { return state_ == State::idle || state_ == State::busy; }

private:
    void on_io(bool readable, bool writable);
    void on_timer();
    void poll_connect();
    void on_io_connected(bool readable, bool writable);
    // Watches the current PQsocket with the given interest (re-created: the fd may change).
    bool rewatch(bool read, bool write);
    // Tears the connection down and tells the listener (last call of a handler).
    void fail(DownReason why, std::string msg);

    EventLoop& loop_;
    ConnListener& listener_;
    const PoolConfig& cfg_;
    State state_ = State::down;
    DownReason down_reason_ = DownReason::none;
    std::string error_;
    PgConnPtr pg_;
    std::unique_ptr<IoWatch> watch_;
    std::unique_ptr<Timer> timer_;  // connect timeout, then query timeout
    bool want_write_ = false;       // PQflush has more to send
    std::optional<Request> inflight_;
    PgResultPtr result_;  // the result to report when PQgetResult returns NULL
};

}  // namespace chat::pg::detail
