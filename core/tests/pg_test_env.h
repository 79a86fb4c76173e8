// The test Postgres of the core tests that need one (CHAT_TEST_PG, set by `make test`).
#pragma once

#include <cstdlib>
#include <string>

#include "chat/pg_conninfo.h"

namespace chat::testing {

// The conninfo with its host resolved, as a Pool wants it (unchanged when it cannot be).
inline std::string resolved(const char* conninfo) {
    auto r = chat::pg::resolve_conninfo(conninfo);
    return r.ok() ? r.value() : std::string(conninfo);
}

}  // namespace chat::testing

// `make test` always provides a database, so a missing one is a failure, not a skip.
#define REQUIRE_PG(var)                                                                        \
    const char* var##_env = std::getenv("CHAT_TEST_PG");                                       \
    if (!var##_env || !*var##_env)                                                             \
        GTEST_FAIL() << "CHAT_TEST_PG is not set; it must hold a conninfo for a test Postgres " \
                        "(e.g. \"host=127.0.0.1 port=55499 dbname=postgres user=postgres\")";  \
    const std::string var = chat::testing::resolved(var##_env)
