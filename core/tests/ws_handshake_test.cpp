// A WebSocket upgrade is refused with API.md's status and message for each wrong header, in a fixed order, and answered with RFC 6455's accept value otherwise; a customer's needs its session token and a valid after=.
#include <gtest/gtest.h>

#include <array>
#include <string_view>

#include "chat/ws_handshake.h"

namespace {

using namespace chat::ws;
using chat::Errc;

UpgradeRequest good() {
    UpgradeRequest r;
    r.get = true;
    r.http11 = true;
    r.upgrade = "websocket";
    r.version = "13";
    r.key = "dGhlIHNhbXBsZSBub25jZQ==";
    r.host = "shop.example:8080";
    return r;
}

TEST(WsHandshake, AValidUpgradeGetsRfc6455sAcceptValue) {
    auto a = upgrade(good());
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.value(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshake, UpgradeHeaderIsCaseInsensitive) {
    auto r = good();
    r.upgrade = "WebSocket";
    EXPECT_TRUE(upgrade(r).ok());
}

TEST(WsHandshake, AMethodOtherThanGetIs405BeforeAnythingElse) {
    UpgradeRequest r;  // nothing else right either
    auto a = upgrade(r);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::method_not_allowed);
    EXPECT_EQ(a.error().message, "method not allowed");
}

TEST(WsHandshake, EachMissingOrWrongUpgradeHeaderIs400) {
    auto http10 = good();
    http10.http11 = false;
    auto no_upgrade = good();
    no_upgrade.upgrade = "";
    auto other_upgrade = good();
    other_upgrade.upgrade = "websockets";
    auto version = good();
    version.version = "8";
    auto no_key = good();
    no_key.key = "";
    for (const auto& r : {http10, no_upgrade, other_upgrade, version, no_key}) {
        auto a = upgrade(r);
        ASSERT_FALSE(a.ok());
        EXPECT_EQ(a.error().code, Errc::bad_request);
        EXPECT_EQ(a.error().message, "expected a WebSocket upgrade (HTTP/1.1, version 13)");
    }
}

TEST(WsHandshake, AKeyThatIsNot16BytesOfBase64Is400) {
    auto r = good();
    r.key = "c2hvcnQ=";
    auto a = upgrade(r);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::bad_request);
    EXPECT_EQ(a.error().message, "Sec-WebSocket-Key must be 16 bytes of base64");
}

TEST(WsHandshake, NoOriginIsNotABrowserAndPasses) {
    auto r = good();
    r.origin = "";
    EXPECT_TRUE(upgrade(r).ok());
}

TEST(WsHandshake, TheRequestsOwnHostIsAnAllowedOrigin) {
    auto r = good();
    r.origin = "https://shop.example:8080";
    EXPECT_TRUE(upgrade(r).ok());
}

TEST(WsHandshake, AForeignOriginIs403UnlessListed) {
    auto r = good();
    r.origin = "https://evil.example";
    auto a = upgrade(r);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::forbidden);
    EXPECT_EQ(a.error().message, "this Origin may not open a socket (chat_allowed_origins)");

    const std::array<std::string_view, 1> listed{"https://evil.example"};
    r.allowed_origins = listed;
    EXPECT_TRUE(upgrade(r).ok());
}

TEST(WsHandshake, TheOriginIsCheckedBeforeTheKey) {
    auto r = good();
    r.origin = "null";
    r.key = "bad";
    auto a = upgrade(r);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::forbidden);
}

TEST(WsHandshake, ACustomerWithoutAValidSessionTokenIs401) {
    auto a = customer_start(chat::make_error(Errc::unauthorized, "expired"), std::nullopt);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::unauthorized);
    EXPECT_EQ(a.error().message, "invalid or missing session token");
}

TEST(WsHandshake, ACustomerReplaysFromAfterOrFromTheStart) {
    auto none = customer_start(std::string("s1"), std::nullopt);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value().sid, "s1");
    EXPECT_EQ(none.value().after, 0);

    auto some = customer_start(std::string("s1"), std::string_view("2147483647"));
    ASSERT_TRUE(some.ok());
    EXPECT_EQ(some.value().after, 2147483647);
}

TEST(WsHandshake, AnAfterThatIsNotASeqIs422) {
    for (std::string_view bad : {"", "-1", "x", "2147483648"}) {
        auto a = customer_start(std::string("s1"), bad);
        ASSERT_FALSE(a.ok()) << bad;
        EXPECT_EQ(a.error().code, Errc::validation);
        EXPECT_EQ(a.error().message, "after must be an integer between 0 and 2147483647");
    }
}

}  // namespace
