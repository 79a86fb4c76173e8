// The agent's second factor (API.md "Agent second factor (TOTP, RFC 6238)"): setup,
// enable and disable with a code, and the code check the login shares.
#include "agent_totp.h"

#include <array>
#include <memory>
#include <span>
#include <string>

#include "agent_util.h"
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

void Service::totp_enable(const Principal& p, std::string_view body, Done done) noexcept {
    totp_switch(p, body, true, std::move(done));
}

void Service::totp_disable(const Principal& p, std::string_view body, Done done) noexcept {
    totp_switch(p, body, false, std::move(done));
}

// Both switches: read the box and the last step, match the code in core (only core can
// open the box), then throw the switch in SQL if nothing changed meanwhile
// (chat_agent_totp_switch re-checks box, state and step in its UPDATE).
void Service::totp_switch(const Principal& p, std::string_view body, bool enable, Done done) noexcept {
    try {
        auto code = parse_code(body);
        if (!code.ok()) return fail(done, code.error().code, code.error().message);
        query("SELECT chat_agent_totp_state($1::uuid)::text", {p.agent_id},
              [this, p, enable, code = std::move(code.value()), done](Result<std::optional<std::string>> r) {
                  try {
                      if (!r.ok()) return done(r.error());
                      if (!r.value()) return done(make_error(Errc::unauthorized, "agent not found"));
                      auto v = parse_answer(*r.value());
                      if (!v.ok()) return done(v.error());
                      const json::Value& st = v.value();
                      const std::string* box = st.find_string("box");
                      const bool enabled = st.find("enabled") && st.find("enabled")->as_bool().value_or(false);
                      if (enable && enabled)
                          return done(make_error(Errc::invalid_state, "two-factor authentication is already enabled"));
                      if (enable && !box)
                          return done(make_error(Errc::invalid_state, "no secret set up: POST /agent/totp/setup first"));
                      if (!enable && (!enabled || !box))
                          return done(make_error(Errc::invalid_state, "two-factor authentication is not enabled"));
                      auto step = detail::totp_check(secret_, p.agent_id, *box, code, loop_.wall_ms() / 1000,
                                                     st.find_int("last_step"));
                      if (!step.ok()) return done(step.error());
                      if (!step.value()) return done(make_error(Errc::forbidden, "wrong or already used code"));
                      run("SELECT chat_agent_totp_switch($1::uuid, $2, $3, $4)::text",
                          {p.agent_id, *box, std::to_string(*step.value()), enable ? "true" : "false"},
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
