// A gtest fixture for suites against a real Postgres (CHAT_TEST_PG): the suite's own schema,
// created and migrated once before its tests (test_schema.h) and dropped after them, and per
// test an event loop with a started pool of one connection to that schema.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "chat/epoll_loop.h"
#include "chat/pg_pool.h"
#include "test_schema.h"

namespace chat::testing {

// Prefix names the schema ("<prefix>_<pid>"); each suite passes its own, so each has its own
// statics. A derived SetUpTestSuite/SetUp calls the base's first (and returns on its failure).
template <const char* Prefix>
class SchemaPoolTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto schema = create_test_schema(Prefix);
        conninfo_ = schema.conninfo;
        error_ = schema.error;
    }
    static void TearDownTestSuite() { drop_test_schema(Prefix); }

    void SetUp() override {
        ASSERT_TRUE(error_.empty()) << error_;
        chat::pg::PoolConfig cfg;
        cfg.conninfo = conninfo_;
        cfg.size = 1;
        pool_.emplace(loop_, cfg);
        pool_->start();
        ASSERT_TRUE(loop_.run_until([&] { return pool_->stats().connected == 1; }, 5000));
    }

    // One call of an async API whose callback takes a T, its answer waited for (nullopt: none
    // within timeout_ms).
    template <class T, class Call>
    std::optional<T> answer(Call call, std::uint64_t timeout_ms = 10000) {
        std::optional<T> out;
        call([&](T r) { out.emplace(std::move(r)); });
        loop_.run_until([&] { return out.has_value(); }, timeout_ms);
        return out;
    }

    static inline std::string conninfo_;  // CHAT_TEST_PG on the suite's schema
    static inline std::string error_;     // why the schema is not there, "" when it is
    chat::EpollLoop loop_;
    std::optional<chat::pg::Pool> pool_;
};

}  // namespace chat::testing
