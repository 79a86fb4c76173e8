// The reports of API.md "Operators" ("Reports"): the rules of GET /agent/reports' query
// (from, to, department_id, format) and the CSV of its by-day rows. The numbers are
// computed by SQL (chat_agent_reports, sql/functions/96_reports.sql); who may ask is
// agent::Service::reports (core/src/agent_reports.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chat/json.h"
#include "chat/result.h"

namespace chat::reports {

// The longest range one report covers.
inline constexpr std::int64_t kMaxRangeDays = 366;
// The longest from= or to= value read.
inline constexpr std::size_t kTimeMaxBytes = 64;

struct Query {
    std::int64_t from_ms = 0;   // inclusive, ms since the epoch (UTC)
    std::int64_t to_ms = 0;     // exclusive
    std::optional<std::string> department_id;
    bool csv = false;
};

// A time of the query: an ISO date "YYYY-MM-DD" (UTC midnight; with end_of_day the next
// midnight, so a date `to` includes its day) or an RFC 3339 date-time
// "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)". ms since the epoch; nullopt otherwise
// (also for a date outside 1970..9999, an instant before 1970 or from 10000 on, or a field
// out of range).
std::optional<std::int64_t> parse_time(std::string_view s, bool end_of_day) noexcept;

// from= and to= (required, as parse_time; to after from, at most kMaxRangeDays apart),
// department_id= (a UUID), format= (json or csv). Errc::validation naming the field.
Result<Query> parse_query(std::string_view query) noexcept;

// ms since the epoch as RFC 3339 UTC with milliseconds ("2026-11-30T06:00:00.000Z").
std::string rfc3339(std::int64_t ms);

// The by-day rows of a report (chat_agent_reports' JSON) as CSV: the header row
// "date,conversations,escalated", then one row per day, CRLF line ends (RFC 4180).
Result<std::string> by_day_csv(const json::Value& report);

}  // namespace chat::reports
