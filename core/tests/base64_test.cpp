// Base64 matches RFC 4648's vectors in both alphabets and its decoders accept only canonical input.
#include <gtest/gtest.h>

#include <unordered_map>
#include <vector>

#include "chat/base64.h"

namespace {

namespace b64 = chat::base64;

TEST(Base64, EncodesRfc4648Vectors) {
    EXPECT_EQ(b64::encode(std::string_view("")), "");
    EXPECT_EQ(b64::encode(std::string_view("f")), "Zg==");
    EXPECT_EQ(b64::encode(std::string_view("fo")), "Zm8=");
    EXPECT_EQ(b64::encode(std::string_view("foo")), "Zm9v");
    EXPECT_EQ(b64::encode(std::string_view("foob")), "Zm9vYg==");
    EXPECT_EQ(b64::encode(std::string_view("fooba")), "Zm9vYmE=");
    EXPECT_EQ(b64::encode(std::string_view("foobar")), "Zm9vYmFy");
    EXPECT_EQ(b64::encode_url(std::string_view("fo")), "Zm8");
    EXPECT_EQ(b64::encode(std::string_view("\xfb\xff\xbf")), "+/+/");
    EXPECT_EQ(b64::encode_url(std::string_view("\xfb\xff\xbf")), "-_-_");
}

TEST(Base64, DecodesWhatItEncodes) {
    std::string all;
    for (int i = 0; i < 256; i++) all.push_back(static_cast<char>(i));
    for (std::size_t n = 0; n <= all.size(); n += 7) {
        std::string_view s(all.data(), n);
        EXPECT_EQ(b64::decode(b64::encode(s)).value(), s);
        EXPECT_EQ(b64::decode_url(b64::encode_url(s)).value(), s);
    }
}

TEST(Base64, RejectsNonCanonicalOrForeignInput) {
    const char* bad_std[] = {"Zg",   "Zg=",  "Zm8",  "Z===", "====", "Zg==Zg==", "Zm9v\n",
                             "Zm 9", "Zh==", "Zm9=", "-_-_", "Zg=A", "A",        "*AAA"};
    for (const char* s : bad_std) EXPECT_FALSE(b64::decode(s).ok()) << s;
    const char* bad_url[] = {"Zg==", "Zm8=", "+/+/", "Zh", "Zm9", "A", "AAAAA", "Zm9v.", "Zm9v "};
    for (const char* s : bad_url) EXPECT_FALSE(b64::decode_url(s).ok()) << s;
    EXPECT_EQ(b64::decode("Zh==").error().code, chat::Errc::bad_request);
    EXPECT_TRUE(b64::decode("").ok());
    EXPECT_TRUE(b64::decode_url("").ok());
}

// Exhaustive over short texts (the tails a decoder handles apart from its groups of four):
// decode_url accepts exactly the encodings of byte strings, and gives back those bytes.
TEST(Base64, AcceptsExactlyTheEncodingsOfUpToTwoBytes) {
    std::unordered_map<std::string, std::string> encodings;  // text -> bytes
    for (int n = 0; n <= 2; n++) {
        for (int v = 0; v < (1 << (8 * n)); v++) {
            std::string bytes;
            for (int k = n - 1; k >= 0; k--) bytes.push_back(static_cast<char>(v >> (8 * k)));
            encodings.emplace(b64::encode_url(std::string_view(bytes)), bytes);
        }
    }
    const std::string symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+.";
    std::size_t accepted = 0;
    for (std::size_t len = 0; len <= 3; len++) {
        std::vector<std::size_t> at(len, 0);
        for (;;) {
            std::string text;
            for (std::size_t k : at) text.push_back(symbols[k]);
            auto d = b64::decode_url(text);
            auto known = encodings.find(text);
            ASSERT_EQ(d.ok(), known != encodings.end()) << text;
            if (d.ok()) {
                ASSERT_EQ(d.value(), known->second) << text;
                accepted++;
            }
            std::size_t k = 0;
            while (k < len && ++at[k] == symbols.size()) at[k++] = 0;
            if (k == len) break;
        }
    }
    EXPECT_EQ(accepted, encodings.size());
}

}  // namespace
