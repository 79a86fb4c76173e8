// The WebSocket framing matches RFC 6455's examples, enforces every hardening rule with its close code, and parses identically however input is split.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chat/ws.h"

namespace {

using namespace chat::ws;

std::string bytes(std::initializer_list<unsigned> list) {
    std::string s;
    for (unsigned b : list) s.push_back(static_cast<char>(b));
    return s;
}

// A client frame: masked with a fixed key unless told otherwise; `len_bytes`
// forces a (possibly non-minimal) length encoding: 0 = minimal, 2 or 8.
std::string client_frame(unsigned first_byte, std::string_view payload, bool masked = true, int len_bytes = 0) {
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    std::string f;
    f.push_back(static_cast<char>(first_byte));
    const std::uint64_t n = payload.size();
    const unsigned m = masked ? 0x80u : 0u;
    if (len_bytes == 0) len_bytes = n < 126 ? 1 : n <= 0xFFFF ? 2 : 8;
    if (len_bytes == 1) {
        f.push_back(static_cast<char>(m | n));
    } else if (len_bytes == 2) {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xFF));
    } else {
        f.push_back(static_cast<char>(m | 127));
        for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((n >> s) & 0xFF));
    }
    if (masked) f.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0)));
    return f;
}

Parser::Outcome feed_all(std::string_view in, Limits limits = {}) {
    Parser p(limits);
    return p.feed(in);
}

// Feeds one byte at a time and merges the outcomes.
Parser::Outcome feed_bytewise(std::string_view in, Limits limits = {}) {
    Parser p(limits);
    Parser::Outcome all;
    for (char c : in) {
        auto o = p.feed(std::string_view(&c, 1));
        for (auto& m : o.messages) all.messages.push_back(std::move(m));
        if (o.fail) {
            EXPECT_FALSE(all.fail) << "failed twice";
            all.fail = o.fail;
            all.reason = o.reason;
        }
    }
    return all;
}

void expect_same(const Parser::Outcome& a, const Parser::Outcome& b) {
    ASSERT_EQ(a.messages.size(), b.messages.size());
    for (std::size_t i = 0; i < a.messages.size(); ++i) {
        EXPECT_EQ(a.messages[i].opcode, b.messages[i].opcode);
        EXPECT_EQ(a.messages[i].payload, b.messages[i].payload);
    }
    EXPECT_EQ(a.fail, b.fail);
    EXPECT_EQ(a.reason, b.reason);
}

std::optional<CloseCode> fail_of(std::string_view in, Limits limits = {}) {
    auto one = feed_all(in, limits);
    expect_same(one, feed_bytewise(in, limits));
    return one.fail;
}

TEST(Ws, AcceptKeyRfcExample) {
    // RFC 6455 §1.3's value (also: printf '%s' KEY+GUID | openssl sha1 -binary | base64).
    auto k = accept_key("dGhlIHNhbXBsZSBub25jZQ==");
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k.value(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Ws, AcceptKeyRejectsBadKeys) {
    for (std::string_view key : {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZXg=", "c2hvcnQ=",
                                 "dGhlIHNhbXBsZSBub25jZQ== ", "dGhlIHNhbXBs*SBub25jZQ=="}) {
        auto k = accept_key(key);
        ASSERT_FALSE(k.ok()) << key;
        EXPECT_EQ(k.error().code, chat::Errc::bad_request);
    }
}

TEST(Ws, RfcMaskedHello) {
    const auto in = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    auto o = feed_all(in);
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0].opcode, Opcode::text);
    EXPECT_EQ(o.messages[0].payload, "Hello");
    expect_same(o, feed_bytewise(in));
}

TEST(Ws, RfcUnmaskedHelloIsRejected) {
    EXPECT_EQ(fail_of(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})), CloseCode::protocol_error);
}

