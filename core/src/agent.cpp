// The agent and admin use cases: input rules, the SQL call of each, and the answers.
#include "chat/agent.h"


#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>

#include "chat/address.h"
#include "chat/base64.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/password.h"
#include "chat/pg_pool.h"
#include "chat/token.h"
#include "chat/utf8.h"

namespace chat::agent {

namespace {

constexpr std::size_t kUsernameMax = 64;
constexpr std::size_t kDisplayNameMax = 128;
constexpr std::size_t kPasswordMin = 10;      // characters (API.md: weak below 10)
constexpr std::size_t kPasswordMax = 1024;    // bytes: bounds the KDF's input
constexpr std::int64_t kMaxActiveChatsMax = 1000;
constexpr std::size_t kFaqQuestionMax = 1000;
constexpr std::size_t kFaqAnswerMax = 10000;
constexpr std::size_t kKeywordsMax = 100;
constexpr std::size_t kKeywordMax = 100;
constexpr std::string_view kBadLogin = "invalid username or password";

std::span<const std::byte> key_bytes(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

using input::blank;
using input::parse_body;

bool has_control(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// name=value pairs of a query string, percent-decoded ('+' is a space); the last
// occurrence of a name wins. Malformed escapes are kept verbatim (the values are
// validated afterwards anyway).
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

// Completes `done` with an internal error from the loop (never inside the call).
template <typename F>
void fail_with(EventLoop& loop, const F& done, std::string message) noexcept {
    try {
        loop.post([done, m = std::move(message)] { done(make_error(Errc::internal, m)); });
    } catch (...) {
        // posting failed (out of memory): nothing sane is left to do
    }
}

// Whether an answer's events are published: a write's are, a read has none.
enum class Effects { none, publish };

// The events and side effects of a write, from its parsed answer (see Done in agent.h).
void add_effects(Outcome& a, const json::Value& root) {
    a.events = events::from_parsed(root);
    if (events::Event p = events::presence_parsed(root); !p.json.empty()) a.events.push_back(std::move(p));
    a.side_effects = events::side_effects_parsed(root);
}

// An Outcome whose body is picked out of the SQL function's JSON: {"<k>": root[k], ...}.
Result<Outcome> pick(std::string_view text, std::initializer_list<std::string_view> keys, int status = 200,
                     Effects fx = Effects::publish) {
    json::Limits lim;
    lim.max_bytes = 64u << 20;
    auto v = json::parse(text, lim);
    if (!v.ok()) return make_error(Errc::internal, "unexpected database answer: " + v.error().message);
    Outcome a;
    a.status = status;
    if (fx == Effects::publish) add_effects(a, v.value());
    if (status == 204) return a;
    json::Writer w(a.body);
    w.begin_object();
    for (std::string_view k : keys) {
        const json::Value* x = v.value().find(k);
        w.key(k);
        if (x) w.value(*x);
        else w.null();
    }
    w.end_object();
    if (!w.complete()) return make_error(Errc::internal, "writing the answer failed");
    return a;
}

// The dummy hash verified for unknown users, so both failures cost the same.
const std::string& dummy_hash() {
    static const std::string h = [] {
        std::byte salt[password::kSaltBytes] = {};
        return password::hash("no such agent: timing equalizer", salt);
    }();
    return h;
}

// A 429 of login: the API's error object and the seconds for Retry-After.
Outcome limited(std::int64_t retry_after_s, std::string_view message) {
    Outcome a;
    a.status = errc_http_status(Errc::rate_limited);
    a.retry_after_s = retry_after_s;
    json::Writer w(a.body);
    w.begin_object().key("error").begin_object();
    w.key("code").string(errc_name(Errc::rate_limited)).key("message").string(message);
    w.end_object().end_object();
    return a;
}

struct Validated {
    Error error{Errc::ok, {}};
    bool ok() const { return error.code == Errc::ok; }
};

// The fields of an agent create/patch, validated. `password` is returned separately.
Validated check_agent_fields(const json::Value& in, bool create, json::Value& patch, std::string& password) {
    auto err = [](Errc c, std::string m) { return Validated{Error{c, std::move(m)}}; };
    if (create) {
        const json::Value* u = in.find("username");
        if (!u || u->is_null()) return err(Errc::bad_request, "username is required");
        const std::string* s = u->as_string();
        if (!s || s->empty() || s->size() > kUsernameMax || has_control(*s) || blank(*s))
            return err(Errc::validation, "username must be 1..64 bytes without control characters");
        for (unsigned char c : *s)
            if (c == ' ') return err(Errc::validation, "username must not contain spaces");
        patch.set("username", json::Value(*s));
    }
    if (const json::Value* d = in.find("display_name"); d && !(d->is_null() && !create)) {
        const std::string* s = d->as_string();
        if (!s || blank(*s) || s->size() > kDisplayNameMax || has_control(*s))
            return err(Errc::validation, "display_name must be 1..128 bytes of text");
        patch.set("display_name", json::Value(*s));
    } else if (create) {
        return err(Errc::bad_request, "display_name is required");
    }
    if (const json::Value* r = in.find("role"); r && !r->is_null()) {
        const std::string* s = r->as_string();
        if (!s || (*s != "agent" && *s != "supervisor" && *s != "admin"))
            return err(Errc::validation, "role must be agent, supervisor or admin");
        patch.set("role", json::Value(*s));
    } else if (create) {
        patch.set("role", json::Value("agent"));
    }
    if (const json::Value* m = in.find("max_active_chats"); m && !m->is_null()) {
        auto n = m->as_int();
        if (!n || *n < 0 || *n > kMaxActiveChatsMax)
            return err(Errc::validation, "max_active_chats must be an integer in 0..1000");
        patch.set("max_active_chats", json::Value(*n));
    } else if (create) {
        patch.set("max_active_chats", json::Value(std::int64_t{5}));
    }
    if (const json::Value* pw = in.find("password"); pw && !pw->is_null()) {
        const std::string* s = pw->as_string();
        if (!s) return err(Errc::validation, "password must be a string");
        if (chat::utf8_length(*s) < kPasswordMin)
            return err(Errc::validation, "password must have at least 10 characters");
        if (s->size() > kPasswordMax) return err(Errc::validation, "password is too long");
        password = *s;
    } else if (create) {
        return err(Errc::bad_request, "password is required");
    }
    return {};
}

Validated check_faq_fields(const json::Value& in, bool create, json::Value& patch) {
    auto err = [](Errc c, std::string m) { return Validated{Error{c, std::move(m)}}; };
    auto text = [&](std::string_view name, std::size_t max) -> Validated {
        const json::Value* f = in.find(name);
        if (!f || f->is_null()) {
            if (create) return err(Errc::bad_request, std::string(name) + " is required");
            return {};
        }
        const std::string* s = f->as_string();
        if (!s || blank(*s) || chat::utf8_length(*s) > max)
            return err(Errc::validation, std::string(name) + " must be non-empty text of at most " +
                                             std::to_string(max) + " characters");
        patch.set(std::string(name), json::Value(*s));
        return {};
    };
    if (auto v = text("question", kFaqQuestionMax); !v.ok()) return v;
    if (auto v = text("answer", kFaqAnswerMax); !v.ok()) return v;
    if (const json::Value* o = in.find("display_order"); o && !o->is_null()) {
        auto n = o->as_int();
        if (!n || *n < -1000000 || *n > 1000000)
            return err(Errc::validation, "display_order must be an integer in -1000000..1000000");
        patch.set("display_order", json::Value(*n));
    }
    if (const json::Value* k = in.find("keywords"); k && !k->is_null()) {
        const json::Array* arr = k->as_array();
        if (!arr || arr->size() > kKeywordsMax)
            return err(Errc::validation, "keywords must be an array of at most 100 strings");
        json::Value list{json::Array{}};
        for (const json::Value& e : *arr) {
            const std::string* s = e.as_string();
            if (!s || blank(*s) || chat::utf8_length(*s) > kKeywordMax)
                return err(Errc::validation, "each keyword must be non-empty text of at most 100 characters");
            list.push_back(json::Value(*s));
        }
        patch.set("keywords", std::move(list));
    }
    if (!create) {
        if (const json::Value* a = in.find("is_active"); a && !a->is_null()) {
            auto b = a->as_bool();
            if (!b) return err(Errc::validation, "is_active must be a boolean");
            patch.set("is_active", json::Value(*b));
        }
    }
    return {};
}

}  // namespace

bool valid_slug(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64) return false;
    for (std::size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(i > 0 && c == '-')) return false;
    }
    return true;
}

std::string encode_cursor(std::int64_t us, std::string_view id) {
    return base64::encode_url(std::to_string(us) + "|" + std::string(id));
}

Result<std::pair<std::int64_t, std::string>> decode_cursor(std::string_view cursor) noexcept {
    try {
        auto bad = make_error(Errc::validation, "invalid cursor");
        if (cursor.size() > 128) return bad;
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
                if (!r.value().is_null(0, 0)) text = std::optional<std::string>(std::string(r.value().get(0, 0)));
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
// Tokens, login, presence

void Service::authenticate(std::string_view token, std::function<void(Result<Principal>)> done) noexcept {
    try {
        auto claims = token::decode_agent(key_bytes(secret_), token, loop_.wall_ms());
        if (!claims.ok() || !customer::is_uuid(claims.value().agent_id)) {
            loop_.post([done] { done(make_error(Errc::unauthorized, "missing, invalid or expired agent token")); });
            return;
        }
        auto c = claims.value();
        query("SELECT chat_agent_auth($1::uuid, $2)::text", {c.agent_id, std::to_string(c.token_version)},
              [done](Result<std::optional<std::string>> r) {
                  if (!r.ok()) return done(r.error());
                  if (!r.value()) return done(make_error(Errc::unauthorized, "agent token revoked"));
                  auto v = json::parse(*r.value());
                  const json::Value* ag = v.ok() ? v.value().find("agent") : nullptr;
                  if (!ag) return done(make_error(Errc::internal, "unexpected database answer"));
                  Principal p;
                  if (const auto* s = ag->find_string("id")) p.agent_id = *s;
                  if (const auto* s = ag->find_string("role")) p.role = *s;
                  p.token_version = v.value().find_int("token_version").value_or(0);
                  p.agent_json = json::to_string(*ag);
                  done(std::move(p));
              });
    } catch (const std::exception& e) {
        fail_with(loop_, done, e.what());
    }
}

// The login pipeline, one attempt:
//   1. a place in the LoginGate (else 429 at once: too many logins in progress here);
//   2. chat_agent_login_begin reserves the attempt in Postgres, atomically checking the
//      per-(username, address) and per-address limits (else 429 with the time left);
//   3. the KDF on the executor, against the agent's hash or a dummy one (unknown and
//      deleted users cost the same; their attempts count the same);
//   4. a wrong password: 401, the reserved row already counts it; a right one:
//      chat_agent_login_ok forgets the pair's failures, this attempt's included.
// If the executor refused the work (its queue is full), the reservation is cancelled and
// the answer is 429: never a 401 for a password nobody checked.
void Service::login(std::string_view body, std::string_view client_address, Done done) noexcept {
    try {
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const std::string* user = parsed.value().find_string("username");
        const std::string* pass = parsed.value().find_string("password");
        if (!user || !pass) return fail(done, Errc::bad_request, "expected {\"username\", \"password\"} strings");
        // Out-of-bounds input can match no agent: the same 401, without a round trip.
        if (user->empty() || user->size() > kUsernameMax || pass->size() > kPasswordMax)
            return fail(done, Errc::unauthorized, std::string(kBadLogin));

        struct State {
            std::optional<LoginGate::Ticket> ticket;   // held until the answer
            std::string username, address, agent_id;
            std::int64_t attempt = 0;
            std::int64_t token_version = 0;
        };
        // What the KDF needs on the executor's thread (State stays on the loop).
        struct Check {
            std::string password, hash;
            bool known = false;
            bool ran = false;
            bool verified = false;
        };
        auto st = std::make_shared<State>();
        st->address = chat::address_key(client_address);
        st->ticket = login_gate_.enter(st->address);
        if (!st->ticket) {
            loop_.post([done, a = limited(1, "too many logins in progress; retry in 1 s")] { done(a); });
            return;
        }
        st->username = *user;
        auto check = std::make_shared<Check>();
        check->password = *pass;

        pg_.query(
            "SELECT chat_agent_login_begin($1, $2, $3, $4, $5)::text",
            {st->username, st->address, std::to_string(settings_.login_max_failures),
             std::to_string(settings_.login_max_address_failures), std::to_string(settings_.login_window_s)},
            [this, st, check, done](Result<pg::QueryResult> r) mutable {
              try {
                if (!r.ok()) return done(r.error());
                auto v = json::parse(r.value().get(0, 0));
                if (!v.ok()) return done(make_error(Errc::internal, "unexpected database answer"));
                const json::Value& f = v.value();
                if (f.find("limited") && f.find("limited")->as_bool().value_or(false)) {
                    std::int64_t s = std::max<std::int64_t>(1, f.find_int("retry_after").value_or(1));
                    return done(limited(s, "too many failed logins; retry in " + std::to_string(s) + " s"));
                }
                st->attempt = f.find_int("attempt").value_or(0);
                if (const auto* id = f.find_string("agent_id")) {
                    bool deleted = f.find("deleted") && f.find("deleted")->as_bool().value_or(true);
                    check->known = !deleted;
                    st->agent_id = *id;
                    if (const auto* h = f.find_string("password_hash")) check->hash = *h;
                    st->token_version = f.find_int("token_version").value_or(0);
                }
                executor_.run(
                    [check] {
                        check->ran = true;
                        try {
                            bool ok = password::verify(check->password, check->known ? check->hash : dummy_hash());
                            check->verified = ok && check->known;
                        } catch (...) {
                            check->verified = false;
                        }
                    },
                    [this, st, check, done] {
                        if (!check->ran) {
                            // the queue was full: this attempt was never checked, so it
                            // must not count (nor be answered 401)
                            run("SELECT chat_agent_login_cancel($1)::text", {std::to_string(st->attempt)},
                                [](std::string_view, bool) -> Result<Outcome> {
                                    return limited(1, "too many logins in progress; retry in 1 s");
                                },
                                done);
                            return;
                        }
                        if (!check->verified) return done(make_error(Errc::unauthorized, std::string(kBadLogin)));
                        run("SELECT chat_agent_login_ok($1::uuid, $2, $3, $4)::text",
                            {st->agent_id, std::to_string(st->token_version), st->username, st->address},
                            [this, st](std::string_view text, bool is_null) -> Result<Outcome> {
                                // a password change or delete raced the check
                                if (is_null) return make_error(Errc::unauthorized, std::string(kBadLogin));
                                auto v = json::parse(text);
                                const json::Value* ag = v.ok() ? v.value().find("agent") : nullptr;
                                if (!ag) return make_error(Errc::internal, "unexpected database answer");
                                Outcome a;
                                std::string token = token::encode_agent(
                                    key_bytes(secret_),
                                    {st->agent_id, st->token_version, loop_.wall_ms() + settings_.token_ttl_ms});
                                if (token.empty()) return make_error(Errc::internal, "signing the token failed");
                                json::Writer w(a.body);
                                w.begin_object().key("token").string(token).key("agent").value(*ag).end_object();
                                a.cookie = Cookie{std::string(kAgentCookie), std::move(token), kAgentCookieMaxAge, false};
                                add_effects(a, v.value());
                                return a;
                            },
                            done);
                    });
              } catch (const std::exception& e) {
                fail(done, Errc::internal, e.what());
              }
            });
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::logout(const Principal& p, Done done) noexcept {
    try {
        run("SELECT chat_agent_logout($1::uuid)::text", {p.agent_id},
            [](std::string_view text, bool) -> Result<Outcome> {
                auto a = pick(text, {}, 204);
                if (a.ok()) a.value().cookie = Cookie{std::string(kAgentCookie), "", 0, true};
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::me(const Principal& p, Done done) noexcept {
    try {
        Outcome a;
        json::Writer w(a.body);
        w.begin_object().key("agent").raw(p.agent_json.empty() ? std::string_view("null") : p.agent_json).end_object();
        loop_.post([done, a = std::move(a)] { done(a); });
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::presence(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value* pr = parsed.value().find("presence");
        if (!pr) return fail(done, Errc::bad_request, "presence is required");
        const std::string* s = pr->as_string();
        if (!s || (*s != "online" && *s != "away" && *s != "offline"))
            return fail(done, Errc::validation, "presence must be online, away or offline");
        run("SELECT chat_agent_presence($1::uuid, $2)::text", {p.agent_id, *s},
            [](std::string_view text, bool) { return pick(text, {"agent"}); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

// ---------------------------------------------------------------------------
// Views and conversation writes

void Service::conversations(const Principal& p, std::string_view query, Done done) noexcept {
    try {
        auto q = parse_query(query);
        std::string view = "active";
        if (auto it = q.find("view"); it != q.end()) view = it->second;
        if (view != "active" && view != "queue" && view != "closed" && view != "all")
            return fail(done, Errc::validation, "view must be active, queue, closed or all");
        std::int64_t limit = 20;
        if (auto it = q.find("limit"); it != q.end()) {
            auto n = parse_int(it->second);
            if (!n || *n < 1 || *n > 100) return fail(done, Errc::validation, "limit must be between 1 and 100");
            limit = *n;
        }
        std::optional<std::string> cur_us, cur_id;
        if (auto it = q.find("cursor"); it != q.end() && !it->second.empty()) {
            auto c = decode_cursor(it->second);
            if (!c.ok()) return fail(done, c.error().code, c.error().message);
            cur_us = std::to_string(c.value().first);
            cur_id = c.value().second;
        }
        run("SELECT chat_agent_conversations($1::uuid, $2, $3, $4, $5, $6::uuid)::text",
            {p.agent_id, p.role, view, std::to_string(limit), cur_us, cur_id},
            [](std::string_view text, bool) -> Result<Outcome> {
                json::Limits lim;
                lim.max_bytes = 64u << 20;
                auto v = json::parse(text, lim);
                if (!v.ok()) return make_error(Errc::internal, "unexpected database answer");
                Outcome a;
                json::Writer w(a.body);
                w.begin_object().key("conversations");
                if (const json::Value* c = v.value().find("conversations")) w.value(*c);
                else w.begin_array().end_array();
                w.key("next_cursor");
                const json::Value* next = v.value().find("next");
                const std::string* id = next ? next->find_string("id") : nullptr;
                auto us = next ? next->find_int("us") : std::nullopt;
                if (id && us) w.string(encode_cursor(*us, *id));
                else w.null();
                w.end_object();
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::conversation(const Principal& p, std::string_view id, std::string_view query, Done done) noexcept {
    try {
        if (!customer::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto w = customer::parse_window(query);
        if (!w.ok()) return fail(done, w.error().code, w.error().message);
        run("SELECT chat_agent_conversation($1::uuid, $2, $3::uuid, $4, $5)::text",
            {p.agent_id, p.role, std::string(id), std::to_string(w.value().after), std::to_string(w.value().limit)},
            [](std::string_view text, bool) { return pick(text, {"conversation", "messages"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::post(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        if (!customer::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value& in = parsed.value();
        std::optional<std::string> client_id;
        if (const json::Value* c = in.find("client_id"); c && !c->is_null()) {
            const std::string* s = c->as_string();
            if (!s || !customer::is_uuid(*s)) return fail(done, Errc::validation, "client_id must be a UUID");
            client_id = *s;
        }
        const json::Value* t = in.find("text");
        if (!t) return fail(done, Errc::bad_request, "text is required");
        const std::string* s = t->as_string();
        if (!s) return fail(done, Errc::validation, "text must be a string");
        if (blank(*s)) return fail(done, Errc::validation, "text is empty");
        if (chat::utf8_length(*s) > settings_.message_max)
            return fail(done, Errc::validation,
                        "text is longer than " + std::to_string(settings_.message_max) + " characters");
        run("SELECT chat_agent_post($1::uuid, $2, $3::uuid, $4::uuid, $5)::text",
            {p.agent_id, p.role, std::string(id), client_id, *s},
            [](std::string_view text, bool) { return pick(text, {"conversation", "messages"}, 201); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

// claim and close: the agent, their role and the conversation in; conversation and messages out.
void Service::lifecycle(const char* sql, const Principal& p, std::string_view id, Done done) noexcept {
    try {
        if (!customer::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        run(sql, {p.agent_id, p.role, std::string(id)},
            [](std::string_view text, bool) { return pick(text, {"conversation", "messages"}); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::claim(const Principal& p, std::string_view id, Done done) noexcept {
    lifecycle("SELECT chat_agent_claim($1::uuid, $2, $3::uuid)::text", p, id, std::move(done));
}

void Service::transfer(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        if (!customer::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value* t = parsed.value().find("agent_id");
        if (!t) return fail(done, Errc::bad_request, "agent_id is required");
        const std::string* s = t->as_string();
        if (!s || !customer::is_uuid(*s)) return fail(done, Errc::validation, "agent_id must be a UUID");
        run("SELECT chat_agent_transfer($1::uuid, $2, $3::uuid, $4::uuid)::text",
            {p.agent_id, p.role, std::string(id), *s},
            [](std::string_view text, bool) { return pick(text, {"conversation", "messages"}); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::close(const Principal& p, std::string_view id, Done done) noexcept {
    lifecycle("SELECT chat_agent_close($1::uuid, $2, $3::uuid)::text", p, id, std::move(done));
}

void Service::read(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        if (!customer::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value* up = parsed.value().find("up_to_seq");
        std::optional<std::int64_t> n = up ? up->as_int() : std::nullopt;
        if (!n || *n < 0 || *n > input::kSeqMax)
            return fail(done, Errc::validation, "up_to_seq must be a non-negative integer");
        run("SELECT chat_agent_read($1::uuid, $2, $3::uuid, $4)::text",
            {p.agent_id, p.role, std::string(id), std::to_string(*n)},
            [](std::string_view text, bool) { return pick(text, {}, 204); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::sweep(std::uint64_t grace_ms, std::function<void(Result<std::string>)> done) noexcept {
    try {
        query("SELECT chat_sweep($1)::text", {std::to_string(static_cast<double>(grace_ms) / 1000.0)},
              [done](Result<std::optional<std::string>> r) {
                  if (!r.ok()) return done(r.error());
                  done(std::move(r.value()).value_or(std::string()));
              });
    } catch (const std::exception& e) {
        fail_with(loop_, done, e.what());
    }
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
        pg_.query("SELECT id::text, role, token_version, deleted_at IS NOT NULL FROM agents"
                  " WHERE id = ANY($1::uuid[])",
                  {ids}, [done](Result<pg::QueryResult> r) {
                      if (!r.ok()) return done(r.error());
                      std::vector<Standing> out;
                      try {
                          const pg::QueryResult& q = r.value();
                          for (int i = 0; i < q.rows(); i++) {
                              Standing s;
                              s.agent_id = std::string(q.get(i, 0));
                              s.role = std::string(q.get(i, 1));
                              auto v = parse_int(q.get(i, 2));
                              s.token_version = v.value_or(-1);
                              s.deleted = q.get(i, 3) != "f";
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
        pg_.query("SELECT c.status, coalesce(c.assigned_agent_id::text, ''),"
                  " chat_agent_can_write(c, $1::uuid, $2) FROM conversations c WHERE c.id = $3::uuid",
                  {p.agent_id, p.role, std::string(conversation_id)}, [done](Result<pg::QueryResult> r) {
                      if (!r.ok()) return done(r.error());
                      if (r.value().rows() < 1) return done(make_error(Errc::not_found, "conversation not found"));
                      WriteAccess a;
                      try {
                          a.status = std::string(r.value().get(0, 0));
                          a.assigned_agent_id = std::string(r.value().get(0, 1));
                          a.allowed = r.value().get(0, 2) == "t";
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

// ---------------------------------------------------------------------------
// Admin

#define CHAT_REQUIRE_ADMIN(p, done) \
    if ((p).role != "admin") return fail(done, Errc::forbidden, "admin role required")

void Service::admin_agents(const Principal& p, std::string_view query, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto q = parse_query(query);
        bool with_deleted = false;
        if (auto it = q.find("deleted"); it != q.end()) {
            if (it->second != "0" && it->second != "1") return fail(done, Errc::validation, "deleted must be 0 or 1");
            with_deleted = it->second == "1";
        }
        run("SELECT chat_admin_agents($1)::text", {std::string(with_deleted ? "true" : "false")},
            [](std::string_view text, bool) { return pick(text, {"agents"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_create_agent(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value fields{json::Object{}};
        std::string pw;
        if (auto v = check_agent_fields(parsed.value(), true, fields, pw); !v.ok())
            return fail(done, v.error.code, v.error.message);

        struct State {
            std::string password, hash;
            std::byte salt[password::kSaltBytes];
        };
        auto st = std::make_shared<State>();
        st->password = std::move(pw);
        loop_.random_bytes(st->salt);  // the loop's CSPRNG, read on the loop thread
        auto params = std::vector<std::optional<std::string>>{
            *fields.find_string("username"), *fields.find_string("display_name"), std::nullopt,
            *fields.find_string("role"), std::to_string(fields.find_int("max_active_chats").value_or(5))};
        executor_.run(
            [st] {
                try {
                    st->hash = password::hash(st->password, st->salt);
                } catch (...) {
                    st->hash.clear();
                }
            },
            [this, st, params = std::move(params), done]() mutable {
                if (st->hash.empty()) return fail(done, Errc::internal, "hashing the password failed");
                params[2] = st->hash;
                run("SELECT chat_admin_agent_create($1, $2, $3, $4, $5)::text", std::move(params),
                    [](std::string_view text, bool) { return pick(text, {"agent"}, 201); }, done);
            });
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_update_agent(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!customer::is_uuid(id)) return fail(done, Errc::not_found, "agent not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value patch{json::Object{}};
        std::string pw;
        if (auto v = check_agent_fields(parsed.value(), false, patch, pw); !v.ok())
            return fail(done, v.error.code, v.error.message);
        std::vector<std::optional<std::string>> params{std::string(id), json::to_string(patch), std::nullopt};
        auto finish = [this, done](std::vector<std::optional<std::string>> params) {
            run("SELECT chat_admin_agent_update($1::uuid, $2::jsonb, $3)::text", std::move(params),
                [](std::string_view text, bool) { return pick(text, {"agent"}); }, done);
        };
        if (pw.empty()) return finish(std::move(params));

        struct State {
            std::string password, hash;
            std::byte salt[password::kSaltBytes];
        };
        auto st = std::make_shared<State>();
        st->password = std::move(pw);
        loop_.random_bytes(st->salt);
        executor_.run(
            [st] {
                try {
                    st->hash = password::hash(st->password, st->salt);
                } catch (...) {
                    st->hash.clear();
                }
            },
            [this, st, params = std::move(params), finish, done]() mutable {
                if (st->hash.empty()) return fail(done, Errc::internal, "hashing the password failed");
                params[2] = st->hash;
                finish(std::move(params));
            });
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_delete_agent(const Principal& p, std::string_view id, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!customer::is_uuid(id)) return fail(done, Errc::not_found, "agent not found");
        // lowercase compare: Postgres prints UUIDs in lowercase, clients may not
        std::string lower(id);
        for (char& c : lower)
            if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (lower == p.agent_id) return fail(done, Errc::invalid_state, "an admin cannot delete themselves");
        run("SELECT chat_admin_agent_delete($1::uuid)::text", {std::string(id)},
            [](std::string_view text, bool) { return pick(text, {}, 204); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_faq(const Principal& p, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        run("SELECT chat_admin_faq_list()::text", {},
            [](std::string_view text, bool) { return pick(text, {"faq"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_create_faq(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value* sv = parsed.value().find("slug");
        if (!sv) return fail(done, Errc::bad_request, "slug is required");
        const std::string* slug = sv->as_string();
        if (!slug || !valid_slug(*slug))
            return fail(done, Errc::validation, "slug must match ^[a-z0-9][a-z0-9-]{0,63}$");
        json::Value f{json::Object{}};
        if (auto v = check_faq_fields(parsed.value(), true, f); !v.ok())
            return fail(done, v.error.code, v.error.message);
        std::string keywords = "[]";
        if (const json::Value* k = f.find("keywords")) keywords = json::to_string(*k);
        run("SELECT chat_admin_faq_create($1, $2, $3, $4, $5::jsonb)::text",
            {*slug, *f.find_string("question"), *f.find_string("answer"),
             std::to_string(f.find_int("display_order").value_or(0)), keywords},
            [](std::string_view text, bool) { return pick(text, {"faq"}, 201); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_update_faq(const Principal& p, std::string_view slug, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!valid_slug(slug)) return fail(done, Errc::not_found, "FAQ entry not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value patch{json::Object{}};
        if (auto v = check_faq_fields(parsed.value(), false, patch); !v.ok())
            return fail(done, v.error.code, v.error.message);
        run("SELECT chat_admin_faq_update($1, $2::jsonb)::text", {std::string(slug), json::to_string(patch)},
            [](std::string_view text, bool) { return pick(text, {"faq"}); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_delete_faq(const Principal& p, std::string_view slug, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!valid_slug(slug)) return fail(done, Errc::not_found, "FAQ entry not found");
        run("SELECT chat_admin_faq_delete($1)::text", {std::string(slug)},
            [](std::string_view text, bool) { return pick(text, {}, 204); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

#undef CHAT_REQUIRE_ADMIN

// ---------------------------------------------------------------------------
// Login admission

LoginGate::LoginGate(int total, int per_address)
    : counts_(std::make_shared<Counts>(Counts{total, per_address, 0, {}})) {}

LoginGate::Ticket::~Ticket() {
    if (auto c = counts_.lock()) c->leave(key_);
}

LoginGate::Ticket& LoginGate::Ticket::operator=(Ticket&& o) noexcept {
    if (this != &o) {
        if (auto c = counts_.lock()) c->leave(key_);
        counts_ = std::move(o.counts_);
        key_ = std::move(o.key_);
    }
    return *this;
}

std::optional<LoginGate::Ticket> LoginGate::enter(std::string_view address_key) {
    Counts& c = *counts_;
    if (c.in_progress >= c.total || c.per_address < 1) return std::nullopt;
    std::string key(address_key);
    auto it = c.by_address.find(key);
    if (it != c.by_address.end() && it->second >= c.per_address) return std::nullopt;
    if (it == c.by_address.end()) it = c.by_address.emplace(key, 0).first;
    it->second++;
    c.in_progress++;
    return Ticket(counts_, std::move(key));
}

int LoginGate::in_progress() const noexcept { return counts_->in_progress; }

void LoginGate::Counts::leave(const std::string& key) noexcept {
    auto it = by_address.find(key);
    if (it == by_address.end()) return;
    in_progress--;
    if (--it->second == 0) by_address.erase(it);
}


}  // namespace chat::agent
