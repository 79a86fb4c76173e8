// GET /faq of a worker that has not loaded the FAQ yet (just started: its first sync still
// on the way), against a real Postgres (CHAT_TEST_PG) in a schema of this suite's own. Such a
// worker loads the FAQ as a post does and answers with the entries, never 503; once loaded it
// answers without asking Postgres; 503 only when Postgres cannot answer.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "chat/customer.h"
#include "schema_pool_fixture.h"

namespace {

using chat::Errc;
using chat::Outcome;
using chat::Result;
using chat::customer::Service;
using chat::pg::Pool;
using chat::pg::PoolConfig;

constexpr char kSchema[] = "chat_faqtest";

class CustomerFaqDb : public chat::testing::SchemaPoolTest<kSchema> {
protected:
    static void SetUpTestSuite() {
        SchemaPoolTest::SetUpTestSuite();
        if (error_.empty())
            error_ = chat::testing::detail::exec_admin(
                conninfo_,
                "INSERT INTO faq_entries (slug, question, answer, keywords, display_order) VALUES "
                "('returns', 'How do I return an item?', 'Within 30 days, in its box.', '{return}', 1);"
                "UPDATE chat_faq_version SET version = version + 1");
    }

    void SetUp() override {
        SchemaPoolTest::SetUp();
        if (HasFatalFailure()) return;
        svc_.emplace(loop_, *pool_, std::string(32, 'k'), chat::customer::Settings{});
    }

    // One GET /faq of the default site, waited for.
    std::optional<Result<Outcome>> faq_list() {
        std::optional<Result<Outcome>> out;
        svc_->faq_list("default", [&](Result<Outcome> r) { out.emplace(std::move(r)); });
        loop_.run_until([&] { return out.has_value(); }, 10000);
        return out;
    }

    std::optional<Service> svc_;
};

TEST_F(CustomerFaqDb, AWorkerWithoutTheFaqLoadsItAndAnswersTheEntries) {
    ASSERT_EQ(svc_->faq(), nullptr);
    auto r = faq_list();
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->ok()) << r->error().message;
    EXPECT_EQ(r->value().body,
              R"({"faq":[{"slug":"returns","question":"How do I return an item?",)"
              R"("answer":"Within 30 days, in its box.","display_order":1}]})");
    EXPECT_NE(svc_->faq(), nullptr) << "the worker keeps what it loaded";
}

TEST_F(CustomerFaqDb, OnceLoadedItAnswersWithoutPostgres) {
    // A service that already holds the FAQ, over a pool never started: nothing to ask.
    svc_.reset();
    pool_.reset();
    pool_.emplace(loop_, PoolConfig{});
    svc_.emplace(loop_, *pool_, std::string(32, 'k'), chat::customer::Settings{});
    auto loaded = chat::customer::load_faq_current(
        R"({"version":2,"faq":[{"slug":"returns","question":"Q?","answer":"A.","keywords":["return"]}]})");
    ASSERT_TRUE(loaded.ok());
    svc_->set_faq(loaded.value().set);
    auto r = faq_list();
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->ok()) << r->error().message;
    EXPECT_EQ(r->value().body, R"({"faq":[{"slug":"returns","question":"Q?","answer":"A.","display_order":0}]})");
}

TEST_F(CustomerFaqDb, WithoutPostgresAndWithoutTheFaqItAnswersUnavailable) {
    svc_.reset();
    pool_.reset();
    PoolConfig cfg;
    cfg.conninfo = "host=127.0.0.1 port=1 connect_timeout=1";
    cfg.size = 1;
    pool_.emplace(loop_, cfg);
    pool_->start();
    svc_.emplace(loop_, *pool_, std::string(32, 'k'), chat::customer::Settings{});
    auto r = faq_list();
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, Errc::unavailable);
}

}  // namespace
