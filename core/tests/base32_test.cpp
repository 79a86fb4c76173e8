// Base32 matches RFC 4648's vectors and its decoder accepts only canonical, bounded input.
#include <gtest/gtest.h>

#include <string>

#include "chat/base32.h"

namespace {

namespace b32 = chat::base32;

std::string enc(std::string_view s) { return b32::encode(std::as_bytes(std::span(s.data(), s.size()))); }

TEST(Base32, EncodesRfc4648VectorsWithoutPadding) {
    EXPECT_EQ(enc(""), "");
    EXPECT_EQ(enc("f"), "MY");
    EXPECT_EQ(enc("fo"), "MZXQ");
    EXPECT_EQ(enc("foo"), "MZXW6");
    EXPECT_EQ(enc("foob"), "MZXW6YQ");
    EXPECT_EQ(enc("fooba"), "MZXW6YTB");
    EXPECT_EQ(enc("foobar"), "MZXW6YTBOI");
}

TEST(Base32, DecodesWhatItEncodes) {
    std::string all;
    for (int i = 0; i < 256; i++) all.push_back(static_cast<char>(i));
    for (std::size_t n = 0; n <= all.size(); n += 3) {
        std::string_view s(all.data(), n);
        auto d = b32::decode(enc(s));
        ASSERT_TRUE(d.ok()) << n;
        EXPECT_EQ(d.value(), s);
    }
}

TEST(Base32, RejectsNonCanonicalForeignOrOverlongInput) {
    for (const char* bad : {"MY======", "my", "M", "MZX", "MZXW6Y", "MZ", "M1", "MZXW6YQ ", "MZ\nXQ", "MZXR"})
        EXPECT_FALSE(b32::decode(bad).ok()) << bad;
    EXPECT_EQ(b32::decode("MZ").error().code, chat::Errc::bad_request);  // trailing bits set
    EXPECT_TRUE(b32::decode("").ok());
    EXPECT_FALSE(b32::decode(std::string(b32::kMaxText + 8, 'A')).ok());
    EXPECT_TRUE(b32::decode(std::string(b32::kMaxText, 'A')).ok());
}

}  // namespace
