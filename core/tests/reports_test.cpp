// The reports' query (chat/reports.h): from/to as ISO dates or RFC 3339 date-times, the
// range's bounds, department_id and format, each refusal naming its field; the by-day CSV.
#include <gtest/gtest.h>

#include <string>

#include "chat/json.h"
#include "chat/reports.h"

namespace {

using chat::reports::parse_query;
using chat::reports::parse_time;
using chat::reports::rfc3339;

constexpr std::int64_t kDay = 86400000;
constexpr std::int64_t k20261130 = 20787 * kDay;  // 2026-11-30T00:00:00Z

std::string refusal(std::string_view q) {
    auto r = parse_query(q);
    return r.ok() ? std::string() : r.error().message;
}

TEST(ReportsTime, DatesAndDateTimes) {
    EXPECT_EQ(parse_time("1970-01-01", false), 0);
    EXPECT_EQ(parse_time("1970-01-01", true), kDay);
    EXPECT_EQ(parse_time("2026-11-30", false), k20261130);
    EXPECT_EQ(parse_time("2026-11-30T06:30:15Z", false), k20261130 + ((6 * 60 + 30) * 60 + 15) * 1000);
    EXPECT_EQ(parse_time("2026-11-30T06:30:15.1234z", false), k20261130 + ((6 * 60 + 30) * 60 + 15) * 1000 + 123);
    EXPECT_EQ(parse_time("2026-11-30t08:30:15+02:00", true), k20261130 + ((6 * 60 + 30) * 60 + 15) * 1000);
    EXPECT_EQ(parse_time("2026-11-29T23:00:00-01:00", false), k20261130);
    EXPECT_EQ(parse_time("2024-02-29", false), 19782 * kDay);
    for (const char* bad : {"", "2026", "2026-11", "2026-13-01", "2026-00-10", "2026-02-29", "2026-11-31",
                            "1969-12-31", "26-11-30", "2026-11-30T", "2026-11-30T06:30Z", "2026-11-30T24:00:00Z",
                            "2026-11-30T06:60:00Z", "2026-11-30T06:30:60Z", "2026-11-30T06:30:15",
                            "2026-11-30T06:30:15.Z", "2026-11-30T06:30:15+0200", "2026-11-30 06:30:15Z",
                            "2026-11-30T06:30:15Zx", "+2026-11-30", "2026-11-30x", "１９７０-01-01"})
        EXPECT_FALSE(parse_time(bad, false)) << bad;
    EXPECT_FALSE(parse_time(std::string(65, '1'), false));
    EXPECT_TRUE(parse_time("9999-12-31", false));
    EXPECT_FALSE(parse_time("9999-12-31", true));  // past what rfc3339 prints
    EXPECT_FALSE(parse_time("9999-12-31T23:59:59-01:00", false));
    EXPECT_FALSE(parse_time("1970-01-01T00:30:00+01:00", false));  // before 1970
}

TEST(ReportsTime, Rfc3339RoundTrips) {
    EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(rfc3339(k20261130 + 3723004), "2026-11-30T01:02:03.004Z");
    EXPECT_EQ(parse_time(rfc3339(k20261130 + 3723004), false), k20261130 + 3723004);
}

TEST(ReportsQuery, Accepts) {
    auto q = parse_query("from=2026-11-01&to=2026-11-30");
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q.value().from_ms, k20261130 - 29 * kDay);
    EXPECT_EQ(q.value().to_ms, k20261130 + kDay);  // a date `to` includes its day
    EXPECT_FALSE(q.value().csv);
    EXPECT_FALSE(q.value().department_id);
    auto one = parse_query("from=2026-11-30&to=2026-11-30&format=csv&department_id=0b9f1f4e-1c1a-4f5e-9a51-3e2f1d2c3b4a");
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one.value().to_ms - one.value().from_ms, kDay);
    EXPECT_TRUE(one.value().csv);
    EXPECT_EQ(one.value().department_id, "0b9f1f4e-1c1a-4f5e-9a51-3e2f1d2c3b4a");
    EXPECT_TRUE(parse_query("from=2026-11-30T06%3A00%3A00%2B01%3A00&to=2026-11-30T06:00:01Z&format=json").ok());
    EXPECT_TRUE(parse_query("from=2025-11-30&to=2026-11-30T00:00:00Z").ok());  // 365 days
    EXPECT_TRUE(parse_query("from=2024-01-01&to=2024-12-31").ok());            // 366 days
}

TEST(ReportsQuery, RefusesNamingTheField) {
    EXPECT_NE(refusal("to=2026-11-30").find("from"), std::string::npos);
    EXPECT_NE(refusal("from=yesterday&to=2026-11-30").find("from"), std::string::npos);
    EXPECT_NE(refusal("from=2026-11-01").find("to"), std::string::npos);
    EXPECT_NE(refusal("from=2026-11-01&to=2026-11-31").find("to"), std::string::npos);
    EXPECT_NE(refusal("from=2026-11-02T00:00:00Z&to=2026-11-02T00:00:00Z").find("to must be after from"),
              std::string::npos);
    EXPECT_NE(refusal("from=2026-11-03&to=2026-11-01").find("to must be after from"), std::string::npos);
    EXPECT_NE(refusal("from=2024-01-01&to=2025-01-01").find("366 days"), std::string::npos);
    EXPECT_NE(refusal("from=2026-11-01&to=2026-11-02&department_id=x").find("department_id"), std::string::npos);
    EXPECT_NE(refusal("from=2026-11-01&to=2026-11-02&format=xml").find("format"), std::string::npos);
    EXPECT_EQ(parse_query("to=2026-11-30").error().code, chat::Errc::validation);
}

TEST(ReportsCsv, ByDayRows) {
    auto v = chat::json::parse(R"({"conversations": 3, "by_day": [
        {"date": "2026-11-29", "conversations": 2, "escalated": 1},
        {"date": "2026-11-30", "conversations": 0, "escalated": 0}]})");
    ASSERT_TRUE(v.ok());
    auto csv = chat::reports::by_day_csv(v.value());
    ASSERT_TRUE(csv.ok());
    EXPECT_EQ(csv.value(), "date,conversations,escalated\r\n2026-11-29,2,1\r\n2026-11-30,0,0\r\n");
    EXPECT_FALSE(chat::reports::by_day_csv(chat::json::parse("{}").value()).ok());
}

}  // namespace
