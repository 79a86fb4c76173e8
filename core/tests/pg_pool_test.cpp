// The async Postgres pool against a real Postgres (CHAT_TEST_PG): results, errors, loss, timeouts, recovery, prepared statements.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chat/epoll_loop.h"
#include "chat/pg_pool.h"
#include "pg_test_env.h"

namespace {

using chat::Errc;
using chat::EpollLoop;
using chat::Result;
using chat::pg::Param;
using chat::pg::Pool;
using chat::pg::PoolConfig;
using chat::pg::QueryResult;

std::string unique_name(const char* prefix) {
    return std::string(prefix) + std::to_string(::getpid()) + "_" + std::to_string(std::rand() % 1000000);
}

// Test set-up only: a blocking libpq session (the code under test is the async pool).
void exec_blocking(const std::string& conninfo, const std::string& sql) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
}

PoolConfig config(const std::string& conninfo, int size = 4) {
    PoolConfig cfg;
    cfg.conninfo = conninfo;
    cfg.size = size;
    return cfg;
}

// Runs one query through the pool and the loop; nullopt if no callback within timeout_ms.
std::optional<Result<QueryResult>> run(EpollLoop& loop, Pool& pool, std::string sql, std::vector<Param> params = {},
                                       std::uint64_t timeout_ms = 5000) {
    std::optional<Result<QueryResult>> out;
    pool.query(std::move(sql), std::move(params), [&](Result<QueryResult> r) { out.emplace(std::move(r)); });
    loop.run_until([&] { return out.has_value(); }, timeout_ms);
    return out;
}

bool wait_connected(EpollLoop& loop, Pool& pool, int n, std::uint64_t timeout_ms = 5000) {
    return loop.run_until([&] { return pool.stats().connected >= n; }, timeout_ms);
}

TEST(PgPool, ReturnsRowsAndNulls) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo));
    pool.start();
    auto r = run(loop, pool,
                 "select * from (values (1, null::text, 'x'), (2, 'y', null)) as t(a, b, \"C\") order by a");
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->ok()) << r->error().message;
    const QueryResult& q = r->value();
    EXPECT_EQ(q.rows(), 2);
    EXPECT_EQ(q.cols(), 3);
    EXPECT_EQ(q.col("a"), 0);
    EXPECT_EQ(q.col("C"), 2);
    EXPECT_EQ(q.col("c"), -1);
    EXPECT_EQ(q.col("nope"), -1);
    EXPECT_EQ(q.get(0, "a"), "1");
    EXPECT_TRUE(q.is_null(0, 1));
    EXPECT_EQ(q.get(0, 1), "");
    EXPECT_EQ(q.get(0, "C"), "x");
    EXPECT_EQ(q.get(1, "b"), "y");
    EXPECT_TRUE(q.is_null(1, 2));
    // text(): nullopt for NULL, the value otherwise
    EXPECT_EQ(q.text(0, 1), std::nullopt);
    EXPECT_EQ(q.text(0, 2), std::optional<std::string_view>("x"));
    EXPECT_EQ(q.text(1, 2), std::nullopt);
    EXPECT_EQ(q.text(2, 0), std::nullopt);
    EXPECT_EQ(q.text(0, 3), std::nullopt);
    EXPECT_EQ(q.command_tuples(), "2");
    // Out of range reads are harmless.
    EXPECT_EQ(q.get(5, 0), "");
    EXPECT_EQ(q.get(0, 9), "");
    EXPECT_EQ(q.get(0, "nope"), "");
    EXPECT_TRUE(q.is_null(-1, 0));
    // The counts are read once: a result moved away from reads as empty, its new owner whole.
    QueryResult moved = std::move(r->value());
    EXPECT_EQ(moved.get(1, "b"), "y");
    EXPECT_EQ(moved.rows(), 2);
    EXPECT_EQ(q.rows(), 0);
    EXPECT_EQ(q.cols(), 0);
    EXPECT_TRUE(q.is_null(0, 0));
    EXPECT_EQ(q.get(0, 0), "");
    EXPECT_TRUE(pool.healthy());
}

TEST(PgPool, TextTellsAnEmptyValueFromNull) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo));
    pool.start();
    auto r = run(loop, pool, "select ''::text, null::text, 'a'::text");
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->ok()) << r->error().message;
    EXPECT_EQ(r->value().text(0, 0), std::optional<std::string_view>(""));
    EXPECT_EQ(r->value().text(0, 1), std::nullopt);
    EXPECT_EQ(r->value().text(0, 2), std::optional<std::string_view>("a"));
}

