// The periodic re-check of the agents with open sockets (chat::ws::StandingCheck): one
// question for all of them, and each session kept, promoted or closed with 4401.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "chat/events.h"
#include "chat/ws.h"
#include "chat/ws_session.h"
#include "chat/ws_standing.h"
#include "ws_fakes.h"

namespace {

using namespace chat_test;

TEST(WsStanding, AgentsStandingIsReadOnceForAllAndKeepsPromotesOrRevokes) {
    FakeBackend b;
    FakeTransport t1, t2, t3, t4, tc;
    std::vector<std::shared_ptr<Session>> all;
    const char* roles[] = {"agent", "agent", "supervisor"};
    const char* ids[] = {"a1", "a2", "a1"};
    FakeTransport* ts[] = {&t1, &t2, &t3};
    for (int i = 0; i < 3; i++) {
        all.push_back(Session::agent(*ts[i], b));
        all.back()->start("tok");
        b.auths.back().second(principal(ids[i], roles[i]));
    }
    all.push_back(Session::agent(t4, b));  // token not checked yet
    all.back()->start("tok");
    all.push_back(Session::customer(tc, b, "sid", 0));

    chat::ws::StandingCheck check(2000, 30000);
    EXPECT_TRUE(check.due(10000));
    check.start(all, b, 10000);
    ASSERT_EQ(b.standings.size(), 1u);
    EXPECT_EQ(b.standings[0].first, (std::vector<std::string>{"a1", "a2"}));
    EXPECT_FALSE(check.due(12000));  // one round at a time
    EXPECT_TRUE(check.due(40001));   // ... unless its answer was lost

    b.auths.back().second(principal("a3", "agent"));  // after the question: next round
    b.standings[0].second(std::vector<chat::agent::Standing>{{"a1", "supervisor", 1, false}});
    EXPECT_EQ(t1.closes, 0);  // a1 promoted: hears more
    all[0]->on_event(conversation(kConv, "agent", "a9", 1, 1).back());
    EXPECT_EQ(t1.frames.size(), 1u);
    EXPECT_EQ(t2.code, chat::ws::kRevoked);  // a2 gone
    EXPECT_EQ(t2.reason, "token revoked or role changed");
    EXPECT_EQ(t3.closes, 0);  // kept
    EXPECT_EQ(t4.closes, 0);
    EXPECT_EQ(tc.closes, 0);

    EXPECT_FALSE(check.due(11000));
    EXPECT_TRUE(check.due(12000));
    check.start(all, b, 12000);
    ASSERT_EQ(b.standings.size(), 2u);
    EXPECT_EQ(b.standings[1].first, (std::vector<std::string>{"a1", "a3"}));  // a2 closing
    b.standings[1].second(std::vector<chat::agent::Standing>{{"a1", "agent", 1, false}, {"a3", "agent", 1, false}});
    EXPECT_EQ(t1.code, chat::ws::kRevoked);  // demoted from supervisor
    EXPECT_EQ(t3.code, chat::ws::kRevoked);
    EXPECT_EQ(t4.closes, 0);
}

}  // namespace
