// The rules of one WebSocket (chat::ws::Session), driven through a fake transport and a
// fake backend (ws_fakes.h): no nginx, no database, time passed in.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "chat/events.h"
#include "chat/json.h"
#include "chat/ws.h"
#include "chat/ws_session.h"
#include "ws_fakes.h"

namespace {

using namespace chat_test;

// A customer session of conversation kConv whose replay (nothing after `after`) is done.
struct Customer {
    FakeTransport t;
    FakeBackend b;
    std::shared_ptr<Session> s;

    explicit Customer(std::int64_t after = 0, chat::ws::SessionLimits limits = {}) {
        s = Session::customer(t, b, "sid-1", after, limits);
        s->start();
    }
    void replay_done(std::int64_t last_seq = 0) {
        auto done = std::move(b.replays.back().done);
        done(page(conversation(kConv, "automated", "", 1, static_cast<int>(last_seq)), last_seq));
    }
};

// An agent session whose token stood.
struct Agent {
    FakeTransport t;
    FakeBackend b;
    std::shared_ptr<Session> s;

    explicit Agent(const char* id = "a1", const char* role = "agent") {
        s = Session::agent(t, b);
        s->start("token");
        auto done = std::move(b.auths.at(0).second);
        done(principal(id, role));
    }
};

TEST(WsSession, AnAgentSocketHandlesNothingBeforeItsTokenStands) {
    FakeTransport t;
    FakeBackend b;
    auto s = Session::agent(t, b);
    s->start("tok");
    ASSERT_EQ(b.auths.size(), 1u);
    EXPECT_EQ(b.auths[0].first, "tok");
    EXPECT_FALSE(s->authenticated());
    EXPECT_FALSE(t.reading);

    s->on_message(text(R"({"type":"ping"})"), 0);
    s->on_message(Message{Opcode::ping, "x"}, 0);
    s->on_bytes(std::string("\x89\x80\x00\x00\x00\x00", 6), 0);
    s->on_event(chat::events::presence(R"({"agent":{"id":"a2"}})"));
    EXPECT_TRUE(t.frames.empty());
    EXPECT_EQ(t.closes, 0);

    b.auths[0].second(principal("a1", "agent"));
    EXPECT_TRUE(s->authenticated());
    EXPECT_TRUE(t.reading);
    EXPECT_EQ(s->principal(), "a1");
    s->on_message(text(R"({"type":"ping"})"), 0);
    EXPECT_EQ(t.texts(), std::vector<std::string>{R"({"type":"pong"})"});
}

TEST(WsSession, ARefusedTokenClosesWith4401AndAnUnreachableCheckWith1011) {
    {
        FakeTransport t;
        FakeBackend b;
        auto s = Session::agent(t, b);
        s->start("bad");
        b.auths[0].second(chat::make_error(chat::Errc::unauthorized, "no"));
        EXPECT_EQ(t.code, chat::ws::kRevoked);
        EXPECT_EQ(t.reason, "unauthorized");
        EXPECT_FALSE(t.reading);
    }
    {
        FakeTransport t;
        FakeBackend b;
        auto s = Session::agent(t, b);
        s->start("tok");
        b.auths[0].second(chat::make_error(chat::Errc::unavailable, "db down"));
        EXPECT_EQ(t.code, CloseCode::internal);
        EXPECT_EQ(t.reason, "try again later");
        EXPECT_FALSE(s->authenticated());
    }
}

TEST(WsSession, AnAnswerForASessionThatIsGoneDoesNothing) {
    FakeTransport t;
    FakeBackend b;
    auto s = Session::agent(t, b);
    s->start("tok");
    auto done = std::move(b.auths[0].second);
    s.reset();
    done(principal("a1", "agent"));
    EXPECT_FALSE(t.reading);

    Customer c;
    auto replay = std::move(c.b.replays[0].done);
    c.s.reset();
    replay(page(conversation(kConv, "automated", "", 1, 1), 1));
    EXPECT_TRUE(c.t.frames.empty());
}

TEST(WsSession, ACustomerHearsOnlyItsOwnConversation) {
    Customer c;
    EXPECT_TRUE(c.t.reading);
    ASSERT_EQ(c.b.replays.size(), 1u);
    EXPECT_EQ(c.b.replays[0].sid, "sid-1");
    EXPECT_EQ(c.b.replays[0].after, 0);
    EXPECT_EQ(c.b.replays[0].limit, 200);
    c.replay_done(0);
    ASSERT_EQ(c.t.frames.size(), 1u);  // conversation.updated

    c.s->on_event(conversation(kOther, "agent", "", 1, 1)[0]);
    c.s->on_event(chat::events::presence(R"({"agent":{"id":"a2"}})"));
    EXPECT_EQ(c.t.frames.size(), 1u);
    auto mine = conversation(kConv, "agent", "a1", 1, 1)[0];
    c.s->on_event(mine);
    ASSERT_EQ(c.t.frames.size(), 2u);
    EXPECT_EQ(c.t.texts()[1], mine.json);
}

TEST(WsSession, ANoteReachesTheAgentsOfTheConversationAndNeverItsCustomer) {
    std::string answer = std::string(R"({"conversation":{"id":")") + kConv +
                         R"(","status":"agent","assigned_agent":{"id":"a1"}},"note":{"id":"n1","text":"voucher"}})";
    auto v = chat::json::parse(answer);
    ASSERT_TRUE(v.ok());
    Event note = chat::events::note_created(v.value());
    ASSERT_FALSE(note.json.empty());

    Customer c;
    c.replay_done(0);
    std::size_t before = c.t.frames.size();
    c.s->on_event(note);
    EXPECT_EQ(c.t.frames.size(), before);

    Agent mine("a1", "agent");
    mine.s->on_event(note);
    EXPECT_EQ(mine.t.texts(), (std::vector<std::string>{note.json}));
    Agent other("a2", "agent");
    other.s->on_event(note);
    EXPECT_TRUE(other.t.frames.empty());
}

