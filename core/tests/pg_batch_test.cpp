// Group commit in the Postgres pool (query_batched) against a real Postgres (CHAT_TEST_PG): queued items of a kind go
// as one query, each answered alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
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
using chat::pg::Param;
using chat::pg::Pool;
using chat::pg::PoolConfig;
using chat::pg::QueryResult;

std::string unique_name(const char* prefix) {
    return std::string(prefix) + std::to_string(::getpid()) + "_" + std::to_string(std::rand() % 1000000);
}

PoolConfig config(const std::string& conninfo, int size) {
    PoolConfig cfg;
    cfg.conninfo = conninfo;
    cfg.size = size;
    return cfg;
}

// Doubles each item; a negative one fails alone with CH409, like a closed conversation.
std::shared_ptr<const BatchKind> doubler(std::size_t max_items = 32) {
    return std::make_shared<const BatchKind>(BatchKind{
        "SELECT CASE WHEN x >= 0 THEN (x * 2)::text END, CASE WHEN x < 0 THEN 'CH409' END, "
        "CASE WHEN x < 0 THEN 'negative ' || x END FROM unnest($1::int[]) WITH ORDINALITY AS t(x, o) ORDER BY o",
        max_items});
}

// Starts the pool and waits until all its `size` connections are up.
bool start_all(EpollLoop& loop, Pool& pool, int size) {
    pool.start();
    return loop.run_until([&] { return pool.stats().connected == size; }, 5000);
}

struct Answers {
    std::vector<std::optional<Result<std::string>>> got;
    int done = 0;
};

void submit(Pool& pool, const std::shared_ptr<const BatchKind>& kind, Answers& a, std::vector<Param> item) {
    std::size_t i = a.got.size();
    a.got.emplace_back();
    pool.query_batched(kind, std::move(item), [&a, i](Result<chat::pg::BatchRow> r) {
        if (r.ok()) a.got[i].emplace(std::string(r.value().answer()));
        else a.got[i].emplace(r.error());
        ++a.done;
    });
}

// One connection held busy for a moment, so what is submitted meanwhile queues up.
void hold(Pool& pool, std::optional<Result<QueryResult>>& slot) {
    pool.query("select pg_sleep(0.3)", {}, [&slot](Result<QueryResult> r) { slot.emplace(std::move(r)); });
}

TEST(PgBatch, ALoneItemGoesAloneInTheLoopTurnItCameIn) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 2));
    ASSERT_TRUE(start_all(loop, pool, 2));
    Answers a;
    submit(pool, doubler(), a, {"21"});
    EXPECT_EQ(a.done, 0) << "callbacks must never run inside query_batched()";
    EXPECT_EQ(pool.stats().queued, 1u) << "an item waits for the end of the loop turn";
    EXPECT_EQ(pool.stats().batches, 0u);
    loop.run_once(0);  // the rest of this turn: no timer, no waiting
    EXPECT_EQ(pool.stats().queued, 0u) << "an idle connection takes the item when the turn ends";
    EXPECT_EQ(pool.stats().batches, 1u);
    ASSERT_TRUE(loop.run_until([&] { return a.done == 1; }, 5000));
    ASSERT_TRUE(a.got[0]->ok()) << a.got[0]->error().message;
    EXPECT_EQ(a.got[0]->value(), "42");
    EXPECT_EQ(pool.stats().batches, 1u);
    EXPECT_EQ(pool.stats().batched_items, 1u);
}

TEST(PgBatch, ItemsOfOneLoopTurnLeaveAsOneBatchThoughConnectionsAreIdle) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 2));
    ASSERT_TRUE(start_all(loop, pool, 2));
    Answers a;
    auto kind = doubler();
    std::optional<Result<QueryResult>> plain;
    for (int i = 0; i < 6; ++i) submit(pool, kind, a, {std::to_string(i)});
    pool.query("select 'plain'", {}, [&](Result<QueryResult> r) { plain.emplace(std::move(r)); });
    EXPECT_EQ(pool.stats().busy, 1) << "a plain query still goes at once";
    EXPECT_EQ(pool.stats().queued, 6u);
    ASSERT_TRUE(loop.run_until([&] { return a.done == 6 && plain.has_value(); }, 5000));
    for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(a.got[i]->ok()) << a.got[i]->error().message;
        EXPECT_EQ(a.got[i]->value(), std::to_string(2 * i));
    }
    ASSERT_TRUE(plain->ok());
    EXPECT_EQ(pool.stats().batches, 1u) << "six items of one turn, one query";
    EXPECT_EQ(pool.stats().batched_items, 6u);

    // Items submitted from a callback of a later turn (as nginx's handlers do) likewise.
    Answers b;
    loop.post([&] {
        for (int i = 0; i < 3; ++i) submit(pool, kind, b, {std::to_string(10 + i)});
    });
    ASSERT_TRUE(loop.run_until([&] { return b.done == 3; }, 5000));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(b.got[i]->value(), std::to_string(20 + 2 * i));
    EXPECT_EQ(pool.stats().batches, 2u);
    EXPECT_EQ(pool.stats().batched_items, 9u);
}

