// Group commit under load against a real Postgres (CHAT_TEST_PG): while a batch of a kind is in flight, its kind's
// items wait for it instead of taking another idle connection, unless a whole batch is queued, the batch in flight
// has been out batch_hold_ms, or its connection is lost; plain queries and other kinds still take idle connections.
//
// The batch in flight is held by an advisory lock that the test's own connection keeps, so it cannot finish before
// the test lets it: every assertion on "still waiting" holds whatever the machine's speed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/epoll_loop.h"
#include "chat/pg_pool.h"
#include "pg_test_env.h"

namespace {

using chat::EpollLoop;
using chat::Errc;
using chat::Result;
using chat::pg::BatchKind;
using chat::pg::BatchRow;
using chat::pg::Param;
using chat::pg::Pool;
using chat::pg::PoolConfig;
using chat::pg::QueryResult;

// An advisory lock key of this test process (test runs of other worktrees use other databases, but be safe).
std::string lock_key() { return std::to_string(0x5ba7c400000LL + ::getpid()); }

// Doubles each item; a call with an item >= 1000 first waits for the test's advisory lock (shared, released at
// the call's commit), so such a batch stays in flight until the test unlocks.
std::shared_ptr<const BatchKind> gated(std::size_t max_items = 32) {
    return std::make_shared<const BatchKind>(
        BatchKind{"SELECT (x * 2)::text, NULL, NULL FROM unnest($1::int[]) WITH ORDINALITY AS t(x, o) "
                  "WHERE (SELECT count(pg_advisory_xact_lock_shared(" +
                      lock_key() +
                      ")) FROM unnest($1::int[]) v WHERE v >= 1000) >= 0 ORDER BY o",
                  max_items});
}

PoolConfig config(const std::string& conninfo, int size, std::uint64_t hold_ms) {
    PoolConfig cfg;
    cfg.conninfo = conninfo;
    cfg.size = size;
    cfg.batch_hold_ms = hold_ms;
    cfg.batch_hold_min_items = 1;  // the gated batch in flight carries one item
    cfg.queue_timeout_ms = 60000;  // waiting is what these tests look at: never a queue timeout
    cfg.query_timeout_ms = 60000;
    return cfg;
}

bool start_all(EpollLoop& loop, Pool& pool, int size) {
    pool.start();
    return loop.run_until([&] { return pool.stats().connected == size; }, 5000);
}

struct Answers {
    std::vector<std::optional<Result<std::string>>> got;
    std::vector<int> order;  // item indexes in the order their answers arrived
    int done = 0;
};

void submit(Pool& pool, const std::shared_ptr<const BatchKind>& kind, Answers& a, int x) {
    std::size_t i = a.got.size();
    a.got.emplace_back();
    pool.query_batched(kind, {std::to_string(x)}, [&a, i](Result<BatchRow> r) {
        if (r.ok()) a.got[i].emplace(std::string(r.value().answer()));
        else a.got[i].emplace(r.error());
        a.order.push_back(static_cast<int>(i));
        ++a.done;
    });
}

std::optional<Result<QueryResult>> run(EpollLoop& loop, Pool& pool, const std::string& sql) {
    std::optional<Result<QueryResult>> out;
    pool.query(sql, {}, [&](Result<QueryResult> r) { out.emplace(std::move(r)); });
    loop.run_until([&] { return out.has_value(); }, 5000);
    return out;
}

// The test's lock: one connection, so the unlock runs where the lock was taken.
struct Gate {
    EpollLoop& loop;
    Pool pool;
    Gate(EpollLoop& l, const std::string& conninfo) : loop(l), pool(l, config(conninfo, 1, 10)) {}
    ::testing::AssertionResult close() {
        if (!start_all(loop, pool, 1)) return ::testing::AssertionFailure() << "gate did not connect";
        auto r = run(loop, pool, "select pg_advisory_lock(" + lock_key() + ")");
        if (!r || !r->ok()) return ::testing::AssertionFailure() << "lock: " << (r ? r->error().message : "no answer");
        return ::testing::AssertionSuccess();
    }
    ::testing::AssertionResult open() {
        auto r = run(loop, pool, "select pg_advisory_unlock(" + lock_key() + ")");
        if (!r || !r->ok() || r->value().get(0, 0) != "t")
            return ::testing::AssertionFailure() << "unlock: " << (r && !r->ok() ? r->error().message : "not held");
        return ::testing::AssertionSuccess();
    }
    // Whether a batch waits on the lock right now (it is in flight on the server).
    bool waited_on() {
        auto r = run(loop, pool,
                     "select count(*) from pg_locks where locktype = 'advisory' and not granted and "
                     "(classid::bigint << 32 | objid::bigint) = " +
                         lock_key());
        return r && r->ok() && r->value().get(0, 0) == "1";
    }
};

// Sends a gated batch (item 1000) and waits until it waits on the lock, on one of the pool's connections.
::testing::AssertionResult gated_batch_in_flight(EpollLoop& loop, Pool& pool, Gate& gate,
                                                 const std::shared_ptr<const BatchKind>& kind, Answers& a) {
    submit(pool, kind, a, 1000);
    if (!loop.run_until([&] { return gate.waited_on(); }, 5000))
        return ::testing::AssertionFailure() << "the gated batch never reached the lock";
    if (pool.stats().batches != 1u || pool.stats().busy != 1) return ::testing::AssertionFailure() << "not in flight";
    return ::testing::AssertionSuccess();
}

// Every test: the gate closed, a pool of `size` connections all connected, and a gated batch of `kind` (item 1000,
// a.got[0]) in flight on one of them, waiting on the gate's lock.
class PgBatchHold : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_PG(conninfo);
        conninfo_ = conninfo;
        gate.emplace(loop, conninfo_);
        ASSERT_TRUE(gate->close());
    }

    // max_items: of kind's batches; hold_min_items: the pool's batch_hold_min_items.
    ::testing::AssertionResult start(int size, std::uint64_t hold_ms, std::size_t max_items = 32,
                                     std::size_t hold_min_items = 1) {
        PoolConfig cfg = config(conninfo_, size, hold_ms);
        cfg.batch_hold_min_items = hold_min_items;
        pool.emplace(loop, cfg);
        if (!start_all(loop, *pool, size)) return ::testing::AssertionFailure() << "the pool did not connect";
        kind = gated(max_items);
        return gated_batch_in_flight(loop, *pool, *gate, kind, a);
    }

    // Named as the tests read them.
    EpollLoop loop;
    std::string conninfo_;
    std::optional<Gate> gate;
    std::optional<Pool> pool;
    std::shared_ptr<const BatchKind> kind;
    Answers a;
};

