// The agent Service's plumbing (one SQL function's answer as an Outcome), the views'
// cursors and the standing of open sockets; the use cases are in agent_*.cpp.
#include "chat/agent.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>

#include "agent_util.h"
#include "chat/base64.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/pg_pool.h"

namespace chat::agent {

namespace detail {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

// The events and side effects of a write, from its parsed answer (see Done in agent.h).
void add_effects(Outcome& a, const json::Value& root, std::string_view site) {
    a.events = events::from_parsed(root, site);
    if (events::Event p = events::presence_parsed(root); !p.json.empty()) a.events.push_back(std::move(p));
    a.side_effects = events::side_effects_parsed(root);
}

std::span<const std::byte> key_bytes(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::map<std::string, std::string> parse_query(std::string_view q) {
    auto decode = [](std::string_view s) {
        std::string out;
        for (std::size_t i = 0; i < s.size(); i++) {
            if (s[i] == '+') {
                out += ' ';
            } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
                       hex_digit(s[i + 2]) >= 0) {
                out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
                i += 2;
            } else {
                out += s[i];
            }
        }
        return out;
    };
    std::map<std::string, std::string> out;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        std::string_view name = pair.substr(0, eq);
        std::string_view val = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        out[decode(name)] = decode(val);
    }
    return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return n;
}

Result<json::Value> parse_answer(std::string_view text) {
    json::Limits lim;
    lim.max_bytes = 64u << 20;
    auto v = json::parse(text, lim);
    if (!v.ok()) return make_error(Errc::internal, "unexpected database answer: " + v.error().message);
    return v;
}

Result<Outcome> pick(std::string_view text, std::initializer_list<std::string_view> keys, int status, Effects fx,
                     std::string_view site) {
    auto v = parse_answer(text);
    if (!v.ok()) return v.error();
    return pick_parsed(v.value(), keys, status, fx, site);
}

Result<Outcome> pick_parsed(const json::Value& root, std::initializer_list<std::string_view> keys, int status,
                            Effects fx, std::string_view site) {
    Outcome a;
    a.status = status;
    if (fx == Effects::publish) add_effects(a, root, site);
    if (status == 204) return a;
    json::Writer w(a.body);
    w.begin_object();
    for (std::string_view k : keys) {
        const json::Value* x = root.find(k);
        w.key(k);
        if (x) w.value(*x);
        else w.null();
    }
    w.end_object();
    if (!w.complete()) return make_error(Errc::internal, "writing the answer failed");
    return a;
}

Result<TextWrite> parse_text_write(std::string_view body, std::size_t max_chars) {
    auto parsed = input::parse_body(body);
    if (!parsed.ok()) return parsed.error();
    auto client_id = input::take_client_id(parsed.value());
    if (!client_id.ok()) return client_id.error();
    json::Value* t = parsed.value().find("text");
    if (!t) return make_error(Errc::bad_request, "text is required");
    auto text = input::take_message_text(*t, max_chars);
    if (!text.ok()) return text.error();
    return TextWrite{std::move(text.value()), std::move(client_id.value())};
}

}  // namespace detail

using detail::fail_with;
using detail::parse_int;

std::string encode_cursor(std::int64_t us, std::string_view id) {
    return base64::encode_url(std::to_string(us) + "|" + std::string(id));
}

