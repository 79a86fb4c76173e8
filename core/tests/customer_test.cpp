// The customer use cases' input rules that need no database: windows, ids, the FAQ set,
// the session tokens a Service signs.
#include <gtest/gtest.h>

#include "chat/customer.h"
#include "chat/epoll_loop.h"
#include "chat/input.h"
#include "chat/pg_pool.h"
#include "chat/token.h"

namespace {

using chat::customer::parse_window;

TEST(CustomerWindow, DefaultsToEverythingFromTheStartFiftyAtATime) {
    auto w = parse_window("");
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w.value().after, 0);
    EXPECT_EQ(w.value().limit, 50);
}

TEST(CustomerWindow, ReadsAfterAndLimitAndIgnoresOtherArguments) {
    auto w = parse_window("token=abc&after=12&limit=200&x=");
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w.value().after, 12);
    EXPECT_EQ(w.value().limit, 200);
}

TEST(CustomerWindow, RejectsWhatTheContractDoesNotAllow) {
    for (const char* q : {"limit=0", "limit=201", "after=-1", "after=x", "limit=", "after=1e3", "limit=5x"}) {
        auto w = parse_window(q);
        ASSERT_FALSE(w.ok()) << q;
        EXPECT_EQ(w.error().code, chat::Errc::validation) << q;
    }
}

TEST(CustomerWindow, ReadsANumberAsFromCharsDoes) {
    // plain digits, a sign, a space, 19 digits and more: the answers at the edges of what an
    // integer parameter is
    struct Case {
        const char* q;
        bool ok;
        std::int64_t after;
    };
    for (const Case& c : {Case{"after=0", true, 0}, Case{"after=007", true, 7}, Case{"after=-0", true, 0},
                          Case{"after=000000000000000012", true, 12}, Case{"after=0000000000000000012", true, 12},
                          Case{"after=999999999999999999", false, 0}, Case{"after=+1", false, 0},
                          Case{"after= 1", false, 0}, Case{"after=1 ", false, 0}, Case{"after=/", false, 0},
                          Case{"after=:", false, 0}, Case{"after=2147483647&after=5", true, 5}}) {
        auto w = parse_window(c.q);
        ASSERT_EQ(w.ok(), c.ok) << c.q;
        if (c.ok) {
            EXPECT_EQ(w.value().after, c.after) << c.q;
        } else {
            EXPECT_EQ(w.error().code, chat::Errc::validation) << c.q;
        }
    }
}

TEST(CustomerWindow, RejectsASeqThatSqlCannotHold) {
    // seq is an int in SQL: a larger after= would be a 500 from Postgres, not a 422
    for (const char* q : {"after=2147483648", "after=9223372036854775807", "after=99999999999999999999",
                          "limit=99999999999999999999"}) {
        auto w = parse_window(q);
        ASSERT_FALSE(w.ok()) << q;
        EXPECT_EQ(w.error().code, chat::Errc::validation) << q;
    }
    auto max = parse_window("after=2147483647");
    ASSERT_TRUE(max.ok());
    EXPECT_EQ(max.value().after, 2147483647);
}

TEST(InputSeq, AcceptsZeroToTheLargestSqlIntOnly) {
    EXPECT_EQ(chat::input::parse_seq("0"), 0);
    EXPECT_EQ(chat::input::parse_seq("2147483647"), 2147483647);
    for (const char* s : {"", "-1", "2147483648", "99999999999999999999", "1e3", " 1", "1 ", "+1", "x"})
        EXPECT_FALSE(chat::input::parse_seq(s).has_value()) << s;
}

TEST(CustomerIds, AcceptsOnlyCanonicalUuids) {
    EXPECT_TRUE(chat::customer::is_uuid("6f1c0c6e-6d1f-4d2e-9a3a-1b2c3d4e5f60"));
    EXPECT_TRUE(chat::customer::is_uuid("6F1C0C6E-6D1F-4D2E-9A3A-1B2C3D4E5F60"));
    EXPECT_FALSE(chat::customer::is_uuid("6f1c0c6e6d1f4d2e9a3a1b2c3d4e5f60"));
    EXPECT_FALSE(chat::customer::is_uuid("6f1c0c6e-6d1f-4d2e-9a3a-1b2c3d4e5f6g"));
    EXPECT_FALSE(chat::customer::is_uuid(""));
    EXPECT_FALSE(chat::customer::is_uuid("'; drop table messages; --"));
}

