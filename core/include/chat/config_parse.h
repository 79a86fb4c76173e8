// The pure half of the module's directives: their option strings parsed and bounded, with
// defaults and ranges from limits.h; the module keeps ngx_conf_t and logs these messages.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chat/limits.h"
#include "chat/result.h"

namespace chat::config {

// Decimal digits only, as nginx's ngx_atoi reads them: no sign, no spaces; nullopt when
// empty, anything else, or too large.
std::optional<std::int64_t> parse_count(std::string_view s) noexcept;

// A time in nginx's syntax (ngx_parse_time for milliseconds) as milliseconds: numbers with
// the units w, d, h, m, s, ms, each at most once and largest first (spaces may follow a
// unit); a bare number is seconds. nullopt for anything else or above 2^31-1 ms.
std::optional<std::int64_t> parse_duration_ms(std::string_view s) noexcept;

// chat_retention's argument: "off" (0), or a time in nginx's syntax as parse_duration_ms
// reads it (180d, 26w, 12h, 90m 30s...) in whole seconds, within limits::kRetentionSeconds.
// Errc::validation: invalid chat_retention "2x", expected off or a time of 1s..3650d (e.g. 180d).
Result<std::int64_t> parse_retention(std::string_view arg) noexcept;

// chat_login_limit [failures=N] [address=N] [window=time] [queue=N] [address_queue=N]:
// the options given (each default is the limits table's). Errc::validation carries the
// message to log, naming the argument: invalid parameter "x", invalid value "failures=0",
// expected 1..10000, invalid window "window=2d", expected 1s..24h.
struct LoginLimit {
    std::optional<std::int64_t> failures;
    std::optional<std::int64_t> address_failures;
    std::optional<std::int64_t> window_ms;
    std::optional<std::int64_t> queue;
    std::optional<std::int64_t> address_queue;
};
Result<LoginLimit> parse_login_limit(std::span<const std::string_view> args) noexcept;
// One of those arguments into `into` (what parse_login_limit does for each, in order).
Result<void> parse_login_option(LoginLimit& into, std::string_view arg) noexcept;

// Every chat_login_limit value: the options given, the limits table's defaults for the rest
// (LoginLimit{} gives every default, for a configuration without the directive).
struct LoginLimitValues {
    std::int64_t failures;
    std::int64_t address_failures;
    std::int64_t window_ms;
    std::int64_t queue;
    std::int64_t address_queue;
};
LoginLimitValues login_limit_values(const LoginLimit& given) noexcept;

// chat_postgres's optional second argument, pool=N (limits::kPgPool).
Result<std::int64_t> parse_pg_pool(std::string_view arg) noexcept;

// chat_postgres's optional prepare=N (limits::kPgPrepared): statements each connection keeps
// prepared (pg_pool.h), 0 for none.
Result<std::int64_t> parse_pg_prepare(std::string_view arg) noexcept;

// chat_redis's optional second argument, batch=on|off: whether a worker publishes the events
// of a loop turn in one Redis message (bus.h). Error: invalid parameter "<arg>", expected
// batch=on or batch=off.
Result<bool> parse_redis_batch(std::string_view arg) noexcept;

// The key of a chat_secret file's content: trailing line breaks dropped, at least
// limits::kSecretMinBytes; the error says "holds N bytes, at least 32 are needed".
Result<std::string> parse_secret(std::string_view content) noexcept;

// "<directive> must be between <min> and <max>" when v is outside r.
Result<void> check_range(std::string_view directive, limits::Range r, std::int64_t v) noexcept;

// chat_site's name (limits::site_name_ok): the message says what a name may hold,
// "invalid site name "Shop", expected 1..63 of a-z 0-9 . _ - starting with a letter or digit".
Result<void> check_site(std::string_view name) noexcept;

// chat_ws_max_message's bounds: "chat_ws_max_message must be between 125 and 16m".
Result<void> check_ws_max_message(std::int64_t bytes) noexcept;

}  // namespace chat::config
