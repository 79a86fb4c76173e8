// API.md's HTTP rules outside the use cases (chat/http_rules.h): Set-Cookie, Secure, where
// credentials come from, the CSRF check, Retry-After and the error body.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "chat/http_rules.h"

namespace {

using namespace chat::http;
using chat::Errc;

TEST(HttpSetCookie, CarriesPathHttpOnlySameSiteAndMaxAge) {
    EXPECT_EQ(set_cookie("chat_session", "abc", 2592000, false),
              "chat_session=abc; Path=/chat; HttpOnly; SameSite=Lax; Max-Age=2592000");
    EXPECT_EQ(set_cookie("chat_agent", "t", 43200, true),
              "chat_agent=t; Path=/chat; HttpOnly; SameSite=Lax; Secure; Max-Age=43200");
}

TEST(HttpSetCookie, ExpiresAClearedCookieWithMaxAgeZero) {
    EXPECT_EQ(set_cookie("chat_agent", "", 0, false),
              "chat_agent=; Path=/chat; HttpOnly; SameSite=Lax; Max-Age=0");
}

TEST(HttpCookieSecure, OnAndOffAreWhatTheySay) {
    EXPECT_TRUE(cookie_secure(CookieSecure::on, false, false, ""));
    EXPECT_FALSE(cookie_secure(CookieSecure::off, true, true, "https"));
}

TEST(HttpCookieSecure, AutoIsSecureOverTls) {
    EXPECT_TRUE(cookie_secure(CookieSecure::automatic, true, false, ""));
    EXPECT_FALSE(cookie_secure(CookieSecure::automatic, false, false, ""));
}

TEST(HttpCookieSecure, AutoBelievesForwardedProtoOnlyFromATrustedProxy) {
    EXPECT_TRUE(cookie_secure(CookieSecure::automatic, false, true, "https"));
    EXPECT_TRUE(cookie_secure(CookieSecure::automatic, false, true, "HTTPS"));
    EXPECT_FALSE(cookie_secure(CookieSecure::automatic, false, true, "http"));
    EXPECT_FALSE(cookie_secure(CookieSecure::automatic, false, true, "https "));
    EXPECT_FALSE(cookie_secure(CookieSecure::automatic, false, false, "https"));
}

TEST(HttpCredentials, ABearerTokenComesFirst) {
    auto c = credentials("Bearer tok", "cookie", "url");
    EXPECT_EQ(c.token, "tok");
    EXPECT_FALSE(c.from_cookie);
    EXPECT_EQ(credentials("bEARER x", std::nullopt, std::nullopt).token, "x");
}

TEST(HttpCredentials, AnotherAuthorizationFallsBackToTheCookie) {
    // not the scheme, no token, or a character that is not one of the scheme's in any case
    // ("\0" | 0x20 is the space: the space is compared as it is)
    for (std::string_view auth : {std::string_view("Basic abc"), std::string_view("Bearer "), std::string_view("Bearer"),
                                  std::string_view("Bearerx y"), std::string_view("Bearer\ttok"),
                                  std::string_view("Bearer\0tok", 10), std::string_view("\"earer tok"),
                                  std::string_view("Bearer\x7ftok"), std::string_view("BearEr\x60tok"), std::string_view("bearer\x00x", 8)}) {
        auto c = credentials(auth, "cookie", "url");
        EXPECT_EQ(c.token, "cookie") << auth;
        EXPECT_TRUE(c.from_cookie) << auth;
    }
}

TEST(HttpCredentials, TheSchemeWordKeepsTheByteRule) {
    // every byte at every place of "Bearer ", against the rule written a byte at a time: a
    // letter of "bearer" in either case, then the space itself; the token's bytes are its own
    constexpr std::string_view kScheme = "bearer ";
    for (std::size_t at = 0; at < 8; at++) {
        for (int b = 0; b < 256; b++) {
            std::string auth = "Bearer x";
            auth[at] = static_cast<char>(b);
            const auto c = static_cast<unsigned char>(b);
            const bool want = at == 7 || (at == 6 ? c == ' ' : (c | 0x20) == static_cast<unsigned char>(kScheme[at]));
            auto got = credentials(auth, "cookie", std::nullopt);
            EXPECT_EQ(!got.from_cookie, want) << at << " " << b;
            if (want) {
                EXPECT_EQ(got.token, auth.substr(7)) << at << " " << b;
            }
        }
    }
}

TEST(HttpCredentials, TheUrlTokenOnlyWithoutHeaderOrCookie) {
    auto c = credentials(std::nullopt, std::nullopt, "url");
    EXPECT_EQ(c.token, "url");
    EXPECT_FALSE(c.from_cookie);
    EXPECT_TRUE(credentials(std::nullopt, std::nullopt, std::nullopt).token.empty());
    EXPECT_TRUE(credentials(std::nullopt, "", "url").from_cookie);  // an empty cookie still wins
}

TEST(HttpCsrf, TheHeaderOrAnOriginOfTheSameHostPasses) {
    EXPECT_TRUE(csrf_ok("1", "", std::nullopt));
    EXPECT_TRUE(csrf_ok("", "https://shop.example:8443", "shop.example:8443"));
    EXPECT_TRUE(csrf_ok("", "http://shop.example", "shop.example"));
}

TEST(HttpCsrf, EverythingElseIsRefused) {
    EXPECT_FALSE(csrf_ok("0", "", "shop.example"));
    EXPECT_FALSE(csrf_ok("", "", "shop.example"));
    EXPECT_FALSE(csrf_ok("", "https://evil.example", "shop.example"));
    EXPECT_FALSE(csrf_ok("", "shop.example", "shop.example"));
    EXPECT_FALSE(csrf_ok("", "https://shop.example", std::nullopt));
}

TEST(HttpRetryAfter, IsDecimalSecondsAndOneForUnavailable) {
    EXPECT_EQ(retry_after(0), "0");
    EXPECT_EQ(retry_after(18446744073709551615ULL), "18446744073709551615");
    EXPECT_EQ(error_retry_after_s(Errc::unavailable), 1u);
    EXPECT_FALSE(error_retry_after_s(Errc::rate_limited));
    EXPECT_FALSE(error_retry_after_s(Errc::internal));
}

TEST(HttpErrorBody, HasApiShapeWithEscapedMessage) {
    EXPECT_EQ(error_body(Errc::not_found, "no \"such\" thing"),
              R"({"error":{"code":"not_found","message":"no \"such\" thing"}})");
}

TEST(HttpStatusError, MapsNginxStatusesToApiErrors) {
    EXPECT_EQ(status_error(413).code, Errc::too_large);
    EXPECT_EQ(status_error(413).message, "request body is too large");
    EXPECT_EQ(status_error(404).code, Errc::not_found);
    EXPECT_EQ(status_error(405).message, "method not allowed");
    EXPECT_EQ(status_error(503).code, Errc::unavailable);
    EXPECT_EQ(status_error(400).message, "bad request");
    EXPECT_EQ(status_error(414).code, Errc::bad_request);  // any other 4xx
    EXPECT_EQ(status_error(502).code, Errc::internal);     // any other 5xx
    EXPECT_EQ(status_error(500).message, "internal error");
}

}  // namespace
