// Department input: the admin API's fields checked and normalised (department.h).
#include "chat/department.h"

#include <string>

#include "chat/input.h"
#include "chat/limits.h"
#include "chat/utf8.h"

namespace chat::department {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "HH:MM" as minutes since midnight, 00:00..23:59, and 24:00 (1440) when end is set.
int minutes_of(std::string_view t, bool end) {
    if (t.size() != 5 || t[2] != ':' || !is_digit(t[0]) || !is_digit(t[1]) || !is_digit(t[3]) || !is_digit(t[4]))
        return -1;
    const int h = (t[0] - '0') * 10 + (t[1] - '0');
    const int m = (t[3] - '0') * 10 + (t[4] - '0');
    if (m > 59) return -1;
    if (h == 24 && m == 0 && end) return 24 * 60;
    if (h > 23) return -1;
    return h * 60 + m;
}

bool is_day(std::string_view key) { return limits::one_of(limits::kHoursDays, key); }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

Error invalid(std::string message) { return Error{Errc::validation, std::move(message)}; }

Result<json::Value> check_name(const json::Value& v) {
    const std::string* s = v.as_string();
    const std::string_view name = s ? trim(*s) : std::string_view{};
    if (!s || !chat::valid_utf8(name) || input::has_control(name) ||
        !limits::kDepartmentNameChars.contains(static_cast<std::int64_t>(chat::utf8_length(name))))
        return invalid("name must be " + limits::range_text(limits::kDepartmentNameChars) +
                       " characters of text without control characters");
    return json::Value(name);
}

Result<json::Value> check_strategy(const json::Value& v) {
    const std::string* s = v.as_string();
    if (!s || !limits::one_of(limits::kStrategies, *s))
        return invalid("strategy must be " + limits::names_text(limits::kStrategies));
    return json::Value(*s);
}

Result<json::Value> check_agent_ids(const json::Value& v) {
    const json::Array* list = v.as_array();
    if (!list || list->size() > limits::kDepartmentAgentsMax)
        return invalid("agent_ids must be a list of at most " + std::to_string(limits::kDepartmentAgentsMax) +
                       " agent ids");
    json::Value ids{json::Array{}};
    for (const json::Value& e : *list) {
        const std::string* s = e.as_string();
        if (!s || !input::is_uuid(*s)) return invalid("agent_ids must hold agent ids (UUIDs)");
        std::string id = *s;
        for (char& c : id)
            if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        bool seen = false;
        for (const json::Value& k : *ids.as_array()) seen = seen || *k.as_string() == id;
        if (!seen) ids.push_back(json::Value(std::move(id)));
    }
    return ids;
}

}  // namespace

bool valid_time_zone_name(std::string_view s) noexcept {
    if (!limits::kTimeZoneBytes.contains(static_cast<std::int64_t>(s.size()))) return false;
    bool part_start = true;
    for (std::size_t i = 0; i < s.size(); i++) {
        const char c = s[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (c == '/') {
            if (part_start) return false;  // empty part, or a leading '/'
            part_start = true;
            continue;
        }
        if (!letter && !is_digit(c) && c != '_' && c != '+' && c != '-') return false;
        if (i == 0 && !letter) return false;
        part_start = false;
    }
    return !part_start;  // no trailing '/'
}

Result<json::Value> check_hours(const json::Value& hours) noexcept {
    try {
        if (hours.is_null()) return json::Value();
        const json::Object* obj = hours.as_object();
        if (!obj) return invalid("hours must be null or an object {\"tz\", \"mon\".. \"sun\": [\"HH:MM\", \"HH:MM\"]}");
        for (const json::Member& m : *obj)
            if (m.key != "tz" && !is_day(m.key))
                return invalid("hours may hold only tz and the days mon, tue, wed, thu, fri, sat, sun");
        const std::string* tz = hours.find_string("tz");
        if (!tz || !valid_time_zone_name(*tz))
            return invalid("hours.tz must be an IANA time zone name such as Europe/Berlin");
        json::Value out{json::Object{}};
        out.set("tz", json::Value(*tz));
        for (std::string_view day : limits::kHoursDays) {
            const json::Value* span = hours.find(day);
            if (!span) continue;
            const json::Array* a = span->as_array();
            const std::string* from = a && a->size() == 2 ? (*a)[0].as_string() : nullptr;
            const std::string* to = a && a->size() == 2 ? (*a)[1].as_string() : nullptr;
            const int start = from ? minutes_of(*from, false) : -1;
            const int end = to ? minutes_of(*to, true) : -1;
            if (start < 0 || end < 0 || start >= end)
                return invalid("hours." + std::string(day) +
                               " must be [\"HH:MM\", \"HH:MM\"] with the start before the end (24:00 ends a day)");
            json::Value pair{json::Array{}};
            pair.push_back(json::Value(*from));
            pair.push_back(json::Value(*to));
            out.set(std::string(day), std::move(pair));
        }
        return out;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Result<json::Value> check_fields(const json::Value& in, bool create) noexcept {
    try {
        json::Value out{json::Object{}};
        // name, strategy and agent_ids: null is "not given", as in the other admin endpoints
        auto field = [&](std::string_view key, auto check, const json::Value* fallback) -> Result<void> {
            const json::Value* v = in.find(key);
            if (!v || v->is_null()) {
                if (fallback) out.set(std::string(key), *fallback);
                return {};
            }
            auto r = check(*v);
            if (!r.ok()) return r.error();
            out.set(std::string(key), std::move(r.value()));
            return {};
        };
        if (create) {
            const json::Value* n = in.find("name");
            if (!n || n->is_null()) return make_error(Errc::bad_request, "name is required");
        }
        const json::Value strategy_default{std::string(limits::kStrategyDefault)};
        const json::Value no_agents{json::Array{}};
        if (auto r = field("name", check_name, nullptr); !r.ok()) return r.error();
        if (auto r = field("strategy", check_strategy, create ? &strategy_default : nullptr); !r.ok())
            return r.error();
        if (auto r = field("agent_ids", check_agent_ids, create ? &no_agents : nullptr); !r.ok()) return r.error();
        if (const json::Value* h = in.find("hours")) {
            auto r = check_hours(*h);
            if (!r.ok()) return r.error();
            out.set("hours", std::move(r.value()));
        } else if (create) {
            out.set("hours", json::Value());
        }
        return out;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

}  // namespace chat::department