TEST(WsSession, AnAgentHearsWhatVisibleToAgentAllowsForItsRole) {
    Agent a("a1", "agent");
    auto bot = conversation(kConv, "automated", "", 1, 1).back();
    auto queued = conversation(kConv, "agent", "", 1, 1).back();
    auto mine = conversation(kConv, "agent", "a1", 1, 1).back();
    auto theirs = conversation(kConv, "agent", "a2", 1, 1).back();
    for (const Event* e : {&bot, &queued, &mine, &theirs}) a.s->on_event(*e);
    EXPECT_EQ(a.t.texts(), (std::vector<std::string>{queued.json, mine.json}));

    Agent sup("s1", "supervisor");
    for (const Event* e : {&bot, &queued, &mine, &theirs}) sup.s->on_event(*e);
    EXPECT_EQ(sup.t.frames.size(), 4u);
}

TEST(WsSession, NobodyHearsTheEchoOfItsOwnSidesTypingAndRead) {
    Customer c;
    c.replay_done(0);
    c.t.frames.clear();
    c.s->on_event(chat::events::typing(kConv, "", Sender::customer, true, "agent"));
    c.s->on_event(chat::events::read(kConv, "", Sender::customer, 3, "agent"));
    EXPECT_TRUE(c.t.frames.empty());
    auto theirs = chat::events::typing(kConv, "a1", Sender::agent, true, "agent");
    c.s->on_event(theirs);
    EXPECT_EQ(c.t.texts(), std::vector<std::string>{theirs.json});

    Agent a("a1", "agent");
    a.s->on_event(chat::events::typing(kConv, "a1", Sender::agent, true, "agent"));
    a.s->on_event(chat::events::read(kConv, "a1", Sender::agent, 3, "agent"));
    EXPECT_TRUE(a.t.frames.empty());
    auto customer = chat::events::read(kConv, "a1", Sender::customer, 3, "agent");
    a.s->on_event(customer);
    EXPECT_EQ(a.t.texts(), std::vector<std::string>{customer.json});
}

TEST(WsSession, EachMessageReachesACustomerOnceInSeqOrder) {
    Customer c(5);
    EXPECT_EQ(c.b.replays[0].after, 5);
    c.b.replays[0].done(page(conversation(kConv, "automated", "", 6, 7), 7));
    ASSERT_EQ(c.t.frames.size(), 3u);  // 6, 7, conversation.updated
    c.t.frames.clear();
    auto again = conversation(kConv, "automated", "", 5, 8);
    for (const Event& e : again) c.s->on_event(e);
    // 5, 6 and 7 were had already; 8 and the conversation go out
    ASSERT_EQ(c.t.frames.size(), 2u);
    EXPECT_EQ(c.t.texts()[0], again[3].json);
    c.s->on_event(again[3]);  // delivered twice (Redis and the fallback): once
    EXPECT_EQ(c.t.frames.size(), 2u);
}