// Like doubler(), but each call holds its connection for its largest item's hundredths of a second.
std::shared_ptr<const BatchKind> sleeper() {
    return std::make_shared<const BatchKind>(
        BatchKind{"SELECT (x * 2)::text, NULL, NULL FROM unnest($1::int[]) WITH ORDINALITY AS t(x, o) "
                  "CROSS JOIN pg_sleep((SELECT max(v) FROM unnest($1::int[]) v) / 100.0) ORDER BY o",
                  32});
}

TEST(PgBatch, QueueTimeoutFailsWaitingItems) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    PoolConfig cfg = config(conninfo, 1);
    cfg.queue_timeout_ms = 200;
    Pool pool(loop, cfg);
    ASSERT_TRUE(start_all(loop, pool, 1));
    std::optional<Result<QueryResult>> slow;
    pool.query("select pg_sleep(0.6)", {}, [&](Result<QueryResult> r) { slow.emplace(std::move(r)); });
    Answers a;
    submit(pool, doubler(), a, {"1"});
    submit(pool, doubler(), a, {"2"});
    ASSERT_TRUE(loop.run_until([&] { return a.done == 2; }, 2000));
    for (auto& g : a.got) {
        ASSERT_FALSE(g->ok());
        EXPECT_EQ(g->error().code, Errc::unavailable);
        EXPECT_EQ(g->error().message, "timed out waiting for a database connection");
    }
    EXPECT_EQ(pool.stats().batches, 0u);
    EXPECT_EQ(pool.stats().timeouts, 2u);
    ASSERT_TRUE(loop.run_until([&] { return slow.has_value(); }, 2000));
    EXPECT_TRUE(slow->ok());
}

TEST(PgBatch, ShutdownBeforeTheTurnEndsFailsItemsAndSendsNothing) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 2));
    ASSERT_TRUE(start_all(loop, pool, 2));
    Answers a;
    auto kind = doubler();
    submit(pool, kind, a, {"1"});
    submit(pool, kind, a, {"2"});
    pool.shutdown();
    EXPECT_EQ(a.done, 0) << "shutdown posts, never calls back synchronously";
    ASSERT_TRUE(loop.run_until([&] { return a.done == 2; }, 5000));
    for (auto& g : a.got) {
        ASSERT_FALSE(g->ok());
        EXPECT_EQ(g->error().code, Errc::unavailable);
        EXPECT_EQ(g->error().message, "shutting down");
    }
    EXPECT_EQ(pool.stats().batches, 0u);
    submit(pool, kind, a, {"3"});
    ASSERT_TRUE(loop.run_until([&] { return a.done == 3; }, 5000));
    EXPECT_EQ(a.got[2]->error().code, Errc::unavailable);
}

TEST(PgBatch, DestroyingThePoolBeforeTheTurnEndsCallsNothing) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    auto pool = std::make_unique<Pool>(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, *pool, 1));
    Answers a;
    submit(*pool, doubler(), a, {"1"});
    pool.reset();  // the end-of-turn dispatch is still posted
    loop.run_until([] { return false; }, 50);
    EXPECT_EQ(a.done, 0);
}