TEST_F(PgBatchHold, ItemsOfAKindInFlightWaitForItsAnswerThenLeaveAsOneBatch) {
    ASSERT_TRUE(start(2, 600000));

    // Three items in one turn, three in a later one: the second connection is idle, yet they wait.
    for (int i = 1; i <= 3; ++i) submit(*pool, kind, a, i);
    std::optional<Result<QueryResult>> plain;
    loop.post([&] {
        for (int i = 4; i <= 6; ++i) submit(*pool, kind, a, i);
        // A plain query posted after them still takes the idle connection at once.
        pool->query("select 'plain'", {}, [&](Result<QueryResult> r) { plain.emplace(std::move(r)); });
    });
    ASSERT_TRUE(loop.run_until([&] { return plain.has_value(); }, 5000));
    ASSERT_TRUE(plain->ok()) << plain->error().message;
    EXPECT_EQ(plain->value().get(0, 0), "plain");
    EXPECT_EQ(a.done, 0);
    EXPECT_EQ(pool->stats().queued, 6u) << "the kind's items wait for its batch in flight";
    EXPECT_EQ(pool->stats().batches, 1u);
    EXPECT_EQ(pool->stats().busy, 1);

    ASSERT_TRUE(gate->open());
    ASSERT_TRUE(loop.run_until([&] { return a.done == 7; }, 5000));
    for (int i = 0; i <= 6; ++i) {
        ASSERT_TRUE(a.got[i]->ok()) << i << ": " << a.got[i]->error().message;
        EXPECT_EQ(a.got[i]->value(), std::to_string(2 * (i == 0 ? 1000 : i)));
    }
    EXPECT_EQ(a.order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6})) << "answers in the order the items came";
    EXPECT_EQ(pool->stats().batches, 2u) << "the six waiting items were one call";
    EXPECT_EQ(pool->stats().batched_items, 7u);
    EXPECT_EQ(pool->stats().queued, 0u);
}

