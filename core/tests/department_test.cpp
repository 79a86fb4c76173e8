// Department input (chat/department.h): what the admin API accepts for a department's
// name, strategy, members and business hours, normalised, and the field each refusal names.
#include <gtest/gtest.h>

#include <string>

#include "chat/department.h"
#include "chat/json.h"
#include "chat/limits.h"

namespace {

using chat::Errc;
using chat::department::check_fields;
using chat::department::check_hours;
using chat::department::valid_time_zone_name;

chat::json::Value parse(std::string_view text) {
    auto v = chat::json::parse(text);
    EXPECT_TRUE(v.ok()) << text;
    return v.ok() ? v.value() : chat::json::Value();
}

// The message of a refusal (empty when it was accepted).
std::string refusal(std::string_view body, bool create = true) {
    auto r = check_fields(parse(body), create);
    return r.ok() ? std::string() : r.error().message;
}

Errc code_of(std::string_view body, bool create = true) {
    auto r = check_fields(parse(body), create);
    return r.ok() ? Errc::ok : r.error().code;
}

constexpr const char* kId1 = "11111111-1111-4111-8111-111111111111";
constexpr const char* kId2 = "22222222-2222-4222-8222-222222222222";

TEST(Department, ACreateGetsItsDefaults) {
    auto r = check_fields(parse(R"({"name": "Orders"})"), true);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(chat::json::to_string(r.value()),
              R"({"name":"Orders","strategy":"least_loaded","agent_ids":[],"hours":null})");
}

TEST(Department, APatchHoldsOnlyTheFieldsGiven) {
    auto r = check_fields(parse(R"({"strategy": "sticky"})"), false);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(chat::json::to_string(r.value()), R"({"strategy":"sticky"})");
    auto cleared = check_fields(parse(R"({"hours": null})"), false);
    ASSERT_TRUE(cleared.ok());
    EXPECT_EQ(chat::json::to_string(cleared.value()), R"({"hours":null})") << "null hours: always open";
    auto none = check_fields(parse("{}"), false);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(chat::json::to_string(none.value()), "{}");
}

TEST(Department, ACreateWithoutANameIsABadRequest) {
    EXPECT_EQ(code_of("{}"), Errc::bad_request);
    EXPECT_EQ(code_of(R"({"name": null})"), Errc::bad_request);
}

TEST(Department, TheNameIsTrimmedAndBounded) {
    auto r = check_fields(parse(R"({"name": "  Returns \t"})"), false);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r.value().find_string("name"), "Returns");
    const std::string max(chat::limits::kDepartmentNameChars.max, 'x');
    EXPECT_EQ(refusal(R"({"name": ")" + max + "\"}"), "");
    // characters, not bytes: 64 two-byte letters are fine
    std::string umlauts;
    for (int i = 0; i < chat::limits::kDepartmentNameChars.max; i++) umlauts += "\xc3\xbc";
    EXPECT_EQ(refusal(R"({"name": ")" + umlauts + "\"}"), "");
    for (std::string bad : {R"({"name": ")" + max + "x\"}", std::string(R"({"name": ""})"),
                            std::string(R"({"name": "   "})"), std::string(R"({"name": "a\u0001b"})"),
                            std::string(R"({"name": 5})"), std::string(R"({"name": ["x"]})")}) {
        EXPECT_EQ(code_of(bad), Errc::validation) << bad;
        EXPECT_EQ(refusal(bad).rfind("name ", 0), 0u) << refusal(bad);
    }
}

TEST(Department, TheStrategyIsOneOfThree) {
    for (std::string_view s : chat::limits::kStrategies)
        EXPECT_EQ(refusal(R"({"name": "x", "strategy": ")" + std::string(s) + "\"}"), "") << s;
    for (const char* bad : {R"({"name": "x", "strategy": "random"})", R"({"name": "x", "strategy": "Sticky"})",
                            R"({"name": "x", "strategy": 1})"}) {
        EXPECT_EQ(code_of(bad), Errc::validation) << bad;
        EXPECT_EQ(refusal(bad).rfind("strategy ", 0), 0u);
    }
}