TEST(PgBatch, ALostConnectionFailsEveryItemOfItsBatchThenTheKindIsServedAgain) {
    REQUIRE_PG(conninfo);
    const std::string app = unique_name("chat_batch_victim_");
    EpollLoop loop;
    Pool victim(loop, config(conninfo + " application_name='" + app + "'", 1));
    Pool killer(loop, config(conninfo, 1));
    killer.start();
    ASSERT_TRUE(start_all(loop, victim, 1));
    auto kind = sleeper();
    Answers a;
    for (int i = 0; i < 3; ++i) submit(victim, kind, a, {std::to_string(500 + i)});  // 5 s
    loop.run_until([] { return false; }, 200);
    ASSERT_EQ(victim.stats().batches, 1u);
    std::optional<Result<QueryResult>> kill;
    killer.query("select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1", {app},
                 [&](Result<QueryResult> r) { kill.emplace(std::move(r)); });
    ASSERT_TRUE(loop.run_until([&] { return a.done == 3; }, 3000)) << "a batch in flight must not hang";
    // The victim's socket can close before the killer's answer is read: wait for both.
    ASSERT_TRUE(loop.run_until([&] { return kill.has_value(); }, 3000));
    ASSERT_TRUE(kill->ok()) << kill->error().message;
    for (auto& g : a.got) {
        ASSERT_FALSE(g->ok());
        EXPECT_EQ(g->error().code, Errc::unavailable) << g->error().message;
    }
    // The pool reconnects and serves the kind again.
    ASSERT_TRUE(loop.run_until([&] { return victim.stats().connected == 1; }, 5000));
    Answers b;
    submit(victim, kind, b, {"4"});
    ASSERT_TRUE(loop.run_until([&] { return b.done == 1; }, 5000));
    ASSERT_TRUE(b.got[0]->ok()) << b.got[0]->error().message;
    EXPECT_EQ(b.got[0]->value(), "8");
}

TEST(PgBatch, QueuedItemsGoAsOneQueryEachWithItsOwnAnswerOrError) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, pool, 1));
    std::optional<Result<QueryResult>> busy, plain;
    hold(pool, busy);
    Answers a;
    auto kind = doubler();
    for (int i = 0; i < 10; ++i) {
        submit(pool, kind, a, {std::to_string(i == 4 ? -4 : i)});
        if (i == 5) pool.query("select 'plain'", {}, [&](Result<QueryResult> r) { plain.emplace(std::move(r)); });
    }
    EXPECT_EQ(pool.stats().queued, 11u);
    ASSERT_TRUE(loop.run_until([&] { return a.done == 10 && plain.has_value(); }, 5000));
    ASSERT_TRUE(busy.has_value() && busy->ok());
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(a.got[i].has_value());
        if (i == 4) {
            ASSERT_FALSE(a.got[i]->ok());
            EXPECT_EQ(a.got[i]->error().code, Errc::invalid_state);
            EXPECT_EQ(a.got[i]->error().message, "negative -4");
        } else {
            ASSERT_TRUE(a.got[i]->ok()) << i << ": " << a.got[i]->error().message;
            EXPECT_EQ(a.got[i]->value(), std::to_string(2 * i));
        }
    }
    ASSERT_TRUE(plain->ok());
    EXPECT_EQ(plain->value().get(0, 0), "plain");
    auto st = pool.stats();
    EXPECT_EQ(st.batches, 1u) << "the ten queued items were one query";
    EXPECT_EQ(st.batched_items, 10u);
    EXPECT_EQ(st.queries, 12u);
    EXPECT_EQ(st.errors, 1u);
}

TEST(PgBatch, AtMostMaxItemsPerQuery) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, pool, 1));
    std::optional<Result<QueryResult>> busy;
    hold(pool, busy);
    Answers a;
    auto kind = doubler(4);
    for (int i = 0; i < 10; ++i) submit(pool, kind, a, {std::to_string(i)});
    ASSERT_TRUE(loop.run_until([&] { return a.done == 10; }, 5000));
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(a.got[i]->ok());
        EXPECT_EQ(a.got[i]->value(), std::to_string(2 * i));
    }
    EXPECT_EQ(pool.stats().batches, 3u);  // 4 + 4 + 2
    EXPECT_EQ(pool.stats().batched_items, 10u);
}

TEST(PgBatch, ParametersSurviveTheArrayLiteral) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, pool, 1));
    auto echo = std::make_shared<const BatchKind>(
        BatchKind{"SELECT coalesce(a, '<null>') || '|' || coalesce(b::text, '<null>'), NULL, NULL "
                  "FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS t(a, b, o) ORDER BY o",
                  32});
    std::vector<std::vector<Param>> items = {
        {"plain", "1"},
        {"quote \" backslash \\ comma , braces {} ", "2"},
        {std::nullopt, "3"},
        {"NULL", std::nullopt},
        {"", "5"},
        {"ünïcödé 🚀\n\ttabs", "6"},
        {"{\"json\": [1, 2]}", "7"},
    };
    std::optional<Result<QueryResult>> busy;
    hold(pool, busy);  // so they all go as one query
    Answers a;
    for (auto& it : items) submit(pool, echo, a, it);
    ASSERT_TRUE(loop.run_until([&] { return a.done == static_cast<int>(items.size()); }, 5000));
    for (std::size_t i = 0; i < items.size(); ++i) {
        ASSERT_TRUE(a.got[i]->ok()) << a.got[i]->error().message;
        std::string want = (items[i][0] ? *items[i][0] : "<null>") + "|" + (items[i][1] ? *items[i][1] : "<null>");
        EXPECT_EQ(a.got[i]->value(), want);
    }
    EXPECT_EQ(pool.stats().batches, 1u);
}