TEST(PgPool, ParametersIncludingNullAndUtf8) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 2));
    pool.start();
    const std::string text = "h\xC3\xA9llo \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC 'quoted' \\ $1";
    auto r = run(loop, pool, "select $1::text as t, $2::text as n, $3::int + 1 as i, octet_length($1::text) as len",
                 {text, std::nullopt, std::string("41")});
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->ok()) << r->error().message;
    EXPECT_EQ(r->value().get(0, "t"), text);
    EXPECT_TRUE(r->value().is_null(0, r->value().col("n")));
    EXPECT_EQ(r->value().get(0, "i"), "42");
    EXPECT_EQ(r->value().get(0, "len"), std::to_string(text.size()));

    // A table round trip, and the command tag count.
    std::string table = unique_name("pg_pool_test_p");
    ASSERT_TRUE(run(loop, pool, "create table " + table + " (id int, body text)")->ok());
    auto ins = run(loop, pool, "insert into " + table + " values ($1::int, $2), ($3::int, $4)",
                   {std::string("1"), text, std::string("2"), std::nullopt});
    ASSERT_TRUE(ins->ok()) << ins->error().message;
    EXPECT_EQ(ins->value().command_tuples(), "2");
    auto sel = run(loop, pool, "select body from " + table + " order by id");
    ASSERT_TRUE(sel->ok());
    EXPECT_EQ(sel->value().get(0, 0), text);
    EXPECT_TRUE(sel->value().is_null(1, 0));
    EXPECT_TRUE(run(loop, pool, "drop table " + table)->ok());

    // A NUL byte cannot travel as a text parameter: rejected, not truncated.
    auto nul = run(loop, pool, "select $1::text", {std::string("a\0b", 3)});
    ASSERT_FALSE(nul->ok());
    EXPECT_EQ(nul->error().code, Errc::bad_request);
    // The connection is still fine afterwards.
    EXPECT_TRUE(run(loop, pool, "select 1")->ok());
}

TEST(PgPool, TwoHundredConcurrentQueriesOnFourConnections) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 4));
    pool.start();
    ASSERT_TRUE(wait_connected(loop, pool, 4));  // so the spread over connections is deterministic
    constexpr int n = 200;
    int done = 0, wrong = 0, follow_ups = 0;
    std::set<std::string> pids;
    for (int i = 0; i < n; ++i) {
        pool.query("select $1::int * 2 as v, pg_backend_pid() as pid", {std::to_string(i)},
                   [&, i](Result<QueryResult> r) {
                       if (!r.ok() || r.value().get(0, "v") != std::to_string(2 * i)) {
                           ++wrong;
                       } else {
                           pids.insert(std::string(r.value().get(0, "pid")));
                       }
                       ++done;
                       // A callback may issue the next query on the same pool.
                       if (i % 50 == 0)
                           pool.query("select $1::text as echo", {std::to_string(i)}, [&, i](Result<QueryResult> r2) {
                               if (r2.ok() && r2.value().get(0, 0) == std::to_string(i)) ++follow_ups;
                           });
                   });
    }
    EXPECT_EQ(done, 0) << "callbacks must never run inside query()";
    ASSERT_TRUE(loop.run_until([&] { return done == n && follow_ups == 4; }, 10000))
        << "done=" << done << " follow_ups=" << follow_ups;
    EXPECT_EQ(wrong, 0);
    EXPECT_GT(pids.size(), 1u) << "work should be spread over the connections";
    EXPECT_LE(pids.size(), 4u);
    auto st = pool.stats();
    EXPECT_EQ(st.queries, static_cast<std::uint64_t>(n + 4));
    EXPECT_EQ(st.errors, 0u);
    EXPECT_EQ(st.queued, 0u);
    EXPECT_EQ(st.busy, 0);
    EXPECT_EQ(st.connected, 4);
}

