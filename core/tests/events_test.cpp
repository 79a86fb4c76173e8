// Events of a write: what clients get, and the envelope that travels between nodes.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "chat/events.h"
#include "chat/json.h"

namespace {

const char* kAnswer =
    R"({"conversation":{"id":"c1","status":"agent","last_seq":3,"assigned_agent":{"id":"a1","display_name":"John Doe"}},)"
    R"("messages":[{"seq":2,"sender_type":"customer","content":"hi"},)"
    R"({"seq":3,"sender_type":"system","content":"John Doe joined the chat","metadata":{"event":"assigned"}}]})";

TEST(Events, AWriteGivesMessagesThenTheConversationThenTheAssignment) {
    auto ev = chat::events::from_answer(kAnswer);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[0].type, chat::events::Type::message_created);
    EXPECT_EQ(ev[0].seq, 2);
    EXPECT_EQ(ev[1].seq, 3);
    EXPECT_EQ(ev[2].type, chat::events::Type::conversation_updated);
    EXPECT_EQ(ev[3].type, chat::events::Type::agent_assigned);
    for (const auto& e : ev) {
        EXPECT_EQ(e.conversation_id, "c1");
        EXPECT_EQ(e.assigned_agent_id, "a1");
    }
    EXPECT_EQ(ev[0].json,
              R"({"type":"message.created","conversation_id":"c1","seq":2,)"
              R"("data":{"seq":2,"sender_type":"customer","content":"hi"}})");
}

TEST(Events, AParsedAnswerGivesTheSameEventsAsItsText) {
    auto v = chat::json::parse(kAnswer);
    ASSERT_TRUE(v.ok());
    auto parsed = chat::events::from_parsed(v.value());
    auto text = chat::events::from_answer(kAnswer);
    ASSERT_EQ(parsed.size(), text.size());
    for (std::size_t i = 0; i < parsed.size(); i++) {
        EXPECT_EQ(parsed[i].type, text[i].type);
        EXPECT_EQ(parsed[i].json, text[i].json);
    }
    auto fx = chat::json::parse(R"({"conversation":{"id":"c1"},"assigned":[{"conversation_id":"c2"}],"requeued":["c1","c3"]})");
    ASSERT_TRUE(fx.ok());
    EXPECT_EQ(chat::events::side_effects_parsed(fx.value()), (std::vector<std::string>{"c2", "c3"}));
    auto ag = chat::json::parse(R"({"agent":{"id":"a2"}})");
    ASSERT_TRUE(ag.ok());
    EXPECT_EQ(chat::events::presence_parsed(ag.value()).type, chat::events::Type::agent_presence_changed);
}

// A write reuses the JSON its cache snapshot wrote (events::Rendered): the same events, byte for byte.
TEST(Events, RenderedJsonGivesTheSameEventsAsWritingItAgain) {
    const char* closed = R"({"conversation":{"id":"c1","status":"closed","last_seq":2,"tags":["a<b"],)"
                         R"("department":{"id":"d1"}},"site":"shop","messages":[{"seq":2,"content":"bye \u00e9"}]})";
    for (const char* answer : {kAnswer, closed}) {
        auto v = chat::json::parse(answer);
        ASSERT_TRUE(v.ok());
        const std::string conversation = chat::json::to_string(*v.value().find("conversation"));
        std::vector<std::string> messages;
        for (const auto& m : *v.value().find("messages")->as_array()) messages.push_back(chat::json::to_string(m));
        const std::vector<std::string_view> views(messages.begin(), messages.end());
        auto reused = chat::events::from_parsed(v.value(), "main", chat::events::Rendered{conversation, views});
        auto written = chat::events::from_parsed(v.value(), "main");
        ASSERT_EQ(reused.size(), written.size());
        for (std::size_t i = 0; i < reused.size(); i++) {
            EXPECT_EQ(reused[i].type, written[i].type);
            EXPECT_EQ(reused[i].json, written[i].json);
            EXPECT_EQ(reused[i].site, written[i].site);
            EXPECT_EQ(reused[i].department_id, written[i].department_id);
            EXPECT_EQ(chat::events::encode(reused[i]), chat::events::encode(written[i]));
        }
    }
}