TEST_F(PgBatchHold, AWholeBatchOfWaitingItemsTakesTheIdleConnection) {
    ASSERT_TRUE(start(2, 600000, 4));

    for (int i = 1; i <= 5; ++i) submit(*pool, kind, a, i);
    // Four of them fill a batch: it goes on the idle connection; the fifth waits.
    ASSERT_TRUE(loop.run_until([&] { return a.done == 4; }, 5000));
    for (int i = 1; i <= 4; ++i) {
        ASSERT_TRUE(a.got[i]->ok()) << i << ": " << a.got[i]->error().message;
        EXPECT_EQ(a.got[i]->value(), std::to_string(2 * i));
    }
    EXPECT_FALSE(a.got[0].has_value());
    EXPECT_FALSE(a.got[5].has_value());
    EXPECT_EQ(pool->stats().batches, 2u);
    EXPECT_EQ(pool->stats().batched_items, 5u);
    EXPECT_EQ(pool->stats().queued, 1u) << "one item is not a whole batch: it waits for the batch in flight";

    ASSERT_TRUE(gate->open());
    ASSERT_TRUE(loop.run_until([&] { return a.done == 6; }, 5000));
    ASSERT_TRUE(a.got[0]->ok() && a.got[5]->ok());
    EXPECT_EQ(a.got[0]->value(), "2000");
    EXPECT_EQ(a.got[5]->value(), "10");
    EXPECT_EQ(pool->stats().batches, 3u);
    EXPECT_EQ(pool->stats().batched_items, 6u);
}

TEST_F(PgBatchHold, ASlowBatchInFlightHoldsItsKindOnlyForBatchHoldMs) {
    ASSERT_TRUE(start(2, 50));

    // The gated batch cannot finish: these are answered on the other connection, past the bound.
    for (int i = 1; i <= 3; ++i) submit(*pool, kind, a, i);
    ASSERT_TRUE(loop.run_until([&] { return a.done == 3; }, 5000)) << "no item waits for ever behind a stuck batch";
    for (int i = 1; i <= 3; ++i) {
        ASSERT_TRUE(a.got[i]->ok()) << i << ": " << a.got[i]->error().message;
        EXPECT_EQ(a.got[i]->value(), std::to_string(2 * i));
    }
    EXPECT_FALSE(a.got[0].has_value());
    EXPECT_EQ(pool->stats().batches, 2u) << "the three went as one call";

    ASSERT_TRUE(gate->open());
    ASSERT_TRUE(loop.run_until([&] { return a.done == 4; }, 5000));
    ASSERT_TRUE(a.got[0]->ok()) << a.got[0]->error().message;
    EXPECT_EQ(a.got[0]->value(), "2000");
}