TEST(PgPool, SqlErrorsMapToErrorCodes) {
    REQUIRE_PG(conninfo);
    const std::string table = unique_name("pg_pool_test_u");
    const std::string fn = unique_name("pg_pool_test_raise");
    exec_blocking(conninfo, "create table " + table + " (k text primary key)");
    exec_blocking(conninfo, "create function " + fn +
                                "(code text, msg text) returns void language plpgsql as $$ "
                                "begin raise exception using errcode = code, message = msg; end $$");
    EpollLoop loop;
    Pool pool(loop, config(conninfo, 2));
    pool.start();

    auto syntax = run(loop, pool, "selec 1");
    ASSERT_FALSE(syntax->ok());
    EXPECT_EQ(syntax->error().code, Errc::internal);
    EXPECT_EQ(syntax->error().message.rfind("42601: ", 0), 0u) << syntax->error().message;

    auto div = run(loop, pool, "select 1/0");
    ASSERT_FALSE(div->ok());
    EXPECT_EQ(div->error().code, Errc::internal);
    EXPECT_NE(div->error().message.find("22012"), std::string::npos);

    ASSERT_TRUE(run(loop, pool, "insert into " + table + " values ($1)", {std::string("a")})->ok());
    auto dup = run(loop, pool, "insert into " + table + " values ($1)", {std::string("a")});
    ASSERT_FALSE(dup->ok());
    EXPECT_EQ(dup->error().code, Errc::conflict);
    EXPECT_NE(dup->error().message.find("23505"), std::string::npos);

    struct Case {
        const char* state;
        Errc code;
    };
    for (auto c : {Case{"CH409", Errc::invalid_state}, Case{"CH404", Errc::not_found}, Case{"CH403", Errc::forbidden},
                   Case{"CH422", Errc::validation}, Case{"CH400", Errc::bad_request}}) {
        auto r = run(loop, pool, "select " + fn + "($1, $2)", {std::string(c.state), std::string("conversation is closed")});
        ASSERT_FALSE(r->ok()) << c.state;
        EXPECT_EQ(r->error().code, c.code) << c.state;
        EXPECT_EQ(r->error().message, "conversation is closed") << c.state;
    }
    // Errors leave the connections usable.
    EXPECT_TRUE(run(loop, pool, "select 1")->ok());
    EXPECT_TRUE(wait_connected(loop, pool, 2));
    exec_blocking(conninfo, "drop table " + table + "; drop function " + fn + "(text, text)");
}

TEST(PgPool, ServerTerminatedConnectionsFailInFlightAndReconnect) {
    REQUIRE_PG(conninfo);
    const std::string app = unique_name("chat_victim_");
    EpollLoop loop;
    Pool victim(loop, config(conninfo + " application_name='" + app + "'", 4));
    Pool killer(loop, config(conninfo, 1));
    victim.start();
    killer.start();
    ASSERT_TRUE(wait_connected(loop, victim, 4));

    std::optional<Result<QueryResult>> slow;
    victim.query("select pg_sleep(5)", {}, [&](Result<QueryResult> r) { slow.emplace(std::move(r)); });
    loop.run_until([] { return false; }, 200);
    auto kill = run(loop, killer,
                    "select count(pg_terminate_backend(pid)) as n from pg_stat_activity where application_name = $1",
                    {app});
    ASSERT_TRUE(kill->ok()) << kill->error().message;
    EXPECT_EQ(kill->value().get(0, "n"), "4");

    ASSERT_TRUE(loop.run_until([&] { return slow.has_value(); }, 2000)) << "in-flight query must not hang";
    ASSERT_FALSE(slow->ok());
    EXPECT_EQ(slow->error().code, Errc::unavailable) << slow->error().message;

    // The pool reconnects by itself and serves again.
    ASSERT_TRUE(wait_connected(loop, victim, 4, 5000));
    auto again = run(loop, victim, "select 1 as one");
    ASSERT_TRUE(again->ok()) << again->error().message;
    EXPECT_EQ(again->value().get(0, 0), "1");
    EXPECT_GE(victim.stats().reconnects, 4u);
}

int closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);  // nobody listens there now
    return ntohs(a.sin_port);
}

TEST(PgPool, ClosedPortFailsFastWithUnavailable) {
    EpollLoop loop;
    PoolConfig cfg = config("hostaddr=127.0.0.1 port=" + std::to_string(closed_port()) + " dbname=x user=x connect_timeout=10", 4);
    Pool pool(loop, cfg);
    pool.start();
    auto t0 = loop.now_ms();
    auto r = run(loop, pool, "select 1", {}, 3000);
    auto elapsed = loop.now_ms() - t0;
    ASSERT_TRUE(r.has_value()) << "must never hang";
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, Errc::unavailable);
    EXPECT_LE(elapsed, 1100u);
    auto st = pool.stats();
    EXPECT_EQ(st.connected, 0);
    EXPECT_FALSE(pool.healthy());

    // Known down: later requests fail at once, but still from the loop.
    t0 = loop.now_ms();
    auto r2 = run(loop, pool, "select 1", {}, 3000);
    ASSERT_TRUE(r2.has_value());
    EXPECT_EQ(r2->error().code, Errc::unavailable);
    EXPECT_EQ(r2->error().message, "database unavailable");
    EXPECT_LE(loop.now_ms() - t0, 100u);
}