// Every worker parses every event it hears, building only what it reads (json::parse_members):
// what it reads is what a whole parse gives.
TEST(Events, AnEventHeardBackReadsWhatItsWriterKnew) {
    auto v = chat::json::parse(R"({"conversation":{"id":"c1","status":"agent","assigned_agent":{"id":"a1"},)"
                               R"("department":{"id":"00000000-0000-4000-8000-000000000001"},"tags":["x"]},)"
                               R"("messages":[{"seq":4,"content":"hi","metadata":{"k":[1,{"z":null}]}}]})");
    ASSERT_TRUE(v.ok());
    for (auto e : chat::events::from_parsed(v.value(), "shop")) {
        e.cache_key = "sid";
        e.version = 9;
        auto back = chat::events::parse(chat::events::encode(e));
        ASSERT_TRUE(back.ok()) << e.json;
        EXPECT_EQ(back.value().type, e.type);
        EXPECT_EQ(back.value().conversation_id, "c1");
        EXPECT_EQ(back.value().seq, e.seq);
        EXPECT_EQ(back.value().assigned_agent_id, "a1");
        EXPECT_EQ(back.value().status, "agent");
        EXPECT_EQ(back.value().site, "shop");
        EXPECT_EQ(back.value().department_id, "00000000-0000-4000-8000-000000000001");
        EXPECT_EQ(back.value().json, e.json);
        EXPECT_EQ(back.value().version, 9);
    }
    // without an envelope, the conversation's own fields
    auto bare = chat::events::parse(
        R"({"type":"conversation.updated","conversation_id":"c2","data":{"status":"queued","big":[1,2,3],)"
        R"("assigned_agent":{"id":"a2","name":"x"},"department":{"id":"d2"}}})");
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare.value().status, "queued");
    EXPECT_EQ(bare.value().assigned_agent_id, "a2");
    EXPECT_EQ(bare.value().department_id, "d2");
    // a broken message text is still a broken event
    EXPECT_FALSE(chat::events::parse(R"(e3
k
1


main
{"type":"message.created","conversation_id":"c1","seq":1,"data":{"content":"\x"}})")
                     .ok());
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
    // a version no int64 holds is refused, not overflowed
    EXPECT_FALSE(chat::events::parse("e2\nsid\n99999999999999999999999\na1\nagent\n{\"type\":\"read\"}").ok());
    EXPECT_TRUE(chat::events::from_answer("{}").empty());
    // a type this node does not know cannot be routed, so it is not an event
    EXPECT_FALSE(chat::events::parse(R"({"type":"note.deleted","conversation_id":"c1"})").ok());
}

// Every worker hears every event; peek() reads, without parsing the JSON, what it needs to
// tell whether any of its sockets may hear one: the same conversation, cache key and version
// that parse() gives, for every kind of event a node publishes.
TEST(Events, ABatchHoldsEachEventsOwnPayloadInOrder) {
    auto ev = chat::events::from_answer(kAnswer);
    ASSERT_EQ(ev.size(), 4u);
    chat::events::tag_cached(ev, "sid-1", 7);
    std::string batch;
    for (const auto& e : ev) chat::events::append_to_batch(batch, e);
    EXPECT_TRUE(chat::events::is_batch(batch));
    EXPECT_EQ(batch.substr(0, 12), "b1\n" + std::string(8 - std::to_string(chat::events::encode(ev[0]).size()).size(), '0') +
                                       std::to_string(chat::events::encode(ev[0]).size()) + "\n");
    auto parts = chat::events::split_batch(batch);
    ASSERT_TRUE(parts.ok());
    ASSERT_EQ(parts.value().size(), ev.size());
    for (std::size_t i = 0; i < ev.size(); i++) {
        EXPECT_EQ(parts.value()[i], chat::events::encode(ev[i]));
        auto back = chat::events::parse(parts.value()[i]);
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(back.value().json, ev[i].json);
        EXPECT_EQ(back.value().cache_key, "sid-1");
    }
    // a node from before batches reads none of it (hence chat_redis ... batch=on only once every node reads them)
    EXPECT_FALSE(chat::events::parse(batch).ok());
    EXPECT_FALSE(chat::events::is_batch(chat::events::encode(ev[0])));
}

TEST(Events, AnEventNamingTwoConversationsIsRefused) {
    const auto e = chat::events::read("c1", "", chat::events::Sender::customer, 3, "automated");
    std::string twice = chat::events::encode(e);
    const auto at = twice.find(R"("conversation_id":"c1")");
    ASSERT_NE(at, std::string::npos);
    twice.insert(at, R"("conversation_id":"c2",)");
    ASSERT_TRUE(chat::events::peek(twice).has_value());
    EXPECT_EQ(chat::events::peek(twice)->conversation_id, "c2");
    auto r = chat::events::parse(twice);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "event naming two conversations");
    EXPECT_TRUE(chat::events::parse(chat::events::encode(e)).ok());
}

