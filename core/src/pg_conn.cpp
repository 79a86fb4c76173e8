// Drives one libpq connection without ever blocking: PQconnectPoll, PQsendPrepare/PQsendQueryPrepared, PQflush, PQconsumeInput.
#include "pg_conn.h"

#include <climits>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <exception>

namespace chat::pg::detail {
namespace {

std::string trimmed(const char* s) {
    std::string out = s ? s : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

// The conninfo's own "options" and, with statement_timeout_ms, "-c statement_timeout=N"
// after them (PQconninfoParse only parses: no I/O). Empty: nothing to add.
std::string server_options(const std::string& conninfo, std::uint64_t statement_timeout_ms) {
    if (statement_timeout_ms == 0) return {};
    std::string out;
    if (PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), nullptr)) {
        for (PQconninfoOption* o = opts; o->keyword; o++)
            if (std::string_view(o->keyword) == "options" && o->val) out = o->val;
        PQconninfoFree(opts);
    }
    if (!out.empty()) out += ' ';
    out += "-c statement_timeout=" + std::to_string(statement_timeout_ms);
    return out;
}

// libpq's default prints notices and asynchronous errors to stderr, which in nginx is not
// the error log; the pool reports failures through its callbacks, its stats and, once per
// change of state, the loop's log.
void ignore_notice(void*, const char*) {}

// Whether a prepared statement's execution failed before it ran, because of the statement
// itself: its name is unknown to the server (26000), or its result type changed since it was
// prepared (a function dropped and created again with other columns): Postgres refuses a
// prepared statement whose columns would change with 0A000 from RevalidateCachedQuery, before
// executing anything (the message is checked too, in case a server names its source otherwise;
// both are stable, the message is not translated when lc_messages is C).
bool stale_statement(const PGresult* r) {
    if (PQresultStatus(r) != PGRES_FATAL_ERROR) return false;
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state) return false;
    if (std::strcmp(state, "26000") == 0) return true;
    if (std::strcmp(state, "0A000") != 0) return false;
    const char* fn = PQresultErrorField(r, PG_DIAG_SOURCE_FUNCTION);
    const char* msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    return (fn && std::strcmp(fn, "RevalidateCachedQuery") == 0) ||
           (msg && std::strcmp(msg, "cached plan must not change result type") == 0);
}

}  // namespace

const std::string* StatementCache::find(std::string_view sql) {
    auto it = by_sql_.find(sql);
    if (it == by_sql_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);  // iterators stay valid
    return &it->second->second;
}

std::optional<std::string> StatementCache::add(std::string sql, std::string name) {
    std::optional<std::string> evicted;
    if (capacity_ == 0) return name;  // nothing is kept: it goes at once
    if (auto old = forget(sql)) evicted = std::move(old);
    if (!evicted && lru_.size() >= capacity_) {
        by_sql_.erase(std::string_view(lru_.back().first));
        evicted = std::move(lru_.back().second);
        lru_.pop_back();
    }
    lru_.emplace_front(std::move(sql), std::move(name));
    by_sql_.emplace(std::string_view(lru_.front().first), lru_.begin());
    return evicted;
}

std::optional<std::string> StatementCache::forget(std::string_view sql) {
    auto it = by_sql_.find(sql);
    if (it == by_sql_.end()) return std::nullopt;
    auto node = it->second;
    by_sql_.erase(it);
    std::string name = std::move(node->second);
    lru_.erase(node);
    return name;
}

void StatementCache::clear() {
    by_sql_.clear();
    lru_.clear();
}

Conn::Conn(EventLoop& loop, ConnListener& listener, const PoolConfig& cfg)
    : loop_(loop),
      listener_(listener),
      cfg_(cfg),
      timer_(loop.timer([this] { on_timer(); })),
      statements_(cfg.prepared_statements) {}

Conn::~Conn() { close(); }

