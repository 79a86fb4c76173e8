// The worker's index of sessions (chat::ws::Hub): an event reaches the agents and the
// customers of its conversation, whatever the number of other sockets.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "chat/events.h"
#include "chat/ws_hub.h"
#include "chat/ws_session.h"
#include "ws_fakes.h"

namespace {

using namespace chat_test;

struct Socket {
    FakeTransport t;
    FakeBackend b;
    std::shared_ptr<Session> s;
};

// A customer socket of conversation `conv` whose replay answered (one conversation.updated frame).
std::unique_ptr<Socket> customer(chat::ws::Hub& hub, const char* conv, bool replayed = true) {
    auto k = std::make_unique<Socket>();
    k->s = Session::customer(k->t, k->b, std::string("sid-") + conv, 0);
    k->s->start();
    hub.add(k->s.get());
    if (replayed) {
        auto done = std::move(k->b.replays.back().done);
        done(page(conversation(conv, "automated", "", 1, 0), 0));
    }
    return k;
}

std::unique_ptr<Socket> agent(chat::ws::Hub& hub, const char* role) {
    auto k = std::make_unique<Socket>();
    k->s = Session::agent(k->t, k->b);
    k->s->start("token");
    auto done = std::move(k->b.auths.at(0).second);
    done(principal("a1", role));
    hub.add(k->s.get());
    return k;
}

TEST(WsHub, AnEventReachesTheAgentsAndTheCustomersOfItsConversationOnly) {
    chat::ws::Hub hub;
    auto mine = customer(hub, kConv);
    auto other = customer(hub, kOther);
    auto sup = agent(hub, "supervisor");
    EXPECT_EQ(hub.size(), 3u);

    auto e = conversation(kConv, "automated", "", 1, 1)[0];  // message.created
    hub.dispatch(e);
    EXPECT_EQ(mine->t.frames.size(), 2u);   // its replay's conversation.updated, then this
    EXPECT_EQ(other->t.frames.size(), 1u);  // only its own replay
    ASSERT_EQ(sup->t.frames.size(), 1u);
    EXPECT_EQ(sup->t.texts()[0], e.json);
    EXPECT_EQ(hub.unrouted(), 0u);  // both customers filed under their conversations
}

TEST(WsHub, PresenceReachesAgentsOnly) {
    chat::ws::Hub hub;
    auto c = customer(hub, kConv);
    auto a = agent(hub, "agent");
    hub.dispatch(chat::events::presence(R"({"agent":{"id":"a2","presence":"online"}})"));
    EXPECT_EQ(c->t.frames.size(), 1u);
    EXPECT_EQ(a->t.frames.size(), 1u);
}

TEST(WsHub, ACustomerWhoseReplayHasNotAnsweredHearsEventsAndIsFiledOnceItKnows) {
    chat::ws::Hub hub;
    auto c = customer(hub, kConv, false);
    EXPECT_EQ(hub.unrouted(), 1u);
    auto live = conversation(kConv, "automated", "", 1, 1)[0];
    hub.dispatch(live);  // held: the replay is in progress
    EXPECT_TRUE(c->t.frames.empty());
    auto done = std::move(c->b.replays.back().done);
    done(page(conversation(kConv, "automated", "", 1, 0), 0));
    ASSERT_EQ(c->t.frames.size(), 2u);  // the replay's conversation.updated, then the held event
    hub.dispatch(conversation(kOther, "automated", "", 1, 1)[0]);
    EXPECT_EQ(hub.unrouted(), 0u);
    hub.dispatch(conversation(kOther, "automated", "", 2, 2)[0]);
    hub.dispatch(conversation(kConv, "automated", "", 2, 2)[0]);
    EXPECT_EQ(c->t.frames.size(), 3u);  // its own conversation's only
}

// listens() says whether dispatch() would hand an event to anyone (the bus parses only those).
TEST(WsHub, ItListensToAConversationOnlyWhileOneOfItsSessionsMayHearIt) {
    chat::ws::Hub hub;
    EXPECT_FALSE(hub.listens(kConv));
    EXPECT_FALSE(hub.listens(""));
    auto c = customer(hub, kConv);
    EXPECT_TRUE(hub.listens(kOther));  // not filed yet: it hears every conversation's events
    EXPECT_FALSE(hub.listens(""));     // never presence
    hub.dispatch(conversation(kOther, "automated", "", 1, 1)[0]);
    EXPECT_EQ(hub.unrouted(), 0u);
    EXPECT_TRUE(hub.listens(kConv));
    EXPECT_FALSE(hub.listens(kOther));
    EXPECT_FALSE(hub.listens(std::string_view(kConv, 35)));  // a prefix of it is another id
    auto a = agent(hub, "agent");
    EXPECT_TRUE(hub.listens(kOther));  // agents hear what visible_to_agent allows, so all are asked
    EXPECT_TRUE(hub.listens(""));
    hub.remove(a->s.get());
    hub.remove(c->s.get());
    EXPECT_FALSE(hub.listens(kConv));
    EXPECT_FALSE(hub.listens(""));
}

TEST(WsHub, ARemovedSessionHearsNothing) {
    chat::ws::Hub hub;
    auto c = customer(hub, kConv);
    auto a = agent(hub, "admin");
    hub.dispatch(conversation(kConv, "automated", "", 1, 1)[0]);
    hub.remove(c->s.get());
    hub.remove(a->s.get());
    hub.remove(a->s.get());  // twice: nothing
    EXPECT_EQ(hub.size(), 0u);
    hub.dispatch(conversation(kConv, "automated", "", 2, 2)[0]);
    EXPECT_EQ(c->t.frames.size(), 2u);
    EXPECT_EQ(a->t.frames.size(), 1u);
}

TEST(WsHub, ItListsItsAgentsSessionsForTheStandingCheck) {
    chat::ws::Hub hub;
    auto c = customer(hub, kConv);
    auto a = agent(hub, "agent");
    auto b = agent(hub, "supervisor");
    auto agents = hub.agents();
    ASSERT_EQ(agents.size(), 2u);
    EXPECT_TRUE(agents[0] == a->s || agents[0] == b->s);
    EXPECT_TRUE(agents[1] == a->s || agents[1] == b->s);
    hub.remove(a->s.get());
    ASSERT_EQ(hub.agents().size(), 1u);
    EXPECT_EQ(hub.agents()[0], b->s);
}

TEST(WsHub, ADeletedConversationsCustomerSocketsCloseWith4410AndNoOtherDoes) {
    chat::ws::Hub hub;
    auto gone = customer(hub, kConv);
    auto pending = customer(hub, kConv, false);  // its replay has not answered: unknown yet
    auto other = customer(hub, kOther);
    auto a = agent(hub, "admin");
    hub.dispatch(conversation(kOther, "automated", "", 1, 1)[0]);  // files those that know theirs
    EXPECT_EQ(hub.unrouted(), 1u);
    const std::vector<std::string> ended{kConv};
    hub.end(ended);
    EXPECT_TRUE(gone->t.is_closing);
    EXPECT_EQ(gone->t.code, chat::ws::kErased);
    EXPECT_EQ(gone->t.reason, "conversation deleted");
    EXPECT_FALSE(pending->t.is_closing);  // (its replay will find nothing)
    EXPECT_FALSE(other->t.is_closing);
    EXPECT_FALSE(a->t.is_closing);  // agents forget it, and stay

    // a customer whose replay found the conversation before it is filed under it
    auto late = customer(hub, kOther, false);
    auto done = std::move(late->b.replays.back().done);
    done(page(conversation(kOther, "automated", "", 1, 0), 0));
    EXPECT_EQ(hub.unrouted(), 2u);  // pending and late: not filed yet
    hub.end(std::vector<std::string>{kOther});
    EXPECT_TRUE(late->t.is_closing);
    EXPECT_TRUE(other->t.is_closing);
    EXPECT_EQ(other->t.code, chat::ws::kErased);
}

}  // namespace
