// The questions the bot could not answer, folded off the post path (chat_unmatched_fold,
// sql/functions/92_feedback.sql; chat::unmatched::Folder), against a real Postgres (CHAT_TEST_PG)
// in a schema of this suite's own: fallback posts append pending questions that the reports'
// view counts at once; a fold moves them into the counts and the view answers the same; a post
// still uncommitted during a fold is counted by the next one (none lost, none twice); a fold
// running elsewhere (its lock held) is left alone and the questions wait for the next.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "chat/epoll_loop.h"
#include "chat/pg_pool.h"
#include "chat/unmatched.h"
#include "schema_pool_fixture.h"

namespace {

using chat::Result;
using chat::pg::QueryResult;
namespace um = chat::unmatched;

TEST(UnmatchedFold, ParsesRowsAndNotRun) {
    struct Case {
        const char* answer;
        bool ran;
        std::int64_t rows;
    };
    for (const Case& c : {Case{"12", true, 12}, Case{"0", true, 0}, Case{"-1", false, 0}}) {
        auto f = um::parse_fold(c.answer);
        ASSERT_TRUE(f.ok()) << c.answer;
        EXPECT_EQ(f.value().ran, c.ran) << c.answer;
        EXPECT_EQ(f.value().rows, c.rows) << c.answer;
    }
    // below its lowest answer; what is no integer at all: PeriodicJob.ParsesAnIntegerNoLowerThanTheJobsLowest
    EXPECT_FALSE(um::parse_fold("-2").ok());
}

TEST(UnmatchedFold, AFullFoldAsksAgainAtOnceElseInASecond) {
    EXPECT_EQ(um::next_fold_ms(um::Fold{true, um::kFoldMax}), 1);
    EXPECT_EQ(um::next_fold_ms(um::Fold{true, um::kFoldMax - 1}), um::kFoldEveryMs);
    EXPECT_EQ(um::next_fold_ms(um::Fold{false, 0}), um::kFoldEveryMs);
}

// The worker's timer: a full fold asks again at once; a failure warns of the fold (the rest of
// the rule: PeriodicJob).
TEST(UnmatchedFold, TheTimerAsksAgainAtOnceAfterAFullFoldAndWarnsOfAFailedOne) {
    chat::EpollLoop loop;
    chat::pg::Pool pool(loop, {});
    const um::Folder folder(loop, pool);
    EXPECT_EQ(folder.step(um::kFoldMax).next_ms, 1);
    EXPECT_EQ(folder.step(um::kFoldMax - 1).next_ms, um::kFoldEveryMs);
    EXPECT_EQ(folder.step(chat::make_error(chat::Errc::internal, "boom")).warning,
              "folding the unanswered questions failed (next try in 30 s): boom");
}

constexpr char kSchema[] = "chat_unmtest";

class UnmatchedDb : public chat::testing::SchemaPoolTest<kSchema> {
protected:
    void SetUp() override {
        SchemaPoolTest::SetUp();
        if (HasFatalFailure()) return;
        folder_.emplace(loop_, *pool_);
        ASSERT_EQ(admin("TRUNCATE unmatched_pending, unmatched_counts"), "");
    }

    std::string admin(const std::string& sql) { return chat::testing::detail::exec_admin(conninfo_, sql); }

    // One fold, waited for.
    std::optional<Result<um::Fold>> fold() {
        return answer<Result<um::Fold>>([&](auto done) { folder_->fold(done); });
    }

    // One fold that must answer, its answer ({false, -1} when it did not).
    um::Fold fold_ok() {
        auto r = fold();
        EXPECT_TRUE(r.has_value() && r->ok()) << (r && !r->ok() ? r->error().message : "");
        return r && r->ok() ? r->value() : um::Fold{false, -1};
    }

    // The one value of a query through the pool ("" for NULL), waited for.
    std::string value(const std::string& sql) {
        std::optional<Result<QueryResult>> r;
        pool_->query(sql, {}, [&](Result<QueryResult> x) { r.emplace(std::move(x)); });
        EXPECT_TRUE(loop_.run_until([&] { return r.has_value(); }, 5000));
        if (!r || !r->ok()) return "error";
        auto v = r->value().text(0, 0);
        return v ? std::string(*v) : std::string();
    }

    // What the reports count: the view, every backend's rows added up per text.
    std::string counted() {
        return value(
            "SELECT string_agg(text || '=' || n, ',' ORDER BY text) FROM "
            "(SELECT text, sum(count) AS n FROM unmatched_questions WHERE site = 'default' "
            " GROUP BY text) u");
    }

