// Events of a write: what clients get, and the envelope that travels between nodes.
#include <gtest/gtest.h>

#include "chat/events.h"

namespace {

const char* kAnswer =
    R"({"conversation":{"id":"c1","status":"agent","last_seq":3,"assigned_agent":{"id":"a1","display_name":"John Doe"}},)"
    R"("messages":[{"seq":2,"sender_type":"customer","content":"hi"},)"
    R"({"seq":3,"sender_type":"system","content":"John Doe joined the chat","metadata":{"event":"assigned"}}]})";

TEST(Events, AWriteGivesMessagesThenTheConversationThenTheAssignment) {
    auto ev = chat::events::from_answer(kAnswer);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[0].type, "message.created");
    EXPECT_EQ(ev[0].seq, 2);
    EXPECT_EQ(ev[1].seq, 3);
    EXPECT_EQ(ev[2].type, "conversation.updated");
    EXPECT_EQ(ev[3].type, "agent.assigned");
    for (const auto& e : ev) {
        EXPECT_EQ(e.conversation_id, "c1");
        EXPECT_EQ(e.assigned_agent_id, "a1");
    }
    EXPECT_EQ(ev[0].json,
              R"({"type":"message.created","conversation_id":"c1","seq":2,)"
              R"("data":{"seq":2,"sender_type":"customer","content":"hi"}})");
}

TEST(Events, TheCacheEnvelopeRoundTripsAndNeverReachesClients) {
    auto ev = chat::events::from_answer(kAnswer);
    ev[0].cache_key = "sid-1";
    ev[0].version = 42;
    std::string wire = chat::events::encode(ev[0]);
    auto back = chat::events::parse(wire);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back.value().cache_key, "sid-1");
    EXPECT_EQ(back.value().version, 42);
    EXPECT_EQ(back.value().json, ev[0].json);
    EXPECT_EQ(back.value().seq, 2);
    EXPECT_EQ(back.value().assigned_agent_id, "a1");
}

TEST(Events, BrokenPayloadsAreRejected) {
    EXPECT_FALSE(chat::events::parse("e1\nsid\n12").ok());
    EXPECT_FALSE(chat::events::parse("e1\nsid\nx\na1\n{}").ok());
    EXPECT_FALSE(chat::events::parse("{\"no\":\"type\"}").ok());
    EXPECT_FALSE(chat::events::parse("not json").ok());
    EXPECT_TRUE(chat::events::from_answer("{}").empty());
}

}  // namespace

namespace {

TEST(Events, SideEffectsAreTheOtherConversationsAWriteAssignedOrRequeued) {
    auto ids = chat::events::side_effects(
        R"({"conversation":{"id":"c1"},"assigned":[{"conversation_id":"c1","agent_id":"a"},)"
        R"({"conversation_id":"c2","agent_id":"a"}],"requeued":["c3","c2"]})");
    EXPECT_EQ(ids, (std::vector<std::string>{"c2", "c3"}));
    EXPECT_TRUE(chat::events::side_effects("{}").empty());
    EXPECT_TRUE(chat::events::side_effects("nope").empty());
}

}  // namespace