// Two writes of one conversation published by two workers reach Redis in either order.
TEST(WsSession, AMessageHeardAfterALaterOneStillReachesTheCustomerOnce) {
    Customer c(5);
    c.b.replays[0].done(page(conversation(kConv, "automated", "", 6, 7), 7));
    c.t.frames.clear();
    auto later = conversation(kConv, "automated", "", 8, 9);  // 8, 9, conversation.updated
    c.s->on_event(later[1]);
    c.s->on_event(later[0]);
    ASSERT_EQ(c.t.frames.size(), 2u);
    EXPECT_EQ(c.t.texts()[0], later[1].json);
    EXPECT_EQ(c.t.texts()[1], later[0].json);
    for (const Event& e : conversation(kConv, "automated", "", 5, 9)) c.s->on_event(e);
    ASSERT_EQ(c.t.frames.size(), 3u);  // 5 to 9 were had: only the conversation is new
    // far ahead: the window moves, and what was had stays had
    auto far = conversation(kConv, "automated", "", 100, 100);
    c.s->on_event(far[0]);
    c.s->on_event(later[0]);
    EXPECT_EQ(c.t.frames.size(), 4u);
}

TEST(WsSession, LiveEventsWaitForTheReplayInABoundedQueue) {
    chat::ws::SessionLimits lim;
    lim.pending_max = 3;
    Customer c(0, lim);
    auto live = conversation(kConv, "automated", "", 2, 3);  // 2, 3, conversation.updated
    for (const Event& e : live) c.s->on_event(e);
    EXPECT_TRUE(c.t.frames.empty());
    c.b.replays[0].done(page(conversation(kConv, "automated", "", 1, 1), 1));
    auto texts = c.t.texts();
    ASSERT_EQ(texts.size(), 5u);  // 1, conversation.updated, then what waited
    EXPECT_EQ(texts[2], live[0].json);
    EXPECT_EQ(texts[4], live[2].json);

    Customer full(0, lim);
    for (const Event& e : live) full.s->on_event(e);
    EXPECT_EQ(full.t.closes, 0);
    full.s->on_event(live[0]);
    EXPECT_EQ(full.t.code, CloseCode::internal);
    EXPECT_EQ(full.t.reason, "overloaded; reconnect");
    EXPECT_TRUE(full.t.frames.empty());
}

TEST(WsSession, AReplayShorterThanTheConversationAsksForTheNextPage) {
    Customer c(0);
    c.s->on_event(conversation(kConv, "automated", "", 5, 5)[0]);  // live: waits
    auto first = std::move(c.b.replays[0].done);
    first(page(conversation(kConv, "automated", "", 1, 2), 4));
    ASSERT_EQ(c.b.replays.size(), 2u);
    EXPECT_EQ(c.b.replays[1].after, 2);
    EXPECT_EQ(c.t.frames.size(), 3u);  // 1, 2, conversation.updated; 5 still waits
    auto second = std::move(c.b.replays[1].done);
    second(page(conversation(kConv, "automated", "", 3, 4), 4));
    EXPECT_EQ(c.b.replays.size(), 2u);
    auto texts = c.t.texts();
    ASSERT_EQ(texts.size(), 7u);  // 3, 4, conversation.updated, then 5
    EXPECT_NE(texts[6].find(R"("seq":5)"), std::string::npos);
}

TEST(WsSession, AFailedReplayClosesWithItsReason) {
    Customer c;
    c.b.replays[0].done(chat::make_error(chat::Errc::unavailable, "database unavailable"));
    EXPECT_EQ(c.t.code, CloseCode::internal);
    EXPECT_EQ(c.t.reason, "database unavailable");
}

TEST(WsSession, ASessionWithoutAConversationClosesWith4410NotAReconnectCode) {
    Customer c;  // e.g. its conversations were erased, and the old token came back
    c.b.replays[0].done(chat::make_error(chat::Errc::not_found, "no conversation for this session"));
    EXPECT_EQ(c.t.code, chat::ws::kErased);
    EXPECT_EQ(c.t.reason, "no conversation for this session");
}

