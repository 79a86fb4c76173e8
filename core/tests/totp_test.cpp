// TOTP matches RFC 6238's SHA-1 vectors, accepts one step either side and no further, and each step once.
#include <gtest/gtest.h>

#include <cstddef>
#include <span>
#include <string>

#include "chat/base32.h"
#include "chat/totp.h"

namespace {

namespace totp = chat::totp;

// RFC 6238 Appendix B's SHA-1 seed: the ASCII bytes "12345678901234567890"
const std::string kSeed = "12345678901234567890";
std::span<const std::byte> seed() { return std::as_bytes(std::span(kSeed.data(), kSeed.size())); }

TEST(Totp, MatchesRfc6238Sha1VectorsAtEightDigits) {
    struct V {
        std::int64_t t;
        const char* code;
    };
    const V vectors[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
                         {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
    for (const V& v : vectors)
        EXPECT_EQ(totp::hotp(seed(), static_cast<std::uint64_t>(totp::step_at(v.t)), 8), v.code) << v.t;
}

TEST(Totp, SixDigitCodesAreTheVectorsLastSixDigits) {
    EXPECT_EQ(totp::code_at(seed(), totp::step_at(59)), "287082");
    EXPECT_EQ(totp::code_at(seed(), totp::step_at(1111111109)), "081804");
    EXPECT_EQ(totp::code_at(seed(), totp::step_at(2000000000)), "279037");
}

TEST(Totp, StepsAreThirtySecondsFromTheEpoch) {
    EXPECT_EQ(totp::step_at(0), 0);
    EXPECT_EQ(totp::step_at(29), 0);
    EXPECT_EQ(totp::step_at(30), 1);
    EXPECT_EQ(totp::step_at(59), 1);
    EXPECT_EQ(totp::step_at(-1), -1);
    EXPECT_EQ(totp::step_at(1111111109), 37037036);
}

TEST(Totp, AcceptsTheStepBeforeAndAfterNowAndNothingFurther) {
    const std::int64_t t = 1111111109;  // step 37037036, code 081804
    EXPECT_EQ(totp::match(seed(), "081804", t, std::nullopt), 37037036);
    EXPECT_EQ(totp::match(seed(), "081804", t + 30, std::nullopt), 37037036);  // the code is a step old
    EXPECT_EQ(totp::match(seed(), "081804", t - 30, std::nullopt), 37037036);  // the phone is a step ahead
    EXPECT_EQ(totp::match(seed(), "081804", t + 60, std::nullopt), std::nullopt);
    EXPECT_EQ(totp::match(seed(), "081804", t - 60, std::nullopt), std::nullopt);
    EXPECT_EQ(totp::match(seed(), "081805", t, std::nullopt), std::nullopt);
}

TEST(Totp, AcceptsEachStepOnlyOnce) {
    const std::int64_t t = 1111111109;
    EXPECT_EQ(totp::match(seed(), "081804", t, 37037036), std::nullopt);  // replay
    EXPECT_EQ(totp::match(seed(), "081804", t, 37037037), std::nullopt);  // a later step was used
    EXPECT_EQ(totp::match(seed(), "081804", t, 37037035), 37037036);
}

TEST(Totp, WellFormedCodesAreSixAsciiDigits) {
    EXPECT_TRUE(totp::well_formed("000000"));
    EXPECT_TRUE(totp::well_formed("123456"));
    for (const char* bad : {"", "12345", "1234567", "12345a", " 12345", "12 456", "１２３４５６"})
        EXPECT_FALSE(totp::well_formed(bad)) << bad;
    EXPECT_EQ(totp::match(seed(), "28708", 59, std::nullopt), std::nullopt);
}

TEST(Totp, OtpauthUrlNamesIssuerAccountAndParametersPercentEncoded) {
    const std::string b32 = chat::base32::encode(seed());
    EXPECT_EQ(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    EXPECT_EQ(totp::otpauth_url("nginx-chat", "john.doe", b32),
              "otpauth://totp/nginx-chat:john.doe?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
              "&issuer=nginx-chat&period=30&digits=6&algorithm=SHA1");
    EXPECT_EQ(totp::otpauth_url("My Shop", "ana@x&y", "AB"),
              "otpauth://totp/My%20Shop:ana%40x%26y?secret=AB&issuer=My%20Shop&period=30&digits=6&algorithm=SHA1");
    EXPECT_EQ(totp::percent_encode("a:b/é"), "a%3Ab%2F%C3%A9");
}

}  // namespace
