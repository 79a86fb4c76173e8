// Retention and erasure in core (chat/retention.h): the answers of the SQL functions, when
// the next batch runs, and the forget message chatctl erase publishes; its effect on a bus.
#include <gtest/gtest.h>

#include <limits>
#include <span>
#include <string>
#include <vector>

#include "chat/bus.h"
#include "chat/events.h"
#include "chat/limits.h"
#include "chat/retention.h"

namespace {

using namespace chat::retention;

TEST(Retention, ReadsABatchsAnswer) {
    auto s = parse_sweep(R"({"locked": true, "conversations": 500, "customers": 12, "unmatched": 3, "more": true})");
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(s.value().locked);
    EXPECT_EQ(s.value().conversations, 500);
    EXPECT_EQ(s.value().customers, 12);
    EXPECT_EQ(s.value().unmatched, 3);
    EXPECT_TRUE(s.value().more);

    auto busy = parse_sweep(R"({"locked": false})");
    ASSERT_TRUE(busy.ok());
    EXPECT_FALSE(busy.value().locked);
    EXPECT_FALSE(busy.value().more);
    EXPECT_EQ(busy.value().conversations, 0);

    EXPECT_FALSE(parse_sweep("[]").ok());
    EXPECT_FALSE(parse_sweep("not json").ok());
}

TEST(Retention, ReadsTheErasedSessionsAndDropsKeysThatCouldNotBeOnes) {
    auto e = parse_erased(R"({"last": 42, "sessions": ["s1", "s2", "", 7, "a\nb"]})");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e.value().last, 42);
    EXPECT_EQ(e.value().sessions, (std::vector<std::string>{"s1", "s2"}));
    EXPECT_FALSE(parse_erased("").ok());
}

TEST(Retention, TheNextBatchComesAtOnceOnlyWhileBatchesAreFull) {
    Sweep full{true, 500, 0, 0, true};
    Sweep done{true, 3, 0, 0, false};
    Sweep busy{false, 0, 0, 0, false};
    EXPECT_EQ(next_sweep_ms(180 * 86400, full), kNextBatchMs);
    EXPECT_EQ(next_sweep_ms(180 * 86400, done), chat::limits::kRetentionEveryMsMax);
    EXPECT_EQ(next_sweep_ms(180 * 86400, busy), chat::limits::kRetentionEveryMsMax);
    EXPECT_EQ(next_sweep_ms(180 * 86400, std::nullopt), chat::limits::kRetentionEveryMsMax);
    EXPECT_EQ(next_sweep_ms(3, std::nullopt), 3000);  // a short retention (tests) is swept as often
    EXPECT_EQ(next_sweep_ms(1, done), 1000);
}

TEST(Retention, AForgetMessageRoundTripsAndSplitsPastItsBound) {
    std::vector<std::string> keys = {"sid-1", "sid-2"};
    auto msgs = forget_messages(keys);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0], "f1\nsid-1\nsid-2\n");
    EXPECT_EQ(parse_forget(msgs[0]), keys);

    std::vector<std::string> many;
    for (std::size_t i = 0; i < kForgetMax + 5; i++) many.push_back("s" + std::to_string(i));
    many.push_back("");                             // never a key
    many.push_back(std::string(kForgetKeyMax + 1, 'x'));
    msgs = forget_messages(many);
    ASSERT_EQ(msgs.size(), 2u);
    auto first = parse_forget(msgs[0]);
    auto second = parse_forget(msgs[1]);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->size(), kForgetMax);
    EXPECT_EQ(second->size(), 5u);
    EXPECT_TRUE(forget_messages(std::vector<std::string>{}).empty());
}

TEST(Retention, AnythingElseIsNotAForgetMessage) {
    for (std::string_view p : {"", "f1", "f1\nsid", "f1\n\n", "f2\nsid\n", "e3\nsid\n1\n\n\n\n{}"})
        EXPECT_FALSE(parse_forget(p)) << p;
    EXPECT_EQ(parse_forget("f1\n"), std::vector<std::string>{});
    std::string huge = "f1\n";
    for (std::size_t i = 0; i <= kForgetMax; i++) huge += "k\n";
    EXPECT_FALSE(parse_forget(huge));
}

struct Sink : chat::bus::Sink {
    std::vector<std::pair<std::string, std::int64_t>> forgotten;
    int dispatched = 0;
    void dispatch(const chat::events::Event&) noexcept override { dispatched++; }
    void share(const chat::events::Event&) noexcept override {}
    void forget(std::string_view key, std::int64_t version) noexcept override {
        forgotten.emplace_back(std::string(key), version);
    }
    std::vector<std::string> ended;
    void end(std::span<const std::string> ids) noexcept override { ended.assign(ids.begin(), ids.end()); }
};

TEST(Retention, AHeardForgetMessageDropsEveryCachedCopyOfItsSessionsAndReachesNoSocket) {
    Sink sink;
    chat::bus::Bus bus(sink, nullptr, nullptr);
    bus.heard("chat:events", forget_messages(std::vector<std::string>{"sid-1", "sid-2"})[0]);
    constexpr auto kAny = std::numeric_limits<std::int64_t>::max();  // whatever version is cached
    EXPECT_EQ(sink.forgotten,
              (std::vector<std::pair<std::string, std::int64_t>>{{"sid-1", kAny}, {"sid-2", kAny}}));
    EXPECT_EQ(sink.dispatched, 0);
    EXPECT_TRUE(sink.ended.empty());  // sockets close by conversation (an end message)
}

TEST(Retention, AnEndMessageRoundTripsAndIsNoForgetMessage) {
    std::vector<std::string> ids = {"c-1", "c-2"};
    auto msgs = end_messages(ids);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0], "x1\nc-1\nc-2\n");
    EXPECT_EQ(parse_end(msgs[0]), ids);
    EXPECT_FALSE(parse_forget(msgs[0]));
    EXPECT_FALSE(parse_end(forget_messages(ids)[0]));
    for (std::string_view p : {"", "x1", "x1\nc", "x1\n\n", "x2\nc\n", "e3\nsid\n1\n\n\n\n{}"})
        EXPECT_FALSE(parse_end(p)) << p;
    std::vector<std::string> many;
    for (std::size_t i = 0; i < kForgetMax + 1; i++) many.push_back("c" + std::to_string(i));
    EXPECT_EQ(end_messages(many).size(), 2u);
}

TEST(Retention, AHeardEndMessageClosesTheSocketsOfItsConversationsAndIsNoEvent) {
    Sink sink;
    chat::bus::Bus bus(sink, nullptr, nullptr);
    bus.heard("chat:events", end_messages(std::vector<std::string>{"c-1", "c-2"})[0]);
    EXPECT_EQ(sink.ended, (std::vector<std::string>{"c-1", "c-2"}));
    EXPECT_TRUE(sink.forgotten.empty());
    EXPECT_EQ(sink.dispatched, 0);
}

TEST(Retention, ReadsTheErasedConversations) {
    auto e = parse_erased(R"({"last": 7, "sessions": ["s1", "s1"], "conversations": ["c1", "c2", null, ""]})");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e.value().conversations, (std::vector<std::string>{"c1", "c2"}));
    auto old = parse_erased(R"({"last": 7, "sessions": ["s1"]})");  // before 023: none named
    ASSERT_TRUE(old.ok());
    EXPECT_TRUE(old.value().conversations.empty());
}

}  // namespace
