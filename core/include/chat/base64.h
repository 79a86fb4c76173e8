// Base64 in its standard (RFC 4648 §4, padded) and URL-safe (§5, unpadded) alphabets, with strict decoding.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::base64 {

// Standard alphabet with '=' padding (password hashes).
std::string encode(std::span<const std::byte> data);
std::string encode(std::string_view data);
// URL-safe alphabet, no padding (tokens, cookies).
std::string encode_url(std::span<const std::byte> data);
std::string encode_url(std::string_view data);

// Strict decoders: only the variant's alphabet, padding exactly as the encoder
// writes it (required for standard, forbidden for URL-safe), no whitespace,
// and unused trailing bits must be zero, so every byte string has exactly one
// accepted encoding. Errors are Errc::bad_request. Output bytes are returned
// in a std::string (binary-safe).
Result<std::string> decode(std::string_view text) noexcept;
Result<std::string> decode_url(std::string_view text) noexcept;

}  // namespace chat::base64
