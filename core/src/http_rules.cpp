// The HTTP rules of API.md that are no use case (http_rules.h): cookies, credentials, CSRF,
// Retry-After and the error body.
#include "chat/http_rules.h"

#include <array>

#include "chat/json.h"

namespace chat::http {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

constexpr std::array<StatusError, 8> kStatusErrors{{
    {Errc::bad_request, "bad request"},  // and any other 4xx
    {Errc::unauthorized, "unauthorized"},
    {Errc::forbidden, "forbidden"},
    {Errc::not_found, "not found"},
    {Errc::method_not_allowed, "method not allowed"},
    {Errc::too_large, "request body is too large"},
    {Errc::unavailable, "service unavailable"},
    {Errc::internal, "internal error"},  // and any other 5xx
}};

}  // namespace

std::string set_cookie(std::string_view name, std::string_view value, std::int64_t max_age_s,
                       bool secure) {
    std::string out;
    out.reserve(name.size() + value.size() + 80);
    out.append(name).append("=").append(value);
    out.append("; Path=/chat; HttpOnly; SameSite=Lax");
    if (secure) out.append("; Secure");
    out.append("; Max-Age=").append(std::to_string(max_age_s));
    return out;
}

bool cookie_secure(CookieSecure mode, bool tls, bool trusted_proxy,
                   std::string_view forwarded_proto) noexcept {
    switch (mode) {
        case CookieSecure::on: return true;
        case CookieSecure::off: return false;
        case CookieSecure::automatic: break;
    }
    if (tls) return true;
    return trusted_proxy && iequals(forwarded_proto, "https");
}

std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept {
    // "Bearer " in any case, on every request: a letter's case is its 0x20 bit (exact for
    // letters: x | 0x20 is 'b' only for 'b' and 'B'), the space compared as it is
    constexpr std::string_view kScheme = "bearer";
    if (authorization.size() <= kScheme.size() + 1 || authorization[kScheme.size()] != ' ') return std::nullopt;
    unsigned diff = 0;
    for (std::size_t i = 0; i < kScheme.size(); i++) {
        diff |= static_cast<unsigned char>(authorization[i] | 0x20) ^ static_cast<unsigned char>(kScheme[i]);
    }
    if (diff != 0) return std::nullopt;
    return authorization.substr(kScheme.size() + 1);
}

Credentials credentials(std::optional<std::string_view> authorization,
                        std::optional<std::string_view> cookie,
                        std::optional<std::string_view> url_token) noexcept {
    if (authorization) {
        if (auto t = bearer_token(*authorization)) return {*t, false};
    }
    if (cookie) return {*cookie, true};
    if (url_token) return {*url_token, false};
    return {};
}

bool csrf_ok(std::string_view csrf, std::string_view origin,
             std::optional<std::string_view> host) noexcept {
    if (csrf == "1") return true;
    if (origin.empty() || !host) return false;
    auto pos = origin.find("://");
    if (pos == std::string_view::npos) return false;
    return origin.substr(pos + 3) == *host;
}

std::string retry_after(std::uint64_t seconds) { return std::to_string(seconds); }

std::optional<std::uint64_t> error_retry_after_s(Errc code) noexcept {
    if (code == Errc::unavailable) return 1;
    return std::nullopt;
}

std::string error_body(Errc code, std::string_view message) {
    std::string body;
    json::Writer w(body);
    w.begin_object();
    w.key("error");
    w.begin_object();
    w.key("code");
    w.string(errc_name(code));
    w.key("message");
    w.string(message);
    w.end_object();
    w.end_object();
    return body;
}

StatusError status_error(int status) noexcept {
    for (const auto& e : kStatusErrors) {
        if (errc_http_status(e.code) == status) return e;
    }
    return status >= 500 ? kStatusErrors.back() : kStatusErrors.front();
}

}  // namespace chat::http