TEST(PgBatch, AFailedQueryReachesEveryItemAndANulByteOnlyItsOwn) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, pool, 1));
    auto broken =
        std::make_shared<const BatchKind>(BatchKind{"SELECT (1 / 0)::text, NULL, NULL FROM unnest($1::text[])", 32});
    auto short_answer = std::make_shared<const BatchKind>(
        BatchKind{"SELECT 'one'::text, NULL, NULL WHERE cardinality($1::text[]) > 0", 32});
    std::optional<Result<QueryResult>> busy;
    hold(pool, busy);
    Answers a, b;
    submit(pool, broken, a, {"x"});
    submit(pool, broken, a, {std::string("nul\0byte", 8)});
    submit(pool, broken, a, {"y"});
    submit(pool, short_answer, b, {"x"});
    submit(pool, short_answer, b, {"y"});
    ASSERT_TRUE(loop.run_until([&] { return a.done == 3 && b.done == 2; }, 5000));
    EXPECT_EQ(a.got[0]->error().code, Errc::internal);
    EXPECT_EQ(a.got[1]->error().code, Errc::bad_request);
    EXPECT_EQ(a.got[2]->error().code, Errc::internal);
    EXPECT_NE(a.got[0]->error().message.find("22012"), std::string::npos) << a.got[0]->error().message;
    for (auto& g : b.got) {
        ASSERT_FALSE(g->ok());
        EXPECT_EQ(g->error().code, Errc::internal);
    }
    EXPECT_EQ(pool.stats().batches, 2u);
}

TEST(PgBatch, ShutdownFailsQueuedItems) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, pool, 1));
    std::optional<Result<QueryResult>> busy;
    hold(pool, busy);
    Answers a;
    auto kind = doubler();
    submit(pool, kind, a, {"1"});
    submit(pool, kind, a, {"2"});
    pool.shutdown();
    ASSERT_TRUE(loop.run_until([&] { return a.done == 2; }, 5000));
    for (auto& g : a.got) {
        ASSERT_FALSE(g->ok());
        EXPECT_EQ(g->error().code, Errc::unavailable);
    }
}

TEST(PgBatch, ColumnsAfterTheThreeReachTheirItemAsItsTypedRow) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, pool, 1));
    std::optional<Result<QueryResult>> busy;
    hold(pool, busy);
    auto kind = std::make_shared<const BatchKind>(BatchKind{
        "SELECT NULL::text, CASE WHEN x < 0 THEN 'CH409' END, CASE WHEN x < 0 THEN 'negative' END, x * 2, "
        "CASE WHEN x > 1 THEN 'big' END FROM unnest($1::int[]) WITH ORDINALITY AS t(x, o) ORDER BY o",
        32});
    std::vector<std::optional<Result<chat::pg::BatchRow>>> got(3);
    int done = 0;
    for (int i = 0; i < 3; ++i)
        pool.query_batched(kind, {std::to_string(i == 2 ? -1 : i + 1)}, [&got, &done, i](Result<chat::pg::BatchRow> r) {
            got[i].emplace(std::move(r));
            ++done;
        });
    ASSERT_TRUE(loop.run_until([&] { return done == 3; }, 5000));
    ASSERT_TRUE(got[0]->ok() && got[1]->ok());
    EXPECT_EQ(got[0]->value().cols(), 5);
    EXPECT_TRUE(got[0]->value().is_null(0));
    EXPECT_EQ(got[0]->value().get(3), "2");
    EXPECT_TRUE(got[0]->value().is_null(4));
    EXPECT_EQ(got[1]->value().get(3), "4");
    EXPECT_EQ(got[1]->value().get(4), "big");
    EXPECT_TRUE(got[1]->value().is_null(5)) << "a column past the row reads as NULL";
    // text(): NULL and out of bounds are nullopt, a value (even "") is itself
    EXPECT_EQ(got[0]->value().text(0), std::nullopt);
    EXPECT_EQ(got[0]->value().text(3), std::optional<std::string_view>("2"));
    EXPECT_EQ(got[0]->value().text(4), std::nullopt);
    EXPECT_EQ(got[1]->value().text(4), std::optional<std::string_view>("big"));
    EXPECT_EQ(got[1]->value().text(5), std::nullopt);
    EXPECT_EQ(got[1]->value().text(-1), std::nullopt);
    ASSERT_FALSE(got[2]->ok());
    EXPECT_EQ(got[2]->error().code, Errc::invalid_state);
    EXPECT_EQ(pool.stats().batches, 1u);
}

