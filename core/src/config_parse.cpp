// The module's directive options parsed and bounded (config_parse.h), without nginx.
#include "chat/config_parse.h"

#include <limits>

namespace chat::config {

namespace {

constexpr std::int64_t kDurationMax = std::numeric_limits<std::int32_t>::max();

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

std::optional<std::int64_t> parse_count(std::string_view s) noexcept {
    if (s.empty()) return std::nullopt;
    std::int64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        if (n > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10) return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return n;
}

namespace {

// parse_duration_ms with its bound: every total and part at most max_ms milliseconds.
std::optional<std::int64_t> parse_duration_upto(std::string_view s, std::int64_t max_ms) noexcept {
    // The units in the order they must appear; each one's scale in milliseconds.
    enum Step { start, week, day, hour, min, sec, msec, last };
    Step step = start;
    bool valid = false;
    std::int64_t value = 0;
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        char c = s[i++];
        if (c >= '0' && c <= '9') {
            if (value > max_ms) return std::nullopt;
            value = value * 10 + (c - '0');
            valid = true;
            continue;
        }
        Step next = start;
        std::int64_t scale = 0;
        switch (c) {
            case 'w':
                next = week, scale = 7LL * 24 * 3600 * 1000;
                break;
            case 'd':
                next = day, scale = 24LL * 3600 * 1000;
                break;
            case 'h':
                next = hour, scale = 3600LL * 1000;
                break;
            case 'm':
                if (i < s.size() && s[i] == 's') {
                    i++;
                    next = msec, scale = 1;
                } else {
                    next = min, scale = 60LL * 1000;
                }
                break;
            case 's':
                next = sec, scale = 1000;
                break;
            case ' ':
                next = last, scale = 1000;
                break;
            default:
                return std::nullopt;
        }
        // ' ' ends a bare number (seconds); after seconds nothing but ms may follow.
        if (next == last ? step >= sec : step >= next) return std::nullopt;
        step = next;
        if (value > max_ms / scale) return std::nullopt;
        total += value * scale;
        if (total > max_ms) return std::nullopt;
        value = 0;
        while (i < s.size() && s[i] == ' ') i++;
    }
    if (!valid) return std::nullopt;
    if (value > max_ms / 1000) return std::nullopt;
    total += value * 1000;
    if (total > max_ms) return std::nullopt;
    return total;
}

}  // namespace

std::optional<std::int64_t> parse_duration_ms(std::string_view s) noexcept {
    return parse_duration_upto(s, kDurationMax);
}

Result<std::int64_t> parse_retention(std::string_view arg) noexcept {
    try {
        if (arg == "off") return std::int64_t{0};
        constexpr std::int64_t kMaxMs = limits::kRetentionSeconds.max * 1000;
        auto ms = parse_duration_upto(arg, kMaxMs);
        if (ms && *ms % 1000 == 0 && limits::kRetentionSeconds.contains(*ms / 1000)) return *ms / 1000;
        return make_error(Errc::validation, "invalid chat_retention " + quoted(arg) +
                                                ", expected off or a time of 1s..3650d (e.g. 180d)");
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Result<LoginLimit> parse_login_limit(std::span<const std::string_view> args) noexcept {
    LoginLimit out;
    for (std::string_view arg : args) {
        if (auto r = parse_login_option(out, arg); !r.ok()) return r.error();
    }
    return out;
}

Result<void> parse_login_option(LoginLimit& into, std::string_view arg) noexcept {
    try {
        auto eq = arg.find('=');
        std::string_view key = arg.substr(0, eq);
        std::string_view val = eq == std::string_view::npos ? std::string_view{} : arg.substr(eq + 1);
        if (eq != std::string_view::npos && key == "window") {
            auto ms = parse_duration_ms(val);
            if (!ms || !limits::kLoginWindowMs.contains(*ms))
                return make_error(Errc::validation, "invalid window " + quoted(arg) + ", expected " +
                                                        std::to_string(limits::kLoginWindowMs.min / 1000) + "s.." +
                                                        std::to_string(limits::kLoginWindowMs.max / 3600000) + "h");
            into.window_ms = *ms;
            return {};
        }
        std::optional<std::int64_t>* field = nullptr;
        if (eq != std::string_view::npos) {
            if (key == "failures")
                field = &into.failures;
            else if (key == "address")
                field = &into.address_failures;
            else if (key == "queue")
                field = &into.queue;
            else if (key == "address_queue")
                field = &into.address_queue;
        }
        if (!field) return make_error(Errc::validation, "invalid parameter " + quoted(arg));
        auto n = parse_count(val);
        if (!n || !limits::kLoginCount.contains(*n))
            return make_error(Errc::validation, "invalid value " + quoted(arg) + ", expected " +
                                                    limits::range_text(limits::kLoginCount));
        *field = *n;
        return {};
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

LoginLimitValues login_limit_values(const LoginLimit& given) noexcept {
    return {given.failures.value_or(limits::kLoginFailuresDefault),
            given.address_failures.value_or(limits::kLoginAddressFailuresDefault),
            given.window_ms.value_or(limits::kLoginWindowMsDefault),
            given.queue.value_or(limits::kLoginQueueDefault),
            given.address_queue.value_or(limits::kLoginAddressQueueDefault)};
}

namespace {

// chat_postgres's "<key>N" parameters: N in range, else a message naming what (e.g. "pool size").
Result<std::int64_t> parse_pg_count(std::string_view arg, std::string_view key, std::string_view what,
                                    limits::Range range) {
    try {
        if (!arg.starts_with(key))
            return make_error(Errc::validation, "invalid parameter " + quoted(arg) + ", expected " + std::string(key) + "N");
        auto n = parse_count(arg.substr(key.size()));
        if (!n || !range.contains(*n))
            return make_error(Errc::validation,
                              "invalid " + std::string(what) + " " + quoted(arg) + ", expected " + limits::range_text(range));
        return *n;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

}  // namespace

Result<std::int64_t> parse_pg_pool(std::string_view arg) noexcept {
    return parse_pg_count(arg, "pool=", "pool size", limits::kPgPool);
}

Result<std::int64_t> parse_pg_prepare(std::string_view arg) noexcept {
    return parse_pg_count(arg, "prepare=", "prepared statement count", limits::kPgPrepared);
}

Result<bool> parse_redis_batch(std::string_view arg) noexcept {
    try {
        if (arg == "batch=on") return true;
        if (arg == "batch=off") return false;
        return make_error(Errc::validation, "invalid parameter " + quoted(arg) + ", expected batch=on or batch=off");
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Result<std::string> parse_secret(std::string_view content) noexcept {
    try {
        while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.remove_suffix(1);
        if (content.size() < limits::kSecretMinBytes)
            return make_error(Errc::validation, "holds " + std::to_string(content.size()) + " bytes, at least " +
                                                    std::to_string(limits::kSecretMinBytes) + " are needed");
        return std::string(content);
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Result<void> check_range(std::string_view directive, limits::Range r, std::int64_t v) noexcept {
    if (r.contains(v)) return {};
    try {
        return make_error(Errc::validation, std::string(directive) + " must be between " + limits::between_text(r));
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Result<void> check_site(std::string_view name) noexcept {
    if (limits::site_name_ok(name)) return {};
    try {
        return make_error(Errc::validation, "invalid site name \"" + std::string(name.substr(0, 80)) +
                                                "\", expected " + limits::range_text(limits::kSiteBytes) +
                                                " of a-z 0-9 . _ - starting with a letter or digit");
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Result<void> check_ws_max_message(std::int64_t bytes) noexcept {
    if (limits::kWsMaxMessage.contains(bytes)) return {};
    try {
        return make_error(Errc::validation, "chat_ws_max_message must be between " +
                                                std::to_string(limits::kWsMaxMessage.min) + " and " +
                                                std::to_string(limits::kWsMaxMessage.max >> 20) + "m");
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

}  // namespace chat::config