TEST(PgPool, QueryTimeoutDropsConnectionAndRecovers) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    PoolConfig cfg = config(conninfo, 1);
    cfg.query_timeout_ms = 300;
    Pool pool(loop, cfg);
    pool.start();
    ASSERT_TRUE(wait_connected(loop, pool, 1));
    auto t0 = loop.now_ms();
    auto r = run(loop, pool, "select pg_sleep(2)", {}, 3000);
    auto elapsed = loop.now_ms() - t0;
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, Errc::unavailable);
    EXPECT_GE(elapsed, 290u);
    EXPECT_LT(elapsed, 1000u);
    EXPECT_EQ(pool.stats().timeouts, 1u);
    // The next query waits for the reconnect and succeeds.
    auto again = run(loop, pool, "select 2");
    ASSERT_TRUE(again.has_value());
    ASSERT_TRUE(again->ok()) << again->error().message;
    EXPECT_EQ(again->value().get(0, 0), "2");
}

TEST(PgPool, ServerStatementTimeoutStopsTheQueryAndKeepsTheConninfosOptions) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    PoolConfig cfg = config(conninfo + " options='-c work_mem=7MB'", 1);
    cfg.statement_timeout_ms = 300;
    Pool pool(loop, cfg);
    pool.start();
    ASSERT_TRUE(wait_connected(loop, pool, 1));
    auto t0 = loop.now_ms();
    auto r = run(loop, pool, "select pg_sleep(2)", {}, 3000);
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, Errc::unavailable);
    EXPECT_TRUE(r->error().message.starts_with("57014:")) << r->error().message;
    EXPECT_LT(loop.now_ms() - t0, 1500u);
    // the server stopped it, not the pool: the connection stays
    EXPECT_EQ(pool.stats().timeouts, 0u);
    auto opts = run(loop, pool, "select current_setting('statement_timeout'), current_setting('work_mem')");
    ASSERT_TRUE(opts.has_value());
    ASSERT_TRUE(opts->ok()) << opts->error().message;
    EXPECT_EQ(opts->value().get(0, 0), "300ms");
    EXPECT_EQ(opts->value().get(0, 1), "7MB");
}

TEST(PgPool, QueueTimeoutWhenAllConnectionsBusy) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    PoolConfig cfg = config(conninfo, 1);
    cfg.queue_timeout_ms = 200;
    Pool pool(loop, cfg);
    pool.start();
    ASSERT_TRUE(wait_connected(loop, pool, 1));
    std::optional<Result<QueryResult>> slow;
    pool.query("select pg_sleep(0.6)", {}, [&](Result<QueryResult> r) { slow.emplace(std::move(r)); });
    auto t0 = loop.now_ms();
    auto waiting = run(loop, pool, "select 1", {}, 2000);
    ASSERT_TRUE(waiting.has_value());
    ASSERT_FALSE(waiting->ok());
    EXPECT_EQ(waiting->error().code, Errc::unavailable);
    EXPECT_GE(loop.now_ms() - t0, 190u);
    EXPECT_LT(loop.now_ms() - t0, 550u);
    ASSERT_TRUE(loop.run_until([&] { return slow.has_value(); }, 2000));
    EXPECT_TRUE(slow->ok());
}

TEST(PgPool, ShutdownFailsPendingAndDestructorDropsCallbacks) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    auto pool = std::make_unique<Pool>(loop, config(conninfo, 1));
    pool->start();
    ASSERT_TRUE(wait_connected(loop, *pool, 1));
    std::vector<Errc> got;
    auto record = [&](Result<QueryResult> r) { got.push_back(r.ok() ? Errc::ok : r.error().code); };
    pool->query("select pg_sleep(5)", {}, record);  // in flight
    pool->query("select 1", {}, record);            // queued
    pool->shutdown();
    EXPECT_TRUE(got.empty()) << "shutdown posts, never calls back synchronously";
    pool->query("select 1", {}, record);  // after shutdown
    loop.run_until([&] { return got.size() == 3; }, 1000);
    ASSERT_EQ(got.size(), 3u);
    for (auto c : got) EXPECT_EQ(c, Errc::unavailable);
    EXPECT_FALSE(pool->healthy());

    // Callbacks still posted when the Pool dies are dropped, never called.
    auto pool2 = std::make_unique<Pool>(loop, config(conninfo, 1));
    pool2->query("select 1", {}, record);  // not started: queued
    pool2->shutdown();                     // failure posted...
    pool2.reset();                         // ...and dropped with the pool
    loop.run_until([] { return false; }, 50);
    EXPECT_EQ(got.size(), 3u);
}