TEST(Ws, RfcFragmentedHello) {
    // RFC's "Hel" + "lo" (0x01 0x03 ..., 0x80 0x02 ...), masked as a client must.
    const auto in = client_frame(0x01, "Hel") + client_frame(0x80, "lo");
    auto o = feed_all(in);
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0].opcode, Opcode::text);
    EXPECT_EQ(o.messages[0].payload, "Hello");
    expect_same(o, feed_bytewise(in));
}

TEST(Ws, RfcPingAndMaskedPong) {
    const auto pong = bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    const auto in = client_frame(0x89, "Hello") + pong;
    auto o = feed_all(in);
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[0].opcode, Opcode::ping);
    EXPECT_EQ(o.messages[0].payload, "Hello");
    EXPECT_EQ(o.messages[1].opcode, Opcode::pong);
    EXPECT_EQ(o.messages[1].payload, "Hello");
    expect_same(o, feed_bytewise(in));
}

TEST(Ws, ControlFramesInterleaveWithFragments) {
    const auto in = client_frame(0x01, "Hel") + client_frame(0x89, "p") + client_frame(0x80, "lo");
    auto o = feed_all(in);
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[0].opcode, Opcode::ping);
    EXPECT_EQ(o.messages[1].payload, "Hello");
    expect_same(o, feed_bytewise(in));
}

TEST(Ws, RfcBinaryLengths) {
    std::string p256(256, '\0'), p64k(65536, '\0');
    for (std::size_t i = 0; i < p256.size(); ++i) p256[i] = static_cast<char>(i);
    for (std::size_t i = 0; i < p64k.size(); ++i) p64k[i] = static_cast<char>(i * 7);
    const auto f256 = client_frame(0x82, p256);
    EXPECT_EQ(f256.substr(0, 4), bytes({0x82, 0xFE, 0x01, 0x00}));
    const auto f64k = client_frame(0x82, p64k);
    EXPECT_EQ(f64k.substr(0, 10), bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0}));
    const auto in = f256 + f64k;
    auto o = feed_all(in);
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[0].opcode, Opcode::binary);
    EXPECT_EQ(o.messages[0].payload, p256);
    EXPECT_EQ(o.messages[1].payload, p64k);
    expect_same(o, feed_bytewise(in));
}

TEST(Ws, NonMinimalLengthsAreAccepted) {
    const auto in = client_frame(0x81, "hi", true, 2) + client_frame(0x81, "yo", true, 8) + client_frame(0x89, "x", true, 2);
    auto o = feed_all(in);
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 3u);
    EXPECT_EQ(o.messages[1].payload, "yo");
    EXPECT_EQ(o.messages[2].opcode, Opcode::ping);
}

TEST(Ws, EmptyFrames) {
    const auto in = client_frame(0x81, "") + client_frame(0x01, "") + client_frame(0x80, "") + client_frame(0x89, "");
    auto o = feed_all(in);
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 3u);
    EXPECT_EQ(o.messages[0].payload, "");
    EXPECT_EQ(o.messages[2].opcode, Opcode::ping);
    expect_same(o, feed_bytewise(in));
}

TEST(Ws, ProtocolViolationsAre1002) {
    const auto pe = CloseCode::protocol_error;
    EXPECT_EQ(fail_of(client_frame(0x81, "x", false)), pe);            // unmasked
    for (unsigned rsv : {0x40u, 0x20u, 0x10u}) EXPECT_EQ(fail_of(client_frame(0x81 | rsv, "x")), pe);
    for (unsigned op : {3u, 4u, 5u, 6u, 7u, 0xBu, 0xCu, 0xDu, 0xEu, 0xFu})
        EXPECT_EQ(fail_of(client_frame(0x80 | op, "x")), pe) << op;  // unknown opcodes
    EXPECT_EQ(fail_of(client_frame(0x09, "x")), pe);                   // fragmented ping
    EXPECT_EQ(fail_of(client_frame(0x08, "")), pe);                    // fragmented close
    EXPECT_EQ(fail_of(client_frame(0x89, std::string(126, 'x'))), pe); // control > 125
    EXPECT_EQ(fail_of(client_frame(0x8A, std::string(126, 'x'), true, 8)), pe);
    EXPECT_EQ(fail_of(client_frame(0x80, "x")), pe);                   // continuation, no message
    EXPECT_EQ(fail_of(client_frame(0x00, "x")), pe);
    EXPECT_EQ(fail_of(client_frame(0x01, "a") + client_frame(0x81, "b")), pe);  // new text while open
    EXPECT_EQ(fail_of(client_frame(0x01, "a") + client_frame(0x82, "b")), pe);
    EXPECT_EQ(fail_of(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})), pe);  // top bit of 64-bit length
}

