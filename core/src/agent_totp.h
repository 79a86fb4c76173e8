// What the login (agent_login.cpp) shares with the second factor's use cases
// (agent_totp.cpp): checking a code against an agent's sealed secret, the
// totp_required answer, and the 429 of a username whose failures are used up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chat/outcome.h"
#include "chat/result.h"

namespace chat::agent::detail {

// The HKDF label of the key that seals TOTP secrets (never used for anything else).
inline constexpr std::string_view kTotpKeyLabel = "nginx-chat agent totp secret v1";

// The step of `code` if it is right for the box (sealed for `agent_id` under
// chat_secret's TOTP key) at `now_s`, one step either side, and later than `last_step`;
// nullopt when it is wrong, expired or used. Errc::internal when the box does not open
// (chat_secret changed since setup: `chatctl agent totp-reset` is the way back).
Result<std::optional<std::int64_t>> totp_check(const std::string& chat_secret, std::string_view agent_id,
                                               std::string_view box, std::string_view code, std::int64_t now_s,
                                               std::optional<std::int64_t> last_step);

// 429 rate_limited with Retry-After and the API's error object.
Outcome limited(std::int64_t retry_after_s, std::string_view message);
// The 429 of chat_login_limit: the failures of the username (and address) are used up.
// The login's answer, and the TOTP switches' (their wrong codes count the same).
Outcome login_limited(std::int64_t retry_after_s);

// 401 {"error": {"code": "totp_required", ...}}: the password was right, a code is needed.
Outcome totp_required();

}  // namespace chat::agent::detail
