// Base32 (RFC 4648 §6, upper-case alphabet A–Z 2–7), as authenticator apps read TOTP secrets.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::base32 {

// The longest text decode() reads: far above any TOTP secret (20 bytes = 32 characters).
inline constexpr std::size_t kMaxText = 1024;

// Upper case, without '=' padding (the form otpauth:// URLs carry).
std::string encode(std::span<const std::byte> data);

// Strict and bounded: only the upper-case alphabet, no padding, no whitespace, at most
// kMaxText characters, a length that some byte string encodes to (not 1, 3 or 6 mod 8),
// and unused trailing bits zero, so every byte string has exactly one accepted text.
// Errors are Errc::bad_request. Bytes are returned in a std::string (binary-safe).
Result<std::string> decode(std::string_view text) noexcept;

}  // namespace chat::base32