bool Conn::connect(const std::string& conninfo) {
    close();
    down_reason_ = DownReason::connect_failed;
    // expand_dbname=1: the whole conninfo string is given as "dbname" and expanded by libpq;
    // "options" after it replaces the conninfo's, so it carries those too.
    const std::string options = server_options(conninfo, cfg_.statement_timeout_ms);
    const char* const keywords[] = {"dbname", options.empty() ? nullptr : "options", nullptr};
    const char* const values[] = {conninfo.c_str(), options.empty() ? nullptr : options.c_str(), nullptr};
    pg_.reset(PQconnectStartParams(keywords, values, 1));
    if (!pg_) {
        error_ = "out of memory starting a database connection";
        return false;
    }
    if (PQstatus(pg_.get()) == CONNECTION_BAD) {
        error_ = trimmed(PQerrorMessage(pg_.get()));
        close();
        return false;
    }
    PQsetNoticeProcessor(pg_.get(), ignore_notice, nullptr);
    state_ = State::connecting;
    timer_->arm(cfg_.connect_timeout_ms);
    // libpq: after PQconnectStart, behave as if PQconnectPoll had returned POLLING_WRITING.
    if (!rewatch(false, true)) {
        error_ = "no socket after PQconnectStartParams";
        close();
        return false;
    }
    return true;
}

std::optional<Error> Conn::send(Request& req) {
    if (state_ != State::idle) return make_error(Errc::internal, "connection not idle");
    if (req.params.size() > 65535) return make_error(Errc::internal, "too many query parameters");
    // Text-format parameters are C strings: a NUL byte would silently cut the value.
    if (has_nul(req.sql)) return make_error(Errc::bad_request, "NUL byte in SQL");
    for (const auto& p : req.params)
        if (p && has_nul(*p)) return make_error(Errc::bad_request, "NUL byte in query parameter");
    replanned_ = false;
    plan(req.sql);
    bool lost = false;
    if (auto err = send_step(req, lost)) {
        if (lost) {
            close();
            down_reason_ = DownReason::lost;
        }
        return err;
    }
    inflight_ = std::move(req);
    state_ = State::busy;
    timer_->arm(cfg_.query_timeout_ms);
    return std::nullopt;
}

void Conn::plan(const std::string& sql) {
    if (statements_.capacity() == 0) {
        stmt_.clear();
        step_ = Step::execute;
        return;
    }
    if (const std::string* name = statements_.find(sql)) {
        stmt_ = *name;
        step_ = Step::execute;
        return;
    }
    stmt_ = statements_.next_name();
    step_ = to_close_.empty() ? Step::prepare : Step::close;
}

std::optional<Error> Conn::send_step(const Request& req, bool& lost) {
    PGconn* pg = pg_.get();
    int sent = 0;
    switch (step_) {
        case Step::close: {
            // Names this connection prepared and no longer uses (evicted or stale): one simple
            // query, each of them known to exist on this session.
            std::string sql;
            for (const auto& n : to_close_) sql += "DEALLOCATE " + n + ";";
            sent = PQsendQuery(pg, sql.c_str());
            break;
        }
        case Step::prepare:
            sent = PQsendPrepare(pg, stmt_.c_str(), req.sql.c_str(), 0, nullptr);
            prepares_ += sent ? 1 : 0;
            break;
        case Step::execute: {
            std::vector<const char*> values;
            values.reserve(req.params.size());
            for (const auto& p : req.params) values.push_back(p ? p->c_str() : nullptr);
            const int n = static_cast<int>(values.size());
            const char* const* v = values.empty() ? nullptr : values.data();
            sent = stmt_.empty() ? PQsendQueryParams(pg, req.sql.c_str(), n, nullptr, v, nullptr, nullptr, 0)
                                 : PQsendQueryPrepared(pg, stmt_.c_str(), n, v, nullptr, nullptr, 0);
            break;
        }
    }
    // A broken connection: error_ says why and the caller closes it (with the request in flight).
    if (!sent) {
        std::string msg = trimmed(PQerrorMessage(pg));
        if (PQstatus(pg) != CONNECTION_BAD) return make_error(Errc::internal, msg);
        lost = true;
        error_ = msg;
        return make_error(Errc::unavailable, "database connection lost: " + msg);
    }
    int f = PQflush(pg);
    if (f < 0) {
        lost = true;
        error_ = trimmed(PQerrorMessage(pg));
        return make_error(Errc::unavailable, "database connection lost: " + error_);
    }
    want_write_ = f == 1;
    watch_->want_write(want_write_);
    return std::nullopt;
}

