// Tokens verify only when untouched, signed with our key, of the expected type and unexpired.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chat/base64.h"
#include "chat/token.h"

namespace {

using namespace chat::token;
using chat::Errc;

std::vector<std::byte> key_of(std::string_view s) {
    std::vector<std::byte> k;
    for (char c : s) k.push_back(static_cast<std::byte>(c));
    return k;
}

const auto kKey = key_of("0123456789abcdef0123456789abcdef");
const auto kOtherKey = key_of("0123456789abcdef0123456789abcdeF");
constexpr std::int64_t kNow = 1'790'000'000'000;

void expect_unauthorized(const chat::Result<std::string>& r) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unauthorized);
}

TEST(Token, SignsInTheDocumentedFormat) {
    // HMAC-SHA256("key", "dGhlIHBheWxvYWQ") cross-checked with
    // `printf %s dGhlIHBheWxvYWQ | openssl dgst -sha256 -hmac key -binary | basenc --base64url`.
    const std::string t = sign(key_of("key"), "the payload");
    EXPECT_EQ(t.substr(0, t.find('.')), "dGhlIHBheWxvYWQ");
    EXPECT_EQ(t.size(), std::string("dGhlIHBheWxvYWQ.").size() + 43);
    EXPECT_EQ(t, "dGhlIHBheWxvYWQ.z5Myxtl9-JRhiMQLg98fHQs79T5rgCZNMFTG7RI3DjI");
}

// The MAC keeps the key's padded blocks between calls: it must give OpenSSL's HMAC() for
// every key length (empty, short, exactly one block, longer than a block: hashed first)
// and follow a change of key at once.
TEST(Token, MacMatchesOpenSslForEveryKeyLength) {
    const std::string body = "dGhlIHBheWxvYWQ";
    for (std::size_t n : {0, 1, 3, 32, 63, 64, 65, 100, 200}) {
        std::vector<std::byte> k;
        for (std::size_t i = 0; i < n; i++) k.push_back(static_cast<std::byte>(i * 7 + 1));
        unsigned char ref[32];
        unsigned int len = 0;
        const unsigned char empty = 0;
        ASSERT_NE(HMAC(EVP_sha256(), n ? reinterpret_cast<const unsigned char*>(k.data()) : &empty,
                       static_cast<int>(n), reinterpret_cast<const unsigned char*>(body.data()), body.size(),
                       ref, &len),
                  nullptr);
        const std::string want =
            body + "." + chat::base64::encode_url(std::span<const std::byte>(reinterpret_cast<std::byte*>(ref), 32));
        EXPECT_EQ(sign(k, "the payload"), want) << "key of " << n << " bytes";
        EXPECT_EQ(sign(kKey, "the payload"), sign(kKey, "the payload"));  // and back: another key between
        EXPECT_EQ(sign(k, "the payload"), want) << "key of " << n << " bytes, again after another key";
    }
    expect_unauthorized(verify(kOtherKey, sign(kKey, "x")));
}

TEST(Token, RoundTripsAnyPayload) {
    for (std::string p : {std::string(), std::string("x"), std::string("s|abc|1"), std::string("\0\xff|.", 4)}) {
        auto r = verify(kKey, sign(kKey, p));
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r.value(), p);
    }
}

TEST(Token, TamperedPayloadFails) {
    std::string t = sign(kKey, "s|sid-1|9999999999999");
    std::string other = sign(kKey, "s|sid-2|9999999999999");
    // Swap in another payload keeping the signature.
    expect_unauthorized(verify(kKey, other.substr(0, other.find('.')) + t.substr(t.find('.'))));
    t[2] = t[2] == 'A' ? 'B' : 'A';
    expect_unauthorized(verify(kKey, t));
}

TEST(Token, TamperedSignatureFails) {
    std::string t = sign(kKey, "payload");
    std::string a = t;
    a[a.size() - 5] = a[a.size() - 5] == 'A' ? 'B' : 'A';
    expect_unauthorized(verify(kKey, a));
    // The last symbol carries 2 unused bits: changing them must not verify either.
    std::string b = t;
    char& last = b.back();
    last = static_cast<char>(last ^ 1);
    expect_unauthorized(verify(kKey, b));
}

TEST(Token, WrongKeyFails) {
    expect_unauthorized(verify(kOtherKey, sign(kKey, "payload")));
    expect_unauthorized(verify({}, sign(kKey, "payload")));
    EXPECT_TRUE(verify({}, sign({}, "payload")).ok());  // an empty key still works, consistently
}

TEST(Token, MalformedAndTruncatedFail) {
    const std::string t = sign(kKey, "payload");
    expect_unauthorized(verify(kKey, ""));
    expect_unauthorized(verify(kKey, "."));
    expect_unauthorized(verify(kKey, t.substr(0, t.size() - 1)));
    expect_unauthorized(verify(kKey, t.substr(0, t.find('.'))));
    expect_unauthorized(verify(kKey, t.substr(0, t.find('.') + 1)));
    expect_unauthorized(verify(kKey, t.substr(t.find('.'))));
    expect_unauthorized(verify(kKey, t + "."));
    expect_unauthorized(verify(kKey, t + "A"));
    expect_unauthorized(verify(kKey, "a.b.c"));
    expect_unauthorized(verify(kKey, "!!!!." + t.substr(t.find('.') + 1)));
    expect_unauthorized(verify(kKey, t.substr(0, t.find('.') + 1) + "%%%%"));
    expect_unauthorized(verify(kKey, t + "=="));
}