TEST(PgPool, RefusesConninfoThatWouldResolveDns) {
    EpollLoop loop;
    Pool pool(loop, config("host=localhost port=1 dbname=x", 1));
    pool.start();
    auto r = run(loop, pool, "select 1", {}, 2000);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error().code, Errc::unavailable);
}

// A TCP proxy in front of the real Postgres, so a test can take "the database" away and
// bring it back. Threads and blocking sockets are fine here: it is test scaffolding.
class Proxy {
public:
    Proxy(int target_port, int port) : target_(target_port) {
        lfd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd_, 16) != 0) {
            ::close(lfd_);
            lfd_ = -1;
            return;
        }
        socklen_t len = sizeof a;
        ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~Proxy() {
        stop_ = true;
        if (acceptor_.joinable()) acceptor_.join();  // no new pumps after this
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
        for (auto& t : threads_) t.join();
        for (int fd : fds_) ::close(fd);
        if (lfd_ >= 0) ::close(lfd_);
    }
    int port() const { return port_; }
    bool ok() const { return lfd_ >= 0; }

private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{lfd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            int c = ::accept(lfd_, nullptr, nullptr);
            if (c < 0) continue;
            int s = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(static_cast<std::uint16_t>(target_));
            if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                ::close(c);
                ::close(s);
                continue;
            }
            fds_.push_back(c);
            fds_.push_back(s);
            threads_.emplace_back([c, s] { pump(c, s); });
            threads_.emplace_back([c, s] { pump(s, c); });
        }
    }
    static void pump(int from, int to) {
        char buf[8192];
        for (;;) {
            ssize_t n = ::read(from, buf, sizeof buf);
            if (n <= 0) break;
            if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
        }
        ::shutdown(from, SHUT_RDWR);
        ::shutdown(to, SHUT_RDWR);
    }

    int target_;
    int lfd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

int port_of(const std::string& conninfo) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
    int port = 5432;
    for (auto* o = opts; o && o->keyword; ++o)
        if (std::string_view(o->keyword) == "port" && o->val) port = std::atoi(o->val);
    PQconninfoFree(opts);
    if (err) PQfreemem(err);
    return port;
}

TEST(PgPool, DatabaseGoneFailsFastThenPoolRecoversByItself) {
    REQUIRE_PG(conninfo);
    auto proxy = std::make_unique<Proxy>(port_of(conninfo), 0);
    ASSERT_TRUE(proxy->ok());
    const int port = proxy->port();
    EpollLoop loop;
    PoolConfig cfg = config(conninfo + " hostaddr=127.0.0.1 port=" + std::to_string(port), 2);
    Pool pool(loop, cfg);
    pool.start();
    ASSERT_TRUE(wait_connected(loop, pool, 2));
    ASSERT_TRUE(run(loop, pool, "select 1")->ok());

    proxy.reset();  // the database goes away: connections drop, reconnects are refused
    auto t0 = loop.now_ms();
    ASSERT_TRUE(loop.run_until([&] { return !pool.healthy(); }, 1000));
    auto r = run(loop, pool, "select 1", {}, 2000);
    ASSERT_TRUE(r.has_value()) << "must never hang";
    EXPECT_EQ(r->error().code, Errc::unavailable);
    EXPECT_LE(loop.now_ms() - t0, 1000u);

    // Stay down for a while so the backoff grows to its maximum.
    loop.run_until([] { return false; }, 2500);
    r = run(loop, pool, "select 1", {}, 2000);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error().code, Errc::unavailable);

    proxy = std::make_unique<Proxy>(port_of(conninfo), port);  // back
    ASSERT_TRUE(proxy->ok());
    t0 = loop.now_ms();
    ASSERT_TRUE(wait_connected(loop, pool, 1, 4000)) << "pool must reconnect within the 2 s backoff cap";
    EXPECT_LE(loop.now_ms() - t0, 2600u);
    auto ok = run(loop, pool, "select 3");
    ASSERT_TRUE(ok.has_value());
    ASSERT_TRUE(ok->ok()) << ok->error().message;
    EXPECT_EQ(ok->value().get(0, 0), "3");
}