    std::optional<um::Folder> folder_;
};

// sessions u<prefix>1..n, each with a fallback-answered post of text
std::string posts(const std::string& prefix, int n, const std::string& text) {
    const std::string sid = "'" + prefix + "' || g";
    const std::string each = " FROM generate_series(1, " + std::to_string(n) + ") g;";
    const std::string fallback = "'Sorry, I do not know', '{\"fallback\": true}'::jsonb";
    return "SELECT count(chat_open_session(" + sid + ", '{}'::jsonb, 'Hi!', 20, 'default'))" + each +
           "SELECT count(chat_customer_post(" + sid + ", gen_random_uuid(), 'text', '" + text + "', " + fallback +
           "))" + each;
}

TEST_F(UnmatchedDb, FallbackPostsAreCountedAtOnceAndTheFoldKeepsTheCountsWhileEmptyingPending) {
    ASSERT_EQ(admin(posts("fa", 3, "Where is  my PARCEL?")), "");
    ASSERT_EQ(admin(posts("fb", 2, "gift cards?")), "");
    EXPECT_EQ(value("SELECT count(*) FROM unmatched_pending"), "5");
    EXPECT_EQ(counted(), "gift cards?=2,where is my parcel?=3");

    const auto first = fold_ok();
    EXPECT_TRUE(first.ran);
    EXPECT_EQ(first.rows, 5);
    EXPECT_EQ(value("SELECT count(*) FROM unmatched_pending"), "0");
    EXPECT_EQ(value("SELECT string_agg(text || '=' || count, ',' ORDER BY text) FROM unmatched_counts"),
              "gift cards?=2,where is my parcel?=3");
    EXPECT_EQ(counted(), "gift cards?=2,where is my parcel?=3");

    // more of the same question: pending and folded rows add up, in the view and after the next fold
    ASSERT_EQ(admin(posts("fc", 2, "where is my parcel?")), "");
    EXPECT_EQ(counted(), "gift cards?=2,where is my parcel?=5");
    const auto again = fold_ok();
    EXPECT_EQ(again.rows, 2);
    EXPECT_EQ(counted(), "gift cards?=2,where is my parcel?=5");

    const auto empty = fold_ok();
    EXPECT_TRUE(empty.ran);
    EXPECT_EQ(empty.rows, 0);
}

TEST_F(UnmatchedDb, APostUncommittedDuringAFoldIsCountedByTheNextOneOnce) {
    ASSERT_EQ(admin("SELECT count(chat_open_session('open1', '{}'::jsonb, 'Hi!', 20, 'default'))"), "");
    std::unique_ptr<PGconn, decltype(&PQfinish)> tx(PQconnectdb(conninfo_.c_str()), &PQfinish);
    ASSERT_EQ(PQstatus(tx.get()), CONNECTION_OK) << PQerrorMessage(tx.get());
    auto run = [&](const char* sql) {
        std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(tx.get(), sql), &PQclear);
        const auto st = PQresultStatus(r.get());
        return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    };
    ASSERT_TRUE(run("BEGIN"));
    ASSERT_TRUE(
        run("SELECT chat_customer_post('open1', gen_random_uuid(), 'text', 'late question', "
            "'Sorry', '{\"fallback\": true}'::jsonb)"));

    const auto during = fold_ok();
    EXPECT_EQ(during.rows, 0);
    EXPECT_EQ(counted(), "");  // not committed: neither counted nor lost

    ASSERT_TRUE(run("COMMIT"));
    EXPECT_EQ(counted(), "late question=1");
    const auto after = fold_ok();
    EXPECT_EQ(after.rows, 1);
    EXPECT_EQ(counted(), "late question=1");
    EXPECT_EQ(value("SELECT count(*) FROM unmatched_pending"), "0");
}

TEST_F(UnmatchedDb, AFoldRunningElsewhereIsLeftAloneAndItsQuestionsWaitForTheNext) {
    ASSERT_EQ(admin(posts("fl", 2, "locked question")), "");
    chat::pg::PoolConfig cfg;
    cfg.conninfo = conninfo_;
    cfg.size = 1;
    chat::pg::Pool other(loop_, cfg);
    other.start();
    ASSERT_TRUE(loop_.run_until([&] { return other.stats().connected == 1; }, 5000));
    auto on_other = [&](const std::string& sql) {
        std::optional<Result<QueryResult>> r;
        other.query(sql, {}, [&](Result<QueryResult> x) { r.emplace(std::move(x)); });
        EXPECT_TRUE(loop_.run_until([&] { return r.has_value(); }, 5000));
        EXPECT_TRUE(r && r->ok()) << (r && !r->ok() ? r->error().message : "");
    };
    on_other("SELECT pg_advisory_lock(72436, chat_unmatched_lock_key())");

    const auto busy = fold_ok();
    EXPECT_FALSE(busy.ran);
    EXPECT_EQ(value("SELECT count(*) FROM unmatched_pending"), "2");
    EXPECT_EQ(counted(), "locked question=2");

    on_other("SELECT pg_advisory_unlock(72436, chat_unmatched_lock_key())");
    const auto after = fold_ok();
    EXPECT_TRUE(after.ran);
    EXPECT_EQ(after.rows, 2);
    EXPECT_EQ(counted(), "locked question=2");
}

// Erasing a customer takes their questions out of the counts, folded or still pending (the
// erasure folds every pending question first); another customer's same question stays.
TEST_F(UnmatchedDb, AnErasureTakesTheCustomersPendingQuestionsOutOfTheCounts) {
    ASSERT_EQ(admin(posts("er", 2, "can i return shoes?")), "");
    ASSERT_EQ(admin("SELECT chat_customer_identify('er1', 'Erin', 'erin@example.com')"), "");
    EXPECT_EQ(value("SELECT count(*) FROM unmatched_pending"), "2");
    EXPECT_EQ(counted(), "can i return shoes?=2");

    EXPECT_EQ(value("SELECT chat_erase_customer('erin@example.com', NULL)->>'unmatched'"), "1");
    EXPECT_EQ(value("SELECT count(*) FROM unmatched_pending"), "0");
    EXPECT_EQ(counted(), "can i return shoes?=1");
}

// Retention deletes the questions of days wholly before its cutoff, pending ones too.
TEST_F(UnmatchedDb, RetentionDeletesOldPendingQuestionsAsItDeletesOldCounts) {
    ASSERT_EQ(
        admin("INSERT INTO unmatched_pending (site, day, backend, content) VALUES "
              "('default', current_date - 3, 1, 'old pending'), ('default', current_date, 1, 'new pending');"
              "INSERT INTO unmatched_questions (site, day, text) VALUES ('default', current_date - 3, 'old counted')"),
        "");
    EXPECT_EQ(counted(), "new pending=1,old counted=1,old pending=1");
    EXPECT_EQ(value("SELECT chat_retention_sweep(86400, 100)->>'locked'"), "true");
    EXPECT_EQ(counted(), "new pending=1");
}

}  // namespace