TEST(Ws, ControlFrameOf125IsFine) {
    auto o = feed_all(client_frame(0x89, std::string(125, 'p')));
    ASSERT_FALSE(o.fail);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0].payload.size(), 125u);
}

TEST(Ws, OversizeIsDecidedFromTheHeader) {
    const Limits lim{16, 24};
    // Only the header: the verdict comes before any payload byte.
    Parser p(lim);
    auto o = p.feed(client_frame(0x82, std::string(17, 'x')).substr(0, 6));
    EXPECT_EQ(o.fail, CloseCode::too_big);
    // A 2^62-byte frame header with default limits.
    Parser q;
    o = q.feed(bytes({0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}));
    EXPECT_EQ(o.fail, CloseCode::too_big);
    // Fragments within max_frame whose sum exceeds max_message.
    Parser r(lim);
    o = r.feed(client_frame(0x02, std::string(16, 'x')));
    EXPECT_FALSE(o.fail);
    o = r.feed(client_frame(0x80, std::string(9, 'x')).substr(0, 6));
    EXPECT_EQ(o.fail, CloseCode::too_big);
    // Exactly at the limits passes.
    EXPECT_FALSE(fail_of(client_frame(0x02, std::string(16, 'x')) + client_frame(0x80, std::string(8, 'x')), lim));
    EXPECT_EQ(fail_of(client_frame(0x81, std::string(17, 'x')), lim), CloseCode::too_big);
    EXPECT_EQ(fail_of(client_frame(0x82, std::string(65537, 'x'))), CloseCode::too_big);
}

TEST(Ws, TextMustBeUtf8) {
    const auto bad = CloseCode::invalid_payload;
    EXPECT_EQ(fail_of(client_frame(0x81, "\xff")), bad);
    EXPECT_EQ(fail_of(client_frame(0x81, "\xc0\xaf")), bad);        // overlong
    EXPECT_EQ(fail_of(client_frame(0x81, "\xed\xa0\x80")), bad);    // surrogate
    EXPECT_EQ(fail_of(client_frame(0x81, "\xf4\x90\x80\x80")), bad); // > U+10FFFF
    EXPECT_EQ(fail_of(client_frame(0x81, "ab\xe2\x82")), bad);      // truncated at completion
    EXPECT_EQ(fail_of(client_frame(0x01, "ab\xe2\x82") + client_frame(0x80, "")), bad);
    // Detected before the message completes.
    Parser p;
    auto o = p.feed(client_frame(0x01, "ok\xff"));
    EXPECT_EQ(o.fail, bad);
    // A code point split across fragments is fine; binary is not checked.
    auto ok = feed_all(client_frame(0x01, "\xe2\x82") + client_frame(0x80, "\xac"));
    ASSERT_FALSE(ok.fail);
    ASSERT_EQ(ok.messages.size(), 1u);
    EXPECT_EQ(ok.messages[0].payload, "\xe2\x82\xac");
    EXPECT_FALSE(fail_of(client_frame(0x82, "\xff\xfe")));
}

