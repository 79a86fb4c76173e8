// The table of limits.h as JSON, for `chatctl limits` and the tests that compare sql/ with it.
#include "chat/limits_json.h"

#include "chat/json.h"
#include "chat/limits.h"

namespace chat::limits {

namespace {

template <std::size_t N>
void names(json::Writer& w, std::string_view key, const std::array<std::string_view, N>& list) {
    w.key(key).begin_array();
    for (std::string_view n : list) w.string(n);
    w.end_array();
}

void range(json::Writer& w, std::string_view key, Range r) {
    w.key(key).begin_object().key("min").number(r.min).key("max").number(r.max).end_object();
}

void ranged(json::Writer& w, std::string_view key, Range r, std::int64_t def) {
    w.key(key).begin_object().key("min").number(r.min).key("max").number(r.max).key("default").number(def).end_object();
}

}  // namespace

std::string to_json() {
    std::string out;
    json::Writer w(out);
    w.begin_object();

    w.key("schema").begin_object();
    w.key("agents.username").begin_object().key("min_length").number(kUsernameBytes.min);
    w.key("max_length").number(kUsernameBytes.max).end_object();
    w.key("agents.display_name").begin_object().key("min_length").number(kDisplayNameBytes.min);
    w.key("max_length").number(kDisplayNameBytes.max).end_object();
    w.key("agents.role").begin_object();
    names(w, "values", kRoles);
    w.key("default").string(kRoleDefault).end_object();
    w.key("agents.presence").begin_object();
    names(w, "values", kPresences);
    w.end_object();
    w.key("agents.max_active_chats").begin_object().key("min").number(kMaxActiveChats.min);
    w.key("default").number(kMaxActiveChatsDefault).end_object();
    w.key("conversations.status").begin_object();
    names(w, "values", kStatuses);
    w.end_object();
    w.key("messages.sender_type").begin_object();
    names(w, "values", kSenderTypes);
    w.end_object();
    w.key("messages.kind").begin_object();
    names(w, "values", kMessageKinds);
    w.end_object();
    w.key("faq_entries.slug").begin_object().key("pattern").string(kFaqSlugPattern);
    w.key("min_length").number(kFaqSlugBytes.min).key("max_length").number(kFaqSlugBytes.max).end_object();
    w.key("faq_entries.site").begin_object().key("pattern").string(kSitePattern);
    w.key("min_length").number(kSiteBytes.min).key("max_length").number(kSiteBytes.max);
    w.key("default").string(kSiteDefault).end_object();
    w.key("conversations.site").begin_object().key("pattern").string(kSitePattern);
    w.key("min_length").number(kSiteBytes.min).key("max_length").number(kSiteBytes.max);
    w.key("default").string(kSiteDefault).end_object();
    w.key("customers.name").begin_object().key("min_length").number(kCustomerNameBytes.min);
    w.key("max_length").number(kCustomerNameBytes.max).end_object();
    w.key("customers.email").begin_object().key("min_length").number(kEmailBytes.min);
    w.key("max_length").number(kEmailBytes.max).end_object();
    w.key("conversations.rating_score").begin_object().key("min").number(kRatingScore.min);
    w.key("max").number(kRatingScore.max).end_object();
    w.key("conversations.rating_comment").begin_object().key("min_length").number(kRatingCommentChars.min);
    w.key("max_length").number(kRatingCommentChars.max).end_object();
    w.key("unmatched_questions.text").begin_object().key("min_length").number(std::int64_t{1});
    w.key("max_length").number(static_cast<std::int64_t>(kUnmatchedTextChars)).end_object();
    w.key("departments.name").begin_object().key("min_length").number(kDepartmentNameChars.min);
    w.key("max_length").number(kDepartmentNameChars.max).end_object();
    w.key("departments.strategy").begin_object();
    names(w, "values", kStrategies);
    w.key("default").string(kStrategyDefault).end_object();
    w.key("departments.site").begin_object().key("pattern").string(kSitePattern);
    w.key("min_length").number(kSiteBytes.min).key("max_length").number(kSiteBytes.max);
    w.key("default").string(kSiteDefault).end_object();
    w.key("conversations.priority").begin_object();
    names(w, "values", kPriorities);
    w.key("default").string(kPriorityDefault).end_object();
    w.key("canned_replies.shortcut").begin_object().key("pattern").string(kCannedShortcutPattern);
    w.key("min_length").number(kCannedShortcutBytes.min).key("max_length").number(kCannedShortcutBytes.max).end_object();
    w.key("canned_replies.title").begin_object().key("min_length").number(kCannedTitleChars.min);
    w.key("max_length").number(kCannedTitleChars.max).end_object();
    w.key("canned_replies.text").begin_object().key("min_length").number(kCannedTextChars.min);
    w.key("max_length").number(kCannedTextChars.max).end_object();
    w.key("canned_replies.site").begin_object().key("pattern").string(kSitePattern);
    w.key("min_length").number(kSiteBytes.min).key("max_length").number(kSiteBytes.max);
    w.key("default").string(kSiteDefault).end_object();
    w.key("faq_entries.question").begin_object().key("min_length").number(kFaqQuestionChars.min).end_object();
    w.key("faq_entries.answer").begin_object().key("min_length").number(kFaqAnswerChars.min).end_object();
    w.end_object();

    w.key("functions").begin_object();
    w.key("chat_agent_conversations.view").begin_object();
    names(w, "values", kAgentViews);
    w.key("default").string(kAgentViewDefault).end_object();
    w.key("chat_agent_presence.presence").begin_object();
    names(w, "values", kPresences);
    w.end_object();
    w.end_object();

    w.key("api").begin_object();
    range(w, "username_bytes", kUsernameBytes);
    range(w, "display_name_bytes", kDisplayNameBytes);
    w.key("password").begin_object().key("min_chars").number(static_cast<std::int64_t>(kPasswordMinChars));
    w.key("max_bytes").number(static_cast<std::int64_t>(kPasswordMaxBytes)).end_object();
    ranged(w, "max_active_chats", kMaxActiveChats, kMaxActiveChatsDefault);
    range(w, "faq_slug_bytes", kFaqSlugBytes);
    range(w, "faq_question_chars", kFaqQuestionChars);
    range(w, "faq_answer_chars", kFaqAnswerChars);
    w.key("faq_keywords_max").number(static_cast<std::int64_t>(kFaqKeywordsMax));
    range(w, "faq_keyword_chars", kFaqKeywordChars);
    range(w, "faq_display_order", kFaqDisplayOrder);
    range(w, "site_bytes", kSiteBytes);
    w.key("agent_sites_max").number(static_cast<std::int64_t>(kAgentSitesMax));
    range(w, "department_name_chars", kDepartmentNameChars);
    w.key("department_agents_max").number(static_cast<std::int64_t>(kDepartmentAgentsMax));
    range(w, "time_zone_bytes", kTimeZoneBytes);
    range(w, "rating_score", kRatingScore);
    range(w, "rating_comment_chars", kRatingCommentChars);
    range(w, "tag_bytes", kTagBytes);
    w.key("tag_pattern").string(kTagPattern);
    w.key("tags_max").number(static_cast<std::int64_t>(kTagsMax));
    range(w, "canned_shortcut_bytes", kCannedShortcutBytes);
    range(w, "canned_title_chars", kCannedTitleChars);
    range(w, "canned_text_chars", kCannedTextChars);
    range(w, "search_query_chars", kSearchQueryChars);
    w.key("context_field_max_bytes").number(static_cast<std::int64_t>(kContextFieldMaxBytes));
    w.key("seq_max").number(kSeqMax);
    ranged(w, "customer_page", kCustomerPage, kCustomerPageDefault);
    ranged(w, "agent_page", kAgentPage, kAgentPageDefault);
    w.key("cursor_max_bytes").number(static_cast<std::int64_t>(kCursorMaxBytes));
    w.end_object();

    w.key("cookies").begin_object();
    w.key(kSessionCookie).begin_object().key("max_age_s").number(kSessionCookieMaxAgeS).end_object();
    w.key(kAgentCookie).begin_object().key("max_age_s").number(kAgentCookieMaxAgeS).end_object();
    w.end_object();

    w.key("directives").begin_object();
    ranged(w, "chat_message_max", kMessageMax, static_cast<std::int64_t>(kMessageMaxDefault));
    ranged(w, "chat_history", kHistory, kHistoryDefault);
    w.key("chat_login_limit").begin_object();
    ranged(w, "failures", kLoginCount, kLoginFailuresDefault);
    ranged(w, "address", kLoginCount, kLoginAddressFailuresDefault);
    ranged(w, "window_ms", kLoginWindowMs, kLoginWindowMsDefault);
    ranged(w, "queue", kLoginCount, kLoginQueueDefault);
    ranged(w, "address_queue", kLoginCount, kLoginAddressQueueDefault);
    w.end_object();
    w.key("chat_postgres").begin_object();
    ranged(w, "pool", kPgPool, kPgPoolDefault);
    w.end_object();
    w.key("chat_redis").begin_object().key("port_default").number(kRedisPortDefault).end_object();
    w.key("chat_secret")
        .begin_object()
        .key("min_bytes")
        .number(static_cast<std::int64_t>(kSecretMinBytes))
        .end_object();
    w.key("chat_agent_grace").begin_object().key("default_ms").number(kAgentGraceMsDefault).end_object();
    w.key("chat_site").begin_object().key("default").string(kSiteDefault).end_object();
    ranged(w, "chat_ws_max_message", kWsMaxMessage, static_cast<std::int64_t>(kWsMaxMessageDefault));
    w.key("chat_retention").begin_object();
    ranged(w, "seconds", kRetentionSeconds, 0);
    w.key("batch").number(static_cast<std::int64_t>(kRetentionBatch));
    w.end_object();
    w.end_object();

    w.end_object();
    return w.complete() ? out : std::string();
}

}  // namespace chat::limits
