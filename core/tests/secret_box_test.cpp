// Boxes open only with their key and associated data, and HKDF matches RFC 5869.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "chat/secret_box.h"

namespace {

namespace box = chat::secret_box;

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string hex(std::span<const std::byte> b) {
    static constexpr char k[] = "0123456789abcdef";
    std::string out;
    for (std::byte x : b) {
        out.push_back(k[static_cast<unsigned>(x) >> 4]);
        out.push_back(k[static_cast<unsigned>(x) & 15U]);
    }
    return out;
}

const std::array<std::byte, box::kNonceBytes> kNonce{std::byte{1}, std::byte{2}, std::byte{3}};

TEST(SecretBox, DerivesRfc5869TestCase3) {
    // SHA-256, IKM = 22 bytes of 0x0b, no salt, no info: the first 32 bytes of the OKM
    const std::string ikm(22, '\x0b');
    auto k = box::derive_key(bytes(ikm), "");
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(hex(k.value()), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
}

TEST(SecretBox, DistinctLabelsGiveDistinctKeys) {
    auto a = box::derive_key(bytes("operator secret"), "nginx-chat totp secret v1");
    auto b = box::derive_key(bytes("operator secret"), "nginx-chat something else");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NE(a.value(), b.value());
    EXPECT_FALSE(box::derive_key({}, "x").ok());
}

TEST(SecretBox, OpensWhatItSealed) {
    auto k = box::derive_key(bytes("operator secret"), "label").value();
    auto sealed = box::seal(k, kNonce, "the secret bytes", "agent-1");
    ASSERT_TRUE(sealed.ok());
    EXPECT_TRUE(sealed.value().starts_with("v1."));
    EXPECT_EQ(sealed.value().find("the secret"), std::string::npos);
    auto opened = box::open(k, sealed.value(), "agent-1");
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(opened.value(), "the secret bytes");
}

TEST(SecretBox, TamperingAnotherKeyOrAnotherRowFails) {
    auto k = box::derive_key(bytes("operator secret"), "label").value();
    auto other = box::derive_key(bytes("another secret"), "label").value();
    const std::string s = box::seal(k, kNonce, "the secret bytes", "agent-1").value();
    EXPECT_FALSE(box::open(other, s, "agent-1").ok());
    EXPECT_FALSE(box::open(k, s, "agent-2").ok());  // copied to another agent's row
    // every character changed in turn (nonce, ciphertext, tag) breaks the box
    for (std::size_t i = 3; i < s.size(); ++i) {
        std::string t = s;
        t[i] = t[i] == 'A' ? 'B' : 'A';
        EXPECT_FALSE(box::open(k, t, "agent-1").ok()) << i;
    }
    EXPECT_FALSE(box::open(k, s.substr(0, s.size() - 2), "agent-1").ok());
    EXPECT_FALSE(box::open(k, "v1.", "agent-1").ok());
    EXPECT_FALSE(box::open(k, "v2." + s.substr(3), "agent-1").ok());
    EXPECT_EQ(box::open(k, "garbage", "agent-1").error().code, chat::Errc::bad_request);
}

}  // namespace