TEST(WsSession, ExcessTypingIsDroppedWithinTheTypingBudget) {
    Customer c;
    c.replay_done(0);
    for (int i = 0; i < 5; i++) c.s->on_message(text(R"({"type":"typing","typing":true})"), 1000);
    ASSERT_EQ(c.b.published.size(), 3u);
    EXPECT_EQ(c.b.published[0].type, chat::events::Type::typing);
    EXPECT_EQ(c.b.published[0].sender, Sender::customer);
    EXPECT_EQ(c.b.published[0].conversation_id, kConv);
    EXPECT_EQ(c.b.applied[0].cache.kind, chat::CacheEffect::Kind::none) << "typing changes no cached copy";
    EXPECT_EQ(c.t.closes, 0);
    c.s->on_message(text(R"({"type":"typing","typing":false})"), 1400);  // a third of a token later
    EXPECT_EQ(c.b.published.size(), 4u);
}

TEST(WsSession, TooManyFramesCloseTheSocketWithPolicy) {
    Customer c;
    c.replay_done(0);
    c.t.frames.clear();
    for (int i = 0; i < 60; i++) c.s->on_message(Message{Opcode::pong, ""}, 0);
    EXPECT_EQ(c.t.closes, 0);
    c.s->on_message(Message{Opcode::pong, ""}, 0);
    EXPECT_EQ(c.t.code, CloseCode::policy);
    EXPECT_EQ(c.t.reason, "too many frames");
}

TEST(WsSession, ControlFramesAndBadTextGetTheirAnswers) {
    Customer c;
    c.replay_done(0);
    c.t.frames.clear();
    c.s->on_message(Message{Opcode::ping, "hi"}, 0);
    EXPECT_EQ(c.t.frames.back(), chat::ws::frame_pong("hi"));
    c.s->on_message(text("not json"), 0);
    EXPECT_EQ(c.t.texts().back(), R"({"type":"error","data":{"code":"invalid_json",)"
                                  R"("message":"expected a JSON object with a type"}})");
    c.s->on_message(text(R"({"type":"nonsense"})"), 0);
    EXPECT_EQ(c.t.frames.size(), 2u);
    c.s->on_message(Message{Opcode::binary, "x"}, 0);
    EXPECT_EQ(c.t.code, CloseCode::unsupported);
    EXPECT_EQ(c.t.reason, "text frames only");

    Customer bye;
    bye.s->on_message(Message{Opcode::close, ""}, 0);
    EXPECT_EQ(bye.t.code, CloseCode::normal);
}

TEST(WsSession, BytesAreParsedIntoFramesAndAViolationClosesWithTheParsersCode) {
    Customer c;
    c.replay_done(0);
    c.t.frames.clear();
    // a masked client ping "ab" (mask 0), split anywhere
    c.s->on_bytes(std::string("\x89\x82\x00\x00", 4), 0);
    c.s->on_bytes(std::string{'\0', '\0', 'a', 'b'}, 0);
    EXPECT_EQ(c.t.frames, std::vector<std::string>{chat::ws::frame_pong("ab")});
    c.s->on_bytes(std::string{'\x81', '\x02', 'h', 'i'}, 0);  // unmasked
    EXPECT_EQ(c.t.code, CloseCode::protocol_error);
}