// What the pool wrote to the loop's log, captured.
struct LogLines {
    explicit LogLines(EpollLoop& loop) {
        loop.set_log_sink([this](chat::LogLevel level, std::string_view line) {
            lines.emplace_back(level, std::string(line));
        });
    }
    std::vector<std::pair<chat::LogLevel, std::string>> lines;
};

PoolConfig fast_retry(PoolConfig cfg) {
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 40;
    return cfg;
}

TEST(PgPoolLog, ClosedPortLogsTheReasonOnceNotOncePerRetry) {
    EpollLoop loop;
    LogLines log(loop);
    Pool pool(loop, fast_retry(config("hostaddr=127.0.0.1 port=" + std::to_string(closed_port()) + " dbname=x user=x", 4)));
    pool.start();
    loop.run_until([] { return false; }, 800);
    ASSERT_GT(pool.stats().reconnects, 20u) << "the pool must have retried many times";
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_EQ(log.lines[0].first, chat::LogLevel::error);
    EXPECT_EQ(log.lines[0].second.rfind("postgres unavailable: ", 0), 0u) << log.lines[0].second;
    EXPECT_NE(log.lines[0].second.find("Connection refused"), std::string::npos) << log.lines[0].second;
    EXPECT_EQ(log.lines[0].second.find('\n'), std::string::npos) << "one line per message";
}

TEST(PgPoolLog, WrongPasswordLogsLibpqsReasonOnceAndNeverThePassword) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    LogLines log(loop);
    // A later keyword overrides an earlier one in a libpq conninfo.
    Pool pool(loop, fast_retry(config(conninfo + " password=not-the-Secret-42", 2)));
    pool.start();
    loop.run_until([] { return false; }, 800);
    ASSERT_GT(pool.stats().reconnects, 4u);
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_EQ(log.lines[0].first, chat::LogLevel::error);
    EXPECT_NE(log.lines[0].second.find("password authentication failed"), std::string::npos) << log.lines[0].second;
    EXPECT_EQ(log.lines[0].second.find("not-the-Secret-42"), std::string::npos);
}

TEST(PgPoolLog, LogsDownOnceAndUpOnceAcrossAnOutage) {
    REQUIRE_PG(conninfo);
    auto proxy = std::make_unique<Proxy>(port_of(conninfo), 0);
    ASSERT_TRUE(proxy->ok());
    const int port = proxy->port();
    EpollLoop loop;
    LogLines log(loop);
    Pool pool(loop, fast_retry(config(conninfo + " hostaddr=127.0.0.1 port=" + std::to_string(port), 2)));
    pool.start();
    ASSERT_TRUE(wait_connected(loop, pool, 2));
    EXPECT_TRUE(log.lines.empty()) << "coming up the first time is not news: " << log.lines[0].second;

    proxy.reset();  // refused from now on
    loop.run_until([] { return false; }, 600);
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_EQ(log.lines[0].first, chat::LogLevel::error);
    EXPECT_NE(log.lines[0].second.find("Connection refused"), std::string::npos) << log.lines[0].second;

    proxy = std::make_unique<Proxy>(port_of(conninfo), port);
    ASSERT_TRUE(proxy->ok());
    ASSERT_TRUE(wait_connected(loop, pool, 2, 4000));
    loop.run_until([] { return false; }, 100);
    ASSERT_EQ(log.lines.size(), 2u);
    EXPECT_EQ(log.lines[1].first, chat::LogLevel::notice);
    EXPECT_EQ(log.lines[1].second, "postgres available again");
}

// Test set-up only: a blocking libpq session kept open (a transaction holding a lock).
struct BlockingSession {
    PGconn* c;
    explicit BlockingSession(const std::string& conninfo) : c(PQconnectdb(conninfo.c_str())) {}
    ~BlockingSession() { PQfinish(c); }
    bool ok() const { return PQstatus(c) == CONNECTION_OK; }
    std::string exec(const std::string& sql) {
        PGresult* r = PQexec(c, sql.c_str());
        auto st = PQresultStatus(r);
        std::string err = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(r);
        PQclear(r);
        return err;
    }
};

