// Health probes, status counts and the FAQ sync: what they answer with and without their backend.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "chat/customer.h"
#include "chat/epoll_loop.h"
#include "chat/faq_sync.h"
#include "chat/ops.h"
#include "chat/pg_conninfo.h"
#include "chat/pg_pool.h"

namespace {

TEST(Ops, WithoutBackendsProbesFailAndCountsAreUnknownButNeverInsideTheCall) {
    chat::EpollLoop loop;
    chat::ops::Service ops(loop, nullptr, nullptr);
    std::optional<chat::Result<void>> pg, redis;
    std::optional<chat::ops::Counts> counts;
    ops.probe_postgres([&](chat::Result<void> r) { pg.emplace(std::move(r)); });
    ops.probe_redis([&](chat::Result<void> r) { redis.emplace(std::move(r)); });
    ops.counts([&](chat::ops::Counts c) { counts = c; });
    EXPECT_FALSE(pg || redis || counts);
    ASSERT_TRUE(loop.run_until([&] { return pg && redis && counts; }, 1000));
    EXPECT_EQ(pg->error().code, chat::Errc::unavailable);
    EXPECT_EQ(redis->error().code, chat::Errc::unavailable);
    EXPECT_EQ(counts->queue_length, -1);
    EXPECT_EQ(counts->agents_online, -1);
}

// A shelf in memory, standing in for the chat zone.
struct MemoryShelf : chat::faq_sync::Shelf {
    std::optional<Copy> copy;
    int puts = 0;
    std::optional<Copy> get() noexcept override { return copy; }
    void put(std::string_view json, std::int64_t version) noexcept override {
        copy = Copy{std::string(json), version};
        puts++;
    }
};

// Against the database of `make test` (CHAT_TEST_PG), read only; skipped without it.
class OpsPg : public ::testing::Test {
protected:
    void SetUp() override {
        const char* env = std::getenv("CHAT_TEST_PG");
        if (!env || !*env) GTEST_SKIP() << "CHAT_TEST_PG not set";
        auto ci = chat::pg::resolve_conninfo(env);
        chat::pg::PoolConfig cfg;
        cfg.conninfo = ci.ok() ? ci.value() : std::string(env);
        cfg.size = 1;
        pool.emplace(loop, cfg);
        pool->start();
        ASSERT_TRUE(loop.run_until([&] { return pool->healthy(); }, 5000));
    }
    chat::EpollLoop loop;
    std::optional<chat::pg::Pool> pool;
};

TEST_F(OpsPg, ThePostgresProbeAnswersAndTheCountsAreKnown) {
    chat::ops::Service ops(loop, &*pool, nullptr);
    std::optional<chat::Result<void>> probe;
    std::optional<chat::ops::Counts> counts;
    ops.probe_postgres([&](chat::Result<void> r) { probe.emplace(std::move(r)); });
    ops.counts([&](chat::ops::Counts c) { counts = c; });
    ASSERT_TRUE(loop.run_until([&] { return probe && counts; }, 5000));
    EXPECT_TRUE(probe->ok());
    EXPECT_GE(counts->queue_length, 0);
    EXPECT_GE(counts->agents_online, 0);
    // one statement, one snapshot: the sites' queues add up to the total
    std::int64_t queued = 0;
    for (const chat::ops::SiteCounts& s : counts->sites) {
        EXPECT_FALSE(s.site.empty());
        EXPECT_LE(s.agents_online, counts->agents_online) << s.site;
        EXPECT_TRUE(s.queue_length > 0 || s.agents_online > 0) << s.site << ": listed with nothing to count";
        queued += s.queue_length;
    }
    EXPECT_EQ(queued, counts->queue_length);
}

TEST_F(OpsPg, TheFaqSyncLoadsTheSetSharesItAndThenOnlyPolls) {
    chat::customer::Service customer(loop, *pool, "secret-for-tests-0123456789abcdef", {});
    MemoryShelf shelf;
    chat::faq_sync::FaqSync sync(customer, *pool, shelf);

    std::optional<chat::faq_sync::Step> step;
    sync.run([&](chat::faq_sync::Step s) { step = std::move(s); });
    ASSERT_TRUE(loop.run_until([&] { return step.has_value(); }, 5000));
    EXPECT_FALSE(step->error);
    ASSERT_TRUE(customer.faq());
    EXPECT_EQ(step->next_ms, chat::faq_sync::kPollMs);
    ASSERT_TRUE(shelf.copy);
    EXPECT_EQ(shelf.copy->version, customer.faq()->version);
    EXPECT_EQ(shelf.puts, 1);

    // Nothing changed: Postgres says so in one short row, nothing is shared again.
    step.reset();
    sync.run([&](chat::faq_sync::Step s) { step = std::move(s); });
    ASSERT_TRUE(loop.run_until([&] { return step.has_value(); }, 5000));
    EXPECT_EQ(shelf.puts, 1);
}

TEST_F(OpsPg, ANewerSetOnTheShelfIsTakenWithoutWaitingForPostgres) {
    chat::customer::Service customer(loop, *pool, "secret-for-tests-0123456789abcdef", {});
    MemoryShelf shelf;
    shelf.copy = chat::faq_sync::Shelf::Copy{
        R"([{"slug":"s","question":"Where is my order?","answer":"On its way.","keywords":[],"display_order":1}])",
        1LL << 40};
    chat::faq_sync::FaqSync sync(customer, *pool, shelf);
    bool done = false;
    sync.run([&](chat::faq_sync::Step) { done = true; });
    ASSERT_TRUE(customer.faq());  // at once, before the loop runs
    EXPECT_EQ(customer.faq()->version, 1LL << 40);
    ASSERT_TRUE(loop.run_until([&] { return done; }, 5000));
    EXPECT_EQ(customer.faq()->version, 1LL << 40);  // Postgres has nothing newer
    EXPECT_EQ(shelf.puts, 0);
}

}  // namespace
