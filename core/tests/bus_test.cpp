// The event bus: where a worker's events go with Redis, with Redis down, and without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "chat/bus.h"
#include "chat/epoll_loop.h"
#include "chat/events.h"
#include "chat/redis_client.h"

namespace {

using chat::events::Event;

// Records what the bus asked of its host.
struct FakeSink : chat::bus::Sink {
    std::vector<Event> dispatched, shared;
    std::vector<std::pair<std::string, std::int64_t>> forgotten;
    void dispatch(const Event& e) noexcept override { dispatched.push_back(e); }
    void share(const Event& e) noexcept override { shared.push_back(e); }
    void forget(std::string_view key, std::int64_t version) noexcept override {
        forgotten.emplace_back(std::string(key), version);
    }
    void end(std::span<const std::string>) noexcept override {}
};

std::vector<Event> some_events() {
    std::vector<Event> ev;
    ev.push_back(chat::events::typing("c1", "a1", chat::events::Sender::customer, true, "agent"));
    ev.push_back(Event{});  // no JSON: nothing to send
    ev.push_back(chat::events::read("c1", "a1", chat::events::Sender::agent, 7, "agent"));
    return ev;
}

chat::redis::Config nowhere() {
    chat::redis::Config c;
    c.endpoint = {"127.0.0.1", 1};
    return c;
}

TEST(Bus, EveryEventTravelsOnTheEventsChannel) {
    EXPECT_EQ(chat::bus::channels(), std::vector<std::string>{"chat:events"});
    EXPECT_EQ(chat::bus::channel_of(some_events()[0]), "chat:events");
}

TEST(Bus, WithoutRedisThisWorkersSocketsAndTheRingHearEveryEventInOrder) {
    FakeSink sink;
    chat::bus::Bus bus(sink, nullptr, nullptr);
    bus.publish(some_events());
    ASSERT_EQ(sink.dispatched.size(), 2u);
    ASSERT_EQ(sink.shared.size(), 2u);
    EXPECT_EQ(sink.dispatched[0].type, chat::events::Type::typing);
    EXPECT_EQ(sink.dispatched[1].type, chat::events::Type::read);
    EXPECT_EQ(sink.shared[0].json, sink.dispatched[0].json);
    EXPECT_EQ(sink.shared[1].json, sink.dispatched[1].json);
}

TEST(Bus, WhileRedisIsDownOnlyThisWorkersSocketsHearIt) {
    chat::EpollLoop loop;
    chat::redis::Client redis(loop, nowhere());  // never started: not connected
    FakeSink sink;
    chat::bus::Bus bus(sink, nullptr, &redis);
    bus.publish(some_events());
    EXPECT_EQ(sink.dispatched.size(), 2u);
    EXPECT_TRUE(sink.shared.empty());
    EXPECT_EQ(redis.stats().commands, 0u);
}

TEST(Bus, WithoutPostgresSideEffectsReadNothing) {
    FakeSink sink;
    chat::bus::Bus bus(sink, nullptr, nullptr);
    std::vector<std::string> ids{"00000000-0000-0000-0000-000000000001"};
    bus.publish_side_effects(ids);
    EXPECT_TRUE(sink.dispatched.empty());
}

TEST(Bus, AHeardEventForgetsTheStaleCacheEntryThenReachesTheSockets) {
    FakeSink sink;
    chat::bus::Bus bus(sink, nullptr, nullptr);
    Event e = some_events()[0];
    e.cache_key = "sid-1";
    e.version = 9;
    bus.heard("chat:events", chat::events::encode(e));
    ASSERT_EQ(sink.forgotten.size(), 1u);
    EXPECT_EQ(sink.forgotten[0], (std::pair<std::string, std::int64_t>{"sid-1", 9}));
    ASSERT_EQ(sink.dispatched.size(), 1u);
    EXPECT_EQ(sink.dispatched[0].json, e.json);
    EXPECT_EQ(sink.dispatched[0].status, "agent");

    Event plain = some_events()[2];
    bus.heard("chat:events", chat::events::encode(plain));
    EXPECT_EQ(sink.forgotten.size(), 1u);  // no cache key: nothing to forget
    EXPECT_EQ(sink.dispatched.size(), 2u);
}

// A sink that listens only to the conversations it names.
struct ListeningSink : FakeSink {
    std::vector<std::string> conversations;
    bool presence = false;
    mutable int asked = 0;
    bool listens(std::string_view id) const noexcept override {
        asked++;
        if (id.empty()) return presence;
        return std::find(conversations.begin(), conversations.end(), id) != conversations.end();
    }
};

TEST(Bus, AnEventNobodyHereListensToOnlyForgetsTheStaleCacheEntry) {
    ListeningSink sink;
    sink.conversations = {"c2"};
    chat::bus::Bus bus(sink, nullptr, nullptr);
    Event e = some_events()[0];  // conversation c1
    e.cache_key = "sid-1";
    e.version = 9;
    bus.heard("chat:events", chat::events::encode(e));
    EXPECT_EQ(sink.asked, 1);
    ASSERT_EQ(sink.forgotten.size(), 1u);
    EXPECT_EQ(sink.forgotten[0], (std::pair<std::string, std::int64_t>{"sid-1", 9}));
    EXPECT_TRUE(sink.dispatched.empty());
    bus.heard("chat:events", chat::events::encode(some_events()[2]));  // no cache key either
    EXPECT_EQ(sink.forgotten.size(), 1u);
    EXPECT_TRUE(sink.dispatched.empty());

    Event theirs = chat::events::typing("c2", "", chat::events::Sender::customer, true, "automated");
    theirs.cache_key = "sid-2";
    theirs.version = 3;
    bus.heard("chat:events", chat::events::encode(theirs));
    ASSERT_EQ(sink.dispatched.size(), 1u);
    EXPECT_EQ(sink.dispatched[0].json, theirs.json);
    EXPECT_EQ(sink.forgotten.size(), 2u);

    const Event presence = chat::events::presence(R"({"agent":{"id":"a2"}})");
    bus.heard("chat:events", chat::events::encode(presence));
    EXPECT_EQ(sink.dispatched.size(), 1u);
    sink.presence = true;
    bus.heard("chat:events", chat::events::encode(presence));
    ASSERT_EQ(sink.dispatched.size(), 2u);
    EXPECT_EQ(sink.dispatched[1].type, chat::events::Type::agent_presence_changed);
}

TEST(Bus, WhatIsNotAnEventIsIgnored) {
    FakeSink sink;
    chat::bus::Bus bus(sink, nullptr, nullptr);
    bus.heard("chat:events", "not an event");
    bus.heard("chat:events", "e2\nbroken");
    EXPECT_TRUE(sink.dispatched.empty());
    EXPECT_TRUE(sink.forgotten.empty());
}

// Against the Redis of `make test` (CHAT_TEST_REDIS=host:port); skipped without it.
class BusRedis : public ::testing::Test {
protected:
    void SetUp() override {
        const char* env = std::getenv("CHAT_TEST_REDIS");
        if (!env || !*env) GTEST_SKIP() << "CHAT_TEST_REDIS not set";
        auto ep = chat::redis::resolve_endpoint(env);
        ASSERT_TRUE(ep.ok());
        cfg.endpoint = ep.value();
    }
    chat::redis::Config cfg;
    chat::EpollLoop loop;
};

TEST_F(BusRedis, APublishedEventComesBackThroughTheSubscriptionNotDirectly) {
    FakeSink sink;
    chat::redis::Client redis(loop, cfg);
    chat::bus::Bus bus(sink, nullptr, &redis);
    chat::redis::Subscriber sub(loop, cfg, chat::bus::channels(), {},
                                [&](std::string_view channel, std::string_view payload) {
                                    bus.heard(channel, payload);
                                });
    redis.start();
    sub.start();
    ASSERT_TRUE(loop.run_until([&] { return redis.connected() && sub.connected(); }, 3000));

    // Other tests may publish too: look for ours.
    Event mine = chat::events::read("bus-test-conversation", "", chat::events::Sender::customer, 3, "automated");
    bus.publish(std::vector<Event>{mine});
    EXPECT_TRUE(sink.dispatched.empty());  // not before Redis sent it back
    auto heard = [&] {
        for (const auto& e : sink.dispatched)
            if (e.conversation_id == "bus-test-conversation") return true;
        return false;
    };
    ASSERT_TRUE(loop.run_until(heard, 3000));
    EXPECT_TRUE(sink.shared.empty());
}

TEST_F(BusRedis, APublishRedisRefusesStillReachesThisWorkersSockets) {
    FakeSink sink;
    cfg.max_pending = 0;  // every command fails fast while connected
    chat::redis::Client redis(loop, cfg);
    chat::bus::Bus bus(sink, nullptr, &redis);
    redis.start();
    ASSERT_TRUE(loop.run_until([&] { return redis.connected(); }, 3000));
    bus.publish(some_events());
    ASSERT_TRUE(loop.run_until([&] { return sink.dispatched.size() == 2; }, 3000));
    EXPECT_EQ(sink.dispatched[0].type, chat::events::Type::typing);
    EXPECT_EQ(sink.dispatched[1].type, chat::events::Type::read);
    EXPECT_TRUE(sink.shared.empty());
}

TEST_F(BusRedis, CallbacksAfterTheBusIsGoneDoNothing) {
    FakeSink sink;
    cfg.max_pending = 0;
    chat::redis::Client redis(loop, cfg);
    redis.start();
    ASSERT_TRUE(loop.run_until([&] { return redis.connected(); }, 3000));
    {
        chat::bus::Bus bus(sink, nullptr, &redis);
        bus.publish(some_events());
    }
    loop.run_once(50);
    loop.run_once(50);
    EXPECT_TRUE(sink.dispatched.empty());
}

}  // namespace