TEST(Ws, ClosePayloads) {
    auto code = [](unsigned c, std::string_view reason = {}) {
        std::string s;
        s.push_back(static_cast<char>(c >> 8));
        s.push_back(static_cast<char>(c & 0xFF));
        s.append(reason);
        return client_frame(0x88, s);
    };
    for (unsigned c : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 3000u, 4999u}) {
        auto o = feed_all(code(c, "bye"));
        EXPECT_FALSE(o.fail) << c;
        ASSERT_EQ(o.messages.size(), 1u);
        EXPECT_EQ(o.messages[0].opcode, Opcode::close);
    }
    auto empty = feed_all(client_frame(0x88, ""));
    EXPECT_FALSE(empty.fail);
    ASSERT_EQ(empty.messages.size(), 1u);
    for (unsigned c : {0u, 999u, 1004u, 1005u, 1006u, 1012u, 1015u, 2999u, 5000u, 65535u})
        EXPECT_EQ(fail_of(code(c)), CloseCode::protocol_error) << c;
    EXPECT_EQ(fail_of(client_frame(0x88, "\x03")), CloseCode::protocol_error);
    EXPECT_EQ(fail_of(code(1000, "\xff")), CloseCode::protocol_error);
}

TEST(Ws, NothingAfterCloseOrFailure) {
    Parser p;
    auto o = p.feed(client_frame(0x88, "") + client_frame(0x81, "late"));
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_TRUE(p.done());
    o = p.feed(client_frame(0x81, "later"));
    EXPECT_TRUE(o.messages.empty());
    EXPECT_FALSE(o.fail);

    Parser q;
    o = q.feed(client_frame(0x81, "first") + client_frame(0x81, "x", false) + client_frame(0x81, "after"));
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0].payload, "first");
    EXPECT_EQ(o.fail, CloseCode::protocol_error);
    o = q.feed(client_frame(0x81, "again"));
    EXPECT_TRUE(o.messages.empty());
    EXPECT_FALSE(o.fail);
}

TEST(Ws, ArbitrarySplitsMatchOneChunk) {
    const auto in = client_frame(0x01, "Hel") + client_frame(0x89, "ping") + client_frame(0x80, "lo") +
                    client_frame(0x82, std::string(300, 'b'), true, 8) + client_frame(0x81, "\xe2\x82\xac") +
                    client_frame(0x88, "\x03\xe8ok");
    const auto whole = feed_all(in);
    ASSERT_FALSE(whole.fail);
    ASSERT_EQ(whole.messages.size(), 5u);
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        Parser p;
        auto a = p.feed(std::string_view(in).substr(0, cut));
        auto b = p.feed(std::string_view(in).substr(cut));
        for (auto& m : b.messages) a.messages.push_back(std::move(m));
        expect_same(whole, a);
    }
}

TEST(Ws, ServerFrameEncodings) {
    EXPECT_EQ(frame_text(""), bytes({0x81, 0x00}));
    std::string p125(125, 'a'), p126(126, 'b'), p65535(65535, 'c'), p65536(65536, 'd');
    EXPECT_EQ(frame_text(p125), bytes({0x81, 0x7D}) + p125);
    EXPECT_EQ(frame_text(p126), bytes({0x81, 0x7E, 0x00, 0x7E}) + p126);
    EXPECT_EQ(frame_text(p65535), bytes({0x81, 0x7E, 0xFF, 0xFF}) + p65535);
    EXPECT_EQ(frame_text(p65536), bytes({0x81, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}) + p65536);
    EXPECT_EQ(frame_ping("Hello"), bytes({0x89, 0x05}) + "Hello");
    EXPECT_EQ(frame_pong("Hello"), bytes({0x8A, 0x05}) + "Hello");
    EXPECT_EQ(frame_pong(p126).size(), 2u + 125u);
    EXPECT_EQ(frame_close(CloseCode::normal), bytes({0x88, 0x02, 0x03, 0xE8}));
    EXPECT_EQ(frame_close(CloseCode::too_big, "big"), bytes({0x88, 0x05, 0x03, 0xF1}) + "big");
    // A long reason is cut to 123 bytes without splitting a code point.
    std::string euros;
    for (int i = 0; i < 50; ++i) euros += "\xe2\x82\xac";
    const auto c = frame_close(CloseCode::policy, euros);
    EXPECT_EQ(static_cast<unsigned char>(c[1]), 2u + 123u);
    EXPECT_EQ(c.substr(4), euros.substr(0, 123));
}

}  // namespace
