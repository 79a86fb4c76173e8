// Browser origins: normalization and the WebSocket upgrade rule.
#include <gtest/gtest.h>

#include <vector>

#include "chat/origin.h"
#include "chat/token_bucket.h"

namespace {

using chat::origin::allowed;
using chat::origin::normalize;

TEST(Origin, NormalizesSchemeHostAndDefaultPort) {
    EXPECT_EQ(normalize("HTTPS://Shop.Example.COM"), "https://shop.example.com");
    EXPECT_EQ(normalize("https://shop.example.com:443"), "https://shop.example.com");
    EXPECT_EQ(normalize("http://shop.example.com:80"), "http://shop.example.com");
    EXPECT_EQ(normalize("http://shop.example.com:8080"), "http://shop.example.com:8080");
    EXPECT_EQ(normalize("http://[::1]:8080"), "http://[::1]:8080");
    for (const char* bad : {"null", "", "ftp://x", "http://", "http://a/b", "http://u@a", "http://a:", "http://a:99999",
                            "http://a:b", "https://exa mple.com"})
        EXPECT_EQ(normalize(bad), std::nullopt) << bad;
}

TEST(Origin, TheRequestsOwnHostOrAListedOriginMayConnect) {
    std::vector<std::string_view> list{"https://shop.example.com", "http://other.example:8443"};
    EXPECT_TRUE(allowed("http://127.0.0.1:8080", "127.0.0.1:8080", {}));
    EXPECT_TRUE(allowed("https://Chat.Example.com", "chat.example.com", {}));
    EXPECT_TRUE(allowed("https://chat.example.com", "chat.example.com:443", {}));
    EXPECT_FALSE(allowed("http://evil.example", "chat.example.com", list));
    EXPECT_FALSE(allowed("http://127.0.0.1:9999", "127.0.0.1:8080", list));
    EXPECT_TRUE(allowed("https://SHOP.example.com", "chat.example.com", list));
    EXPECT_TRUE(allowed("http://other.example:8443", "chat.example.com", list));
    EXPECT_FALSE(allowed("http://shop.example.com", "chat.example.com", list));  // scheme differs
    EXPECT_FALSE(allowed("null", "chat.example.com", list));
}

TEST(TokenBucket, SpendsTheBurstThenRefillsAtTheRate) {
    chat::TokenBucket b(3, 3);
    int got = 0;
    for (int i = 0; i < 20; i++) got += b.take(1000);
    EXPECT_EQ(got, 3);
    EXPECT_FALSE(b.take(1100));
    EXPECT_TRUE(b.take(1334));  // 1/3 s later: one token
    EXPECT_FALSE(b.take(1334));
    got = 0;
    for (int i = 0; i < 20; i++) got += b.take(100000);  // long idle: never above burst
    EXPECT_EQ(got, 3);
    EXPECT_FALSE(b.take(50));  // a clock going backwards refills nothing
}

}  // namespace