TEST(Department, AgentIdsAreUuidsLowercasedAndDeduplicated) {
    std::string upper = kId2;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto r = check_fields(parse(std::string(R"({"name": "x", "agent_ids": [")") + kId2 + R"(", ")" + kId1 +
                                R"(", ")" + upper + R"("]})"),
                          true);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(chat::json::to_string(*r.value().find("agent_ids")),
              std::string("[\"") + kId2 + "\",\"" + kId1 + "\"]");
    for (const char* bad : {R"({"name": "x", "agent_ids": ["nope"]})", R"({"name": "x", "agent_ids": [1]})",
                            R"({"name": "x", "agent_ids": "11111111-1111-4111-8111-111111111111"})",
                            R"({"name": "x", "agent_ids": [null]})"}) {
        EXPECT_EQ(code_of(bad), Errc::validation) << bad;
        EXPECT_EQ(refusal(bad).rfind("agent_ids ", 0), 0u);
    }
}

TEST(Department, AgentIdsAreBounded) {
    auto list = [](std::size_t n) {
        std::string s = R"({"name": "x", "agent_ids": [)";
        for (std::size_t i = 0; i < n; i++) s += (i ? ",\"" : "\"") + std::string(kId1) + "\"";
        return s + "]}";
    };
    EXPECT_EQ(refusal(list(chat::limits::kDepartmentAgentsMax)), "");
    EXPECT_EQ(code_of(list(chat::limits::kDepartmentAgentsMax + 1)), Errc::validation);
}

TEST(Department, HoursAreRebuiltInWeekOrder) {
    auto r = check_hours(parse(R"({"sun": ["10:00", "24:00"], "tz": "Europe/Berlin", "mon": ["09:00", "17:30"]})"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(chat::json::to_string(r.value()),
              R"({"tz":"Europe/Berlin","mon":["09:00","17:30"],"sun":["10:00","24:00"]})");
    EXPECT_TRUE(check_hours(parse("null")).ok());
    EXPECT_TRUE(check_hours(parse(R"({"tz": "UTC"})")).ok()) << "no day at all: never open";
    EXPECT_TRUE(check_hours(parse(R"({"tz": "UTC", "wed": ["00:00", "24:00"]})")).ok());
}

TEST(Department, BadHoursNameTheField) {
    for (const char* bad : {
             R"("always")", R"([])", R"({})", R"({"tz": 1})", R"({"tz": "Mars/Olympus Mons"})",
             R"({"tz": "UTC", "monday": ["09:00", "17:00"]})", R"({"tz": "UTC", "mon": ["17:00", "09:00"]})",
             R"({"tz": "UTC", "mon": ["09:00", "09:00"]})", R"({"tz": "UTC", "mon": ["9:00", "17:00"]})",
             R"({"tz": "UTC", "mon": ["09:00", "24:01"]})", R"({"tz": "UTC", "mon": ["24:00", "24:00"]})",
             R"({"tz": "UTC", "mon": ["09:60", "17:00"]})", R"({"tz": "UTC", "mon": ["25:00", "26:00"]})",
             R"({"tz": "UTC", "mon": ["09:00"]})", R"({"tz": "UTC", "mon": ["09:00", "12:00", "17:00"]})",
             R"({"tz": "UTC", "mon": null})", R"({"tz": "UTC", "mon": [9, 17]})",
             R"({"tz": "UTC", "mon": ["09:00", "17:00 "]})"}) {
        auto r = check_hours(parse(bad));
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code, Errc::validation) << bad;
        EXPECT_EQ(r.error().message.rfind("hours", 0), 0u) << r.error().message;
        EXPECT_EQ(code_of(std::string(R"({"name": "x", "hours": )") + bad + "}"), Errc::validation) << bad;
    }
}

TEST(Department, TimeZoneNamesArePatternBounded) {
    for (const char* ok : {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+1", "EST5EDT",
                           "America/Port-au-Prince"})
        EXPECT_TRUE(valid_time_zone_name(ok)) << ok;
    for (const char* bad : {"", "/UTC", "UTC/", "Europe//Berlin", "Europe/Berlin ", "1UTC", "+05:00",
                            "EST5EDT,M3.2.0,M11.1.0", "../etc/passwd", "Europe/Berlin\n"})
        EXPECT_FALSE(valid_time_zone_name(bad)) << bad;
    EXPECT_TRUE(valid_time_zone_name(std::string(chat::limits::kTimeZoneBytes.max, 'A')));
    EXPECT_FALSE(valid_time_zone_name(std::string(chat::limits::kTimeZoneBytes.max + 1, 'A')));
}

}  // namespace
