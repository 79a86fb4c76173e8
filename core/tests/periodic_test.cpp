// A periodic SQL job (chat::periodic::Job), the logic its users share (the search index's merge,
// the unanswered questions' fold): the one-integer answer read, when the timer asks again, and
// the statement asked of a real Postgres (CHAT_TEST_PG): its answer, an answer of another shape,
// a failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/epoll_loop.h"
#include "chat/periodic.h"
#include "chat/pg_pool.h"
#include "pg_test_env.h"

namespace {

using chat::Errc;
using chat::make_error;
using chat::Result;
namespace periodic = chat::periodic;

periodic::Step at_once_after_7(std::int64_t n) { return periodic::Step{n == 7 ? 1 : 5000, std::nullopt}; }

constexpr periodic::Spec kTest{
    .function = "chat_test_job",
    .sql = "SELECT $1::int",
    .min = -2,
    .failed = "testing the job failed",
};

TEST(PeriodicJob, ParsesAnIntegerNoLowerThanTheJobsLowest) {
    for (std::int64_t n : {12, 0, -1, -2}) {
        auto parsed = periodic::parse(kTest, std::to_string(n));
        ASSERT_TRUE(parsed.ok()) << n;
        EXPECT_EQ(parsed.value(), n);
    }
    for (const char* bad : {"", "-3", "1x", " 1", "abc", "99999999999999999999"}) {
        auto parsed = periodic::parse(kTest, bad);
        ASSERT_FALSE(parsed.ok()) << '"' << bad << '"';
        EXPECT_EQ(parsed.error().message, "unexpected answer to chat_test_job");
    }
}

TEST(PeriodicJob, AsksAgainWhenTheJobSaysInASecondWhileTheDatabaseIsAwayIn30sWithAWarningAfterAnyOtherFailure) {
    chat::EpollLoop loop;
    chat::pg::Pool pool(loop, {});
    const periodic::Job plain(loop, pool, kTest);
    periodic::Spec timed = kTest;
    timed.answered = at_once_after_7;
    const periodic::Job job(loop, pool, timed);

    EXPECT_EQ(plain.step(7).next_ms, periodic::kEveryMs);  // no rule of its own: every second
    EXPECT_EQ(plain.step(7).warning, std::nullopt);
    EXPECT_EQ(job.step(7).next_ms, 1);  // the job's own rule
    EXPECT_EQ(job.step(3).next_ms, 5000);

    for (const periodic::Job* j : {&plain, &job}) {
        const auto away = j->step(make_error(Errc::unavailable, "database unavailable"));
        EXPECT_EQ(away.next_ms, periodic::kEveryMs);
        EXPECT_EQ(away.warning, std::nullopt);  // the pool says so, once

        const auto failed = j->step(make_error(Errc::internal, "function chat_test_job() does not exist"));
        EXPECT_EQ(failed.next_ms, 30000);
        EXPECT_EQ(failed.warning, "testing the job failed (next try in 30 s): function chat_test_job() does not exist");
    }
}

class PeriodicJobDb : public ::testing::Test {
protected:
    // One run of a job of kTest's rules asking `sql` with `params`: its answer, and its step.
    std::pair<std::optional<Result<std::int64_t>>, std::optional<periodic::Step>> run(
        const std::string& conninfo, std::string_view sql, std::vector<chat::pg::Param> params = {}) {
        chat::pg::PoolConfig cfg;
        cfg.conninfo = conninfo;
        cfg.size = 1;
        chat::pg::Pool pool(loop_, cfg);
        pool.start();
        periodic::Spec spec = kTest;
        spec.sql = sql;
        periodic::Job job(loop_, pool, spec, std::move(params));
        std::optional<Result<std::int64_t>> answer;
        std::optional<periodic::Step> step;
        job.ask([&](const Result<std::int64_t>& n) { answer.emplace(n); });
        EXPECT_TRUE(loop_.run_until([&] { return answer.has_value(); }, 10000)) << sql;
        job.run([&](periodic::Step s) { step.emplace(std::move(s)); });
        EXPECT_TRUE(loop_.run_until([&] { return step.has_value(); }, 10000)) << sql;
        return {answer, step};
    }

    chat::EpollLoop loop_;
};

TEST_F(PeriodicJobDb, AsksItsStatementWithItsParametersAndReadsTheOneInteger) {
    REQUIRE_PG(conninfo);
    const auto [answer, step] = run(conninfo, "SELECT $1::int", {std::string("-2")});
    ASSERT_TRUE(answer && answer->ok()) << (answer ? answer->error().message : "no answer");
    EXPECT_EQ(answer->value(), -2);
    ASSERT_TRUE(step);
    EXPECT_EQ(step->next_ms, periodic::kEveryMs);
    EXPECT_EQ(step->warning, std::nullopt);
}

TEST_F(PeriodicJobDb, AnAnswerOfAnotherShapeIsUnexpectedAndWaits30s) {
    REQUIRE_PG(conninfo);
    for (const char* sql : {"SELECT 1, 2", "SELECT NULL::int", "SELECT 1 WHERE false", "SELECT -3", "SELECT 'one'"}) {
        const auto [answer, step] = run(conninfo, sql);
        ASSERT_TRUE(answer) << sql;
        ASSERT_FALSE(answer->ok()) << sql;
        EXPECT_EQ(answer->error().message, "unexpected answer to chat_test_job") << sql;
        ASSERT_TRUE(step) << sql;
        EXPECT_EQ(step->next_ms, 30000) << sql;
        EXPECT_EQ(step->warning, "testing the job failed (next try in 30 s): unexpected answer to chat_test_job")
            << sql;
    }
}

TEST_F(PeriodicJobDb, AFailingStatementWarnsWithTheDatabasesReasonAndWaits30s) {
    REQUIRE_PG(conninfo);
    const auto [answer, step] = run(conninfo, "SELECT chat_no_such_job()");
    ASSERT_TRUE(answer);
    ASSERT_FALSE(answer->ok());
    EXPECT_NE(answer->error().code, Errc::unavailable);
    ASSERT_TRUE(step);
    EXPECT_EQ(step->next_ms, 30000);
    ASSERT_TRUE(step->warning);
    EXPECT_EQ(step->warning->rfind("testing the job failed (next try in 30 s): ", 0), 0u) << *step->warning;
    EXPECT_NE(step->warning->find("chat_no_such_job"), std::string::npos) << *step->warning;
}

}  // namespace