TEST(Events, ABrokenBatchIsNotReadAtAll) {
    const auto e = chat::events::read("c1", "", chat::events::Sender::customer, 3, "automated");
    std::string good;
    chat::events::append_to_batch(good, e);
    chat::events::append_to_batch(good, e);
    ASSERT_TRUE(chat::events::split_batch(good).ok());
    const std::string broken[] = {
        "b1\n",                                  // no event
        good.substr(0, good.size() - 1),          // the last event cut short
        good + "0",                               // a length cut short
        good + "00000001",                        // a length without its line break
        good + "00000009\nshort",                 // a length past the end
        "b1\n0000000x\n",                        // not a length
        "b1\n-0000001\nx",                       // nor this
        "b2\n00000001\nx",                       // another tag
        good.substr(0, 12) + good.substr(13),     // a length's line break gone
    };
    for (const std::string& b : broken) EXPECT_FALSE(chat::events::split_batch(b).ok()) << b;
    std::string many;
    for (std::size_t i = 0; i < chat::events::kBatchEventsMax; i++) chat::events::append_to_batch(many, e);
    ASSERT_TRUE(chat::events::split_batch(many).ok());
    chat::events::append_to_batch(many, e);
    EXPECT_FALSE(chat::events::split_batch(many).ok());
}

TEST(Events, APeekReadsTheConversationAndCacheFactsThatParseGives) {
    auto v = chat::json::parse(R"({"conversation":{"id":"c1","status":"closed","assigned_agent":{"id":"a1"},)"
                               R"("department":{"id":"00000000-0000-4000-8000-000000000001"}},)"
                               R"("messages":[{"seq":4,"content":"hi \"there\"","metadata":{"event":"assigned"}}]})");
    ASSERT_TRUE(v.ok());
    std::vector<chat::events::Event> all = chat::events::from_parsed(v.value(), "shop");
    ASSERT_EQ(all.size(), 4u);  // message, conversation, agent.assigned, chat.closed
    all.push_back(chat::events::typing("c2", "", chat::events::Sender::customer, true, "automated"));
    all.push_back(chat::events::read("c3", "a1", chat::events::Sender::agent, 7, "agent", "shop"));
    all.push_back(chat::events::presence(R"({"agent":{"id":"a2","presence":"online"}})"));
    auto note = chat::json::parse(R"({"conversation":{"id":"c4","status":"agent"},"note":{"id":"n1"}})");
    ASSERT_TRUE(note.ok());
    all.push_back(chat::events::note_created(note.value()));
    for (std::int64_t version : {std::int64_t{0}, std::int64_t{1}, std::int64_t{123456789012345678}}) {
        for (chat::events::Event e : all) {
            e.cache_key = version ? "sid-9" : "";
            e.version = version;
            const std::string wire = chat::events::encode(e);
            auto p = chat::events::peek(wire);
            auto back = chat::events::parse(wire);
            ASSERT_TRUE(p.has_value()) << wire;
            ASSERT_TRUE(back.ok()) << wire;
            EXPECT_EQ(p->conversation_id, back.value().conversation_id) << wire;
            EXPECT_EQ(p->cache_key, back.value().cache_key) << wire;
            EXPECT_EQ(p->version, back.value().version) << wire;
        }
    }
    EXPECT_EQ(chat::events::peek(chat::events::encode(all[0]))->conversation_id, "c1");
    EXPECT_EQ(chat::events::peek(chat::events::encode(all[6]))->conversation_id, "");  // presence
}

// Anything peek() cannot read as encode() writes it is left to parse(): no envelope, a broken
// one (as parse() refuses it), an id with an escape, another order of members.
TEST(Events, APeekLeavesToParseWhatIsNotLaidOutAsEncodeWritesIt) {
    const std::string json = R"({"type":"read","conversation_id":"c1","data":{}})";
    const std::string head = "e3\nsid\n5\n\nagent\ndefault\n";
    ASSERT_TRUE(chat::events::peek(head + json).has_value());
    EXPECT_EQ(chat::events::peek(head + json)->version, 5);
    for (const std::string& in : {
             json,                                                                  // no envelope
             "e3\nsid\nx\n\nagent\ndefault\n" + json,                               // version not a number
             "e3\nsid\n9999999999999999999\n\nagent\ndefault\n" + json,             // too long a version
             "e3\nsid\n5\n\nagent\nno such site!\n" + json,                         // a broken site
             "e4\nsid\n5\n\nagent\ndefault\nnot-a-uuid\n" + json,                   // a broken department
             std::string("e3\nsid\n5\n\nagent"),                                    // cut short
             head + R"({"type":"read","conversation_id":"c\u0031","data":{}})",     // an escaped id
             head + R"({"type":"read","conversation_id":"","data":{}})",            // an empty id
             head + R"({"conversation_id":"c1","type":"read","data":{}})",          // another order
             head + R"({"type":"note.deleted","conversation_id":"c1","data":{}})",  // an unknown type
             head + R"({"type":"read","data":{}})",                                 // no conversation, not presence
             head + R"({"type":"read","conversation_id":"c1")",                     // cut in the JSON
             head + R"({ "type":"read","conversation_id":"c1","data":{}})",         // other spacing
         })
        EXPECT_FALSE(chat::events::peek(in).has_value()) << in;
    // the JSON itself is parse()'s to refuse: a peek does not read past the conversation id
    EXPECT_TRUE(chat::events::peek(head + R"({"type":"read","conversation_id":"c1",broken)").has_value());
    EXPECT_FALSE(chat::events::parse(head + R"({"type":"read","conversation_id":"c1",broken)").ok());
}