TEST_F(PgBatchHold, ABatchInFlightSmallerThanBatchHoldMinItemsHoldsNothing) {
    ASSERT_TRUE(start(3, 600000, 32, 2));  // batch_hold_min_items 2; one item in flight: light load
    for (int i = 1; i <= 3; ++i) submit(*pool, kind, a, i);
    ASSERT_TRUE(loop.run_until([&] { return a.done == 3; }, 5000)) << "they take the idle connection";
    for (int i = 1; i <= 3; ++i) {
        ASSERT_TRUE(a.got[i]->ok()) << i << ": " << a.got[i]->error().message;
        EXPECT_EQ(a.got[i]->value(), std::to_string(2 * i));
    }
    EXPECT_FALSE(a.got[0].has_value());
    EXPECT_EQ(pool->stats().batches, 2u);

    // Behind a batch of two (gated, so it stays on the second connection), items wait; a plain query takes the third.
    Answers b;
    submit(*pool, kind, b, 1001);
    submit(*pool, kind, b, 1);
    ASSERT_TRUE(loop.run_until([&] { return pool->stats().batches == 3u && pool->stats().queued == 0u; }, 5000));
    submit(*pool, kind, b, 5);
    std::optional<Result<QueryResult>> plain;
    pool->query("select 'plain'", {}, [&](Result<QueryResult> r) { plain.emplace(std::move(r)); });
    ASSERT_TRUE(loop.run_until([&] { return plain.has_value(); }, 5000));
    EXPECT_EQ(pool->stats().queued, 1u) << "behind a batch of batch_hold_min_items an item waits";
    EXPECT_EQ(b.done, 0);
    ASSERT_TRUE(gate->open());
    ASSERT_TRUE(loop.run_until([&] { return a.done == 4 && b.done == 3; }, 5000));
    EXPECT_EQ(a.got[0]->value(), "2000");
    EXPECT_EQ(b.got[0]->value(), "2002");
    EXPECT_EQ(b.got[1]->value(), "2");
    EXPECT_EQ(b.got[2]->value(), "10");
    EXPECT_EQ(pool->stats().batches, 4u);
}

TEST_F(PgBatchHold, ItemsWaitingForALostConnectionsBatchGoOnAnother) {
    ASSERT_TRUE(start(2, 600000));
    for (int i = 1; i <= 3; ++i) submit(*pool, kind, a, i);
    // Other kinds are not held by it: one goes on the idle connection at once.
    auto other = gated();
    Answers b;
    submit(*pool, other, b, 7);
    ASSERT_TRUE(loop.run_until([&] { return b.done == 1; }, 5000));
    ASSERT_TRUE(b.got[0]->ok()) << b.got[0]->error().message;
    EXPECT_EQ(b.got[0]->value(), "14");
    EXPECT_EQ(a.done, 0);
    EXPECT_EQ(pool->stats().queued, 3u);

    // The backend waiting on the lock is terminated: its item fails, the waiting ones go on the other connection.
    auto kill = run(loop, gate->pool,
                    "select count(pg_terminate_backend(pid)) from pg_locks where locktype = 'advisory' and not "
                    "granted and (classid::bigint << 32 | objid::bigint) = " +
                        lock_key());
    ASSERT_TRUE(kill && kill->ok()) << (kill ? kill->error().message : "no answer");
    EXPECT_EQ(kill->value().get(0, 0), "1");
    ASSERT_TRUE(loop.run_until([&] { return a.done == 4; }, 5000)) << "items must not wait for a lost batch";
    ASSERT_FALSE(a.got[0]->ok());
    EXPECT_EQ(a.got[0]->error().code, Errc::unavailable) << a.got[0]->error().message;
    for (int i = 1; i <= 3; ++i) {
        ASSERT_TRUE(a.got[i]->ok()) << i << ": " << a.got[i]->error().message;
        EXPECT_EQ(a.got[i]->value(), std::to_string(2 * i));
    }
    EXPECT_EQ(pool->stats().batches, 3u);
    EXPECT_EQ(pool->stats().batched_items, 5u);
    ASSERT_TRUE(gate->open());
}

TEST_F(PgBatchHold, ShutdownFailsItemsWaitingForABatchInFlight) {
    ASSERT_TRUE(start(2, 600000));
    for (int i = 1; i <= 2; ++i) submit(*pool, kind, a, i);
    std::optional<std::size_t> waiting;
    loop.post([&] {  // after the turn's end, where they wait
        waiting = pool->stats().queued;
        pool->shutdown();
    });
    ASSERT_TRUE(loop.run_until([&] { return a.done == 3; }, 5000));
    ASSERT_TRUE(waiting.has_value());
    EXPECT_EQ(*waiting, 2u);
    for (auto& g : a.got) {
        ASSERT_FALSE(g->ok());
        EXPECT_EQ(g->error().code, Errc::unavailable);
        EXPECT_EQ(g->error().message, "shutting down");
    }
    EXPECT_EQ(pool->stats().batches, 1u);
    ASSERT_TRUE(gate->open());
}

}  // namespace
