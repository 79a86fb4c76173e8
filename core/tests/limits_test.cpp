// The table of limits (chat/limits.h): its JSON for chatctl, and the input rules that need
// no database reading their bounds from it (a value at the limit accepted, one past refused).
#include <gtest/gtest.h>

#include <string>

#include "chat/customer.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/limits_json.h"

namespace {

namespace limits = chat::limits;

TEST(Limits, SpellsListsAndRangesAsTheErrorMessagesDo) {
    EXPECT_EQ(limits::names_text(limits::kRoles), "agent, supervisor or admin");
    EXPECT_EQ(limits::names_text(limits::kAgentViews), "active, queue, closed or all");
    EXPECT_EQ(limits::range_text(limits::kUsernameBytes), "1..64");
    EXPECT_EQ(limits::between_text(limits::kCustomerPage), "1 and 200");
    EXPECT_TRUE(limits::one_of(limits::kPresences, "away"));
    EXPECT_FALSE(limits::one_of(limits::kPresences, "busy"));
}

TEST(LimitsJson, CarriesTheTableForChatctl) {
    auto v = chat::json::parse(limits::to_json());
    ASSERT_TRUE(v.ok());
    const auto* schema = v.value().find("schema");
    ASSERT_NE(schema, nullptr);
    const auto* username = schema->find("agents.username");
    ASSERT_NE(username, nullptr);
    EXPECT_EQ(username->find_int("max_length"), limits::kUsernameBytes.max);
    const auto* roles = schema->find("agents.role")->find("values")->as_array();
    ASSERT_NE(roles, nullptr);
    ASSERT_EQ(roles->size(), limits::kRoles.size());
    for (std::size_t i = 0; i < roles->size(); i++) EXPECT_EQ(*(*roles)[i].as_string(), limits::kRoles[i]);
    EXPECT_EQ(v.value().find("cookies")->find("chat_session")->find_int("max_age_s"), 30LL * 24 * 3600);
    EXPECT_EQ(v.value().find("cookies")->find("chat_agent")->find_int("max_age_s"), 12LL * 3600);
    EXPECT_EQ(v.value().find("directives")->find("chat_login_limit")->find("window_ms")->find_int("default"), 300000);
}

TEST(LimitsInput, CustomerPagesStopAtTheTablesLimit) {
    auto at = chat::customer::parse_window("limit=" + std::to_string(limits::kCustomerPage.max));
    ASSERT_TRUE(at.ok());
    auto past = chat::customer::parse_window("limit=" + std::to_string(limits::kCustomerPage.max + 1));
    ASSERT_FALSE(past.ok());
    EXPECT_EQ(past.error().code, chat::Errc::validation);
    EXPECT_EQ(chat::errc_http_status(past.error().code), 422);
    EXPECT_EQ(chat::customer::parse_window("").value().limit, limits::kCustomerPageDefault);
}

TEST(LimitsInput, SlugsAndSeqsStopAtTheTablesLimit) {
    EXPECT_TRUE(chat::input::valid_slug(std::string(limits::kFaqSlugBytes.max, 'a')));
    EXPECT_FALSE(chat::input::valid_slug(std::string(limits::kFaqSlugBytes.max + 1, 'a')));
    EXPECT_FALSE(chat::input::valid_slug(""));
    EXPECT_FALSE(chat::input::valid_slug("-a"));
    EXPECT_FALSE(chat::input::valid_slug("Ab"));
    EXPECT_TRUE(chat::input::valid_slug("a-1"));
    EXPECT_EQ(chat::input::parse_seq(std::to_string(limits::kSeqMax)), limits::kSeqMax);
    EXPECT_FALSE(chat::input::parse_seq(std::to_string(limits::kSeqMax + 1)));
}

TEST(LimitsInput, ControlCharactersAreFound) {
    EXPECT_TRUE(chat::input::has_control("a\tb"));
    EXPECT_TRUE(chat::input::has_control("a\x7f"));
    EXPECT_FALSE(chat::input::has_control("plain text é"));
}

}  // namespace