// One connection: every query meets the statements the previous ones left.
PoolConfig prep_config(const std::string& conninfo, std::size_t prepared = 64) {
    PoolConfig cfg = config(conninfo, 1);
    cfg.prepared_statements = prepared;
    return cfg;
}

// The statements prepared in the pool's session, read through the pool itself (so this query is one).
const char* const kListSql = "select statement from pg_prepared_statements order by statement";
std::set<std::string> server_statements(EpollLoop& loop, Pool& pool) {
    std::set<std::string> out;
    auto r = run(loop, pool, kListSql);
    EXPECT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
    if (r && r->ok())
        for (int i = 0; i < r->value().rows(); ++i) out.emplace(r->value().get(i, 0));
    return out;
}

TEST(PgPrepare, AStatementIsPreparedOncePerConnectionAndRunByNameEveryTime) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, prep_config(conninfo));
    pool.start();
    const std::string sql = "select $1::int + 1 as n";
    for (int i = 0; i < 3; ++i) {
        auto r = run(loop, pool, sql, {std::to_string(i)});
        ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
        EXPECT_EQ(r->value().get(0, "n"), std::to_string(i + 1));
    }
    EXPECT_EQ(pool.stats().prepares, 1u);
    EXPECT_EQ(pool.stats().prepared, 1u);
    // The server holds it once and ran it three times by that name.
    auto runs = run(loop, pool,
                    "select count(*), sum(generic_plans + custom_plans) from pg_prepared_statements where statement = $1",
                    {sql});
    ASSERT_TRUE(runs && runs->ok()) << (runs ? runs->error().message : "no answer");
    EXPECT_EQ(runs->value().get(0, 0), "1");
    EXPECT_EQ(runs->value().get(0, 1), "3");
}

TEST(PgPrepare, AtMostNStatementsPerConnectionTheLeastRecentlyUsedDeallocated) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, prep_config(conninfo, 2));
    pool.start();
    const std::string a = "select 'a' as v", b = "select 'b' as v", c = "select 'c' as v";
    for (const auto& sql : {a, b, a, c}) {
        auto r = run(loop, pool, sql);
        ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
        EXPECT_EQ(r->value().get(0, 0), sql.substr(8, 1));
    }
    // b was the least recently used when c came: deallocated (before the next PREPARE, the
    // listing's). The listing query itself took a's place: a goes before the next PREPARE.
    EXPECT_EQ(server_statements(loop, pool), (std::set<std::string>{a, c, kListSql}));
    // b again: a dropped, b prepared, c (now the least recently used) evicted, dropped before
    // the next PREPARE. The server never holds more than N and the one evicted last.
    ASSERT_TRUE(run(loop, pool, b)->ok());
    EXPECT_EQ(server_statements(loop, pool), (std::set<std::string>{b, c, kListSql}));
    EXPECT_EQ(pool.stats().prepared, 2u);
    EXPECT_EQ(pool.stats().prepares, 5u);  // a once although used twice, b, c, the listing, b again
}

TEST(PgPrepare, OffSendsEveryQueryWithItsText) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, prep_config(conninfo, 0));
    pool.start();
    for (int i = 0; i < 2; ++i) {
        auto r = run(loop, pool, "select $1::text as v", {"x"});
        ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
        EXPECT_EQ(r->value().get(0, 0), "x");
    }
    EXPECT_TRUE(server_statements(loop, pool).empty());
    EXPECT_EQ(pool.stats().prepares, 0u);
}

TEST(PgPrepare, AFunctionCreatedAgainWithOtherColumnsIsPreparedAgainAndAnswers) {
    REQUIRE_PG(conninfo);
    BlockingSession admin(conninfo);
    ASSERT_TRUE(admin.ok());
    const std::string fn = unique_name("chat_prep_fn_");
    ASSERT_EQ(admin.exec("create function " + fn + "(int) returns table(a int) language sql as 'select $1'"), "");
    EpollLoop loop;
    Pool pool(loop, prep_config(conninfo));
    pool.start();
    const std::string sql = "select * from " + fn + "($1)";
    for (int i = 0; i < 2; ++i) {
        auto r = run(loop, pool, sql, {"7"});
        ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
        EXPECT_EQ(r->value().cols(), 1);
    }
    // A migration replaces the function with one of other columns (a new OID, a new result type):
    // Postgres refuses the old prepared statement (0A000) before running it.
    ASSERT_EQ(admin.exec("drop function " + fn + "(int); create function " + fn +
                         "(int) returns table(a int, b text) language sql as $$select $1, 'two'$$"),
              "");
    auto r = run(loop, pool, sql, {"8"});
    ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
    EXPECT_EQ(r->value().cols(), 2);
    EXPECT_EQ(r->value().get(0, "a"), "8");
    EXPECT_EQ(r->value().get(0, "b"), "two");
    EXPECT_EQ(pool.stats().prepares, 2u);
    // The stale name was dropped: the server holds the statement once.
    auto held = server_statements(loop, pool);
    EXPECT_EQ(held.count(sql), 1u);
    EXPECT_EQ(held.size(), 2u);  // it and the listing
    EXPECT_EQ(admin.exec("drop function " + fn + "(int)"), "");
}