std::optional<Request> Conn::close() {
    watch_.reset();  // before PQfinish closes the fd
    timer_->cancel();
    pg_.reset();
    result_.reset();
    statements_.clear();  // they lived in the server session that ends here
    to_close_.clear();
    want_write_ = false;
    state_ = State::down;
    std::optional<Request> req = std::move(inflight_);
    inflight_.reset();
    return req;
}

bool Conn::rewatch(bool read, bool write) {
    watch_.reset();
    int fd = PQsocket(pg_.get());
    if (fd < 0) return false;
    watch_ = loop_.watch(fd, [this](bool r, bool w) { on_io(r, w); });
    watch_->want_read(read);
    watch_->want_write(write);
    return true;
}

void Conn::fail(DownReason why, std::string msg) {
    std::optional<Request> req = close();
    down_reason_ = why;
    error_ = msg;
    if (req) {
        listener_.conn_done(*this, std::move(*req), make_error(Errc::unavailable, std::move(msg)));
    } else {
        listener_.conn_changed(*this);
    }
}

void Conn::on_timer() {
    try {
        if (state_ == State::connecting)
            return fail(DownReason::connect_failed,
                        "database connect timed out after " + std::to_string(cfg_.connect_timeout_ms) + " ms");
        if (state_ == State::busy)
            // No PQcancel: it blocks. Dropping the connection makes the server stop too.
            return fail(DownReason::timeout,
                        "database query timed out after " + std::to_string(cfg_.query_timeout_ms) + " ms");
    } catch (const std::exception& e) {
        if (state_ != State::down) fail(DownReason::lost, std::string("internal error: ") + e.what());
    } catch (...) {
        if (state_ != State::down) fail(DownReason::lost, "internal error");
    }
}

void Conn::on_io(bool readable, bool writable) {
    try {
        if (state_ == State::connecting) return poll_connect();
        if (up()) return on_io_connected(readable, writable);
    } catch (const std::exception& e) {
        if (state_ != State::down) fail(DownReason::lost, std::string("internal error: ") + e.what());
    } catch (...) {
        if (state_ != State::down) fail(DownReason::lost, "internal error");
    }
}

void Conn::poll_connect() {
    // PQconnectPoll may close the socket and open another (next address, SSL retry), and
    // the new one can get the same number: drop the watch first, watch PQsocket afresh.
    watch_.reset();
    switch (PQconnectPoll(pg_.get())) {
        case PGRES_POLLING_OK:
            if (PQsetnonblocking(pg_.get(), 1) != 0)
                return fail(DownReason::connect_failed, trimmed(PQerrorMessage(pg_.get())));
            if (!rewatch(true, false)) return fail(DownReason::connect_failed, "no socket after connect");
            timer_->cancel();
            state_ = State::idle;
            down_reason_ = DownReason::none;
            error_.clear();
            return listener_.conn_changed(*this);
        case PGRES_POLLING_READING:
            if (!rewatch(true, false)) return fail(DownReason::connect_failed, "no socket while connecting");
            return;
        case PGRES_POLLING_WRITING:
            if (!rewatch(false, true)) return fail(DownReason::connect_failed, "no socket while connecting");
            return;
        default:
            return fail(DownReason::connect_failed, trimmed(PQerrorMessage(pg_.get())));
    }
}

void Conn::finish(Result<QueryResult> res) {
    timer_->cancel();
    Request req = std::move(*inflight_);
    inflight_.reset();
    result_.reset();
    state_ = State::idle;
    listener_.conn_done(*this, std::move(req), std::move(res));
}

