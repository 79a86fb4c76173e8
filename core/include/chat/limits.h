// The one table of the chat's limits and enum values: core's input rules, chatctl and the
// directives' defaults read it, and t/07-limits.t checks sql/'s CHECKs against `chatctl limits`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chat::limits {

// --- enum values (the CHECK (... IN (...)) lists of sql/001_init.sql) -------------

inline constexpr std::array<std::string_view, 3> kPresences{"online", "away", "offline"};
inline constexpr std::array<std::string_view, 3> kRoles{"agent", "supervisor", "admin"};
inline constexpr std::array<std::string_view, 3> kStatuses{"automated", "agent", "closed"};
inline constexpr std::array<std::string_view, 4> kSenderTypes{"customer", "bot", "agent", "system"};
inline constexpr std::array<std::string_view, 3> kMessageKinds{"text", "quick_reply", "event"};
// GET /agent/conversations?view= (sql/functions/60_agent_views.sql)
inline constexpr std::array<std::string_view, 4> kAgentViews{"active", "queue", "closed", "all"};

template <std::size_t N>
constexpr bool one_of(const std::array<std::string_view, N>& names, std::string_view v) noexcept {
    for (std::string_view n : names)
        if (n == v) return true;
    return false;
}

inline constexpr std::string_view kRoleDefault = "agent";
static_assert(one_of(kRoles, kRoleDefault));
inline constexpr std::string_view kAgentViewDefault = "active";
static_assert(one_of(kAgentViews, kAgentViewDefault));

// "a, b or c": the names of a list as the API's error messages spell them.
template <std::size_t N>
std::string names_text(const std::array<std::string_view, N>& names) {
    std::string out;
    for (std::size_t i = 0; i < N; i++) {
        if (i > 0) out += i + 1 == N ? " or " : ", ";
        out += names[i];
    }
    return out;
}

// An inclusive range of a length (bytes or characters, as each says) or a number.
struct Range {
    std::int64_t min;
    std::int64_t max;
    constexpr bool contains(std::int64_t v) const noexcept { return v >= min && v <= max; }
};

// "min..max", and "min and max", as the error messages spell a range.
inline std::string range_text(Range r) { return std::to_string(r.min) + ".." + std::to_string(r.max); }
inline std::string between_text(Range r) { return std::to_string(r.min) + " and " + std::to_string(r.max); }

// --- agents (sql/001_init.sql, the admin API, chatctl agent add) -----------------

inline constexpr Range kUsernameBytes{1, 64};
inline constexpr Range kDisplayNameBytes{1, 128};
inline constexpr std::size_t kPasswordMinChars = 10;    // API.md: weak below 10
inline constexpr std::size_t kPasswordMaxBytes = 1024;  // bounds the KDF's input
inline constexpr Range kMaxActiveChats{0, 1000};
inline constexpr std::int64_t kMaxActiveChatsDefault = 5;

// --- FAQ entries ------------------------------------------------------------------

inline constexpr std::string_view kFaqSlugPattern = "^[a-z0-9][a-z0-9-]{0,63}$";
inline constexpr Range kFaqSlugBytes{1, 64};
inline constexpr Range kFaqQuestionChars{1, 1000};
inline constexpr Range kFaqAnswerChars{1, 10000};
inline constexpr std::size_t kFaqKeywordsMax = 100;  // keywords per entry
inline constexpr Range kFaqKeywordChars{1, 100};
inline constexpr Range kFaqDisplayOrder{-1000000, 1000000};
// One site's FAQ (POST and PATCH /admin/faq past either: 409): every worker loads every
// site's FAQ in one answer, so one site's admin must not be able to grow it without end.
inline constexpr int kFaqEntriesPerSite = 500;
inline constexpr std::int64_t kFaqSiteBytes = 1 << 20;  // of the entries' JSON, as loaded
// What a worker reads of every site's FAQ at once: 64 sites at their bound, and more.
inline constexpr std::size_t kFaqLoadBytes = std::size_t{80} << 20;

// --- sites (chat_site; sql/010_sites.sql) ------------------------------------------

// A site's name: the tenant key on conversations, FAQ entries and agents' grants, and in
// the signed tokens (where '|' and '@' must never occur in it).
inline constexpr std::string_view kSitePattern = "^[a-z0-9][a-z0-9._-]{0,62}$";
inline constexpr Range kSiteBytes{1, 63};
inline constexpr std::string_view kSiteDefault = "default";
inline constexpr std::size_t kAgentSitesMax = 100;  // sites granted to one agent