// A read frame is the REST read without its answer: the host carries out the use case's whole
// Outcome, its cache effect too (read_at and unread_count changed in the cached conversation).
TEST(WsSession, AReadFrameHandsTheHostTheUseCasesWholeOutcome) {
    Customer c;
    c.replay_done(0);
    c.s->on_message(text(R"({"type":"read","up_to_seq":7})"), 0);
    ASSERT_EQ(c.b.reads.size(), 1u);
    EXPECT_EQ(c.b.reads[0].who, "sid-1");
    EXPECT_EQ(c.b.reads[0].body, R"({"up_to_seq":7})");
    chat::Outcome o;  // what customer::Service::mark_read answers when it marked something
    o.status = 204;
    o.events.push_back(chat::events::read(kConv, "", Sender::customer, 7, "automated"));
    o.cache_drop("sid-1");
    c.b.reads[0].done(o);
    ASSERT_EQ(c.b.applied.size(), 1u);
    EXPECT_EQ(c.b.applied[0].cache.kind, chat::CacheEffect::Kind::drop);
    EXPECT_EQ(c.b.applied[0].cache.key, "sid-1");
    ASSERT_EQ(c.b.applied[0].events.size(), 1u);
    EXPECT_EQ(c.b.applied[0].events[0].json, o.events[0].json);

    Agent a("a1", "agent");
    a.s->on_message(text(R"({"type":"read","up_to_seq":3})"), 0);  // no conversation: ignored
    a.s->on_message(text(R"({"type":"read","conversation_id":"nope","up_to_seq":3})"), 0);
    EXPECT_TRUE(a.b.reads.empty());
    a.s->on_message(text(std::string(R"({"type":"read","conversation_id":")") + kConv + R"(","up_to_seq":3})"), 0);
    ASSERT_EQ(a.b.reads.size(), 1u);
    EXPECT_EQ(a.b.reads[0].conv, kConv);
    chat::Outcome done;  // what the use case answered (an agent's whole read: the next test)
    done.events.push_back(chat::events::read(kConv, "a1", Sender::agent, 3, "agent"));
    done.cache_drop("sid-of-the-customer");
    done.side_effects.push_back(kOther);
    a.s.reset();  // a committed read is carried out even if its socket went away
    a.b.reads[0].done(done);
    ASSERT_EQ(a.b.applied.size(), 1u);
    EXPECT_EQ(a.b.applied[0].cache.kind, chat::CacheEffect::Kind::drop);
    EXPECT_EQ(a.b.applied[0].cache.key, "sid-of-the-customer");
    EXPECT_EQ(a.b.applied[0].side_effects, std::vector<std::string>{kOther});
    ASSERT_EQ(a.b.published.size(), 1u);
    EXPECT_EQ(a.b.published[0].json, chat::events::read(kConv, "a1", Sender::agent, 3, "agent").json);
    EXPECT_EQ(a.b.published[0].status, "agent");
}

// A failed read (the conversation is not the agent's, the database is down) changed nothing:
// there is nothing to carry out.
TEST(WsSession, AFailedReadHandsTheHostNothing) {
    Agent a("a1", "agent");
    a.s->on_message(text(std::string(R"({"type":"read","conversation_id":")") + kConv + R"(","up_to_seq":3})"), 0);
    ASSERT_EQ(a.b.reads.size(), 1u);
    a.b.reads[0].done(chat::make_error(chat::Errc::forbidden, "not your conversation"));
    EXPECT_TRUE(a.b.applied.empty());
}

// API.md: a Conversation's unread_count is the viewer's. The same event reaches a customer
// with the customer's count and an agent with the agent side's.
TEST(WsSession, EachSideHearsAConversationWithItsOwnUnreadCount) {
    auto ev = chat::events::from_answer(std::string(R"({"conversation":{"id":")") + kConv +
                                        R"(","status":"agent","unread_count":0,"assigned_agent":{"id":"a1"}},)"
                                        R"("unread":{"customer":3,"agent":0}})");
    ASSERT_EQ(ev.size(), 1u);
    Customer c;
    c.replay_done(0);
    c.s->on_event(ev[0]);
    Agent a("a1", "agent");
    a.s->on_event(ev[0]);
    auto unread = [](const std::string& frame) {
        auto v = chat::json::parse(frame);
        return v.ok() ? v.value().find("data")->find_int("unread_count").value_or(-1) : -1;
    };
    ASSERT_EQ(c.t.texts().size(), 2u);  // the replay's conversation, then this one
    EXPECT_EQ(unread(c.t.texts()[1]), 3);
    ASSERT_EQ(a.t.texts().size(), 1u);
    EXPECT_EQ(unread(a.t.texts()[0]), 0);
}

