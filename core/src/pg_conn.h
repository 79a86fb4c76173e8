// One non-blocking libpq connection driven by EventLoop readiness: connect, run one query at a time, notice loss.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/event_loop.h"
#include "pg_detail.h"

namespace chat::pg::detail {

class Conn;

// The statements prepared on one connection: SQL text -> server-side name, least recently used
// last, at most `capacity` of them (0: none, every query is sent with its text). Names are
// "chat_<n>", never reused on a connection, so a stale name never meets a new statement.
class StatementCache {
public:
    explicit StatementCache(std::size_t capacity) : capacity_(capacity) {}
    std::size_t capacity() const { return capacity_; }
    std::size_t size() const { return lru_.size(); }
    // The name of sql's statement, made the most recently used; nullptr when not prepared.
    const std::string* find(std::string_view sql);
    // A fresh name for sql, for a statement not prepared yet.
    std::string next_name() { return "chat_" + std::to_string(++serial_); }
    // Records sql as prepared under name; returns the name evicted to make room, if any
    // (the caller deallocates it on the server).
    std::optional<std::string> add(std::string sql, std::string name);
    // Forgets sql's statement; returns its name if it had one.
    std::optional<std::string> forget(std::string_view sql);
    void clear();  // the connection is gone: so are its statements

private:
    using Entry = std::pair<std::string, std::string>;  // sql, name
    std::size_t capacity_;
    std::uint64_t serial_ = 0;
    std::list<Entry> lru_;                                                  // most recent first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> by_sql_;  // keys view lru_'s sql
};

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
    // A statement not yet prepared on this connection (see StatementCache) is first prepared
    // (one more round trip, after the DEALLOCATE of names evicted or gone stale, if any), then
    // executed by name; all of it is one request to the listener, timed by one query timeout.
    std::optional<Error> send(Request& req);
    // Any state -> down, without telling the listener; returns the request in flight.
    std::optional<Request> close();

    State state() const { return state_; }
    DownReason down_reason() const { return down_reason_; }
    const std::string& error() const { return error_; }
    bool up() const { return state_ == State::idle || state_ == State::busy; }

    std::size_t prepared() const { return statements_.size(); }  // statements held now
    std::uint64_t prepares() const { return prepares_; }           // PREPAREs sent, ever

private:
    // What the request in flight waits for: the DEALLOCATE of names in to_close_, the PREPARE
    // of its statement as stmt_, or its execution (by stmt_, or with its text when stmt_ is empty).
    enum class Step { close, prepare, execute };
    // Chooses the first step for sql (a hit executes at once).
    void plan(const std::string& sql);
    // Sends the current step of req. On an error, lost says whether the connection broke (the
    // caller closes it; error_ holds libpq's reason), the state is unchanged.
    std::optional<Error> send_step(const Request& req, bool& lost);
    // The current step's results are all in (PQgetResult gave NULL): true when the next step
    // was sent (keep reading), false when the listener was told (the handler returns at once).
    bool step_done();
    // The request in flight is answered: idle again (or down if bad), tell the listener.
    void finish(Result<QueryResult> res);
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
    StatementCache statements_;
    std::vector<std::string> to_close_;  // names to DEALLOCATE before the next PREPARE
    Step step_ = Step::execute;
    std::string stmt_;
    std::uint64_t prepares_ = 0;
    bool replanned_ = false;  // the request in flight was prepared again once (see step_done)
};

}  // namespace chat::pg::detail
