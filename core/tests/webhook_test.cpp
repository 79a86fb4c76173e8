// Webhooks' rules (chat/webhook.h): the admin fields, the URL, the addresses a delivery may
// reach, the signature and request bytes, and the answer's status line read in pieces.
#include <gtest/gtest.h>

#include <string>

#include "chat/json.h"
#include "chat/limits.h"
#include "chat/webhook.h"

namespace {

using chat::Errc;
using chat::webhook::parse_status_line;
using chat::webhook::parse_url;
using chat::webhook::public_address;
using chat::webhook::StatusLine;

chat::json::Value parse(std::string_view text) {
    auto v = chat::json::parse(text);
    EXPECT_TRUE(v.ok()) << text;
    return v.ok() ? v.value() : chat::json::Value();
}

TEST(Webhook, AUrlIsHttpToAnAddressWithAnOptionalPortAndPath) {
    auto u = parse_url("http://127.0.0.1:8099/hook?x=1");
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(u.value().ip, "127.0.0.1");
    EXPECT_EQ(u.value().port, 8099);
    EXPECT_EQ(u.value().path, "/hook?x=1");
    EXPECT_EQ(u.value().host_header, "127.0.0.1:8099");
    auto v6 = parse_url("http://[2001:db8::1]/");
    ASSERT_TRUE(v6.ok());
    EXPECT_TRUE(v6.value().v6);
    EXPECT_EQ(v6.value().ip, "2001:db8::1");
    EXPECT_EQ(v6.value().port, 80);
    auto bare = parse_url("http://192.0.2.1?a");
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare.value().path, "/?a");
    EXPECT_FALSE(bare.value().https);
    EXPECT_EQ(bare.value().host(), "192.0.2.1");
}

TEST(Webhook, AUrlMayBeHttpsAndNameAHost) {
    auto u = parse_url("https://Shop.Example.com/hooks/chat");
    ASSERT_TRUE(u.ok());
    EXPECT_TRUE(u.value().https);
    EXPECT_EQ(u.value().name, "shop.example.com") << "names are compared in lower case";
    EXPECT_EQ(u.value().ip, "");
    EXPECT_EQ(u.value().host(), "shop.example.com");
    EXPECT_EQ(u.value().port, 443);
    EXPECT_EQ(u.value().path, "/hooks/chat");
    EXPECT_EQ(u.value().host_header, "Shop.Example.com");
    auto p = parse_url("http://localhost:8443");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.value().name, "localhost");
    EXPECT_EQ(p.value().port, 8443);
    EXPECT_EQ(p.value().path, "/");
    auto lit = parse_url("https://[2001:db8::1]:8443/x");
    ASSERT_TRUE(lit.ok());
    EXPECT_TRUE(lit.value().https);
    EXPECT_EQ(lit.value().ip, "2001:db8::1");
    EXPECT_EQ(lit.value().name, "");
    EXPECT_EQ(lit.value().port, 8443);
    auto longest = parse_url("http://" + std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                             std::string(63, 'c') + "." + std::string(61, 'd') + "/");
    EXPECT_TRUE(longest.ok()) << "253 bytes, labels of 63";
    EXPECT_TRUE(parse_url("http://xn--bcher-kva.example/").ok());
    EXPECT_TRUE(parse_url("http://a-b.c0/").ok());
}