Result<std::pair<std::int64_t, std::string>> decode_cursor(std::string_view cursor) noexcept {
    try {
        auto bad = make_error(Errc::validation, "invalid cursor");
        if (cursor.size() > limits::kCursorMaxBytes) return bad;
        auto raw = base64::decode_url(cursor);
        if (!raw.ok()) return bad;
        std::string_view s = raw.value();
        auto bar = s.find('|');
        if (bar == std::string_view::npos) return bad;
        auto us = parse_int(s.substr(0, bar));
        std::string_view id = s.substr(bar + 1);
        // microseconds since 1970 of a timestamp Postgres can hold (up to year 9999)
        constexpr std::int64_t kUsMax = 253402300799999999;
        if (!us || *us < 0 || *us > kUsMax || !customer::is_uuid(id)) return bad;
        return std::pair<std::int64_t, std::string>{*us, std::string(id)};
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Service::Service(EventLoop& loop, pg::Pool& pg, Executor& executor, std::string secret, Settings settings)
    : loop_(loop),
      pg_(pg),
      executor_(executor),
      secret_(std::move(secret)),
      settings_(settings),
      login_gate_(settings.login_queue, settings.login_address_queue) {}

void Service::fail(Done& done, Errc code, std::string message) noexcept {
    try {
        loop_.post([done, code, m = std::move(message)] { done(make_error(code, m)); });
    } catch (...) {
        // posting failed (out of memory): nothing sane is left to do
    }
}

void Service::query(std::string sql, std::vector<std::optional<std::string>> params, Text done) noexcept {
    try {
        pg_.query(std::move(sql), std::move(params), [done](Result<pg::QueryResult> r) {
            if (!r.ok()) return done(r.error());
            if (r.value().rows() < 1) return done(make_error(Errc::internal, "empty database answer"));
            Result<std::optional<std::string>> text = std::optional<std::string>();
            try {
                if (const auto v = r.value().text(0, 0)) text = std::optional<std::string>(std::string(*v));
            } catch (const std::exception& e) {
                text = make_error(Errc::internal, e.what());
            }
            done(std::move(text));
        });
    } catch (const std::exception& e) {
        fail_with(loop_, done, e.what());
    }
}

void Service::run(std::string sql, std::vector<std::optional<std::string>> params, Make make, Done done) noexcept {
    query(std::move(sql), std::move(params), [make = std::move(make), done](Result<std::optional<std::string>> r) {
        if (!r.ok()) return done(r.error());
        Result<Outcome> a = make_error(Errc::internal, "answer failed");
        try {
            const std::optional<std::string>& text = r.value();
            a = make(text ? std::string_view(*text) : std::string_view(), !text);
        } catch (const std::exception& e) {
            a = make_error(Errc::internal, e.what());
        }
        done(std::move(a));
    });
}

// ---------------------------------------------------------------------------
// Open sockets: standing re-checks and write access

namespace {

int role_rank(std::string_view role) {
    return role == "admin" ? 3 : role == "supervisor" ? 2 : role == "agent" ? 1 : 0;
}

}  // namespace

Recheck recheck(const Principal& p, const Standing* now) noexcept {
    if (!now || now->deleted || now->token_version != p.token_version) return Recheck::revoke;
    if (std::find(now->sites.begin(), now->sites.end(), p.site) == now->sites.end()) return Recheck::revoke;
    if (now->role == p.role) return Recheck::keep;
    return role_rank(now->role) > role_rank(p.role) ? Recheck::promote : Recheck::revoke;
}

void Service::standing(const std::vector<std::string>& agent_ids,
                       std::function<void(Result<std::vector<Standing>>)> done) noexcept {
    try {
        std::string ids = "{";
        for (const auto& id : agent_ids) {
            if (!customer::is_uuid(id)) continue;
            if (ids.size() > 1) ids += ',';
            ids += id;
        }
        ids += '}';
        pg_.query("SELECT id::text, role, token_version, deleted_at IS NOT NULL, array_to_string(sites, ' '),"
                  " (SELECT coalesce(string_agg(m.department_id::text, ',' ORDER BY m.department_id), '')"
                  "    FROM department_agents m WHERE m.agent_id = agents.id)"
                  " FROM agents WHERE id = ANY($1::uuid[])",
                  {ids}, [done](Result<pg::QueryResult> r) {
                      if (!r.ok()) return done(r.error());
                      std::vector<Standing> out;
                      try {
                          const pg::QueryResult& q = r.value();
                          for (int i = 0; i < q.rows(); i++) {
                              const auto at = [&](int col) { return q.text(i, col).value_or(""); };
                              Standing s;
                              s.agent_id = std::string(at(0));
                              s.role = std::string(at(1));
                              auto v = parse_int(at(2));
                              s.token_version = v.value_or(-1);
                              s.deleted = at(3) != "f";
                              // site names hold no space (limits::site_name_ok)
                              s.sites.clear();
                              std::string_view names = at(4);
                              while (!names.empty()) {
                                  auto sp = names.find(' ');
                                  s.sites.emplace_back(names.substr(0, sp));
                                  names = sp == std::string_view::npos ? std::string_view{} : names.substr(sp + 1);
                              }
                              s.departments = std::string(at(5));
                              out.push_back(std::move(s));
                          }
                      } catch (const std::exception& e) {
                          return done(make_error(Errc::internal, e.what()));
                      }
                      done(std::move(out));
                  });
    } catch (const std::exception& e) {
        try {
            loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
        } catch (...) {
        }
    }
}

void Service::write_access(const Principal& p, std::string_view conversation_id,
                           std::function<void(Result<WriteAccess>)> done) noexcept {
    try {
        if (!customer::is_uuid(conversation_id)) {
            loop_.post([done] { done(make_error(Errc::not_found, "conversation not found")); });
            return;
        }
        // A conversation of another site, or one the agent cannot see, is not found.
        pg_.query("SELECT c.status, coalesce(c.assigned_agent_id::text, ''),"
                  " chat_agent_can_write(c, $1::uuid, $2) FROM conversations c"
                  " WHERE c.id = $3::uuid AND chat_agent_can_see(c, $1::uuid, $2, $4)",
                  {p.agent_id, p.role, std::string(conversation_id), p.site}, [done](Result<pg::QueryResult> r) {
                      if (!r.ok()) return done(r.error());
                      if (r.value().rows() < 1) return done(make_error(Errc::not_found, "conversation not found"));
                      WriteAccess a;
                      try {
                          const pg::QueryResult& q = r.value();
                          a.status = std::string(q.text(0, 0).value_or(""));
                          a.assigned_agent_id = std::string(q.text(0, 1).value_or(""));
                          a.allowed = q.text(0, 2) == "t";
                      } catch (const std::exception& e) {
                          return done(make_error(Errc::internal, e.what()));
                      }
                      done(std::move(a));
                  });
    } catch (const std::exception& e) {
        try {
            loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
        } catch (...) {
        }
    }
}

}  // namespace chat::agent
