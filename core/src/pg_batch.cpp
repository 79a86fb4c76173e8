// Group commit's wire format: the queued items of one batch kind as one query of array parameters, and its rows back to
// the items.
#include <algorithm>
#include <cstring>
#include <string_view>

#include "pg_detail.h"

namespace chat::pg::detail {

namespace {

// Appends s with a backslash before each quote and backslash: a run between them at once (each
// found by memchr, once), not a byte at a time.
void append_escaped(std::string& out, std::string_view s) {
    const char* p = s.data();
    const char* const end = p + s.size();
    auto next = [&](char c) {
        const void* at = std::memchr(p, c, static_cast<std::size_t>(end - p));
        return at ? static_cast<const char*>(at) : end;
    };
    const char* quote = next('"');
    const char* backslash = next('\\');
    for (;;) {
        const char* at = std::min(quote, backslash);
        out.append(p, at);
        if (at == end) return;
        out.push_back('\\');
        out.push_back(*at);
        p = at + 1;
        if (at == quote) quote = next('"');
        else backslash = next('\\');
    }
}

}  // namespace

std::string array_literal(const std::vector<const Param*>& values) {
    std::size_t size = 2;  // without escapes: {"a",NULL}
    for (const Param* v : values) size += *v ? (*v)->size() + 3 : 5;
    std::string out;
    out.reserve(size);
    out += '{';
    for (const Param* v : values) {
        if (out.size() > 1) out += ',';
        if (!*v) {
            out += "NULL";
            continue;
        }
        out += '"';
        append_escaped(out, **v);
        out += '"';
    }
    out += '}';
    return out;
}

Request make_batch(std::vector<Request> items) {
    Request out;
    out.sql = items.front().batch->sql;
    out.enqueued_ms = items.front().enqueued_ms;
    std::size_t width = 0;
    for (const auto& it : items) width = std::max(width, it.params.size());
    const Param null;
    out.params.reserve(width);
    std::vector<const Param*> column(items.size());
    for (std::size_t p = 0; p < width; ++p) {
        for (std::size_t i = 0; i < items.size(); ++i)
            column[i] = p < items[i].params.size() ? &items[i].params[p] : &null;
        out.params.emplace_back(array_literal(column));
    }
    out.items = std::move(items);
    return out;
}

std::vector<Result<BatchRow>> split_batch(Result<QueryResult> res, std::size_t items) {
    std::vector<Result<BatchRow>> out;
    out.reserve(items);
    auto all = [&](const Error& e) {
        out.assign(items, Result<BatchRow>(e));
        return out;
    };
    if (!res.ok()) return all(res.error());
    auto r = std::make_shared<const QueryResult>(std::move(res.value()));
    if (r->cols() < 3 || r->rows() < 0 || static_cast<std::size_t>(r->rows()) != items)
        return all(make_error(Errc::internal, "batch answer has " + std::to_string(r->rows()) + " rows for " +
                                                  std::to_string(items) + " items"));
    for (int i = 0; i < r->rows(); ++i) {
        if (r->is_null(i, 1)) {
            out.emplace_back(BatchRow(r, i));
        } else {
            std::string state(r->get(i, 1)), msg(r->get(i, 2));
            out.emplace_back(map_server_error(state.c_str(), msg.c_str()));
        }
    }
    return out;
}

}  // namespace chat::pg::detail