// A peek reads the id eight bytes at a time: an escape, a control character or the closing quote
// is found wherever it falls in a block (a UUID's 36 bytes, and every position of a longer id).
TEST(Events, APeekFindsTheIdsEndAndItsEscapesAtEveryPosition) {
    const std::string head = "e3\nsid\n5\n\nagent\ndefault\n";
    const auto wire = [&](const std::string& id) {
        return head + R"({"type":"message.created","conversation_id":")" + id + R"(","seq":1,"data":{}})";
    };
    const std::string uuid = "01a23421-6f7b-738b-9ddb-bfa0bf800c51";
    ASSERT_TRUE(chat::events::peek(wire(uuid)).has_value());
    EXPECT_EQ(chat::events::peek(wire(uuid))->conversation_id, uuid);
    for (std::size_t n = 1; n <= 40; n++) {
        const std::string id(n, 'a');
        ASSERT_TRUE(chat::events::peek(wire(id)).has_value()) << n;
        EXPECT_EQ(chat::events::peek(wire(id))->conversation_id, id) << n;
        for (std::size_t at = 0; at < n; at++) {
            for (const char bad : {'\\', '\n', '\x01', '\x1f'}) {
                std::string broken = id;
                broken[at] = bad;
                EXPECT_FALSE(chat::events::peek(wire(broken)).has_value()) << n << " " << at << " " << int(bad);
            }
            // bytes from 0x80 (UTF-8) and the last plain ones are the id's like any other
            for (const char plain : {'\x7f', ' ', '\xc3'}) {
                std::string other = id;
                other[at] = plain;
                ASSERT_TRUE(chat::events::peek(wire(other)).has_value()) << n << " " << at;
                EXPECT_EQ(chat::events::peek(wire(other))->conversation_id, other) << n << " " << at;
            }
        }
    }
    // no closing quote at all, however long the rest
    EXPECT_FALSE(chat::events::peek(head + R"({"type":"read","conversation_id":")" + std::string(30, 'a')).has_value());
}

TEST(Events, EveryTypeHasOneWireNameThatReadsBackAsItself) {
    using chat::events::Type;
    for (Type t : {Type::message_created, Type::conversation_updated, Type::agent_assigned, Type::chat_closed,
                   Type::agent_presence_changed, Type::typing, Type::read, Type::note_created}) {
        EXPECT_FALSE(chat::events::wire_name(t).empty());
        EXPECT_EQ(chat::events::type_named(chat::events::wire_name(t)), t);
    }
    EXPECT_EQ(chat::events::wire_name(Type::agent_presence_changed), "agent.presence.changed");
    EXPECT_FALSE(chat::events::type_named("message_created").has_value());
}

TEST(Events, ANoteIsRoutedAsItsConversationAndHeardByAgentsOnly) {
    auto v = chat::json::parse(
        R"({"conversation":{"id":"c1","status":"agent","assigned_agent":{"id":"a1"},"department":{"id":)"
        R"("00000000-0000-4000-8000-000000000001","name":"Returns"}},"note":{"id":"n1","text":"call back"}})");
    ASSERT_TRUE(v.ok());
    auto e = chat::events::note_created(v.value(), "shop");
    EXPECT_EQ(e.type, chat::events::Type::note_created);
    EXPECT_EQ(e.json, R"({"type":"note.created","conversation_id":"c1","data":{"id":"n1","text":"call back"}})");
    EXPECT_EQ(e.site, "shop");
    EXPECT_EQ(e.assigned_agent_id, "a1");
    EXPECT_EQ(e.department_id, "00000000-0000-4000-8000-000000000001");
    auto back = chat::events::parse(chat::events::encode(e));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back.value().type, chat::events::Type::note_created);
    EXPECT_EQ(back.value().assigned_agent_id, "a1");
    EXPECT_EQ(back.value().site, "shop");
    EXPECT_TRUE(chat::events::visible_to_agent(back.value(), "a1", "agent", "shop"));
    EXPECT_FALSE(chat::events::visible_to_agent(back.value(), "a2", "agent", "shop"));
    EXPECT_FALSE(chat::events::visible_to_agent(back.value(), "s1", "supervisor", "default"));
    EXPECT_FALSE(chat::events::customer_may_hear(chat::events::Type::note_created));
    EXPECT_TRUE(chat::events::customer_may_hear(chat::events::Type::message_created));
    auto none = chat::json::parse(R"({"conversation":{"id":"c1"}})");
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(chat::events::note_created(none.value()).json.empty());
}