// query_batched with an ItemBackCallback: each item comes back as it was given, with its row, its
// own error (a rule's, a NUL byte's), the whole call's error, or shutdown's; items with the plain
// callback ride the same batch as before.
TEST(PgBatch, AnItemComesBackWithItsAnswerWhateverItIs) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 1));
    ASSERT_TRUE(start_all(loop, pool, 1));
    struct Back {
        std::optional<Result<std::string>> answer;
        std::vector<Param> item;
    };
    std::vector<Back> got;
    got.reserve(16);
    int done = 0;
    auto send = [&](const std::shared_ptr<const BatchKind>& kind, std::vector<Param> item) {
        std::size_t i = got.size();
        got.emplace_back();
        pool.query_batched(kind, std::move(item), [&got, &done, i](Result<chat::pg::BatchRow> r, std::vector<Param> it) {
            if (r.ok()) got[i].answer.emplace(std::string(r.value().answer()));
            else got[i].answer.emplace(r.error());
            got[i].item = std::move(it);
            ++done;
        });
    };
    // doubler's, with a second parameter
    auto kind = std::make_shared<const BatchKind>(BatchKind{
        "SELECT CASE WHEN x >= 0 THEN (x * 2)::text END, CASE WHEN x < 0 THEN 'CH409' END, "
        "CASE WHEN x < 0 THEN 'negative ' || x END FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS t(x, s, o) ORDER BY o",
        32});
    auto broken =
        std::make_shared<const BatchKind>(BatchKind{"SELECT (1 / 0)::text, NULL, NULL FROM unnest($1::int[], $2::text[])", 32});
    const std::vector<Param> nul = {std::string("nul\0byte", 8), std::nullopt};
    std::optional<Result<QueryResult>> busy;
    hold(pool, busy);  // so the items of each kind go as one query
    send(kind, {"21", "a long parameter, longer than any short string's buffer"});
    send(kind, {"-3", std::nullopt});
    Answers plain;
    submit(pool, kind, plain, {"5"});
    send(broken, {"1", "x"});
    send(broken, nul);
    ASSERT_TRUE(loop.run_until([&] { return done == 4 && plain.done == 1; }, 5000));
    EXPECT_EQ(pool.stats().batches, 2u) << "the kind's three items as one query, the broken kind's one";
    ASSERT_TRUE(got[0].answer->ok()) << got[0].answer->error().message;
    EXPECT_EQ(got[0].answer->value(), "42");
    EXPECT_EQ(got[0].item, (std::vector<Param>{"21", "a long parameter, longer than any short string's buffer"}));
    ASSERT_FALSE(got[1].answer->ok());
    EXPECT_EQ(got[1].answer->error().code, Errc::invalid_state);
    EXPECT_EQ(got[1].item, (std::vector<Param>{"-3", std::nullopt}));
    ASSERT_TRUE(plain.got[0]->ok());
    EXPECT_EQ(plain.got[0]->value(), "10");
    ASSERT_FALSE(got[2].answer->ok());
    EXPECT_EQ(got[2].answer->error().code, Errc::internal);
    EXPECT_NE(got[2].answer->error().message.find("22012"), std::string::npos) << got[2].answer->error().message;
    EXPECT_EQ(got[2].item, (std::vector<Param>{"1", "x"}));
    ASSERT_FALSE(got[3].answer->ok());
    EXPECT_EQ(got[3].answer->error().code, Errc::bad_request);
    EXPECT_EQ(got[3].item, nul);

    hold(pool, busy);
    send(kind, {"7", "queued"});
    pool.shutdown();
    ASSERT_TRUE(loop.run_until([&] { return done == 5; }, 5000));
    ASSERT_FALSE(got[4].answer->ok());
    EXPECT_EQ(got[4].answer->error().code, Errc::unavailable);
    EXPECT_EQ(got[4].item, (std::vector<Param>{"7", "queued"}));
}

}  // namespace