TEST(Webhook, EveryOtherUrlIsRefusedNamingTheUrl) {
    for (std::string_view bad :
         {"ftp://192.0.2.1/", "HTTP://192.0.2.1/", "https:/192.0.2.1/", "http://user@192.0.2.1/",
          "https://user:pw@shop.example.com/", "http://192.0.2.1:0/", "http://192.0.2.1:65536/",
          "https://shop.example.com:x/", "http://192.0.2.1:/", "http://192.0.2.1/a b", "http://192.0.2.1/#x",
          "http://", "https://", "https://:443/", "http://[::1/", "http://[shop.example.com]/", "http://999.0.0.1/",
          "http://10.1/", "http://shop..example.com/", "http://.shop.example.com/", "http://shop.example.com./",
          "http://-shop.example.com/", "http://shop-.example.com/", "http://shop_x.example.com/",
          "http://shop.example.123/", "http://sh%6fp.example.com/"}) {
        auto u = parse_url(bad);
        ASSERT_FALSE(u.ok()) << bad;
        EXPECT_EQ(u.error().code, Errc::validation) << bad;
        EXPECT_TRUE(u.error().message.starts_with("url ")) << u.error().message;
    }
    EXPECT_NE(parse_url("ftp://192.0.2.1/").error().message.find("https://"), std::string::npos);
    EXPECT_NE(parse_url("http://u@h.example/").error().message.find("user info"), std::string::npos);
    EXPECT_FALSE(parse_url("http://192.0.2.1/" + std::string(2100, 'a')).ok());
    EXPECT_FALSE(parse_url("http://" + std::string(64, 'a') + ".example/").ok()) << "a label over 63 bytes";
    EXPECT_FALSE(parse_url("http://" + std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                           std::string(63, 'c') + "." + std::string(62, 'd') + "/")
                     .ok())
        << "a name over 253 bytes";
}

TEST(Webhook, PrivateLoopbackAndLinkLocalAddressesAreNotPublic) {
    for (std::string_view ip : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                                "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255"})
        EXPECT_FALSE(public_address(ip, false)) << ip;
    for (std::string_view ip : {"::1", "::", "fc00::1", "fd12::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
                                "::ffff:10.0.0.1"})
        EXPECT_FALSE(public_address(ip, true)) << ip;
    // IPv4 inside IPv6 (compatible, NAT64, 6to4) is judged by the IPv4 address
    for (std::string_view ip : {"::127.0.0.1", "::10.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::169.254.169.254",
                                "64:ff9b::7f00:1", "64:ff9b:1::8.8.8.8", "2002:7f00:1::", "2002:a9fe:a9fe::1",
                                "2002:c0a8:101::"})
        EXPECT_FALSE(public_address(ip, true)) << ip;
    for (std::string_view ip : {"64:ff9b::8.8.8.8", "2002:808:808::1", "::8.8.8.8"})
        EXPECT_TRUE(public_address(ip, true)) << ip;
    for (std::string_view ip : {"8.8.8.8", "172.32.0.1", "192.0.2.1", "100.128.0.1"})
        EXPECT_TRUE(public_address(ip, false)) << ip;
    EXPECT_TRUE(public_address("2001:db8::1", true));
    EXPECT_FALSE(public_address("nonsense", false));
}