// API.md: an agent's read frame is the REST read (POST /agent/conversations/{id}/read): its
// socket hands the host all the use case answered, events in order: conversation.updated with
// the agent side's unread_count (agents' lists show it) and the department, then the receipt.
TEST(WsSession, AnAgentsReadFrameHandsTheHostWhatTheRestReadApplies) {
    auto answer = chat::json::parse(std::string(R"({"conversation":{"id":")") + kConv +
                                    R"(","status":"agent","unread_count":2,"assigned_agent":{"id":"a1"},)"
                                    R"("department":{"id":"d1","name":"Orders"}},"marked":1,)"
                                    R"("unread":{"customer":2,"agent":1}})");
    ASSERT_TRUE(answer.ok());
    chat::Outcome done;  // what agent::Service::read answers the REST read
    done.status = 204;
    done.events = chat::events::from_read(answer.value(), Sender::agent, 3);
    ASSERT_EQ(done.events.size(), 2u);
    Agent a("a1", "agent");
    a.s->on_message(text(std::string(R"({"type":"read","conversation_id":")") + kConv + R"(","up_to_seq":3})"), 0);
    ASSERT_EQ(a.b.reads.size(), 1u);
    EXPECT_EQ(a.b.reads[0].conv, kConv);
    EXPECT_EQ(a.b.reads[0].body, R"({"up_to_seq":3})");
    a.b.reads[0].done(done);
    ASSERT_EQ(a.b.applied.size(), 1u);
    EXPECT_EQ(a.b.applied[0].status, 204);
    ASSERT_EQ(a.b.published.size(), 2u);
    EXPECT_EQ(a.b.published[0].type, chat::events::Type::conversation_updated);
    EXPECT_EQ(a.b.published[0].json, done.events[0].json);
    std::string scratch;
    auto v = chat::json::parse(chat::events::json_for_agents(a.b.published[0], scratch));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v.value().find("data")->find_int("unread_count"), 1) << "the agent side's count";
    EXPECT_EQ(a.b.published[1].type, chat::events::Type::read);
    EXPECT_EQ(a.b.published[1].json, done.events[1].json);
    EXPECT_EQ(a.b.published[1].department_id, "d1") << "the read is routed by its department too";
}

// A read frame whose use case marked nothing has no events (events::from_read): nobody hears it.
TEST(WsSession, AReadThatMarkedNothingIsToldToNobody) {
    Agent a("a1", "agent");
    a.s->on_message(text(std::string(R"({"type":"read","conversation_id":")") + kConv + R"(","up_to_seq":3})"), 0);
    ASSERT_EQ(a.b.reads.size(), 1u);
    a.b.reads[0].done(chat::Outcome{});
    EXPECT_TRUE(a.b.published.empty());
    Customer c;
    c.replay_done(0);
    c.s->on_message(text(R"({"type":"read","up_to_seq":7})"), 0);
    ASSERT_EQ(c.b.reads.size(), 1u);
    c.b.reads[0].done(chat::Outcome{});
    EXPECT_TRUE(c.b.published.empty());
}

TEST(WsSession, AnAgentTypesOnlyWhereItMayWriteAskingOnceForAWhile) {
    Agent a("a1", "agent");
    std::string typing = std::string(R"({"type":"typing","conversation_id":")") + kConv + R"(","typing":true})";
    a.s->on_message(text(typing), 1000);
    ASSERT_EQ(a.b.accesses.size(), 1u);
    EXPECT_EQ(a.b.accesses[0].conv, kConv);
    a.b.accesses[0].done(chat::agent::WriteAccess{true, "agent", "a1"});
    ASSERT_EQ(a.b.published.size(), 1u);
    EXPECT_EQ(a.b.published[0].sender, Sender::agent);
    EXPECT_EQ(a.b.published[0].assigned_agent_id, "a1");
    a.s->on_message(text(typing), 2500);  // cached
    EXPECT_EQ(a.b.accesses.size(), 1u);
    EXPECT_EQ(a.b.published.size(), 2u);
    a.s->on_message(text(typing), 3500);  // expired: asked again
    ASSERT_EQ(a.b.accesses.size(), 2u);
    a.b.accesses[1].done(chat::agent::WriteAccess{false, "agent", "a2"});
    EXPECT_EQ(a.b.published.size(), 2u);
    std::string other = std::string(R"({"type":"typing","conversation_id":")") + kOther + R"(","typing":true})";
    a.s->on_message(text(other), 5000);
    a.b.accesses[2].done(chat::agent::WriteAccess{true, "automated", ""});  // not an agent chat
    EXPECT_EQ(a.b.published.size(), 2u);
}

TEST(WsSession, AnAgentForgetsItsWriteAccessToADeletedConversation) {
    Agent a("a1", "agent");
    std::string typing = std::string(R"({"type":"typing","conversation_id":")") + kConv + R"(","typing":true})";
    a.s->on_message(text(typing), 1000);
    ASSERT_EQ(a.b.accesses.size(), 1u);
    a.b.accesses[0].done(chat::agent::WriteAccess{true, "agent", "a1"});
    a.s->on_ended({kOther});
    a.s->on_message(text(typing), 1100);  // still cached
    EXPECT_EQ(a.b.accesses.size(), 1u);
    a.s->on_ended({kConv});
    a.s->on_message(text(typing), 1200);  // asked again: the conversation is gone
    EXPECT_EQ(a.b.accesses.size(), 2u);
    EXPECT_FALSE(a.t.is_closing);
}

}  // namespace