TEST(Events, TypingAndReadCarryTheirSenderOnTheWireAndBack) {
    using chat::events::Sender;
    auto t = chat::events::typing("c1", "a1", Sender::agent, true, "agent");
    EXPECT_EQ(t.sender, Sender::agent);
    EXPECT_EQ(t.json, R"({"type":"typing","conversation_id":"c1","data":)"
                      R"({"sender_type":"agent","typing":true,"assigned_agent_id":"a1"}})");
    auto r = chat::events::read("c1", "", Sender::customer, 7, "automated");
    EXPECT_EQ(r.json, R"({"type":"read","conversation_id":"c1","data":{"sender_type":"customer","up_to_seq":7}})");
    auto back = chat::events::parse(chat::events::encode(r));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back.value().type, chat::events::Type::read);
    EXPECT_EQ(back.value().sender, Sender::customer);
    EXPECT_EQ(chat::events::encode(r), "e3\n\n0\n\nautomated\ndefault\n" + r.json);
    // other events have no sender
    EXPECT_EQ(chat::events::from_answer(kAnswer).at(0).sender, Sender::none);
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

namespace {

chat::events::Event conv_event(const char* status, const char* assigned) {
    std::string answer = std::string(R"({"conversation":{"id":"c9","status":")") + status + R"(","assigned_agent":)" +
                         (assigned[0] ? std::string(R"({"id":")") + assigned + R"("})" : std::string("null")) + "}}";
    auto ev = chat::events::from_answer(answer);
    return ev.at(0);
}

TEST(Events, TheEnvelopeCarriesTheConversationStatus) {
    auto ev = chat::events::from_answer(kAnswer);
    EXPECT_EQ(ev[0].status, "agent");
    auto back = chat::events::parse(chat::events::encode(ev[0]));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back.value().status, "agent");
    EXPECT_EQ(back.value().json, ev[0].json);
    // an older node's envelope still parses; the status then comes from a conversation's data
    auto old = chat::events::parse(std::string("e1\nsid\n3\n\n") + conv_event("automated", "").json);
    ASSERT_TRUE(old.ok());
    EXPECT_EQ(old.value().status, "automated");
    EXPECT_EQ(chat::events::typing("c1", "", chat::events::Sender::customer, true, "agent").status, "agent");
}

TEST(Events, APlainAgentHearsOnlyWhatTheyMayGet) {
    using chat::events::visible_to_agent;
    auto bot = conv_event("automated", "");
    auto queued = conv_event("agent", "");
    auto mine = conv_event("agent", "a1");
    auto theirs = conv_event("agent", "a2");
    auto closed_mine = conv_event("closed", "a1");
    auto closed_theirs = conv_event("closed", "a2");
    EXPECT_FALSE(visible_to_agent(bot, "a1", "agent"));
    EXPECT_TRUE(visible_to_agent(queued, "a1", "agent"));
    EXPECT_TRUE(visible_to_agent(mine, "a1", "agent"));
    EXPECT_FALSE(visible_to_agent(theirs, "a1", "agent"));
    EXPECT_TRUE(visible_to_agent(closed_mine, "a1", "agent"));
    EXPECT_FALSE(visible_to_agent(closed_theirs, "a1", "agent"));
    chat::events::Event unknown = chat::events::typing("c1", "", chat::events::Sender::customer, true);
    EXPECT_FALSE(visible_to_agent(unknown, "a1", "agent"));
    EXPECT_TRUE(visible_to_agent(chat::events::presence(R"({"agent":{"id":"a2"}})"), "a1", "agent"));
    for (const char* role : {"supervisor", "admin"}) {
        EXPECT_TRUE(visible_to_agent(bot, "s1", role));
        EXPECT_TRUE(visible_to_agent(theirs, "s1", role));
        EXPECT_TRUE(visible_to_agent(unknown, "s1", role));
    }
}

// A presence change reaches the agent sockets of the sites the agent works on, and only
// those, on this node and (parsed from the Redis envelope) on every other.
TEST(Events, APresenceChangeReachesOnlyTheSitesOfItsAgent) {
    using chat::events::visible_to_agent;
    auto shop = chat::events::presence(R"({"agent":{"id":"a2","sites":["shop-2"]}})");
    auto both = chat::events::presence(R"({"agent":{"id":"a3","sites":["default","shop-2"]}})");
    auto old = chat::events::presence(R"({"agent":{"id":"a4"}})");
    for (const char* role : {"agent", "supervisor", "admin"}) {
        EXPECT_FALSE(visible_to_agent(shop, "a1", role, "default")) << role;
        EXPECT_TRUE(visible_to_agent(shop, "a1", role, "shop-2")) << role;
        EXPECT_FALSE(visible_to_agent(shop, "a1", role, "shop")) << role;  // a prefix is not a site
        EXPECT_TRUE(visible_to_agent(both, "a1", role, "default")) << role;
        EXPECT_TRUE(visible_to_agent(both, "a1", role, "shop-2")) << role;
        EXPECT_TRUE(visible_to_agent(old, "a1", role, "default")) << role;
        EXPECT_FALSE(visible_to_agent(old, "a1", role, "shop-2")) << role;
    }
    auto wire = chat::events::parse(chat::events::encode(shop));
    ASSERT_TRUE(wire.ok());
    EXPECT_FALSE(visible_to_agent(wire.value(), "a1", "admin", "default"));
    EXPECT_TRUE(visible_to_agent(wire.value(), "a1", "admin", "shop-2"));
}

// Sites (chat_site): an event carries its conversation's site, on the wire between nodes
// too, and no agent socket of another site hears it, whatever its role.
TEST(Events, AConversationsEventsReachOnlyTheAgentsOfItsSite) {
    using chat::events::visible_to_agent;
    auto shop = chat::events::from_answer(kAnswer, "shop-2");
    ASSERT_FALSE(shop.empty());
    for (const auto& e : shop) EXPECT_EQ(e.site, "shop-2");
    for (const char* role : {"agent", "supervisor", "admin"}) {
        EXPECT_FALSE(visible_to_agent(shop.back(), "a1", role)) << role;
        EXPECT_FALSE(visible_to_agent(shop.back(), "a1", role, "default")) << role;
    }
    EXPECT_TRUE(visible_to_agent(shop.back(), "s1", "admin", "shop-2"));
    // the default site when nothing says otherwise (single-site installs hear as before)
    EXPECT_EQ(chat::events::from_answer(kAnswer).back().site, "default");
    // presence has no conversation: the sites of its agent hear it (an Agent naming no
    // sites is the default site's), see APresenceChangeReachesOnlyTheSitesOfItsAgent
    EXPECT_FALSE(visible_to_agent(chat::events::presence(R"({"agent":{"id":"a2"}})"), "a1", "admin", "shop-2"));

    // the answer's own "site" (a side effect's, chat_conversation_event_json) wins
    std::string with_site(kAnswer);
    with_site.insert(with_site.rfind('}'), R"(,"site":"eu")");
    for (const auto& e : chat::events::from_answer(with_site, "default")) EXPECT_EQ(e.site, "eu");

    // the envelope carries it; an older node's "e2" is the default site's
    auto back = chat::events::parse(chat::events::encode(shop.back()));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back.value().site, "shop-2");
    auto t = chat::events::typing("c1", "", chat::events::Sender::customer, true, "agent", "shop-2");
    EXPECT_EQ(t.site, "shop-2");
    auto old = chat::events::parse("e2\n\n0\n\nagent\n" + t.json);
    ASSERT_TRUE(old.ok());
    EXPECT_EQ(old.value().site, "default");
    EXPECT_FALSE(chat::events::parse("e3\n\n0\n\nagent\nBad Site\n" + t.json).ok());
}

}  // namespace


