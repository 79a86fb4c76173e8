// The asynchronous Postgres client: a per-worker pool of non-blocking libpq connections on chat::EventLoop.
//
// Nothing here blocks: connections are made with PQconnectStartParams/PQconnectPoll,
// queries sent with PQsendQueryParams/PQflush and read with PQconsumeInput/PQisBusy/
// PQgetResult, all driven by the loop's level-triggered readiness. Host names must be
// resolved beforehand with resolve_conninfo() (a Pool refuses a conninfo that would make
// libpq do DNS). Exceptions never escape the public functions.
//
// Error mapping (Result<QueryResult>::error().code):
//   connection refused/lost, connect/query/queue timeout, queue full,
//   pool shut down, SQLSTATE class 08, 57P01..57P03, 53300, 57014 -> Errc::unavailable
//   23505 unique_violation                                      -> Errc::conflict
//   'CH400' -> bad_request, 'CH403' -> forbidden, 'CH404' -> not_found,
//   'CH409' -> invalid_state, 'CH422' -> validation   (RAISE ... USING ERRCODE = 'CH409')
//   a NUL byte in the SQL or a parameter (text format cannot carry it) -> Errc::bad_request
//   anything else (SQL errors, unsupported results)              -> Errc::internal
// For the CHxxx codes the message is the RAISE message (PG_DIAG_MESSAGE_PRIMARY) as is,
// meant for the client. For all other server errors it is "SQLSTATE: primary message",
// meant for the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/event_loop.h"
#include "chat/pg_conninfo.h"
#include "chat/result.h"

struct pg_result;  // libpq's PGresult, kept out of this header

namespace chat::pg {

struct PoolConfig {
    std::string conninfo;  // already resolved (resolve_conninfo)
    int size = 4;          // connections per pool (per nginx worker)
    std::uint64_t connect_timeout_ms = 2000;
    // A query pending longer: its connection is dropped (PQfinish, no PQcancel: it blocks),
    // the callback gets unavailable, the connection reconnects.
    std::uint64_t query_timeout_ms = 5000;
    // The server's statement_timeout on these connections (0: the server's own): set a little
    // above query_timeout_ms, the server stops a query the pool gave up on (a huge report)
    // instead of computing it on a backend nobody reads. Added to the conninfo's options.
    std::uint64_t statement_timeout_ms = 0;
    // A request waiting for a free connection longer than this fails with unavailable.
    std::uint64_t queue_timeout_ms = 1000;
    // Batched items of a kind whose batch is in flight wait for it (see BatchKind) at most
    // until that batch is this old; then they take an idle connection. 0: they never wait for it.
    std::uint64_t batch_hold_ms = 10;
    // ... and only behind a batch of at least this many items (a sign of load: under light load
    // small batches on several connections answer sooner).
    std::size_t batch_hold_min_items = 4;
    // Reconnect delay after a failed attempt: exponential from min to max, with jitter.
    std::uint64_t backoff_min_ms = 100, backoff_max_ms = 2000;
    std::size_t max_queue = 4096;  // more waiting requests fail at once with unavailable
    // Statements prepared per connection (by SQL text, least recently used deallocated past
    // this many; 0: none, every query goes with its text, as through a pooler that cannot keep
    // them). A query's SQL is parsed and planned once per connection instead of on every call.
    std::size_t prepared_statements = 128;  // core sends ~60 distinct texts
};

// A successful result (PGRES_TUPLES_OK / PGRES_COMMAND_OK). Owns the PGresult; move-only.
// Out-of-range rows/columns read as NULL (never UB).
class QueryResult {
public:
    explicit QueryResult(pg_result* owned) noexcept;  // takes ownership; used by the pool
    QueryResult(QueryResult&&) noexcept = default;
    QueryResult& operator=(QueryResult&&) noexcept = default;
    ~QueryResult();