TEST(CustomerFaq, LoadsActiveEntriesAndPublishesThemWithoutKeywords) {
    auto set = chat::customer::load_faq(
        R"([{"slug":"returns","question":"How do I return an item?","answer":"Within 30 days.",)"
        R"("display_order":2,"keywords":["return","send back"],"is_active":true},)"
        R"({"slug":"shipping-time","question":"How long does shipping take?","answer":"3-5 days.",)"
        R"("display_order":1,"keywords":["delivery"],"is_active":true},)"
        R"({"slug":"old","question":"Old?","answer":"Gone.","display_order":3,"keywords":[],"is_active":false}])",
        7);
    ASSERT_TRUE(set.ok()) << set.error().message;
    EXPECT_EQ(set.value()->version, 7);
    const chat::customer::SiteFaq& def = set.value()->site("default");
    EXPECT_NE(def.matcher.by_slug("returns"), nullptr);
    EXPECT_EQ(def.matcher.by_slug("old"), nullptr);
    EXPECT_EQ(def.public_json,
              R"([{"slug":"returns","question":"How do I return an item?","answer":"Within 30 days.","display_order":2},)"
              R"({"slug":"shipping-time","question":"How long does shipping take?","answer":"3-5 days.","display_order":1}])");
    auto m = def.matcher.match("How do I return an item?");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->entry->slug, "returns");
}

// Each site (chat_site) answers from its own entries; a site without any has an empty list.
TEST(CustomerFaq, KeepsOneSetPerSite) {
    auto set = chat::customer::load_faq(
        R"([{"site":"default","slug":"returns","question":"How do I return an item?","answer":"30 days.",)"
        R"("display_order":1,"keywords":["return"]},)"
        R"({"site":"shop-2","slug":"returns","question":"How do I return an item?","answer":"14 days.",)"
        R"("display_order":1,"keywords":["return"]},)"
        R"({"site":"shop-2","slug":"gift-wrap","question":"Do you gift wrap?","answer":"Yes.",)"
        R"("display_order":2,"keywords":["gift"]}])",
        3);
    ASSERT_TRUE(set.ok()) << set.error().message;
    EXPECT_EQ(set.value()->sites.size(), 2u);
    const auto& a = set.value()->site("default");
    const auto& b = set.value()->site("shop-2");
    ASSERT_NE(a.matcher.by_slug("returns"), nullptr);
    ASSERT_NE(b.matcher.by_slug("returns"), nullptr);
    EXPECT_EQ(a.matcher.by_slug("returns")->answer, "30 days.");
    EXPECT_EQ(b.matcher.by_slug("returns")->answer, "14 days.");
    EXPECT_EQ(a.matcher.by_slug("gift-wrap"), nullptr);
    EXPECT_NE(b.matcher.by_slug("gift-wrap"), nullptr);
    EXPECT_EQ(a.public_json, R"([{"slug":"returns","question":"How do I return an item?","answer":"30 days.","display_order":1}])");
    const auto& none = set.value()->site("shop-3");
    EXPECT_EQ(none.public_json, "[]");
    EXPECT_FALSE(none.matcher.match("How do I return an item?").has_value());
}

TEST(CustomerFaq, RejectsADatabaseAnswerThatIsNotAList) {
    EXPECT_FALSE(chat::customer::load_faq("{}", 1).ok());
    EXPECT_FALSE(chat::customer::load_faq("[", 1).ok());
}

TEST(CustomerSession, ATokenItSignsIsKnownValidWithoutAnHmacWithTheClaimsDecodingGives) {
    chat::EpollLoop loop;
    chat::pg::PoolConfig cfg;
    cfg.conninfo = "host=127.0.0.1 port=1 dbname=none";
    chat::pg::Pool pool(loop, cfg);  // never started: nothing here asks Postgres
    const std::string secret = "secret-for-tests-0123456789abcdef";
    chat::customer::Service svc(loop, pool, secret, {});
    const std::string sid = "0123456789abcdef0123456789abcdef";

    for (std::string_view site : {"default", "shop-2"}) {
        const std::string token = svc.renew_session(sid, site);
        const std::int64_t now = loop.wall_ms();
        const chat::token::SessionClaims* known = svc.verified_sessions().find(token, now);
        ASSERT_NE(known, nullptr) << site;
        const auto decoded = chat::token::decode_session(
            std::as_bytes(std::span(secret.data(), secret.size())), token, now);
        ASSERT_TRUE(decoded.ok()) << site;
        EXPECT_EQ(*known, decoded.value()) << site;
        const auto here = svc.authenticate(token, site);
        ASSERT_TRUE(here.ok()) << site;
        EXPECT_EQ(here.value(), sid);
        const auto elsewhere = svc.authenticate(token, site == "default" ? "shop-2" : "default");
        ASSERT_FALSE(elsewhere.ok()) << site;
        EXPECT_EQ(elsewhere.error().code, chat::Errc::unauthorized);
    }

    // claims decode_session would refuse (a site outside the pattern) are never taken as known:
    // the token is verified, and refused, as any other
    const std::string odd = svc.renew_session(sid, "Not A Site");
    EXPECT_EQ(svc.verified_sessions().find(odd, loop.wall_ms()), nullptr);
    EXPECT_FALSE(svc.authenticate(odd, "Not A Site").ok());
}

}  // namespace