TEST(PgPrepare, AStatementTheServerNoLongerKnowsIsPreparedAgain) {
    REQUIRE_PG(conninfo);
    EpollLoop loop;
    Pool pool(loop, prep_config(conninfo));
    pool.start();
    const std::string sql = "select 41 + 1 as n";
    ASSERT_TRUE(run(loop, pool, sql)->ok());
    auto gone = run(loop, pool, "deallocate all");  // every name of the session, behind the pool's back
    ASSERT_TRUE(gone && gone->ok()) << (gone ? gone->error().message : "no answer");
    auto r = run(loop, pool, sql);
    ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
    EXPECT_EQ(r->value().get(0, 0), "42");
    EXPECT_EQ(pool.stats().prepares, 3u);  // sql, deallocate all, sql again
}

TEST(PgPrepare, AConnectionLostMidPrepareFailsItsRequestAndTheNextConnectionPreparesAfresh) {
    REQUIRE_PG(conninfo);
    const std::string app = unique_name("chat_prep_victim_");
    const std::string table = unique_name("chat_prep_t_");
    BlockingSession locker(conninfo);
    ASSERT_TRUE(locker.ok());
    ASSERT_EQ(locker.exec("create table " + table + " (x int); insert into " + table + " values (1)"), "");
    EpollLoop loop;
    Pool victim(loop, prep_config(conninfo + " application_name='" + app + "'"));
    Pool killer(loop, prep_config(conninfo, 0));
    victim.start();
    killer.start();
    const std::string sql = "select count(*) from " + table;
    ASSERT_TRUE(run(loop, victim, "select 1 as warm")->ok());
    EXPECT_EQ(victim.stats().prepared, 1u);
    // The PREPARE waits for the table's lock (parse analysis opens it).
    ASSERT_EQ(locker.exec("begin; lock table " + table + " in access exclusive mode"), "");
    std::optional<Result<QueryResult>> stuck;
    victim.query(sql, {}, [&](Result<QueryResult> r) { stuck.emplace(std::move(r)); });
    bool waiting = loop.run_until(
        [&] {
            auto w = run(loop, killer,
                         "select count(*) from pg_stat_activity where application_name = $1 and wait_event_type = "
                         "'Lock'",
                         {app});
            return w && w->ok() && w->value().get(0, 0) == "1";
        },
        5000);
    ASSERT_TRUE(waiting) << "the PREPARE should wait for the lock";
    EXPECT_EQ(victim.stats().prepares, 2u);
    EXPECT_EQ(victim.stats().prepared, 1u);
    auto kill = run(loop, killer, "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1",
                    {app});
    ASSERT_TRUE(kill && kill->ok()) << (kill ? kill->error().message : "no answer");
    ASSERT_TRUE(loop.run_until([&] { return stuck.has_value(); }, 5000)) << "the request must not hang";
    ASSERT_FALSE(stuck->ok());
    EXPECT_EQ(stuck->error().code, Errc::unavailable) << stuck->error().message;
    ASSERT_EQ(locker.exec("commit"), "");

    // The pool reconnects by itself; the new session has no statement: prepared afresh, answered.
    ASSERT_TRUE(loop.run_until([&] { return victim.stats().connected == 1; }, 5000));
    EXPECT_EQ(victim.stats().prepared, 0u) << "the statements died with their session";
    auto r = run(loop, victim, sql);
    ASSERT_TRUE(r && r->ok()) << (r ? r->error().message : "no answer");
    EXPECT_EQ(r->value().get(0, 0), "1");
    EXPECT_EQ(victim.stats().prepares, 3u);
    EXPECT_EQ(victim.stats().prepared, 1u);
    EXPECT_EQ(locker.exec("drop table " + table), "");
}

}  // namespace
