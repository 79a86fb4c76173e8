// Drives one libpq connection without ever blocking: PQconnectPoll, PQsendQueryParams, PQflush, PQconsumeInput.
#include "pg_conn.h"

#include <climits>
#include <cstdint>
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

}  // namespace

Conn::Conn(EventLoop& loop, ConnListener& listener, const PoolConfig& cfg)
    : loop_(loop), listener_(listener), cfg_(cfg), timer_(loop.timer([this] { on_timer(); })) {}

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
    std::vector<const char*> values;
    values.reserve(req.params.size());
    for (const auto& p : req.params) {
        if (p && has_nul(*p)) return make_error(Errc::bad_request, "NUL byte in query parameter");
        values.push_back(p ? p->c_str() : nullptr);
    }
    if (!PQsendQueryParams(pg_.get(), req.sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.empty() ? nullptr : values.data(), nullptr, nullptr, 0)) {
        std::string msg = trimmed(PQerrorMessage(pg_.get()));
        if (PQstatus(pg_.get()) == CONNECTION_BAD) {
            close();
            down_reason_ = DownReason::lost;
            error_ = msg;
            return make_error(Errc::unavailable, "database connection lost: " + msg);
        }
        return make_error(Errc::internal, msg);
    }
    int f = PQflush(pg_.get());
    if (f < 0) {
        std::string msg = trimmed(PQerrorMessage(pg_.get()));
        close();
        down_reason_ = DownReason::lost;
        error_ = msg;
        return make_error(Errc::unavailable, "database connection lost: " + msg);
    }
    inflight_ = std::move(req);
    state_ = State::busy;
    want_write_ = f == 1;
    watch_->want_write(want_write_);
    timer_->arm(cfg_.query_timeout_ms);
    return std::nullopt;
}

std::optional<Request> Conn::close() {
    watch_.reset();  // before PQfinish closes the fd
    timer_->cancel();
    pg_.reset();
    result_.reset();
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
            // Query complete: report the kept result.
            timer_->cancel();
            Request req = std::move(*inflight_);
            inflight_.reset();
            bool bad = PQstatus(pg) == CONNECTION_BAD;
            auto out = to_result(std::move(result_), bad);
            if (bad) {
                std::string msg = "database connection lost: " + trimmed(PQerrorMessage(pg));
                close();
                down_reason_ = DownReason::lost;
                error_ = msg;
            } else {
                state_ = State::idle;
            }
            return listener_.conn_done(*this, std::move(req), std::move(out));
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
