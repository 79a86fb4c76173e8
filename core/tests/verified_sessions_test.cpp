// The memo of verified session tokens answers only for the very token it was given, only
// until that token expires, and stays within its slots.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chat/token.h"
#include "chat/verified_sessions.h"

namespace {

using namespace chat::token;

std::vector<std::byte> key_of(std::string_view s) {
    std::vector<std::byte> k;
    for (char c : s) k.push_back(static_cast<std::byte>(c));
    return k;
}

const auto kKey = key_of("0123456789abcdef0123456789abcdef");
constexpr std::int64_t kNow = 1'790'000'000'000;

std::string sid_of(int i) { return "0123456789abcdef0123456789ab" + std::to_string(1000 + i); }

// A token that decode_session accepts, remembered as authenticate() does.
std::string remember_verified(VerifiedSessions& m, const std::string& sid, std::int64_t exp_ms) {
    const std::string t = encode_session(kKey, {sid, exp_ms});
    const auto c = decode_session(kKey, t, kNow);
    EXPECT_TRUE(c.ok());
    if (c.ok()) m.remember(t, c.value());
    return t;
}

TEST(VerifiedSessions, FindsARememberedTokenWithItsClaims) {
    VerifiedSessions m;
    const std::string t = remember_verified(m, sid_of(1), kNow + 1000);
    const SessionClaims* c = m.find(t, kNow);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->sid, sid_of(1));
    EXPECT_EQ(c->exp_ms, kNow + 1000);
}

TEST(VerifiedSessions, KnowsNothingBeforeTheFirstToken) {
    const VerifiedSessions m;
    EXPECT_EQ(m.find(encode_session(kKey, {sid_of(1), kNow + 1000}), kNow), nullptr);
    EXPECT_EQ(m.find("", kNow), nullptr);
}

TEST(VerifiedSessions, AnswersOnlyForTheWholeTokenByteForByte) {
    VerifiedSessions m;
    const std::string t = remember_verified(m, sid_of(1), kNow + 1000);
    for (std::size_t i = 0; i < t.size(); i++) {
        std::string forged = t;
        forged[i] = static_cast<char>(forged[i] ^ 1);
        EXPECT_EQ(m.find(forged, kNow), nullptr) << "byte " << i;
    }
    EXPECT_EQ(m.find(t.substr(0, t.size() - 1), kNow), nullptr);
    EXPECT_EQ(m.find(t + "A", kNow), nullptr);
}

TEST(VerifiedSessions, ComparesEveryByteOfTokensOfAnyLength) {
    // the comparison goes by words, the last one overlapping the one before: every length
    // modulo the word sizes, every byte
    for (int extra = 0; extra < 24; extra++) {
        VerifiedSessions m;
        const std::string t = remember_verified(m, sid_of(1) + std::string(static_cast<std::size_t>(extra), 'x'),
                                                kNow + 1000);
        ASSERT_NE(m.find(t, kNow), nullptr) << t.size();
        for (std::size_t i = 0; i < t.size(); i++) {
            std::string forged = t;
            forged[i] = static_cast<char>(forged[i] ^ 0x40);
            EXPECT_EQ(m.find(forged, kNow), nullptr) << "length " << t.size() << ", byte " << i;
        }
    }
}

TEST(VerifiedSessions, ForgetsATokenOnceItExpiresAsDecodeSessionDoes) {
    VerifiedSessions m;
    const std::string t = remember_verified(m, sid_of(1), kNow + 1000);
    EXPECT_NE(m.find(t, kNow + 999), nullptr);
    EXPECT_FALSE(decode_session(kKey, t, kNow + 1000).ok());
    EXPECT_EQ(m.find(t, kNow + 1000), nullptr);
    EXPECT_EQ(m.find(t, kNow + 5000), nullptr);
}

TEST(VerifiedSessions, NeverRemembersATokenLongerThanItsBound) {
    VerifiedSessions m;
    const std::string sid(VerifiedSessions::kMaxTokenBytes, 'x');
    const std::string t = remember_verified(m, sid, kNow + 1000);
    ASSERT_GT(t.size(), VerifiedSessions::kMaxTokenBytes);
    EXPECT_EQ(m.find(t, kNow), nullptr);
}

TEST(VerifiedSessions, KeepsAtMostItsSlotsTheNewestTokenTakingItsSlot) {
    VerifiedSessions m;
    std::vector<std::string> tokens;
    const int n = static_cast<int>(VerifiedSessions::kSlots) * 4;
    for (int i = 0; i < n; i++) tokens.push_back(remember_verified(m, sid_of(i), kNow + 1000));
    std::size_t found = 0;
    for (int i = 0; i < n; i++) {
        if (const SessionClaims* c = m.find(tokens[i], kNow)) {
            found++;
            EXPECT_EQ(c->sid, sid_of(i));  // a slot never answers with another token's claims
        }
    }
    EXPECT_LE(found, VerifiedSessions::kSlots);
    EXPECT_NE(m.find(tokens.back(), kNow), nullptr);
}

}  // namespace
