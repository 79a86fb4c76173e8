// The input rules every use case shares: request bodies as JSON objects, blank text, ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chat/json.h"
#include "chat/result.h"

namespace chat::input {

// A seq named in a query string (after=): decimal digits, 0..limits::kSeqMax.
std::optional<std::int64_t> parse_seq(std::string_view s) noexcept;

// A request body as a JSON object. Invalid UTF-8 is a validation error (422)
// per API.md; broken JSON is invalid_json (400); another shape is bad_request;
// an empty (or all-whitespace) body is {}.
Result<json::Value> parse_body(std::string_view body) noexcept;

// True when s has nothing but spaces, tabs and line breaks.
bool blank(std::string_view s) noexcept;

// True when s holds a control character (below 0x20, or 0x7f).
bool has_control(std::string_view s) noexcept;

// True for a FAQ slug the schema accepts: limits::kFaqSlugPattern.
bool valid_slug(std::string_view slug) noexcept;

// True for an email address a shop can write to: local@domain, limits::kEmailBytes long,
// a local part of at most limits::kEmailLocalMaxBytes, a domain of dot-separated labels
// (letters, digits, hyphens; at least two labels, none empty or edged with a hyphen), no
// space, control character or quote anywhere.
bool valid_email(std::string_view s) noexcept;

// A conversation's tag as stored: s with A-Z lowercased, if it then matches
// limits::kTagPattern (the PATCH body's tags and the views' tag= filter alike).
std::optional<std::string> normal_tag(std::string_view s);

// A retried write's "client_id" (API.md "Conventions"): absent or null is none, else a UUID
// (422 "client_id must be a UUID"). Taken: moved out of the parsed body (no copy).
Result<std::optional<std::string>> take_client_id(json::Value& body);

// A message's text (customer and agent posts, notes): a string (422 otherwise), not blank,
// at most max_chars characters (each 422 with its reason). Taken: moved out of `text`.
Result<std::string> take_message_text(json::Value& text, std::size_t max_chars);

// True for the 8-4-4-4-12 hex form of a UUID.
bool is_uuid(std::string_view s) noexcept;

}  // namespace chat::input
