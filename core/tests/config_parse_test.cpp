// The directives' option strings (chat/config_parse.h): counts, nginx times, chat_login_limit,
// chat_postgres pool=, chat_secret, and the messages nginx logs for each refusal.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "chat/config_parse.h"
#include "chat/limits.h"

namespace {

using namespace chat::config;
namespace limits = chat::limits;

TEST(ConfigCount, ReadsDecimalDigitsOnlyAsNginxDoes) {
    EXPECT_EQ(parse_count("0"), 0);
    EXPECT_EQ(parse_count("10000"), 10000);
    for (std::string_view s : {"", "-1", "+1", " 1", "1 ", "1k", "0x10", "99999999999999999999"})
        EXPECT_FALSE(parse_count(s)) << s;
}

TEST(ConfigDuration, ReadsNginxTimesInMilliseconds) {
    EXPECT_EQ(parse_duration_ms("5m"), 300000);
    EXPECT_EQ(parse_duration_ms("30s"), 30000);
    EXPECT_EQ(parse_duration_ms("30"), 30000);  // a bare number is seconds
    EXPECT_EQ(parse_duration_ms("500ms"), 500);
    EXPECT_EQ(parse_duration_ms("1h30m"), 5400000);
    EXPECT_EQ(parse_duration_ms("1h 30m"), 5400000);
    EXPECT_EQ(parse_duration_ms("1d"), 86400000);
    EXPECT_EQ(parse_duration_ms("1w"), 604800000);
    EXPECT_EQ(parse_duration_ms("1s500ms"), 1500);
}

TEST(ConfigRetention, ReadsOffOrAnAgeInSecondsWithNginxsTimeSyntax) {
    EXPECT_EQ(parse_retention("off").value(), 0);
    EXPECT_EQ(parse_retention("180d").value(), 180LL * 86400);  // past parse_duration_ms's 24 days
    EXPECT_EQ(parse_retention("26w").value(), 26LL * 7 * 86400);
    EXPECT_EQ(parse_retention("1d12h").value(), 36LL * 3600);
    EXPECT_EQ(parse_retention("90").value(), 90);  // a bare number is seconds
    EXPECT_EQ(parse_retention("1s").value(), 1);
    EXPECT_EQ(parse_retention("3650d").value(), limits::kRetentionSeconds.max);
}

TEST(ConfigRetention, RefusesAnythingElseNamingTheValueAndWhatWouldDo) {
    for (std::string_view s : {"", "on", "0", "0s", "500ms", "1s500ms", "3651d", "180x", "1y", "-1d", "180 d x",
                               "99999999999999999999d"}) {
        auto r = parse_retention(s);
        ASSERT_FALSE(r.ok()) << s;
        EXPECT_EQ(r.error().code, chat::Errc::validation);
        EXPECT_EQ(r.error().message, "invalid chat_retention \"" + std::string(s) +
                                         "\", expected off or a time of 1s..3650d (e.g. 180d)");
    }
}

TEST(ConfigDuration, RefusesWhatNginxRefuses) {
    for (std::string_view s : {"", "m", "5x", "1m1h", "1s1s", "1M", "1y", "5 m", "-1s", "1ms1s", "25d", "999999999999"})
        EXPECT_FALSE(parse_duration_ms(s)) << s;
}

TEST(ConfigLoginLimit, ReadsEveryOptionAndLeavesTheOthersUnset) {
    std::array<std::string_view, 5> args{"failures=10", "address=20", "window=5m", "queue=64", "address_queue=3"};
    auto r = parse_login_limit(args);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().failures, 10);
    EXPECT_EQ(r.value().address_failures, 20);
    EXPECT_EQ(r.value().window_ms, 300000);
    EXPECT_EQ(r.value().queue, 64);
    EXPECT_EQ(r.value().address_queue, 3);

    std::array<std::string_view, 1> one{"queue=1"};
    auto o = parse_login_limit(one);
    ASSERT_TRUE(o.ok());
    EXPECT_FALSE(o.value().failures);
    EXPECT_FALSE(o.value().window_ms);
}