    int rows() const;
    int cols() const;
    int col(std::string_view name) const;  // -1 if absent
    // The one reader of a value: its text, nullopt for NULL or out of bounds (one bounds check,
    // and PQgetisnull only for an empty value). A view into the result: valid while it lives.
    std::optional<std::string_view> text(int row, int col) const;
    // Shorthands of text() (kept for callers that want "" for NULL).
    bool is_null(int row, int col) const { return !text(row, col); }
    std::string_view get(int row, int col) const { return text(row, col).value_or(std::string_view()); }
    std::string_view get(int row, std::string_view col) const { return get(row, this->col(col)); }
    std::string_view command_tuples() const;  // PQcmdTuples: "3" after an UPDATE of 3 rows

private:
    struct Free {
        void operator()(pg_result* r) const noexcept;
    };
    std::unique_ptr<pg_result, Free> res_;
    int rows_ = 0, cols_ = 0;  // of res_, read once: every get() checks its bounds
};

using Param = std::optional<std::string>;  // nullopt = SQL NULL; text format
using QueryCallback = std::function<void(Result<QueryResult>)>;

// A query many requests share (group commit). The requests of one kind that came in during
// one turn of the loop, or queued up while every connection was busy, go out as ONE call in
// ONE transaction (at most max_items): an item is sent at the end of the loop turn it came in
// (EventLoop::post), never later when a connection is idle, so there is no timer and no added
// latency at low load, and every item read in that turn shares its batch. Under load, while
// a batch of the kind is in flight on one connection, the kind's items wait for its answer
// and then leave together, rather than take a second idle connection with a smaller batch
// (Postgres's CPU per item falls with the batch's size), if that batch carries at least
// PoolConfig::batch_hold_min_items; they go at once when max_items of them are queued or
// when that batch is PoolConfig::batch_hold_ms old. sql takes one
// array parameter per item parameter ($1 holds every item's first parameter, in item order,
// as a text array literal; cast it in the SQL) and returns one row per item in item order,
// its first three columns: the item's answer (text), its SQLSTATE and its message (both NULL
// when it succeeded); any further columns are the item's typed answer (a BatchRow reads them).
// Each item's callback gets its row, or its own error mapped like a query's; an error of the
// whole call (connection lost, timeout) reaches every item of it.
struct BatchKind {
    std::string sql;
    std::size_t max_items = 32;
};

// One item's row of a batch's answer, read in place: the rows of one batch share its result.
class BatchRow {
public:
    BatchRow(std::shared_ptr<const QueryResult> result, int row) noexcept : res_(std::move(result)), row_(row) {}
    int cols() const;
    // The one reader of a column (QueryResult::text of this row): nullopt for NULL.
    std::optional<std::string_view> text(int col) const;
    // Shorthands of text(): "" for NULL.
    std::string_view answer() const { return get(0); }  // column 0
    bool is_null(int col) const { return !text(col); }
    std::string_view get(int col) const { return text(col).value_or(std::string_view()); }

private:
    std::shared_ptr<const QueryResult> res_;
    int row_ = 0;
};
using ItemCallback = std::function<void(Result<BatchRow>)>;
// An item's callback that also gets the item back: its parameters as query_batched was given
// them, whatever the answer (a row, its own error, the whole call's error). A caller that may
// send the item again (alone, after a failed batch) or reads its own input with the answer
// keeps no copy of it.
using ItemBackCallback = std::function<void(Result<BatchRow>, std::vector<Param> item)>;

struct PoolStats {
    int size = 0, connected = 0, connecting = 0, busy = 0;
    std::size_t queued = 0;
    std::uint64_t queries = 0;        // accepted by query()
    std::uint64_t errors = 0;         // callbacks that got an Error (SQL errors included)
    std::uint64_t reconnects = 0;     // connection attempts after each slot's first one
    std::uint64_t timeouts = 0;       // query timeouts plus queue timeouts
    std::uint64_t batches = 0;        // batch queries sent (query_batched)
    std::uint64_t batched_items = 0;  // items they carried
    std::size_t prepared = 0;         // statements prepared on the connections up now
    std::uint64_t prepares = 0;       // PREPAREs sent (a statement's first use on a connection)
};

namespace detail {
class PoolImpl;
}

// One pool per nginx worker (per loop); use it from the loop thread only.
//
// Callbacks always run from the loop (posted), never inside query(), shutdown() or
// start(); a callback may call query() again. Each query runs in its own implicit
// transaction on one connection; one statement per query (put multi-statement logic in
// SQL functions). Queries are never retried: a query whose connection is lost gets
// unavailable, because it may or may not have committed.
//
// Prepared statements: each connection prepares the SQL texts it is given (PQsendPrepare, once,
// then PQsendQueryPrepared by name; PoolConfig::prepared_statements of them, LRU), forgets them
// when it reconnects, and when a statement's result type changed under it (a function dropped
// and created again: SQLSTATE 0A000 "cached plan must not change result type", raised by the
// server's RevalidateCachedQuery) or its name is gone (26000), prepares it again and sends it
// once more: those errors come before it runs, so it runs once. Any other error is answered.
//
// Routing: one query in flight per connection (no pipelining yet); an idle connection
// takes the query at once; otherwise it waits in a FIFO queue
// (at most queue_timeout_ms); batched items wait for the end of the loop turn (and for
// their kind's batch in flight, bounded) and leave the queue together with the first of
// their kind (query_batched, BatchKind). When no
// connection is up and the last connection attempt failed (the database is known to be
// down), query() fails fast with unavailable "database unavailable" and queued requests
// are failed too; the connections keep retrying with backoff and the pool serves again as
// soon as one is back.
class Pool {
public:
    Pool(EventLoop& loop, PoolConfig cfg);
    // Closes every connection. Callbacks not yet delivered are DROPPED (destroyed without
    // being called): calling into users from a destructor invites use-after-free. Call
    // shutdown() and let the loop run first if they must hear "shutting down".
    // No callback is ever called after the Pool is destroyed.
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    void start();  // begin connecting all connections (nginx init_process)
    void query(std::string sql, std::vector<Param> params, QueryCallback cb);
    // One item of a batch of kind (see BatchKind); kind must outlive the call's callback.
    void query_batched(std::shared_ptr<const BatchKind> kind, std::vector<Param> item, ItemCallback cb);
    // The same, and cb gets the item back with its answer (ItemBackCallback).
    void query_batched(std::shared_ptr<const BatchKind> kind, std::vector<Param> item, ItemBackCallback cb);
    bool healthy() const;  // at least one connection is up
    PoolStats stats() const;
    // Stops reconnecting, closes the connections, and fails queued and in-flight
    // requests with unavailable "shutting down" (posted). Later queries fail likewise.
    void shutdown();

private:
    std::shared_ptr<detail::PoolImpl> impl_;
};

}  // namespace chat::pg