// True for a name kSitePattern matches.
constexpr bool site_name_ok(std::string_view s) noexcept {
    if (!kSiteBytes.contains(static_cast<std::int64_t>(s.size()))) return false;
    for (std::size_t i = 0; i < s.size(); i++) {
        const char c = s[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}
static_assert(site_name_ok(kSiteDefault));

// --- departments (sql/013_departments.sql, the admin API) ----------------------------

// How a department picks which free member gets the next chat (API.md "Departments").
inline constexpr std::array<std::string_view, 3> kStrategies{"least_loaded", "round_robin", "sticky"};
inline constexpr std::string_view kStrategyDefault = "least_loaded";
static_assert(one_of(kStrategies, kStrategyDefault));
inline constexpr Range kDepartmentNameChars{1, 64};  // trimmed
inline constexpr std::size_t kDepartmentAgentsMax = 200;  // members of one department
// Departments of one site (POST /admin/departments past it: 409): every assignment probes
// each department's queue of a site with queued chats, under the one assign lock of all sites.
inline constexpr int kDepartmentsPerSite = 200;
// hours: {"tz": IANA name, "mon": ["09:00", "17:00"], ...}; the days are these keys
inline constexpr std::array<std::string_view, 7> kHoursDays{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
// An IANA time zone name as hours.tz may spell it ("Europe/Berlin", "UTC", "Etc/GMT+1"):
// letters, digits, '_', '+', '-' in '/'-separated parts; Postgres then checks that it
// names a zone it knows (pg_timezone_names).
inline constexpr Range kTimeZoneBytes{1, 64};

// --- agent tools (API.md "Agent tools"; sql/017_agent_tools.sql) --------------------
// A conversation's priority orders its queue before age (sql/013_departments.sql).
inline constexpr std::array<std::string_view, 4> kPriorities{"low", "normal", "high", "urgent"};
inline constexpr std::string_view kPriorityDefault = "normal";
static_assert(one_of(kPriorities, kPriorityDefault));
// Tags: lowercased, then each must match (conversations_tags_check holds the same bound).
inline constexpr std::string_view kTagPattern = "^[a-z0-9][a-z0-9_-]{0,31}$";
inline constexpr Range kTagBytes{1, 32};
inline constexpr std::size_t kTagsMax = 10;  // per conversation, after deduplication
// True for a tag kTagPattern matches.
constexpr bool tag_ok(std::string_view s) noexcept {
    if (!kTagBytes.contains(static_cast<std::int64_t>(s.size()))) return false;
    for (std::size_t i = 0; i < s.size(); i++) {
        const char c = s[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-'))) return false;
    }
    return true;
}
static_assert(tag_ok("refund") && !tag_ok("-x") && !tag_ok("Refund") && !tag_ok(""));
// Canned replies (per site): the shortcut as an FAQ slug; text may hold {{customer.name}}
// and {{agent.name}}, stored as written.
inline constexpr std::string_view kCannedShortcutPattern = "^[a-z0-9][a-z0-9-]{0,63}$";
inline constexpr Range kCannedShortcutBytes{1, 64};
static_assert(kCannedShortcutPattern == kFaqSlugPattern && kCannedShortcutBytes.max == kFaqSlugBytes.max,
              "core checks shortcuts with input::valid_slug");
inline constexpr Range kCannedTitleChars{1, 200};
inline constexpr Range kCannedTextChars{1, 10000};
// GET /agent/conversations?q= (full-text search over message text)
inline constexpr Range kSearchQueryChars{1, 200};
// --- webhooks (sql/020_webhooks.sql, API.md "Webhooks") -----------------------------

// The event types a webhook may subscribe to (chat_webhook_event_types(), sql/functions/97_webhooks.sql).
inline constexpr std::array<std::string_view, 8> kWebhookEvents{
    "message.created",        "conversation.updated", "agent.assigned",            "chat.closed",
    "agent.presence.changed", "note.created",         "conversation.offline_reply", "conversation.rated"};
inline constexpr Range kWebhookUrlBytes{8, 2048};
inline constexpr Range kWebhookSecretBytes{16, 256};
inline constexpr std::size_t kWebhookEventsMax = kWebhookEvents.size();
inline constexpr int kWebhooksPerSite = 20;  // POST /admin/webhooks past it: 409
inline constexpr std::uint64_t kWebhookTimeoutMs = 10000;   // connect + send + status line
inline constexpr std::uint64_t kWebhookBackoffDefaultMs = 5000;  // chat_webhook_backoff
inline constexpr Range kWebhookBackoffMs{10, 600000};
inline constexpr int kWebhookGiveUpS = 24 * 3600;  // retried for 24 h, then dropped
inline constexpr std::size_t kWebhookStatusLineMax = 1024;  // bytes read of an answer
inline constexpr std::size_t kWebhookHostBytes = 253;      // a host name (RFC 1035), resolved by c-ares
inline constexpr std::size_t kWebhookHostLabelBytes = 63;  // one label of it
inline constexpr std::size_t kWebhookAddressesMax = 8;     // resolved addresses tried, in order

// --- messages, conversations, pages ----------------------------------------------

inline constexpr std::size_t kMessageMaxDefault = 4000;     // characters; chat_message_max
inline constexpr Range kMessageMax{1, 100000};              // what chat_message_max accepts
inline constexpr std::size_t kContextFieldMaxBytes = 2048;  // context.product_id, ...

// --- customers (sql/012_customers.sql, POST /identify) ------------------------------

inline constexpr Range kCustomerNameBytes{1, 128};
inline constexpr Range kEmailBytes{3, 254};       // RFC 5321's path limit
inline constexpr std::size_t kEmailLocalMaxBytes = 64;

// --- after close, bot feedback, reports (sql/018_feedback_reports.sql) ---------------

inline constexpr Range kRatingScore{1, 5};            // POST /rating "score"
inline constexpr Range kRatingCommentChars{1, 1000};  // its optional "comment" (code points)
inline constexpr std::size_t kUnmatchedTextChars = 200;  // a question the bot could not answer, normalised
// seq columns and the SQL functions' parameters are int: every integer that reaches SQL
// is range checked first, so an overflow is a 422, never a 500 from Postgres.
inline constexpr std::int64_t kSeqMax = 2147483647;
inline constexpr Range kCustomerPage{1, 200};  // limit= of a customer's history
inline constexpr std::int64_t kCustomerPageDefault = 50;
inline constexpr std::int64_t kHistoryDefault = 50;  // chat_history: POST /session
inline constexpr Range kHistory{1, 200};
inline constexpr Range kAgentPage{1, 100};  // limit= of the agent's views
inline constexpr std::int64_t kAgentPageDefault = 20;
inline constexpr std::size_t kCursorMaxBytes = 128;

// --- cookies and tokens (API.md "Authentication", "Agent endpoints") -----------------

inline constexpr std::string_view kSessionCookie = "chat_session";
inline constexpr std::int64_t kSessionCookieMaxAgeS = 30LL * 24 * 3600;  // 30 days
inline constexpr std::string_view kAgentCookie = "chat_agent";
inline constexpr std::int64_t kAgentCookieMaxAgeS = 12LL * 3600;  // 12 hours
// Turning a second factor on (POST /agent/totp/setup, /enable) needs a login this recent: a
// token stolen later cannot put a phone of its thief's between its agent and the next login.
inline constexpr std::int64_t kTotpFreshLoginS = 15LL * 60;  // 15 minutes

// --- directives (defaults and what each accepts) ------------------------------------

inline constexpr int kLoginFailuresDefault = 10;               // chat_login_limit failures=
inline constexpr int kLoginAddressFailuresDefault = 50;        // address=
inline constexpr std::int64_t kLoginWindowMsDefault = 300000;  // window=
inline constexpr Range kLoginWindowMs{1000, 24LL * 3600 * 1000};
inline constexpr int kLoginQueueDefault = 32;        // queue=
inline constexpr int kLoginAddressQueueDefault = 2;  // address_queue=
inline constexpr Range kLoginCount{1, 10000};        // failures, address, queues
inline constexpr int kPgPoolDefault = 4;             // chat_postgres pool=
inline constexpr Range kPgPool{1, 64};
inline constexpr int kPgPreparedDefault = 128;  // chat_postgres prepare=: statements per connection
inline constexpr Range kPgPrepared{0, 1000};    // 0: none (a pooler that cannot keep them)
inline constexpr int kRateDefault = 1000;  // chat_rate, requests per second x 1000: 1r/s
inline constexpr int kRateBurstDefault = 30;
inline constexpr int kSessionRateDefault = 500;  // chat_session_rate: 30r/m
inline constexpr int kSessionRateBurstDefault = 60;
inline constexpr int kRedisPortDefault = 6379;                  // chat_redis host[:port]
inline constexpr std::size_t kSecretMinBytes = 32;              // chat_secret
inline constexpr std::int64_t kAgentGraceMsDefault = 60000;     // chat_agent_grace
inline constexpr std::size_t kWsMaxMessageDefault = 64 * 1024;  // chat_ws_max_message
inline constexpr Range kWsMaxMessage{125, 16LL * 1024 * 1024};
// chat_retention: off (0, the default) or an age in seconds; a batch deletes at most
// kRetentionBatch conversations, and a worker runs one every kRetentionEveryMsMax at most
// apart (sooner while batches come back full).
inline constexpr Range kRetentionSeconds{1, 3650LL * 24 * 3600};
inline constexpr int kRetentionBatch = 500;
inline constexpr std::int64_t kRetentionEveryMsMax = 10000;

}  // namespace chat::limits
