// Strict UTF-8 validation, decoding and encoding shared by the JSON codec, the FAQ matcher and validators.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chat::utf8 {

// Returned by next_code_point for a byte that does not start a valid sequence.
inline constexpr char32_t kInvalid = 0xFFFFFFFFu;

// Decodes the code point that starts at s[pos] and advances pos past it.
// Strict (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
// On an invalid or truncated sequence returns kInvalid and advances pos by one
// byte, so a caller can resynchronise. Precondition: pos < s.size().
char32_t next_code_point(std::string_view s, std::size_t& pos) noexcept;

// Appends the UTF-8 encoding of cp; a surrogate or a value above U+10FFFF
// appends U+FFFD instead. May throw std::bad_alloc like any string append.
void append(std::string& out, char32_t cp);

}  // namespace chat::utf8

namespace chat {

// True when s is well-formed UTF-8 (strict, as next_code_point).
bool valid_utf8(std::string_view s) noexcept;

// Number of code points in s; API.md's "characters" (chat_message_max).
// Each byte of an invalid sequence counts as one, so the result is bounded by
// s.size() even for bad input; validate first when it matters.
std::size_t utf8_length(std::string_view s) noexcept;

}  // namespace chat
