// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30 s steps,
// 6 digits, accepted one step either side of now, each step at most once; and the
// otpauth:// URL an authenticator app reads from a QR code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace chat::totp {

inline constexpr std::int64_t kPeriodS = 30;      // X of RFC 6238, T0 = 0
inline constexpr int kDigits = 6;
inline constexpr std::int64_t kSkewSteps = 1;     // a code of the step before or after now counts
inline constexpr std::size_t kSecretBytes = 20;   // 160 bits, RFC 4226's recommendation
inline constexpr std::string_view kIssuer = "nginx-chat";

// The step of a Unix time: floor(t / kPeriodS) (times before 1970 are step 0 and below).
std::int64_t step_at(std::int64_t unix_s) noexcept;

// HOTP(secret, counter) with RFC 4226's dynamic truncation, modulo 10^digits (1..9),
// zero-padded to `digits` characters. Empty when HMAC fails (never, short of memory).
std::string hotp(std::span<const std::byte> secret, std::uint64_t counter, int digits = kDigits);

// The code of a step as an app shows it (6 digits).
std::string code_at(std::span<const std::byte> secret, std::int64_t step);

// Exactly kDigits ASCII digits: anything else is malformed (422), not merely wrong.
bool well_formed(std::string_view code) noexcept;

// The step whose code `code` is, among now's step and kSkewSteps either side, provided
// it is later than `last_used` (the step of the last code accepted: RFC 6238 §5.2, a
// code is accepted once). nullopt: wrong, expired or already used. Compared in
// constant time per candidate.
std::optional<std::int64_t> match(std::span<const std::byte> secret, std::string_view code, std::int64_t now_unix_s,
                                  std::optional<std::int64_t> last_used);

// otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>&period=30&digits=6&algorithm=SHA1,
// the label and values percent-encoded (everything but RFC 3986's unreserved characters).
std::string otpauth_url(std::string_view issuer, std::string_view account, std::string_view base32_secret);

// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view s);

}  // namespace chat::totp