TEST(Webhook, FieldsAreAUrlKnownEventsDeduplicatedAndASecret) {
    auto ok = chat::webhook::check_fields(parse(
        R"({"url":"http://192.0.2.1/h","events":["chat.closed","message.created","chat.closed"],"secret":"0123456789abcdef"})"));
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(chat::json::to_string(ok.value()),
              R"({"url":"http://192.0.2.1/h","events":["chat.closed","message.created"],"secret":"0123456789abcdef"})");
    struct Case {
        const char* body;
        Errc code;
        const char* names;
    } cases[] = {
        {R"({"events":["chat.closed"],"secret":"0123456789abcdef"})", Errc::bad_request, "url"},
        {R"({"url":"http://192.0.2.1/","secret":"0123456789abcdef"})", Errc::bad_request, "events"},
        {R"({"url":"http://192.0.2.1/","events":["chat.closed"]})", Errc::bad_request, "secret"},
        {R"({"url":"https://u@192.0.2.1/","events":["chat.closed"],"secret":"0123456789abcdef"})", Errc::validation, "url"},
        {R"({"url":"http://192.0.2.1/","events":[],"secret":"0123456789abcdef"})", Errc::validation, "events"},
        {R"({"url":"http://192.0.2.1/","events":["typing"],"secret":"0123456789abcdef"})", Errc::validation, "events"},
        {R"({"url":"http://192.0.2.1/","events":"chat.closed","secret":"0123456789abcdef"})", Errc::validation, "events"},
        {R"({"url":"http://192.0.2.1/","events":["chat.closed"],"secret":"short"})", Errc::validation, "secret"},
        {R"({"url":5,"events":["chat.closed"],"secret":"0123456789abcdef"})", Errc::validation, "url"},
    };
    for (const Case& c : cases) {
        auto r = chat::webhook::check_fields(parse(c.body));
        ASSERT_FALSE(r.ok()) << c.body;
        EXPECT_EQ(r.error().code, c.code) << c.body;
        EXPECT_TRUE(r.error().message.starts_with(c.names)) << r.error().message;
    }
}

TEST(Webhook, TheSignatureIsTheHexHmacSha256OfTheBody) {
    // RFC 4231 test case 2
    EXPECT_EQ(chat::webhook::signature("Jefe", "what do ya want for nothing?"),
              "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Webhook, ASecretIsStoredSealedAndOpensOnlyWithTheSameChatSecret) {
    const std::string key(32, 'k');
    const std::string sealed = chat::webhook::seal_secret(key, "0123456789abcdef", "nonce-12byte");
    ASSERT_TRUE(sealed.starts_with("v1.")) << sealed;
    EXPECT_EQ(sealed.find("0123456789abcdef"), std::string::npos);
    auto opened = chat::webhook::open_secret(key, sealed);
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(opened.value(), "0123456789abcdef");
    EXPECT_FALSE(chat::webhook::open_secret(std::string(32, 'j'), sealed).ok()) << "another chat_secret";
    std::string tampered = sealed;
    tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(chat::webhook::open_secret(key, tampered).ok());
    EXPECT_FALSE(chat::webhook::open_secret(key, "0123456789abcdef").ok()) << "not sealed";
    EXPECT_FALSE(chat::webhook::open_secret(key, "v1.").ok());
    EXPECT_EQ(chat::webhook::seal_secret(key, "x", "short"), "");
}

TEST(Webhook, TheRequestIsAPostWithTheSignatureAndTheBody) {
    auto u = parse_url("http://127.0.0.1:9/in");
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(chat::webhook::request(u.value(), "{}", "sha256=ab"),
              "POST /in HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUser-Agent: nginx-chat\r\n"
              "Content-Type: application/json\r\nX-Chat-Signature: sha256=ab\r\nContent-Length: 2\r\n"
              "Connection: close\r\n\r\n{}");
}

TEST(Webhook, TheStatusLineIsReadInPiecesWithinItsBound) {
    const std::string answer = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
    for (std::size_t cut = 0; cut < 25; cut++)
        EXPECT_EQ(parse_status_line(answer.substr(0, cut)).state, StatusLine::State::more) << cut;
    auto s = parse_status_line(answer);
    EXPECT_EQ(s.state, StatusLine::State::done);
    EXPECT_EQ(s.code, 204);
    EXPECT_EQ(parse_status_line("HTTP/1.0 500\r\n").code, 500);
    for (std::string_view bad : {"HTTP/2 200 OK\r\n", "SSH-2.0\r\n", "HTTP/1.1 20 OK\r\n", "HTTP/1.1 2000\r\n",
                                 "HTTP/1.1 099 x\r\n", "HTTP/1.1 600 x\r\n", "HTTP/1.1 200\rX", "http/1.1 200 OK\r\n"})
        EXPECT_EQ(parse_status_line(bad).state, StatusLine::State::bad) << bad;
    EXPECT_EQ(parse_status_line("HTTP/1.1 200 " + std::string(2000, 'x')).state, StatusLine::State::bad);
    EXPECT_TRUE(chat::webhook::delivered(200));
    EXPECT_TRUE(chat::webhook::delivered(299));
    EXPECT_FALSE(chat::webhook::delivered(302));
}

}  // namespace
