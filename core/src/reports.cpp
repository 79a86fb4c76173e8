// GET /agent/reports: its query's rules and the CSV of the by-day rows (chat/reports.h).
#include "chat/reports.h"

#include <array>

#include "agent_util.h"
#include "chat/customer.h"

namespace chat::reports {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2 ? 1 : 0;
}

bool leap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned month_days(std::int64_t y, unsigned m) noexcept {
    static constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// exactly n digits at s[pos], advancing pos
std::optional<unsigned> digits(std::string_view s, std::size_t& pos, std::size_t n) noexcept {
    if (pos + n > s.size()) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; i++) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos += n;
    return v;
}

bool expect(std::string_view s, std::size_t& pos, char c) noexcept {
    if (pos >= s.size() || s[pos] != c) return false;
    pos++;
    return true;
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view s, bool end_of_day) noexcept {
    if (s.size() > kTimeMaxBytes) return std::nullopt;
    std::size_t pos = 0;
    auto y = digits(s, pos, 4);
    if (!y || !expect(s, pos, '-')) return std::nullopt;
    auto mo = digits(s, pos, 2);
    if (!mo || !expect(s, pos, '-')) return std::nullopt;
    auto d = digits(s, pos, 2);
    if (!d || *y < 1970 || *mo < 1 || *mo > 12 || *d < 1 || *d > month_days(*y, *mo)) return std::nullopt;
    const std::int64_t day_ms = days_from_civil(*y, *mo, *d) * 86400000;
    // every instant read prints back as a 4-digit year (rfc3339)
    const std::int64_t end_ms = days_from_civil(10000, 1, 1) * 86400000;
    if (pos == s.size()) {
        const std::int64_t t = day_ms + (end_of_day ? 86400000 : 0);
        if (t >= end_ms) return std::nullopt;
        return t;
    }

    if (s[pos] != 'T' && s[pos] != 't') return std::nullopt;
    pos++;
    auto h = digits(s, pos, 2);
    if (!h || !expect(s, pos, ':')) return std::nullopt;
    auto mi = digits(s, pos, 2);
    if (!mi || !expect(s, pos, ':')) return std::nullopt;
    auto sec = digits(s, pos, 2);
    if (!sec || *h > 23 || *mi > 59 || *sec > 59) return std::nullopt;  // no leap second
    std::int64_t ms = 0;
    if (pos < s.size() && s[pos] == '.') {
        pos++;
        std::size_t n = 0;
        for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; pos++, n++)
            if (n < 3) ms = ms * 10 + (s[pos] - '0');
        if (n == 0) return std::nullopt;
        for (; n < 3; n++) ms *= 10;
    }
    std::int64_t offset_min = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        pos++;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        const int sign = s[pos] == '-' ? -1 : 1;
        pos++;
        auto oh = digits(s, pos, 2);
        if (!oh || !expect(s, pos, ':')) return std::nullopt;
        auto om = digits(s, pos, 2);
        if (!om || *oh > 23 || *om > 59) return std::nullopt;
        offset_min = sign * static_cast<std::int64_t>(*oh * 60 + *om);
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    const std::int64_t t = day_ms + ((*h * 60 + *mi) * 60 + *sec) * 1000LL + ms - offset_min * 60000;
    if (t < 0 || t >= end_ms) return std::nullopt;
    return t;
}

Result<Query> parse_query(std::string_view query) noexcept {
    try {
        auto q = agent::detail::parse_query(query);
        Query out;
        auto time_of = [&](const char* name, bool end) -> std::optional<std::int64_t> {
            auto it = q.find(name);
            if (it == q.end()) return std::nullopt;
            return parse_time(it->second, end);
        };
        auto from = time_of("from", false);
        if (!from)
            return make_error(Errc::validation, "from must be a date (YYYY-MM-DD) or an RFC 3339 date-time");
        auto to = time_of("to", true);
        if (!to) return make_error(Errc::validation, "to must be a date (YYYY-MM-DD) or an RFC 3339 date-time");
        if (*to <= *from) return make_error(Errc::validation, "to must be after from");
        if (*to - *from > kMaxRangeDays * 86400000)
            return make_error(Errc::validation,
                              "to must be at most " + std::to_string(kMaxRangeDays) + " days after from");
        out.from_ms = *from;
        out.to_ms = *to;
        if (auto it = q.find("department_id"); it != q.end() && !it->second.empty()) {
            if (!customer::is_uuid(it->second)) return make_error(Errc::validation, "department_id must be a UUID");
            out.department_id = it->second;
        }
        if (auto it = q.find("format"); it != q.end()) {
            if (it->second == "csv") out.csv = true;
            else if (it->second != "json") return make_error(Errc::validation, "format must be json or csv");
        }
        return out;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

std::string rfc3339(std::int64_t ms) {
    const std::int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    std::int64_t rest = ms - days * 86400000;
    std::int64_t y = 0;
    unsigned m = 0, d = 0;
    civil_from_days(days, y, m, d);
    auto pad = [](std::int64_t v, int width) {
        std::string t = std::to_string(v);
        return std::string(t.size() < static_cast<std::size_t>(width) ? width - t.size() : 0, '0') + t;
    };
    const std::int64_t h = rest / 3600000;
    rest %= 3600000;
    const std::int64_t mi = rest / 60000;
    rest %= 60000;
    return pad(y, 4) + '-' + pad(m, 2) + '-' + pad(d, 2) + 'T' + pad(h, 2) + ':' + pad(mi, 2) + ':' +
           pad(rest / 1000, 2) + '.' + pad(rest % 1000, 3) + 'Z';
}

Result<std::string> by_day_csv(const json::Value& report) {
    const json::Value* days = report.find("by_day");
    if (!days || !days->as_array()) return make_error(Errc::internal, "report without by_day");
    std::string out = "date,conversations,escalated\r\n";
    for (const json::Value& row : *days->as_array()) {
        const std::string* date = row.find_string("date");
        auto n = row.find_int("conversations");
        auto e = row.find_int("escalated");
        if (!date || !n || !e) return make_error(Errc::internal, "a by_day row without its fields");
        out += *date;  // YYYY-MM-DD: nothing to quote
        out += ',' + std::to_string(*n) + ',' + std::to_string(*e) + "\r\n";
    }
    return out;
}

}  // namespace chat::reports
