// The agent's login, logout, token checks and presence, and the gate of logins in progress.
#include <memory>
#include <string>

#include "agent_totp.h"
#include "agent_util.h"
#include "chat/address.h"
#include "chat/agent.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/password.h"
#include "chat/pg_pool.h"
#include "chat/token.h"
#include "chat/totp.h"

namespace chat::agent {

namespace {

using detail::add_effects;
using detail::fail_with;
using detail::key_bytes;
using detail::limited;
using detail::Effects;
using detail::pick;
using input::parse_body;

constexpr std::string_view kBadLogin = "invalid username or password";

// The dummy hash verified for unknown users, so both failures cost the same.
const std::string& dummy_hash() {
    static const std::string h = [] {
        std::byte salt[password::kSaltBytes] = {};
        return password::hash("no such agent: timing equalizer", salt);
    }();
    return h;
}

}  // namespace

// ---------------------------------------------------------------------------
// Tokens, login, presence

void Service::authenticate(std::string_view token, std::string_view site,
                           std::function<void(Result<Principal>)> done) noexcept {
    try {
        auto claims = token::decode_agent(key_bytes(secret_), token, loop_.wall_ms());
        if (!claims.ok() || !input::is_uuid(claims.value().agent_id) || claims.value().site != site) {
            loop_.post([done] { done(make_error(Errc::unauthorized, "missing, invalid or expired agent token")); });
            return;
        }
        auto c = claims.value();
        query("SELECT chat_agent_auth($1::uuid, $2, $3)::text", {c.agent_id, std::to_string(c.token_version), c.site},
              [done, site = c.site, login_ms = c.exp_ms - settings_.token_ttl_ms](Result<std::optional<std::string>> r) {
                  if (!r.ok()) return done(r.error());
                  if (!r.value()) return done(make_error(Errc::unauthorized, "agent token revoked"));
                  auto v = json::parse(*r.value());
                  const json::Value* ag = v.ok() ? v.value().find("agent") : nullptr;
                  if (!ag) return done(make_error(Errc::internal, "unexpected database answer"));
                  Principal p;
                  if (const auto* s = ag->find_string("id")) p.agent_id = *s;
                  if (const auto* s = ag->find_string("role")) p.role = *s;
                  p.token_version = v.value().find_int("token_version").value_or(0);
                  p.login_ms = login_ms;
                  p.site = site;
                  p.agent_json = json::to_string(*ag);
                  if (const json::Value* ds = v.value().find("departments"); ds && ds->as_array()) {
                      for (const json::Value& d : *ds->as_array()) {
                          const std::string* id = d.as_string();
                          if (!id || !input::is_uuid(*id)) continue;
                          if (!p.departments.empty()) p.departments += ',';
                          p.departments += *id;
                      }
                  }
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
//      deleted users and agents not granted the site cost the same; their attempts
//      count the same);
//   4. a wrong password: 401, the reserved row already counts it; a right one of an
//      agent with TOTP enabled and no code: 401 totp_required, a wrong or used code: 401
//      (both counted the same way: the row stays); else chat_agent_login_ok records the
//      code's step (used once) and forgets the pair's failures, this attempt's included.
// If the executor refused the work (its queue is full), the reservation is cancelled and
// the answer is 429: never a 401 for a password nobody checked.
void Service::login(std::string_view body, std::string_view client_address, std::string_view site,
                    Done done) noexcept {
    try {
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const std::string* user = parsed.value().find_string("username");
        const std::string* pass = parsed.value().find_string("password");
        if (!user || !pass) return fail(done, Errc::bad_request, "expected {\"username\", \"password\"} strings");
        // the second factor's code, when the dashboard was asked for it (totp_required)
        const json::Value* code_v = parsed.value().find("code");
        const std::string* code = code_v ? code_v->as_string() : nullptr;
        if (code_v && !code && !code_v->is_null()) return fail(done, Errc::bad_request, "code must be a string");
        if (code && !totp::well_formed(*code)) return fail(done, Errc::validation, "code must be 6 digits");
        // Out-of-bounds input can match no agent: the same 401, without a round trip.
        if (!limits::kUsernameBytes.contains(static_cast<std::int64_t>(user->size())) ||
            pass->size() > limits::kPasswordMaxBytes)
            return fail(done, Errc::unauthorized, std::string(kBadLogin));

        struct State {
            std::optional<LoginGate::Ticket> ticket;   // held until the answer
            std::string username, address, agent_id, site;
            std::int64_t attempt = 0;
            std::int64_t token_version = 0;
            std::optional<std::string> code;              // as sent
            std::string totp_box;                         // empty: TOTP not enabled
            std::optional<std::int64_t> totp_last_step;
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
        st->site = std::string(site);
        if (code) st->code = *code;
        auto check = std::make_shared<Check>();
        check->password = *pass;

        pg_.query(
            "SELECT chat_agent_login_begin($1, $2, $3, $4, $5, $6)::text",
            {st->username, st->address, std::to_string(settings_.login_max_failures),
             std::to_string(settings_.login_max_address_failures), std::to_string(settings_.login_window_s),
             st->site},
            [this, st, check, done](Result<pg::QueryResult> r) mutable {
              try {
                if (!r.ok()) return done(r.error());
                auto v = json::parse(r.value().text(0, 0).value_or(""));
                if (!v.ok()) return done(make_error(Errc::internal, "unexpected database answer"));
                const json::Value& f = v.value();
                if (f.find("limited") && f.find("limited")->as_bool().value_or(false)) {
                    std::int64_t s = std::max<std::int64_t>(1, f.find_int("retry_after").value_or(1));
                    return done(detail::login_limited(s));
                }
                st->attempt = f.find_int("attempt").value_or(0);
                if (const auto* id = f.find_string("agent_id")) {
                    bool deleted = f.find("deleted") && f.find("deleted")->as_bool().value_or(true);
                    check->known = !deleted;
                    st->agent_id = *id;
                    if (const auto* h = f.find_string("password_hash")) check->hash = *h;
                    st->token_version = f.find_int("token_version").value_or(0);
                    if (const auto* b = f.find_string("totp_box")) st->totp_box = *b;
                    st->totp_last_step = f.find_int("totp_last_step");
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
                        std::optional<std::string> step;  // the code's, for an agent with TOTP
                        if (!st->totp_box.empty()) {
                            if (!st->code) return done(detail::totp_required());
                            auto m = detail::totp_check(secret_, st->agent_id, st->totp_box, *st->code,
                                                        loop_.wall_ms() / 1000, st->totp_last_step);
                            if (!m.ok()) return done(m.error());
                            if (!m.value())
                                return done(make_error(Errc::unauthorized, "wrong or already used two-factor code"));
                            step = std::to_string(*m.value());
                        }
                        run("SELECT chat_agent_login_ok($1::uuid, $2, $3, $4, $5)::text",
                            {st->agent_id, std::to_string(st->token_version), st->username, st->address, step},
                            [this, st](std::string_view text, bool is_null) -> Result<Outcome> {
                                // a password change or delete raced the check
                                if (is_null) return make_error(Errc::unauthorized, std::string(kBadLogin));
                                auto v = json::parse(text);
                                const json::Value* ag = v.ok() ? v.value().find("agent") : nullptr;
                                if (!ag) return make_error(Errc::internal, "unexpected database answer");
                                Outcome a;
                                std::string token = token::encode_agent(
                                    key_bytes(secret_),
                                    {st->agent_id, st->token_version, loop_.wall_ms() + settings_.token_ttl_ms,
                                     st->site});
                                if (token.empty()) return make_error(Errc::internal, "signing the token failed");
                                json::Writer w(a.body);
                                w.begin_object().key("token").string(token).key("agent").value(*ag).end_object();
                                a.cookie = Cookie{std::string(limits::kAgentCookie), std::move(token),
                                                          limits::kAgentCookieMaxAgeS, false};
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
                if (a.ok()) a.value().cookie = Cookie{std::string(limits::kAgentCookie), "", 0, true};
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

void Service::colleagues(const Principal& p, Done done) noexcept {
    try {
        run("SELECT chat_agent_colleagues($1)::text", {p.site},
            [](std::string_view text, bool) { return pick(text, {"agents"}, 200, Effects::none); },
            std::move(done));
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
        if (!s || !limits::one_of(limits::kPresences, *s))
            return fail(done, Errc::validation, "presence must be " + limits::names_text(limits::kPresences));
        run("SELECT chat_agent_presence($1::uuid, $2)::text", {p.agent_id, *s},
            [](std::string_view text, bool) { return pick(text, {"agent"}); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

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
