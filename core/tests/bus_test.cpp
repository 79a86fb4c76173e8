// The event bus: where a worker's events go with Redis, with Redis down, and without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <span>
#include <string>
#include <unistd.h>
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

// The events of one write (its messages, the conversation) carry one key and version: a heard
// batch forgets the cached copy once for them, whether its sockets listen or not, and again for
// another write's.
TEST(Bus, AHeardBatchForgetsEachWritesCachedCopyOnce) {
    ListeningSink sink;
    sink.conversations = {"c2"};
    chat::bus::Bus bus(sink, nullptr, nullptr);
    auto write = [](std::string_view conversation, std::string_view key, std::int64_t version) {
        std::vector<Event> ev;
        for (int i = 0; i < 3; i++) {
            Event e = chat::events::typing(conversation, "", chat::events::Sender::customer, i == 1, "automated");
            e.cache_key = key;
            e.version = version;
            ev.push_back(std::move(e));
        }
        return ev;
    };
    std::string batch;
    for (const auto& w : {write("c1", "sid-1", 4), write("c1", "sid-1", 5), write("c2", "sid-2", 5),
                          write("c1", "sid-1", 5)})
        for (const Event& e : w) chat::events::append_to_batch(batch, e);
    bus.heard("chat:events", batch);
    using F = std::pair<std::string, std::int64_t>;
    EXPECT_EQ(sink.forgotten, (std::vector<F>{{"sid-1", 4}, {"sid-1", 5}, {"sid-2", 5}, {"sid-1", 5}}));
    EXPECT_EQ(sink.dispatched.size(), 3u);  // c2's, to the sockets that listen

    // each payload heard alone forgets on its own
    bus.heard("chat:events", chat::events::encode(write("c1", "sid-1", 6)[0]));
    bus.heard("chat:events", chat::events::encode(write("c1", "sid-1", 6)[1]));
    EXPECT_EQ(sink.forgotten.size(), 6u);
}

// A heard batch asks the hub once for a run of events of one conversation nobody here listens to
// (a write's three), again after another conversation's, and again after one was dispatched.
TEST(Bus, AHeardBatchAsksWhetherAnyoneListensOnceForARunOfOneConversation) {
    ListeningSink sink;
    sink.conversations = {"c2"};
    chat::bus::Bus bus(sink, nullptr, nullptr);
    const auto event = [](std::string_view conversation, std::int64_t version) {
        Event e = chat::events::typing(conversation, "", chat::events::Sender::customer, true, "automated");
        e.cache_key = std::string("sid-") + std::string(conversation);
        e.version = version;
        return e;
    };
    std::string batch;
    for (const Event& e : {event("c1", 4), event("c1", 4), event("c1", 4), event("c3", 2), event("c3", 2),
                           event("c2", 7), event("c2", 7), event("c3", 3), event("c3", 3)})
        chat::events::append_to_batch(batch, e);
    bus.heard("chat:events", batch);
    // c1 once, c3 once, c2 twice (dispatched: asked again), c3 once after it
    EXPECT_EQ(sink.asked, 5);
    EXPECT_EQ(sink.dispatched.size(), 2u);
    using F = std::pair<std::string, std::int64_t>;
    EXPECT_EQ(sink.forgotten, (std::vector<F>{{"sid-c1", 4}, {"sid-c3", 2}, {"sid-c2", 7}, {"sid-c3", 3}}));

    // payloads heard alone each ask
    bus.heard("chat:events", chat::events::encode(event("c1", 5)));
    bus.heard("chat:events", chat::events::encode(event("c1", 5)));
    EXPECT_EQ(sink.asked, 7);
}

