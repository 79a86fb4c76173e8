// The agent's second factor (API.md "Agent second factor (TOTP, RFC 6238)"): setup,
// enable and disable with a code, and the code check the login shares.
#include "agent_totp.h"

#include <algorithm>
#include <array>
#include <memory>
#include <span>
#include <string>

#include "agent_util.h"
#include "chat/address.h"
#include "chat/agent.h"
#include "chat/base32.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/secret_box.h"
#include "chat/totp.h"

namespace chat::agent {

namespace detail {

Result<std::optional<std::int64_t>> totp_check(const std::string& chat_secret, std::string_view agent_id,
                                               std::string_view box, std::string_view code, std::int64_t now_s,
                                               std::optional<std::int64_t> last_step) {
    auto key = secret_box::derive_key(key_bytes(chat_secret), kTotpKeyLabel);
    if (!key.ok()) return key.error();
    auto secret = secret_box::open(key.value(), box, agent_id);
    if (!secret.ok())
        return make_error(Errc::internal, "an agent's TOTP secret does not open with this chat_secret (changed since "
                                          "setup?); chatctl agent totp-reset turns it off");
    const std::string& s = secret.value();
    return std::optional<std::int64_t>(
        totp::match(std::as_bytes(std::span(s.data(), s.size())), code, now_s, last_step));
}

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

Outcome login_limited(std::int64_t retry_after_s) {
    return limited(retry_after_s, "too many failed logins; retry in " + std::to_string(retry_after_s) + " s");
}

Outcome totp_required() {
    Outcome a;
    a.status = errc_http_status(Errc::unauthorized);
    json::Writer w(a.body);
    w.begin_object().key("error").begin_object();
    w.key("code").string("totp_required").key("message").string("a two-factor code is required");
    w.end_object().end_object();
    return a;
}

}  // namespace detail

namespace {

using detail::key_bytes;
using detail::Effects;
using detail::parse_answer;
using detail::pick_parsed;

// Setup and enable need a recent login (limits::kTotpFreshLoginS): 403 reauth_required
// otherwise, so that a token stolen after its login cannot turn a second factor on with its
// thief's phone and lock its agent out. Disable needs a code of the phone already.
std::optional<Outcome> stale_login(const Principal& p, std::int64_t now_ms) {
    if (now_ms - p.login_ms <= limits::kTotpFreshLoginS * 1000) return std::nullopt;
    Outcome a;
    a.status = errc_http_status(Errc::forbidden);
    json::Writer w(a.body);
    w.begin_object().key("error").begin_object();
    w.key("code").string("reauth_required");
    w.key("message").string("log in again to change two-factor authentication (it needs a login of the last " +
                            std::to_string(limits::kTotpFreshLoginS / 60) + " minutes)");
    w.end_object().end_object();
    return a;
}

// The body's "code": 400 when it is missing or not a string, 422 when it is not 6 digits.
Result<std::string> parse_code(std::string_view body) {
    auto parsed = input::parse_body(body);
    if (!parsed.ok()) return parsed.error();
    const std::string* code = parsed.value().find_string("code");
    if (!code) return make_error(Errc::bad_request, "expected {\"code\": \"123456\"}");
    if (!totp::well_formed(*code)) return make_error(Errc::validation, "code must be 6 digits");
    return *code;
}

}  // namespace

void Service::totp_setup(const Principal& p, Done done) noexcept {
    try {
        if (auto stale = stale_login(p, loop_.wall_ms())) return loop_.post([done, a = *stale] { done(a); });
        auto me = json::parse(p.agent_json);
        const std::string* username = me.ok() ? me.value().find_string("username") : nullptr;
        if (!username) return fail(done, Errc::internal, "the agent has no username");
        std::array<std::byte, totp::kSecretBytes> secret{};
        std::array<std::byte, secret_box::kNonceBytes> nonce{};
        loop_.random_bytes(secret);
        loop_.random_bytes(nonce);
        auto key = secret_box::derive_key(key_bytes(secret_), detail::kTotpKeyLabel);
        if (!key.ok()) return fail(done, Errc::internal, key.error().message);
        auto box = secret_box::seal(key.value(), nonce,
                                    std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()),
                                    p.agent_id);
        if (!box.ok()) return fail(done, Errc::internal, box.error().message);
        std::string b32 = base32::encode(secret);
        std::string url = totp::otpauth_url(totp::kIssuer, *username, b32);
        run("SELECT chat_agent_totp_setup($1::uuid, $2)::text", {p.agent_id, box.value()},
            [b32 = std::move(b32), url = std::move(url)](std::string_view, bool) -> Result<Outcome> {
                Outcome a;
                json::Writer w(a.body);
                w.begin_object().key("secret").string(b32).key("otpauth_url").string(url).end_object();
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::totp_enable(const Principal& p, std::string_view body, std::string_view client_address,
                          Done done) noexcept {
    totp_switch(p, body, client_address, true, std::move(done));
}

void Service::totp_disable(const Principal& p, std::string_view body, std::string_view client_address,
                           Done done) noexcept {
    totp_switch(p, body, client_address, false, std::move(done));
}

// Both switches: reserve the attempt as a login would (chat_agent_totp_begin: a wrong code
// counts toward chat_login_limit under the agent's username, and a locked username gets
// the login's 429 without its code being checked), read the box and the last step, match
// the code in core (only core can open the box), then throw the switch in SQL if nothing
// changed meanwhile (chat_agent_totp_switch re-checks box, state and step in its UPDATE)
// and take the attempt back in the same statement. With nothing to check the code
// against (409) the attempt is taken back too: only a code that was checked and wrong
// (or used) stays counted.
void Service::totp_switch(const Principal& p, std::string_view body, std::string_view client_address, bool enable,
                          Done done) noexcept {
    try {
        auto code = parse_code(body);
        if (!code.ok()) return fail(done, code.error().code, code.error().message);
        if (enable) {
            if (auto stale = stale_login(p, loop_.wall_ms())) return loop_.post([done, a = *stale] { done(a); });
        }
        query("SELECT chat_agent_totp_begin($1::uuid, $2, $3, $4, $5)::text",
              {p.agent_id, chat::address_key(client_address), std::to_string(settings_.login_max_failures),
               std::to_string(settings_.login_max_address_failures), std::to_string(settings_.login_window_s)},
              [this, p, enable, code = std::move(code.value()), done](Result<std::optional<std::string>> r) {
                  try {
                      if (!r.ok()) return done(r.error());
                      if (!r.value()) return done(make_error(Errc::unauthorized, "agent not found"));
                      auto v = parse_answer(*r.value());
                      if (!v.ok()) return done(v.error());
                      const json::Value& st = v.value();
                      if (st.find("limited") && st.find("limited")->as_bool().value_or(false)) {
                          std::int64_t s = std::max<std::int64_t>(1, st.find_int("retry_after").value_or(1));
                          return done(detail::login_limited(s));
                      }
                      const std::string attempt = std::to_string(st.find_int("attempt").value_or(0));
                      const std::string* box = st.find_string("box");
                      const bool enabled = st.find("enabled") && st.find("enabled")->as_bool().value_or(false);
                      std::optional<Error> no_check;
                      if (enable && enabled)
                          no_check = make_error(Errc::invalid_state, "two-factor authentication is already enabled");
                      else if (enable && !box)
                          no_check = make_error(Errc::invalid_state, "no secret set up: POST /agent/totp/setup first");
                      else if (!enable && (!enabled || !box))
                          no_check = make_error(Errc::invalid_state, "two-factor authentication is not enabled");
                      if (no_check) {
                          return run("SELECT chat_agent_login_cancel($1)::text", {attempt},
                                     [e = *no_check](std::string_view, bool) -> Result<Outcome> { return e; }, done);
                      }
                      auto step = detail::totp_check(secret_, p.agent_id, *box, code, loop_.wall_ms() / 1000,
                                                     st.find_int("last_step"));
                      if (!step.ok()) return done(step.error());
                      if (!step.value()) return done(make_error(Errc::forbidden, "wrong or already used code"));
                      run("SELECT chat_agent_totp_switch($1::uuid, $2, $3, $4)::text FROM chat_agent_login_cancel($5)",
                          {p.agent_id, *box, std::to_string(*step.value()), enable ? "true" : "false", attempt},
                          [](std::string_view text, bool) -> Result<Outcome> {
                              auto a = parse_answer(text);
                              if (!a.ok()) return a.error();
                              return pick_parsed(a.value(), {"agent"}, 200, Effects::none);
                          },
                          done);
                  } catch (const std::exception& e) {
                      done(make_error(Errc::internal, e.what()));
                  }
              });
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

}  // namespace chat::agent