TEST(ConfigLoginLimit, AcceptsTheBoundsOfTheLimitsTableAndNothingPast) {
    std::string at = "failures=" + std::to_string(limits::kLoginCount.max);
    std::string past = "failures=" + std::to_string(limits::kLoginCount.max + 1);
    std::array<std::string_view, 1> a{at};
    EXPECT_TRUE(parse_login_limit(a).ok());
    std::array<std::string_view, 1> b{past};
    EXPECT_FALSE(parse_login_limit(b).ok());
    std::array<std::string_view, 2> w{"window=1s", "window=24h"};
    EXPECT_TRUE(parse_login_limit(w).ok());
}

TEST(ConfigLoginLimit, SaysWhatIsWrongInNginxsWords) {
    auto msg = [](std::string_view arg) {
        std::array<std::string_view, 1> a{arg};
        auto r = parse_login_limit(a);
        EXPECT_FALSE(r.ok()) << arg;
        EXPECT_EQ(r.ok() ? chat::Errc::ok : r.error().code, chat::Errc::validation);
        return r.ok() ? std::string() : r.error().message;
    };
    EXPECT_EQ(msg("window=999ms"), "invalid window \"window=999ms\", expected 1s..24h");
    EXPECT_EQ(msg("window=25h"), "invalid window \"window=25h\", expected 1s..24h");
    EXPECT_EQ(msg("window=soon"), "invalid window \"window=soon\", expected 1s..24h");
    EXPECT_EQ(msg("failures=0"), "invalid value \"failures=0\", expected 1..10000");
    EXPECT_EQ(msg("address_queue=x"), "invalid value \"address_queue=x\", expected 1..10000");
    EXPECT_EQ(msg("queue"), "invalid parameter \"queue\"");
    EXPECT_EQ(msg("window"), "invalid parameter \"window\"");
    EXPECT_EQ(msg("burst=5"), "invalid parameter \"burst=5\"");
}

TEST(ConfigPgPool, ReadsPoolNWithinTheTable) {
    EXPECT_EQ(parse_pg_pool("pool=1").value(), 1);
    EXPECT_EQ(parse_pg_pool("pool=" + std::to_string(limits::kPgPool.max)).value(), limits::kPgPool.max);
    auto over = parse_pg_pool("pool=" + std::to_string(limits::kPgPool.max + 1));
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().message, "invalid pool size \"pool=65\", expected 1..64");
    auto zero = parse_pg_pool("pool=0");
    EXPECT_FALSE(zero.ok());
    auto other = parse_pg_pool("size=4");
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().message, "invalid parameter \"size=4\", expected pool=N");
}

TEST(ConfigPgPrepare, ReadsPrepareNWithinTheTableZeroIncluded) {
    EXPECT_EQ(parse_pg_prepare("prepare=0").value(), 0);
    EXPECT_EQ(parse_pg_prepare("prepare=64").value(), 64);
    auto over = parse_pg_prepare("prepare=" + std::to_string(limits::kPgPrepared.max + 1));
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().message, "invalid prepared statement count \"prepare=1001\", expected 0..1000");
    EXPECT_FALSE(parse_pg_prepare("prepare=on").ok());
    auto other = parse_pg_prepare("pool=4");
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().message, "invalid parameter \"pool=4\", expected prepare=N");
}

TEST(ConfigRedisBatch, IsOnOrOffAndNothingElse) {
    EXPECT_TRUE(parse_redis_batch("batch=on").value());
    EXPECT_FALSE(parse_redis_batch("batch=off").value());
    auto other = parse_redis_batch("batch=yes");
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().message, "invalid parameter \"batch=yes\", expected batch=on or batch=off");
    EXPECT_FALSE(parse_redis_batch("pool=4").ok());
}

