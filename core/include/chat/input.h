// The input rules every use case shares: request bodies as JSON objects, blank text, ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "chat/json.h"
#include "chat/result.h"

namespace chat::input {

// The largest seq a client may name (after=, up_to_seq): seq columns and the
// SQL functions' parameters are int. Every integer that reaches SQL is range
// checked first, so an overflow is a 422, never a 500 from Postgres.
inline constexpr std::int64_t kSeqMax = 2147483647;

// A seq named in a query string (after=): decimal digits, 0..kSeqMax.
std::optional<std::int64_t> parse_seq(std::string_view s) noexcept;

// A request body as a JSON object. Invalid UTF-8 is a validation error (422)
// per API.md; broken JSON is invalid_json (400); another shape is bad_request;
// an empty (or all-whitespace) body is {}.
Result<json::Value> parse_body(std::string_view body) noexcept;

// True when s has nothing but spaces, tabs and line breaks.
bool blank(std::string_view s) noexcept;

// True for the 8-4-4-4-12 hex form of a UUID.
bool is_uuid(std::string_view s) noexcept;

}  // namespace chat::input