TEST(Bus, AHeardBatchIsHeardAsItsEventsInOrder) {
    FakeSink sink;
    chat::bus::Bus bus(sink, nullptr, nullptr);
    std::vector<Event> ev = some_events();
    ev[0].cache_key = "sid-1";
    ev[0].version = 9;
    std::string batch;
    chat::events::append_to_batch(batch, ev[0]);
    chat::events::append_to_batch(batch, ev[2]);
    bus.heard("chat:events", batch);
    ASSERT_EQ(sink.dispatched.size(), 2u);
    EXPECT_EQ(sink.dispatched[0].json, ev[0].json);
    EXPECT_EQ(sink.dispatched[1].json, ev[2].json);
    ASSERT_EQ(sink.forgotten.size(), 1u);
    EXPECT_EQ(sink.forgotten[0], (std::pair<std::string, std::int64_t>{"sid-1", 9}));
    // a broken one: none of it
    bus.heard("chat:events", batch.substr(0, batch.size() - 1));
    EXPECT_EQ(sink.dispatched.size(), 2u);
    EXPECT_EQ(sink.forgotten.size(), 1u);
}

TEST(Bus, WithBatchesWhileRedisIsDownOnlyThisWorkersSocketsHearItAtOnce) {
    chat::EpollLoop loop;
    chat::redis::Client redis(loop, nowhere());  // never started: not connected
    FakeSink sink;
    chat::bus::Bus bus(sink, nullptr, &redis, {}, &loop);
    bus.publish(some_events());
    EXPECT_EQ(sink.dispatched.size(), 2u);
    EXPECT_TRUE(sink.shared.empty());
    loop.run_once(10);
    EXPECT_EQ(sink.dispatched.size(), 2u);
    EXPECT_EQ(redis.stats().commands, 0u);
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

// A worker of the test: a bus with its own Redis connections, subscribed like a worker
// (`batch`: publishing a loop turn's events together, chat_redis ... batch=on).
struct Worker {
    Worker(chat::EpollLoop& loop, const chat::redis::Config& cfg, bool batch = false)
        : redis(loop, cfg),
          bus(sink, nullptr, &redis, {}, batch ? &loop : nullptr),
          sub(loop, cfg, chat::bus::channels(), {},
              [this](std::string_view channel, std::string_view payload) { bus.heard(channel, payload); }) {
        redis.start();
        sub.start();
    }
    bool up() const { return redis.connected() && sub.connected(); }
    // How often its sockets heard the event of `conversation` (other tests may publish too).
    std::size_t heard(const std::string& conversation) const {
        return static_cast<std::size_t>(std::count_if(sink.dispatched.begin(), sink.dispatched.end(),
                                                      [&](const Event& e) { return e.conversation_id == conversation; }));
    }
    bool forgot(const std::string& key) const {
        return std::any_of(sink.forgotten.begin(), sink.forgotten.end(), [&](const auto& f) { return f.first == key; });
    }
    FakeSink sink;
    chat::redis::Client redis;
    chat::bus::Bus bus;
    chat::redis::Subscriber sub;
};

Event tagged(const std::string& conversation, const std::string& key) {
    Event e = chat::events::read(conversation, "", chat::events::Sender::customer, 3, "automated");
    e.cache_key = key;
    e.version = 5;
    return e;
}

// Publishes a last event from each worker and waits until both heard both: Redis keeps each
// publisher's order, so whatever either would still hear of the earlier events came before.
void settle(chat::EpollLoop& loop, Worker& a, Worker& b, const std::string& tag) {
    a.bus.publish(std::vector<Event>{tagged("bus-settle-a-" + tag, "")});
    b.bus.publish(std::vector<Event>{tagged("bus-settle-b-" + tag, "")});
    ASSERT_TRUE(loop.run_until(
        [&] {
            return a.heard("bus-settle-a-" + tag) && a.heard("bus-settle-b-" + tag) &&
                   b.heard("bus-settle-a-" + tag) && b.heard("bus-settle-b-" + tag);
        },
        3000));
}

TEST_F(BusRedis, EachWorkerHearsItsOwnEventAndTheOthersOnceAndForgetsOnlyTheOthersCachedCopies) {
    Worker a(loop, cfg), b(loop, cfg);
    ASSERT_TRUE(loop.run_until([&] { return a.up() && b.up(); }, 3000));
    const std::string tag = std::to_string(::getpid());
    a.bus.publish(std::vector<Event>{tagged("bus-a-" + tag, "sid-a-" + tag)});
    b.bus.publish(std::vector<Event>{tagged("bus-b-" + tag, "sid-b-" + tag)});
    EXPECT_EQ(a.heard("bus-a-" + tag), 0u);  // in Redis's order, like every other worker
    settle(loop, a, b, tag);
    for (Worker* w : {&a, &b}) {
        EXPECT_EQ(w->heard("bus-a-" + tag), 1u);
        EXPECT_EQ(w->heard("bus-b-" + tag), 1u);
    }
    // its own echo is not parsed again: the write that raised it updated the cache already
    EXPECT_FALSE(a.forgot("sid-a-" + tag));
    EXPECT_TRUE(a.forgot("sid-b-" + tag));
    EXPECT_TRUE(b.forgot("sid-a-" + tag));
    EXPECT_FALSE(b.forgot("sid-b-" + tag));
    // and it reaches the sockets as it was built
    for (const Event& e : a.sink.dispatched) {
        if (e.conversation_id != "bus-a-" + tag) continue;
        EXPECT_EQ(e.json, tagged("bus-a-" + tag, "").json);
        EXPECT_EQ(e.sender, chat::events::Sender::customer);
        EXPECT_EQ(e.status, "automated");
    }
}

// A worker's subscription lost and back (`batch`: its events gathered per loop turn): its
// sockets hear each of its events once, and every worker hears them in publish order.
void subscription_lost_and_back(chat::EpollLoop& loop, const chat::redis::Config& cfg, bool batch) {
    Worker a(loop, cfg, batch), b(loop, cfg, batch);
    ASSERT_TRUE(loop.run_until([&] { return a.up() && b.up(); }, 3000));
    const std::string tag = std::to_string(::getpid());
    // published while the subscription was up (with batches: gathered in this turn), lost
    // before its echo came
    a.bus.publish(std::vector<Event>{tagged("bus-lost-" + tag, "")});
    EXPECT_EQ(a.heard("bus-lost-" + tag), 0u);
    a.bus.subscribed(false);
    EXPECT_EQ(a.heard("bus-lost-" + tag), 1u);
    // published while it is down (its echo still comes here: it is dropped)
    a.bus.publish(std::vector<Event>{tagged("bus-down-" + tag, "")});
    EXPECT_EQ(a.heard("bus-down-" + tag), 1u);
    settle(loop, a, b, tag + "-1");
    a.bus.subscribed(true);
    a.bus.publish(std::vector<Event>{tagged("bus-up-" + tag, "")});
    EXPECT_EQ(a.heard("bus-up-" + tag), 0u);
    settle(loop, a, b, tag + "-2");
    for (const char* c : {"bus-lost-", "bus-down-", "bus-up-"}) {
        EXPECT_EQ(a.heard(c + tag), 1u) << c;
        EXPECT_EQ(b.heard(c + tag), 1u) << c;
    }
    // and in publish order, on both
    const std::vector<std::string> order{"bus-lost-" + tag, "bus-down-" + tag, "bus-up-" + tag};
    for (Worker* w : {&a, &b}) {
        std::vector<std::string> seen;
        for (const Event& e : w->sink.dispatched)
            if (std::find(order.begin(), order.end(), e.conversation_id) != order.end()) seen.push_back(e.conversation_id);
        EXPECT_EQ(seen, order);
    }
}

TEST_F(BusRedis, WhileItsSubscriptionIsDownAWorkersSocketsHearItsEventsAtOnceAndOnce) {
    subscription_lost_and_back(loop, cfg, false);
}

// Events published in one loop turn, in several calls.
void publish_turn(Worker& w, const std::string& tag, int n) {
    for (int i = 0; i < n; i++) w.bus.publish(std::vector<Event>{tagged("bus-turn-" + tag + "-" + std::to_string(i), "sid-turn-" + tag)});
}

// The conversations of the events a worker's sockets heard that start with `prefix`, in order.
std::vector<std::string> heard_in_order(const Worker& w, const std::string& prefix) {
    std::vector<std::string> out;
    for (const Event& e : w.sink.dispatched)
        if (e.conversation_id.starts_with(prefix)) out.push_back(e.conversation_id);
    return out;
}

TEST_F(BusRedis, WithBatchesATurnsEventsGoInOnePublishAndEveryWorkerHearsEachOnceInOrder) {
    Worker a(loop, cfg, true), b(loop, cfg);  // b publishes one event a PUBLISH, and reads batches
    ASSERT_TRUE(loop.run_until([&] { return a.up() && b.up(); }, 3000));
    const std::string tag = std::to_string(::getpid());
    const auto sent = a.redis.stats().commands;
    publish_turn(a, tag, 5);
    EXPECT_EQ(a.heard("bus-turn-" + tag + "-0"), 0u);  // in Redis's order, like every other worker
    const std::string prefix = "bus-turn-" + tag + "-";
    ASSERT_TRUE(loop.run_until([&] { return heard_in_order(a, prefix).size() == 5; }, 3000));
    EXPECT_EQ(a.redis.stats().commands - sent, 1u);
    settle(loop, a, b, tag);
    std::vector<std::string> want;
    for (int i = 0; i < 5; i++) want.push_back(prefix + std::to_string(i));
    EXPECT_EQ(heard_in_order(a, prefix), want);
    EXPECT_EQ(heard_in_order(b, prefix), want);
    // its own echo is not parsed again; the other worker forgets its cached copy
    EXPECT_FALSE(a.forgot("sid-turn-" + tag));
    EXPECT_TRUE(b.forgot("sid-turn-" + tag));
    for (const Event& e : a.sink.dispatched) {
        if (!e.conversation_id.starts_with(prefix)) continue;
        EXPECT_EQ(e.sender, chat::events::Sender::customer);
    }
}

TEST_F(BusRedis, WithBatchesALoneEventTravelsAsItsOwnPayload) {
    Worker a(loop, cfg, true);
    ASSERT_TRUE(loop.run_until([&] { return a.up(); }, 3000));
    const std::string tag = std::to_string(::getpid());
    std::string heard;
    chat::redis::Subscriber spy(loop, cfg, chat::bus::channels(), {}, [&](std::string_view, std::string_view payload) {
        if (payload.find("bus-alone-" + tag) != std::string_view::npos) heard = std::string(payload);
    });
    spy.start();
    ASSERT_TRUE(loop.run_until([&] { return spy.connected(); }, 3000));
    const Event e = tagged("bus-alone-" + tag, "");
    a.bus.publish(std::vector<Event>{e});
    ASSERT_TRUE(loop.run_until([&] { return !heard.empty(); }, 3000));
    EXPECT_EQ(heard, chat::events::encode(e));
    ASSERT_TRUE(loop.run_until([&] { return a.heard("bus-alone-" + tag) == 1; }, 3000));
}

TEST_F(BusRedis, WithBatchesWhileItsSubscriptionIsDownAWorkersSocketsHearItsEventsAtOnceAndOnce) {
    subscription_lost_and_back(loop, cfg, true);
}

TEST_F(BusRedis, WithBatchesAPublishRedisRefusesStillReachesThisWorkersSocketsInOrder) {
    FakeSink sink;
    cfg.max_pending = 0;  // every command fails fast while connected
    chat::redis::Client redis(loop, cfg);
    chat::bus::Bus bus(sink, nullptr, &redis, {}, &loop);
    redis.start();
    ASSERT_TRUE(loop.run_until([&] { return redis.connected(); }, 3000));
    bus.publish(some_events());
    bus.publish(some_events());
    EXPECT_TRUE(sink.dispatched.empty());  // not before the turn's batch went
    ASSERT_TRUE(loop.run_until([&] { return sink.dispatched.size() == 4; }, 3000));
    for (std::size_t i = 0; i < 4; i++)
        EXPECT_EQ(sink.dispatched[i].type, i % 2 ? chat::events::Type::read : chat::events::Type::typing);
    EXPECT_TRUE(sink.shared.empty());
    loop.run_once(20);
    EXPECT_EQ(sink.dispatched.size(), 4u);
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