TEST(ConfigSecret, DropsTrailingLineBreaksAndNeedsThirtyTwoBytes) {
    std::string key(limits::kSecretMinBytes, 'k');
    auto ok = parse_secret(key + "\r\n\n");
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok.value(), key);
    auto short_key = parse_secret(key.substr(1) + "\n");
    ASSERT_FALSE(short_key.ok());
    EXPECT_EQ(short_key.error().message, "holds 31 bytes, at least 32 are needed");
}

TEST(ConfigRange, NamesTheDirectiveAndItsBounds) {
    EXPECT_TRUE(check_range("chat_history", limits::kHistory, limits::kHistory.max).ok());
    auto r = check_range("chat_history", limits::kHistory, limits::kHistory.max + 1);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "chat_history must be between 1 and 200");
    auto m = check_range("chat_message_max", limits::kMessageMax, 0);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().message, "chat_message_max must be between 1 and 100000");
    EXPECT_TRUE(check_ws_max_message(limits::kWsMaxMessage.min).ok());
    EXPECT_TRUE(check_ws_max_message(limits::kWsMaxMessage.max).ok());
    auto ws = check_ws_max_message(124);
    ASSERT_FALSE(ws.ok());
    EXPECT_EQ(ws.error().message, "chat_ws_max_message must be between 125 and 16m");
}

TEST(ConfigLoginLimit, ValuesAreTheOptionsGivenAndDefaultsForTheRest) {
    auto all = login_limit_values({});
    EXPECT_EQ(all.failures, limits::kLoginFailuresDefault);
    EXPECT_EQ(all.address_failures, limits::kLoginAddressFailuresDefault);
    EXPECT_EQ(all.window_ms, limits::kLoginWindowMsDefault);
    EXPECT_EQ(all.queue, limits::kLoginQueueDefault);
    EXPECT_EQ(all.address_queue, limits::kLoginAddressQueueDefault);

    std::array<std::string_view, 2> args{"failures=3", "window=1m"};
    auto ll = parse_login_limit(args);
    ASSERT_TRUE(ll.ok());
    auto v = login_limit_values(ll.value());
    EXPECT_EQ(v.failures, 3);
    EXPECT_EQ(v.window_ms, 60000);
    EXPECT_EQ(v.address_failures, limits::kLoginAddressFailuresDefault);
    EXPECT_EQ(v.queue, limits::kLoginQueueDefault);
}

TEST(ConfigLoginLimit, OptionsReadOneAtATimeAsTheWholeList) {
    LoginLimit ll;
    ASSERT_TRUE(parse_login_option(ll, "queue=5").ok());
    ASSERT_TRUE(parse_login_option(ll, "window=30s").ok());
    EXPECT_EQ(ll.queue, 5);
    EXPECT_EQ(ll.window_ms, 30000);
    EXPECT_FALSE(ll.failures);
    std::array<std::string_view, 1> bad{"queue=0"};
    EXPECT_EQ(parse_login_option(ll, "queue=0").error().message,
              parse_login_limit(bad).error().message);
    EXPECT_EQ(parse_login_option(ll, "nope").error().message, "invalid parameter \"nope\"");
}

TEST(ConfigSite, AcceptsTheNamesOfThePatternAndNothingElse) {
    for (std::string_view s : {"default", "a", "shop-2", "shop.example.com", "eu_shop", "0"})
        EXPECT_TRUE(check_site(s).ok()) << s;
    const std::string longest(static_cast<std::size_t>(limits::kSiteBytes.max), 'a');
    EXPECT_TRUE(check_site(longest).ok());
    for (std::string_view s : {"", "Shop", "-shop", ".shop", "shop|x", "shop@x", "sh op", "shop/1", "\xc3\xa9"})
        EXPECT_FALSE(check_site(s).ok()) << s;
    EXPECT_FALSE(check_site(longest + "a").ok());
    auto e = check_site("Shop");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, chat::Errc::validation);
    EXPECT_EQ(e.error().message,
              "invalid site name \"Shop\", expected 1..63 of a-z 0-9 . _ - starting with a letter or digit");
}

}  // namespace