namespace {

// Departments (API.md "Departments and routing"): a queued conversation of a department is
// heard by role agent only when they are a member (their socket's department ids), by
// supervisors and admins always; the default queue by everyone; the department travels in
// the envelope ("e4") between nodes, while other events keep the "e3" older nodes read.
TEST(Events, ADepartmentsQueueIsHeardOnlyByItsMembers) {
    using chat::events::visible_to_agent;
    const std::string d1 = "00000000-0000-4000-8000-0000000000d1";
    const std::string d2 = "00000000-0000-4000-8000-0000000000d2";
    std::string answer = R"({"conversation":{"id":"c1","status":"agent","assigned_agent":null,)"
                         R"("department":{"id":")" + d1 + R"(","name":"Returns"}},)"
                         R"("messages":[{"id":"m1","seq":3,"content":"hi","metadata":{}}]})";
    auto ev = chat::events::from_answer(answer);
    ASSERT_EQ(ev.size(), 2u);  // message.created, conversation.updated
    for (const auto& e : ev) {
        EXPECT_EQ(e.department_id, d1);
        EXPECT_FALSE(visible_to_agent(e, "a1", "agent", "default")) << "no departments";
        EXPECT_FALSE(visible_to_agent(e, "a1", "agent", "default", d2)) << "another department";
        EXPECT_TRUE(visible_to_agent(e, "a1", "agent", "default", d1));
        EXPECT_TRUE(visible_to_agent(e, "a1", "agent", "default", d2 + "," + d1));
        EXPECT_FALSE(visible_to_agent(e, "a1", "agent", "default", d1.substr(0, 20))) << "a prefix is not an id";
        EXPECT_TRUE(visible_to_agent(e, "s1", "supervisor", "default"));
        EXPECT_TRUE(visible_to_agent(e, "s1", "admin", "default"));
        EXPECT_FALSE(visible_to_agent(e, "s1", "admin", "shop-2", d1)) << "never another site";
        std::string wire = chat::events::encode(e);
        EXPECT_TRUE(wire.starts_with("e4\n"));
        auto back = chat::events::parse(wire);
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(back.value().department_id, d1);
        EXPECT_EQ(back.value().json, e.json);
        EXPECT_FALSE(visible_to_agent(back.value(), "a1", "agent", "default", d2));
        EXPECT_TRUE(visible_to_agent(back.value(), "a1", "agent", "default", d1));
    }
    // once assigned, only the assignee (and bosses) hear it, members or not
    std::string assigned = R"({"conversation":{"id":"c1","status":"agent","assigned_agent":{"id":"a2"},)"
                           R"("department":{"id":")" + d1 + R"(","name":"Returns"}}})";
    auto as = chat::events::from_answer(assigned);
    ASSERT_FALSE(as.empty());
    EXPECT_FALSE(visible_to_agent(as.back(), "a1", "agent", "default", d1));
    EXPECT_TRUE(visible_to_agent(as.back(), "a2", "agent", "default"));
    // the default queue: everyone, and the envelope older nodes read
    auto plain = chat::events::from_answer(kAnswer);
    ASSERT_FALSE(plain.empty());
    EXPECT_TRUE(plain.back().department_id.empty());
    EXPECT_TRUE(chat::events::encode(plain.back()).starts_with("e3\n"));
    // a broken department in the envelope is refused
    auto t = chat::events::typing("c1", "", chat::events::Sender::customer, true, "agent");
    EXPECT_FALSE(chat::events::parse("e4\n\n0\n\nagent\ndefault\nnot-a-uuid\n" + t.json).ok());
    EXPECT_FALSE(chat::events::parse("e4\n\n0\n\nagent\ndefault\n\n" + t.json).ok());
}

}  // namespace

