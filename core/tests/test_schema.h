// A test suite's own Postgres schema in CHAT_TEST_PG: created afresh and migrated before the suite, dropped after it.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "pg_test_env.h"
#include "run_program.h"

namespace chat::testing {

// What a suite's tests connect to: CHAT_TEST_PG with search_path set to the suite's schema, or
// why the set-up failed.
struct TestSchema {
    std::string conninfo;
    std::string error;  // "" when the schema is ready
};

namespace detail {

// The schema's name: one per process, so suites run in parallel (ctest -j) never share one.
inline std::string schema_name(const std::string& prefix) { return prefix + "_" + std::to_string(::getpid()); }

// Runs sql (several statements allowed) on a blocking connection to conninfo (set-up only: the
// code under test is the async pool): "" when it worked, else why not.
inline std::string exec_admin(const std::string& conninfo, const std::string& sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(conninfo.c_str()), &PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK) return "cannot connect: " + std::string(PQerrorMessage(c.get()));
    PQsetNoticeProcessor(c.get(), [](void*, const char*) {}, nullptr);  // DROP ... CASCADE chatter
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), sql.c_str()), &PQclear);
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return "ERROR: " + std::string(PQresultErrorMessage(r.get()));
    return {};
}

}  // namespace detail

// A fresh schema "<prefix>_<pid>" (the CI role may create schemas but not databases) that gets
// exactly what `make migrate` applies: chatctl migrate itself.
inline TestSchema create_test_schema(const std::string& prefix) {
    const char* env = std::getenv("CHAT_TEST_PG");
    if (!env || !*env)
        return {{}, "CHAT_TEST_PG is not set; it must hold a conninfo for a test Postgres "
                    "(e.g. \"host=127.0.0.1 port=55480 dbname=postgres user=postgres\")"};
    const std::string base = resolved(env);
    const std::string schema = detail::schema_name(prefix);
    if (auto e = detail::exec_admin(base, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
        !e.empty())
        return {{}, e};
    TestSchema s{base + " options='-c search_path=" + schema + "'", {}};
    s.error = chatctl_migrate(s.conninfo);
    return s;
}

// Drops the schema create_test_schema made for prefix in this process.
inline void drop_test_schema(const std::string& prefix) {
    const char* env = std::getenv("CHAT_TEST_PG");
    if (!env || !*env) return;
    detail::exec_admin(resolved(env), "DROP SCHEMA IF EXISTS " + detail::schema_name(prefix) + " CASCADE");
}

}  // namespace chat::testing