bool Conn::step_done() {
    PGconn* pg = pg_.get();
    if (PQstatus(pg) == CONNECTION_BAD) {
        // The request's answer is lost with the connection, whatever the step (a complete
        // successful result of its execution stays a success, see to_result).
        std::string msg = "database connection lost: " + trimmed(PQerrorMessage(pg));
        auto out = step_ == Step::execute ? to_result(std::move(result_), true)
                                          : Result<QueryResult>(make_error(Errc::unavailable, msg));
        std::optional<Request> req = close();
        down_reason_ = DownReason::lost;
        error_ = msg;
        listener_.conn_done(*this, std::move(*req), std::move(out));
        return false;
    }
    PgResultPtr res = std::move(result_);
    switch (step_) {
        case Step::close:
            // Failing to drop a name costs a little server memory until the session ends;
            // nothing to tell the request.
            to_close_.clear();
            step_ = Step::prepare;
            break;
        case Step::prepare:
            if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
                finish(to_result(std::move(res), false));  // the SQL's own error
                return false;
            }
            if (auto evicted = statements_.add(inflight_->sql, stmt_)) to_close_.push_back(std::move(*evicted));
            step_ = Step::execute;
            break;
        case Step::execute:
            if (res && !stmt_.empty() && !replanned_ && stale_statement(res.get())) {
                // Prepared again under a new name and sent once more (see pg_pool.h); the old
                // name is dropped first unless the server says it is gone already.
                replanned_ = true;
                bool gone = std::strcmp(PQresultErrorField(res.get(), PG_DIAG_SQLSTATE), "26000") == 0;
                if (auto old = statements_.forget(inflight_->sql); old && !gone) to_close_.push_back(std::move(*old));
                plan(inflight_->sql);
                break;
            }
            finish(to_result(std::move(res), false));
            return false;
    }
    bool lost = false;
    if (auto err = send_step(*inflight_, lost)) {
        if (!lost) {
            finish(std::move(*err));
            return false;
        }
        std::optional<Request> req = close();
        down_reason_ = DownReason::lost;
        listener_.conn_done(*this, std::move(*req), std::move(*err));
        return false;
    }
    return true;
}

void Conn::on_io_connected(bool readable, bool writable) {
    PGconn* pg = pg_.get();
    if (readable && !PQconsumeInput(pg))
        return fail(DownReason::lost, "database connection lost: " + trimmed(PQerrorMessage(pg)));
    // libpq: while PQflush returns 1, retry it on write-ready and after consuming input.
    if (want_write_ && (writable || readable)) {
        int f = PQflush(pg);
        if (f < 0) return fail(DownReason::lost, "database connection lost: " + trimmed(PQerrorMessage(pg)));
        if (f == 0) {
            want_write_ = false;
            watch_->want_write(false);
        }
    }
    if (state_ == State::idle) {
        // Idle connections watch reads only to notice a server that went away.
        while (PGnotify* n = PQnotifies(pg)) PQfreemem(n);
        if (PQstatus(pg) == CONNECTION_BAD)
            return fail(DownReason::lost, "database connection lost: " + trimmed(PQerrorMessage(pg)));
        return;
    }
    while (!PQisBusy(pg)) {
        PgResultPtr res(PQgetResult(pg));
        if (!res) {
            // A step before the execution moves on to the next (keep reading); the last one
            // (or a failure) told the listener, the last thing this handler does.
            if (!step_done()) return;
            continue;
        }
        auto st = PQresultStatus(res.get());
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            return fail(DownReason::lost, "COPY is not supported by the pool");
        bool is_error = st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR;
        // Keep the first result, unless a later one is an error: the error is what counts.
        if (!result_ || is_error) result_ = std::move(res);
    }
    if (PQstatus(pg) == CONNECTION_BAD)
        return fail(DownReason::lost, "database connection lost: " + trimmed(PQerrorMessage(pg)));
}

}  // namespace chat::pg::detail