namespace {

// The event as an agent socket hears it (events::json_for_agents).
std::string agents_copy(const chat::events::Event& e) {
    std::string scratch;
    return std::string(chat::events::json_for_agents(e, scratch));
}

// The unread_count in a Conversation's event.
std::int64_t heard_unread(std::string_view event_json) {
    auto v = chat::json::parse(event_json);
    if (!v.ok() || !v.value().find("data")) return -1;
    return v.value().find("data")->find_int("unread_count").value_or(-1);
}

// API.md: a Conversation's unread_count is the viewer's. A write's answer shows the caller's
// count and says both ("unread", chat_unread_json): customers hear theirs, agents theirs, after
// the event travelled between nodes too, whoever wrote it.
TEST(Events, EachSideHearsItsOwnUnreadCount) {
    const std::string d1 = "00000000-0000-4000-8000-0000000000d1";
    // an agent's write (the close): the answer shows the agent's 0; the customer has 2 unread
    const std::string by_agent =
        R"({"conversation":{"id":"c1","status":"closed","context":{"unread_count":7},"last_seq":5,)"
        R"("unread_count":0,"assigned_agent":{"id":"a1","display_name":"Al"}},)"
        R"("messages":[{"seq":5,"sender_type":"system","content":"Al closed the chat"}],)"
        R"("unread":{"customer":2,"agent":0}})";
    // a customer's write: the answer shows the customer's 1; the agent side has 3 unread
    const std::string by_customer =
        R"({"conversation":{"id":"c1","status":"agent","department":{"id":")" + d1 + R"("},"last_seq":6,)"
        R"("unread_count":1,"assigned_agent":{"id":"a1","display_name":"Al"}},)"
        R"("messages":[{"seq":6,"sender_type":"customer","content":"hi"}],"unread":{"customer":1,"agent":3}})";
    struct Case {
        std::string answer;
        std::int64_t customer, agent;
        std::size_t conversations;  // conversation.updated (and chat.closed)
    };
    for (const Case& k : {Case{by_agent, 2, 0, 2}, Case{by_customer, 1, 3, 1}}) {
        std::size_t seen = 0;
        for (auto e : chat::events::from_answer(k.answer, "shop")) {
            if (e.type == chat::events::Type::message_created) {
                EXPECT_EQ(agents_copy(e), e.json);
                continue;
            }
            seen++;
            EXPECT_EQ(heard_unread(e.json), k.customer) << e.json;
            EXPECT_EQ(heard_unread(agents_copy(e)), k.agent);
            // the context's own key is left alone
            if (k.agent == 0) {
                EXPECT_NE(agents_copy(e).find(R"("unread_count":7)"), std::string::npos);
            }
            e.cache_key = "sid";
            auto back = chat::events::parse(chat::events::encode(e));
            ASSERT_TRUE(back.ok()) << chat::events::encode(e);
            EXPECT_EQ(back.value().json, e.json);
            EXPECT_EQ(heard_unread(agents_copy(back.value())), k.agent);
            EXPECT_EQ(back.value().department_id, k.agent == 3 ? d1 : "");
            EXPECT_EQ(back.value().cache_key, "sid");
        }
        EXPECT_EQ(seen, k.conversations);
    }
    // the same count on both sides: one copy, and the envelope older nodes read
    auto same = chat::events::from_answer(
        R"({"conversation":{"id":"c1","status":"agent","unread_count":0},"unread":{"customer":0,"agent":0}})");
    ASSERT_EQ(same.size(), 1u);
    EXPECT_EQ(same[0].agent_unread, -1);
    EXPECT_TRUE(chat::events::encode(same[0]).starts_with("e3\n"));
    // a broken count in the envelope is refused
    auto t = chat::events::typing("c1", "", chat::events::Sender::customer, true, "agent");
    EXPECT_FALSE(chat::events::parse("e5\n\n0\n\nagent\ndefault\n\nx\n" + t.json).ok());
    EXPECT_FALSE(chat::events::parse("e5\n\n0\n\nagent\ndefault\n\n\n" + t.json).ok());
    EXPECT_FALSE(chat::events::parse("e5\n\n0\n\nagent\ndefault\nnot-a-uuid\n1\n" + t.json).ok());
}

// The customer post's events from typed columns carry the agent side's count the same way.
TEST(Events, AWrittenPostTellsAgentsTheirOwnUnreadCount) {
    chat::events::Written w;
    w.conversation_id = "c1";
    w.status = "agent";
    w.assigned_agent_id = "a1";
    w.conversation_json = R"({"id":"c1","status":"agent","last_seq":3,"unread_count":1})";
    w.customer_unread = 1;
    w.agent_unread = 4;
    auto ev = chat::events::from_written(w, "default");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(heard_unread(ev[0].json), 1);
    EXPECT_EQ(heard_unread(agents_copy(ev[0])), 4);
    w.agent_unread = 1;
    EXPECT_EQ(chat::events::from_written(w, "default")[0].agent_unread, -1);
}

// A read receipt (API.md "read") is told only when it marked something; an agent's read also
// updates the conversation (the agent side's count), and never says chat.closed again.
TEST(Events, AReadTellsOnlyWhatItChanged) {
    using chat::events::Sender;
    using chat::events::Type;
    const char* closed = R"({"conversation":{"id":"c1","status":"closed","unread_count":0,)"
                         R"("assigned_agent":{"id":"a1"}},"marked":%d,"unread":{"customer":2,"agent":0}})";
    auto answer = [&](int marked) {
        char buf[512];
        std::snprintf(buf, sizeof buf, closed, marked);
        auto v = chat::json::parse(buf);
        EXPECT_TRUE(v.ok());
        return std::move(v.value());
    };
    EXPECT_TRUE(chat::events::from_read(answer(0), Sender::agent, 5).empty());
    EXPECT_TRUE(chat::events::from_read(answer(0), Sender::customer, 5).empty());
    auto agent = chat::events::from_read(answer(2), Sender::agent, 5, "shop");
    ASSERT_EQ(agent.size(), 2u);
    EXPECT_EQ(agent[0].type, Type::conversation_updated);
    EXPECT_EQ(heard_unread(agent[0].json), 2);
    EXPECT_EQ(heard_unread(agents_copy(agent[0])), 0);
    EXPECT_EQ(agent[1].type, Type::read);
    EXPECT_EQ(agent[1].json, chat::events::read("c1", "a1", Sender::agent, 5, "closed", "shop").json);
    EXPECT_EQ(agent[1].sender, Sender::agent);
    EXPECT_EQ(agent[1].site, "shop");
    auto customer = chat::events::from_read(answer(1), Sender::customer, 5);
    ASSERT_EQ(customer.size(), 1u);
    EXPECT_EQ(customer[0].type, Type::read);
    EXPECT_EQ(customer[0].sender, Sender::customer);
}

}  // namespace
