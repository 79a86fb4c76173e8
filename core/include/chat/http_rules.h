// The HTTP rules of API.md that are no use case: the cookies' Set-Cookie value and when it is
// Secure, where a request's credentials come from, the CSRF check of cookie-authenticated
// writes, Retry-After, and the error body (also for the errors nginx answers itself).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::http {

// "name=value; Path=/chat; HttpOnly; SameSite=Lax[; Secure]; Max-Age=N" (0 expires it).
std::string set_cookie(std::string_view name, std::string_view value, std::int64_t max_age_s,
                       bool secure);

// chat_cookie_secure: on, off, or auto. auto is Secure when the connection is TLS, or when a
// TLS-terminating proxy says so with "X-Forwarded-Proto: https" (any case) and the request
// came from that proxy (trusted_proxy: realip took the address from a set_real_ip_from
// peer). Anyone else's X-Forwarded-Proto is ignored.
enum class CookieSecure { off = 0, on = 1, automatic = 2 };
bool cookie_secure(CookieSecure mode, bool tls, bool trusted_proxy,
                   std::string_view forwarded_proto) noexcept;

// The token of "Authorization: Bearer <token>" (the scheme in any case, a token not empty).
std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept;

// The credentials of a request, in order: a Bearer Authorization, the cookie, then the URL's
// token= (which the caller passes only for the WebSocket upgrades: on any other endpoint a
// cross-site form could put one there, so it must never authenticate a REST call).
struct Credentials {
    std::string_view token;
    bool from_cookie = false;
};
Credentials credentials(std::optional<std::string_view> authorization,
                        std::optional<std::string_view> cookie,
                        std::optional<std::string_view> url_token) noexcept;

// A cookie-authenticated write must prove it comes from our pages: "X-Chat-Csrf: 1" (which a
// cross-site form cannot set) or an Origin whose host[:port] is the request's Host (nullopt:
// no Host header).
bool csrf_ok(std::string_view csrf, std::string_view origin,
             std::optional<std::string_view> host) noexcept;

// The Retry-After value for `seconds`.
std::string retry_after(std::uint64_t seconds);

// Retry-After of an error answer: 1 second for unavailable, none for the others.
std::optional<std::uint64_t> error_retry_after_s(Errc code) noexcept;

// API.md's error shape: {"error":{"code":"<errc_name>","message":"..."}}.
std::string error_body(Errc code, std::string_view message);

// The API error for a status nginx answered itself in an API location (413 from
// client_max_body_size, 400 on a broken request, ...): another 4xx is bad_request, another
// 5xx internal.
struct StatusError {
    Errc code;
    std::string_view message;
};
StatusError status_error(int status) noexcept;

}  // namespace chat::http
