// Internal pieces shared by the Postgres client's files: the request record, libpq deleters, error mapping.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/pg_pool.h"

namespace chat::pg::detail {

struct PgConnFree {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnFree>;

struct PgResultFree {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultFree>;

// One query waiting for or running on a connection. A batched item waits with batch and
// item_cb or item_back_cb set; the query sent for a batch carries its items (and no callback of
// its own), their params kept as they came: an item_back_cb gets them back with the answer.
struct Request {
    std::string sql;
    std::vector<Param> params;
    QueryCallback cb;
    std::uint64_t enqueued_ms = 0;
    std::shared_ptr<const BatchKind> batch;
    ItemCallback item_cb;
    std::vector<Request> items;
    ItemBackCallback item_back_cb;

    bool is_item() const noexcept { return item_cb || item_back_cb; }
};

// The one query of a batch: kind's SQL, one text array literal per item parameter.
Request make_batch(std::vector<Request> items);
// Each item's answer from the batch query's result (one row per item, see BatchKind), in
// item order; an error for every item when the result does not have that shape.
std::vector<Result<BatchRow>> split_batch(Result<QueryResult> res, std::size_t items);
// A text array literal ({"a","b",NULL}) holding the values as they are.
std::string array_literal(const std::vector<const Param*>& values);

// Turns a finished query's PGresult into the caller's Result (see the mapping in pg_pool.h).
// conn_bad: the connection died with this result, so an error result means "unavailable"
// whatever its SQLSTATE; a complete successful result stays a success.
Result<QueryResult> to_result(PgResultPtr res, bool conn_bad);

// Maps a SQLSTATE and libpq's primary message to an Error.
Error map_server_error(const char* sqlstate, const char* primary);

}  // namespace chat::pg::detail
