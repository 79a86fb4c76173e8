// HMAC-SHA256 signed tokens: the customer session token and the agent token.
//
// Wire form: base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload))),
// both parts unpadded. Verification is bounded (4096 bytes), strict (canonical
// base64url only) and compares the MAC in constant time.
//
// Claims payloads start with a type tag so one kind never verifies as the other, then
// the site the token is bound to (chat_site), left out for the default site so that a
// single-site install signs exactly the tokens it signed before sites existed:
//   session: "s|<sid>|<exp_ms>"            (site "default")
//            "s@<site>|<sid>|<exp_ms>"
//   agent:   "a|<agent_id>|<token_version>|<exp_ms>"
//            "a@<site>|<agent_id>|<token_version>|<exp_ms>"
// A site name never holds '|' or '@' (limits::site_name_ok); "s@default|" is refused, so
// each claim has exactly one encoding.
// Numbers are plain decimal; the numeric fields are split off from the right,
// so an id may contain any byte, '|' included.
// A token is expired when now_ms >= exp_ms. token_version is compared with the
// agent's current version by the caller; logout and password change bump it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "chat/limits.h"
#include "chat/result.h"

namespace chat::token {

inline constexpr std::size_t kMaxTokenBytes = 4096;

// Signs payload. Returns an empty string only if OpenSSL's HMAC fails.
std::string sign(std::span<const std::byte> key, std::string_view payload);

// The payload of a well-formed, correctly signed token; else Errc::unauthorized.
Result<std::string> verify(std::span<const std::byte> key, std::string_view token) noexcept;

struct SessionClaims {
    std::string sid;
    std::int64_t exp_ms = 0;
    std::string site{limits::kSiteDefault};
    friend bool operator==(const SessionClaims&, const SessionClaims&) = default;
};

struct AgentClaims {
    std::string agent_id;
    std::int64_t token_version = 0;
    std::int64_t exp_ms = 0;
    std::string site{limits::kSiteDefault};
    friend bool operator==(const AgentClaims&, const AgentClaims&) = default;
};

std::string encode_session(std::span<const std::byte> key, const SessionClaims& claims);
// Errc::unauthorized when forged, malformed, of another type, or expired.
Result<SessionClaims> decode_session(std::span<const std::byte> key, std::string_view token,
                                     std::int64_t now_ms) noexcept;

std::string encode_agent(std::span<const std::byte> key, const AgentClaims& claims);
Result<AgentClaims> decode_agent(std::span<const std::byte> key, std::string_view token,
                                 std::int64_t now_ms) noexcept;

}  // namespace chat::token