TEST(Token, OversizeIsRejectedBeforeAnyWork) {
    const std::string big = sign(kKey, std::string(3500, 'x'));
    ASSERT_GT(big.size(), kMaxTokenBytes);
    expect_unauthorized(verify(kKey, big));
    const std::string fits = sign(kKey, std::string(3000, 'x'));
    ASSERT_LE(fits.size(), kMaxTokenBytes);
    EXPECT_TRUE(verify(kKey, fits).ok());
}

TEST(SessionToken, RoundTripsAndExpires) {
    SessionClaims c{"7d9f3c1e-6a1b-4c2d-9e8f-001122334455", kNow + 1000};
    const std::string t = encode_session(kKey, c);
    auto r = decode_session(kKey, t, kNow);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value(), c);
    auto late = decode_session(kKey, t, kNow + 1000);
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.error().code, Errc::unauthorized);
    EXPECT_FALSE(decode_session(kOtherKey, t, kNow).ok());
}

TEST(SessionToken, IdsWithSeparatorsRoundTrip) {
    SessionClaims c{"a|b|123", kNow + 1};
    auto r = decode_session(kKey, encode_session(kKey, c), kNow);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), c);
}

TEST(AgentToken, RoundTripsAndExpires) {
    AgentClaims c{"agent-42", 7, kNow + 60'000};
    const std::string t = encode_agent(kKey, c);
    auto r = decode_agent(kKey, t, kNow);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value(), c);
    EXPECT_EQ(decode_agent(kKey, t, kNow + 60'000).error().code, Errc::unauthorized);
}

TEST(TypedTokens, OneTypeNeverVerifiesAsTheOther) {
    const std::string s = encode_session(kKey, {"agent-42", kNow + 1000});
    const std::string a = encode_agent(kKey, {"agent-42", 1, kNow + 1000});
    EXPECT_EQ(decode_agent(kKey, s, kNow).error().code, Errc::unauthorized);
    EXPECT_EQ(decode_session(kKey, a, kNow).error().code, Errc::unauthorized);
    // A raw signed payload that is not a claims payload at all.
    EXPECT_FALSE(decode_session(kKey, sign(kKey, "hello"), kNow).ok());
    EXPECT_FALSE(decode_agent(kKey, sign(kKey, "a|x|1"), kNow).ok());
    EXPECT_FALSE(decode_session(kKey, sign(kKey, "s||99999999999999"), kNow).ok());   // empty sid
    EXPECT_FALSE(decode_session(kKey, sign(kKey, "s|x|+99999999999"), kNow).ok());
    EXPECT_FALSE(decode_session(kKey, sign(kKey, "s|x|99999999999999x"), kNow).ok());
    EXPECT_FALSE(decode_agent(kKey, sign(kKey, "a|x|v|99999999999999"), kNow).ok());
}

// A token carries its site (chat_site); the default site's tokens are byte for byte the
// ones signed before sites existed, so a single-site install keeps every session.
TEST(SiteClaims, DefaultSiteKeepsTheFormatOfBeforeSites) {
    SessionClaims c{"sid-1", kNow + 1000};
    EXPECT_EQ(c.site, "default");
    EXPECT_EQ(encode_session(kKey, c), sign(kKey, "s|sid-1|" + std::to_string(kNow + 1000)));
    AgentClaims a{"agent-42", 3, kNow + 1000};
    EXPECT_EQ(encode_agent(kKey, a), sign(kKey, "a|agent-42|3|" + std::to_string(kNow + 1000)));
}

TEST(SiteClaims, AnotherSiteRoundTripsInItsClaims) {
    SessionClaims c{"a|b|1", kNow + 1000, "shop-2"};
    const std::string t = encode_session(kKey, c);
    EXPECT_EQ(t, sign(kKey, "s@shop-2|a|b|1|" + std::to_string(kNow + 1000)));
    auto r = decode_session(kKey, t, kNow);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value(), c);
    EXPECT_EQ(r.value().site, "shop-2");

    AgentClaims a{"agent-42", 7, kNow + 1000, "eu.shop"};
    auto ra = decode_agent(kKey, encode_agent(kKey, a), kNow);
    ASSERT_TRUE(ra.ok()) << ra.error().message;
    EXPECT_EQ(ra.value(), a);
    // Two sites, two different tokens for the same claims otherwise.
    EXPECT_NE(encode_agent(kKey, a), encode_agent(kKey, {"agent-42", 7, kNow + 1000}));
}

TEST(SiteClaims, RefusesSitesOutsideThePatternAndTheDefaultSpeltOut) {
    const std::string exp = "|" + std::to_string(kNow + 1000);
    for (const std::string& p : std::vector<std::string>{"s@|x", "s@Shop|x", "s@-a|x", "s@default|x", "s@a@b|x",
                                                         "s@" + std::string(64, 'a') + "|x", "sx|x", "s@a"})
        EXPECT_FALSE(decode_session(kKey, sign(kKey, p + exp), kNow).ok()) << p;
    EXPECT_TRUE(decode_session(kKey, sign(kKey, "s@" + std::string(63, 'a') + "|x" + exp), kNow).ok());
    for (const std::string& p : std::vector<std::string>{"a@|x|1", "a@default|x|1", "a@A|x|1", "s@b|x|1"})
        EXPECT_FALSE(decode_agent(kKey, sign(kKey, p + exp), kNow).ok()) << p;
    EXPECT_TRUE(decode_agent(kKey, sign(kKey, "a@b|x|1" + exp), kNow).ok());
}

}  // namespace

