// Browser origins (RFC 6454) for the WebSocket upgrade check of API.md: an Origin must be
// the request's own host or one the operator listed (chat_allowed_origins).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace chat::origin {

// "scheme://host[:port]" normalized for comparison: scheme and host lowercase, the
// scheme's default port (http 80, https 443) dropped. nullopt for anything that is not
// an http(s) origin of that shape (a path, user info, "null", an empty host, a bad port).
std::optional<std::string> normalize(std::string_view origin) noexcept;

// Whether a browser's Origin header may open a socket: its host[:port] is the request's
// Host (under http or https; compared like normalize does), or it equals one of
// `allowed` (already normalized). An Origin that does not parse is refused.
bool allowed(std::string_view origin, std::string_view host, std::span<const std::string_view> allowed) noexcept;

}  // namespace chat::origin
