// chat::retention: the worker's retention and erasure queries, their answers, and the
// forget and end messages of deleted sessions and conversations (retention.h).
#include "chat/retention.h"

#include <algorithm>
#include <utility>

#include "chat/json.h"
#include "chat/limits.h"
#include "chat/pg_pool.h"

namespace chat::retention {

namespace {

constexpr std::string_view kForgetHead = "f1\n";
constexpr std::string_view kEndHead = "x1\n";

Result<json::Value> parse_object(std::string_view text) {
    auto v = json::parse(text);
    if (!v.ok()) return v.error();
    if (!v.value().as_object()) return make_error(Errc::internal, "not a JSON object");
    return v;
}

bool key_ok(std::string_view k) noexcept {
    return !k.empty() && k.size() <= kForgetKeyMax && k.find('\n') == std::string_view::npos;
}

// The single text column of a query's answer, as the callback wants it.
template <class T>
void query_json(pg::Pool& pg, EventLoop& loop, std::string sql, std::vector<pg::Param> params,
                Result<T> (*parse)(std::string_view) noexcept, std::function<void(Result<T>)> done) {
    try {
        pg.query(std::move(sql), std::move(params), [parse, done](Result<pg::QueryResult> res) {
            if (!res.ok()) return done(res.error());
            if (res.value().rows() != 1 || res.value().cols() != 1)
                return done(make_error(Errc::internal, "unexpected answer"));
            done(parse(res.value().text(0, 0).value_or("")));
        });
    } catch (const std::exception& e) {
        loop.post([done, why = std::string(e.what())] { done(make_error(Errc::internal, why)); });
    }
}

}  // namespace

Result<Sweep> parse_sweep(std::string_view json) noexcept {
    try {
        auto v = parse_object(json);
        if (!v.ok()) return v.error();
        Sweep s;
        const json::Value* locked = v.value().find("locked");
        s.locked = locked && locked->as_bool().value_or(false);
        s.conversations = v.value().find_int("conversations").value_or(0);
        s.customers = v.value().find_int("customers").value_or(0);
        s.unmatched = v.value().find_int("unmatched").value_or(0);
        const json::Value* more = v.value().find("more");
        s.more = more && more->as_bool().value_or(false);
        return s;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Result<Erased> parse_erased(std::string_view json) noexcept {
    try {
        auto v = parse_object(json);
        if (!v.ok()) return v.error();
        Erased e;
        e.last = v.value().find_int("last").value_or(0);
        auto keys = [&v](const char* name, std::vector<std::string>& out) {
            if (const json::Value* s = v.value().find(name); s && s->as_array())
                for (const json::Value& k : *s->as_array())
                    if (const std::string* str = k.as_string(); str && key_ok(*str)) out.push_back(*str);
        };
        keys("sessions", e.sessions);
        keys("conversations", e.conversations);
        return e;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

std::int64_t next_sweep_ms(std::int64_t retention_s, const std::optional<Sweep>& last) noexcept {
    if (last && last->locked && last->more) return kNextBatchMs;
    const std::int64_t every = retention_s >= limits::kRetentionEveryMsMax / 1000 ? limits::kRetentionEveryMsMax
                                                                                  : retention_s * 1000;
    return std::max<std::int64_t>(every, 1000);
}

namespace {

// "<head><key>\n<key>\n...": at most kForgetMax keys per message, bad keys left out.
std::vector<std::string> line_messages(std::string_view head, std::span<const std::string> keys) {
    std::vector<std::string> out;
    std::string msg;
    std::size_t n = 0;
    for (const std::string& s : keys) {
        if (!key_ok(s)) continue;
        if (n == 0) msg = head;
        msg += s;
        msg += '\n';
        if (++n == kForgetMax) {
            out.push_back(std::exchange(msg, std::string()));
            n = 0;
        }
    }
    if (n > 0) out.push_back(std::exchange(msg, std::string()));
    return out;
}

std::optional<std::vector<std::string>> parse_lines(std::string_view head, std::string_view payload) noexcept {
    try {
        if (!payload.starts_with(head)) return std::nullopt;
        payload.remove_prefix(head.size());
        std::vector<std::string> keys;
        while (!payload.empty()) {
            auto nl = payload.find('\n');
            if (nl == std::string_view::npos) return std::nullopt;  // every key ends its line
            std::string_view k = payload.substr(0, nl);
            if (!key_ok(k) || keys.size() == kForgetMax) return std::nullopt;
            keys.emplace_back(k);
            payload.remove_prefix(nl + 1);
        }
        return keys;
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace

std::vector<std::string> forget_messages(std::span<const std::string> sessions) {
    return line_messages(kForgetHead, sessions);
}

std::optional<std::vector<std::string>> parse_forget(std::string_view payload) noexcept {
    return parse_lines(kForgetHead, payload);
}

std::vector<std::string> end_messages(std::span<const std::string> conversations) {
    return line_messages(kEndHead, conversations);
}

std::optional<std::vector<std::string>> parse_end(std::string_view payload) noexcept {
    return parse_lines(kEndHead, payload);
}

void Service::sweep(std::int64_t retention_s, int batch, std::function<void(Result<Sweep>)> done) noexcept {
    try {
        query_json<Sweep>(pg_, loop_, "SELECT chat_retention_sweep($1, $2)::text",
                          {std::to_string(retention_s), std::to_string(batch)}, parse_sweep, std::move(done));
    } catch (...) {
        // query_json posts its own failures; only copying the callback can get here
    }
}

void Service::erased_since(std::int64_t after, std::function<void(Result<Erased>)> done) noexcept {
    try {
        query_json<Erased>(pg_, loop_, "SELECT chat_erasures_since($1)::text", {std::to_string(after)}, parse_erased,
                           std::move(done));
    } catch (...) {
    }
}

}  // namespace chat::retention
