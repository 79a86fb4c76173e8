// The search index's pending list merged by a query of its own (chat_search_index_flush,
// sql/functions/98_search_index.sql; chat::search_index::Flusher), against a real Postgres
// (CHAT_TEST_PG) in a schema of this suite's own: posts fill the list, a flush merges it, an
// empty list merges nothing, and a merge already running elsewhere (its lock held) is left alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "chat/epoll_loop.h"
#include "chat/pg_pool.h"
#include "chat/search_index.h"
#include "schema_pool_fixture.h"

namespace {

using chat::Result;
using chat::pg::Pool;
using chat::pg::PoolConfig;
using chat::pg::QueryResult;
using chat::search_index::Flush;
using chat::search_index::Flusher;
using chat::search_index::parse_flush;

TEST(SearchIndexFlush, ParsesPagesNotRunAndNotOwned) {
    auto pages = parse_flush("12");
    ASSERT_TRUE(pages.ok());
    EXPECT_TRUE(pages.value().ran);
    EXPECT_TRUE(pages.value().owned);
    EXPECT_EQ(pages.value().pages, 12);
    auto none = parse_flush("0");
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none.value().ran);
    EXPECT_EQ(none.value().pages, 0);
    auto busy = parse_flush("-1");
    ASSERT_TRUE(busy.ok());
    EXPECT_FALSE(busy.value().ran);
    EXPECT_EQ(busy.value().pages, 0);
    auto foreign = parse_flush("-2");
    ASSERT_TRUE(foreign.ok());
    EXPECT_FALSE(foreign.value().owned);
    // below its lowest answer; what is no integer at all: PeriodicJob.ParsesAnIntegerNoLowerThanTheJobsLowest
    EXPECT_FALSE(parse_flush("-3").ok());
}

// The worker's timer: an index of another role is a warning and 30 s, as is a failure (the rest
// of the rule: PeriodicJob); a merge, done or not, asks again in a second.
TEST(SearchIndexFlush, TheTimerWarnsAndWaits30sWhenTheIndexIsAnotherRolesOrTheMergeFailed) {
    chat::EpollLoop loop;
    Pool pool(loop, {});
    const Flusher flusher(loop, pool);
    for (std::int64_t n : {12, 0, -1}) {
        EXPECT_EQ(flusher.step(n).next_ms, 1000) << n;
        EXPECT_EQ(flusher.step(n).warning, std::nullopt) << n;
    }
    const auto foreign = flusher.step(-2);
    EXPECT_EQ(foreign.next_ms, 30000);
    EXPECT_EQ(foreign.warning,
              "the search index belongs to another role, its pending list is merged by the posts that fill it "
              "(next try in 30 s)");
    EXPECT_EQ(flusher.step(chat::make_error(chat::Errc::internal, "boom")).warning,
              "merging the search index's pending list failed (next try in 30 s): boom");
}

constexpr char kSchema[] = "chat_sitest";

class SearchIndexDb : public chat::testing::SchemaPoolTest<kSchema> {
protected:
    void SetUp() override {
        SchemaPoolTest::SetUp();
        if (HasFatalFailure()) return;
        flusher_.emplace(loop_, *pool_);
    }

    // One flush, waited for.
    std::optional<Result<Flush>> flush() {
        return answer<Result<Flush>>([&](auto done) { flusher_->flush(done); });
    }

    // Posts of 300 new sessions (the customer's text and the bot's reply): the index's pending
    // list fills, as it does under customers' posts (sessions opened and posted to as the API does).
    // Autovacuum stays off the suite's table: its ANALYZE of messages merges the list too, and
    // would race the assertions on what a flush merged.
    void post_300() {
        auto e = chat::testing::detail::exec_admin(
            conninfo_,
            "ALTER TABLE messages SET (autovacuum_enabled = off);"
            "SELECT count(chat_open_session('si-' || g, '{}'::jsonb, 'Hi!', 20, 'default')) "
            "  FROM generate_series(1, 300) g;"
            "SELECT count(chat_customer_post('si-' || g, gen_random_uuid(), 'text', "
            "       'where is my parcel number ' || g, 'Parcels ship within two days', '{}'::jsonb)) "
            "  FROM generate_series(1, 300) g");
        ASSERT_TRUE(e.empty()) << e;
    }

    std::optional<Flusher> flusher_;
};

TEST_F(SearchIndexDb, AFlushMergesWhatPostsLeftPendingAndAnEmptyListMergesNothing) {
    ASSERT_NO_FATAL_FAILURE(post_300());
    auto first = flush();
    ASSERT_TRUE(first.has_value());
    ASSERT_TRUE(first->ok()) << first->error().message;
    EXPECT_TRUE(first->value().ran);
    EXPECT_TRUE(first->value().owned);
    EXPECT_GT(first->value().pages, 0);

    auto again = flush();
    ASSERT_TRUE(again.has_value());
    ASSERT_TRUE(again->ok()) << again->error().message;
    EXPECT_TRUE(again->value().ran);
    EXPECT_EQ(again->value().pages, 0);

    // the merged words are found as before
    std::optional<Result<QueryResult>> found;
    pool_->query("SELECT count(*) FROM messages WHERE to_tsvector('simple', content) @@ "
                 "websearch_to_tsquery('simple', 'parcel')",
                 {}, [&](Result<QueryResult> r) { found.emplace(std::move(r)); });
    ASSERT_TRUE(loop_.run_until([&] { return found.has_value(); }, 5000));
    ASSERT_TRUE(found->ok()) << found->error().message;
    EXPECT_EQ(std::string(found->value().get(0, 0)), "300");  // the customers' texts ("Parcels" is another word)
}

TEST_F(SearchIndexDb, AMergeRunningElsewhereIsLeftAloneAndItsPagesStayForTheNext) {
    ASSERT_NO_FATAL_FAILURE(post_300());
    // another worker's merge: the index's lock, held on a connection of the test's own
    PoolConfig cfg;
    cfg.conninfo = conninfo_;
    cfg.size = 1;
    Pool other(loop_, cfg);
    other.start();
    ASSERT_TRUE(loop_.run_until([&] { return other.stats().connected == 1; }, 5000));
    std::optional<Result<QueryResult>> locked;
    other.query("SELECT pg_advisory_lock(72435, 'messages_content_fts_idx'::regclass::oid::int)", {},
                [&](Result<QueryResult> r) { locked.emplace(std::move(r)); });
    ASSERT_TRUE(loop_.run_until([&] { return locked.has_value(); }, 5000));
    ASSERT_TRUE(locked->ok()) << locked->error().message;

    auto busy = flush();
    ASSERT_TRUE(busy.has_value());
    ASSERT_TRUE(busy->ok()) << busy->error().message;
    EXPECT_FALSE(busy->value().ran);
    EXPECT_EQ(busy->value().pages, 0);

    std::optional<Result<QueryResult>> unlocked;
    other.query("SELECT pg_advisory_unlock(72435, 'messages_content_fts_idx'::regclass::oid::int)", {},
                [&](Result<QueryResult> r) { unlocked.emplace(std::move(r)); });
    ASSERT_TRUE(loop_.run_until([&] { return unlocked.has_value(); }, 5000));
    ASSERT_TRUE(unlocked->ok()) << unlocked->error().message;
    EXPECT_EQ(unlocked->value().get(0, 0), "t");

    auto after = flush();
    ASSERT_TRUE(after.has_value());
    ASSERT_TRUE(after->ok()) << after->error().message;
    EXPECT_TRUE(after->value().ran);
    EXPECT_GT(after->value().pages, 0);
}

}  // namespace
