// The agent and admin use cases against a real Postgres (CHAT_TEST_PG): login, tokens, presence, assignment, views, lifecycle, sweep, admin, concurrency.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "chat/agent.h"
#include "chat/base64.h"
#include "chat/epoll_loop.h"
#include "chat/events.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/password.h"
#include "chat/pg_pool.h"
#include "test_schema.h"
#include "chat/token.h"

namespace {

using chat::Errc;
using chat::EpollLoop;
using chat::Result;
using Answer = chat::Outcome;
using chat::agent::Principal;
using chat::agent::Service;

const std::string kSecret = "agent-test-secret-0123456789abcdef";
const std::string kPassword = "correct horse battery";
const std::string kQueued = "All agents are busy. You are in queue.";

// The Executor of the tests: each task on its own std::thread; `done` goes back to the
// loop through an eventfd the loop watches.
class ThreadExecutor final : public chat::Executor {
public:
    explicit ThreadExecutor(EpollLoop& loop) : efd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        watch_ = loop.watch(efd_, [this](bool, bool) { drain(); });
        watch_->want_read(true);
    }
    ~ThreadExecutor() override {
        for (auto& t : threads_) t.join();
        watch_.reset();
        ::close(efd_);
    }
    void run(std::function<void()> work, std::function<void()> done) override {
        threads_.emplace_back([this, work = std::move(work), done = std::move(done)]() mutable {
            work();
            {
                std::lock_guard<std::mutex> l(mu_);
                ready_.push_back(std::move(done));
            }
            std::uint64_t one = 1;
            (void)!::write(efd_, &one, sizeof one);
        });
    }

private:
    void drain() {
        std::uint64_t v;
        (void)!::read(efd_, &v, sizeof v);
        std::deque<std::function<void()>> q;
        {
            std::lock_guard<std::mutex> l(mu_);
            q.swap(ready_);
        }
        for (auto& f : q) f();
    }
    int efd_;
    std::unique_ptr<chat::IoWatch> watch_;
    std::mutex mu_;
    std::deque<std::function<void()>> ready_;
    std::vector<std::thread> threads_;
};

// An Executor whose queue is always full: `done` runs on the loop, `work` never.
class FullExecutor final : public chat::Executor {
public:
    explicit FullExecutor(EpollLoop& loop) : loop_(loop) {}
    void run(std::function<void()>, std::function<void()> done) override { loop_.post(std::move(done)); }

private:
    EpollLoop& loop_;
};


// Test set-up only: blocking libpq (the code under test is the async pool).
class Db {
public:
    explicit Db(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
        PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);  // DROP ... CASCADE chatter
    }
    ~Db() { PQfinish(c_); }
    bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
    std::string error() const { return PQerrorMessage(c_); }
    // Runs sql (several statements allowed); the first cell of the last result, or
    // "ERROR: ..." on failure.
    std::string q(const std::string& sql) {
        PGresult* r = PQexec(c_, sql.c_str());
        std::string out;
        auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) out = "ERROR: " + std::string(PQresultErrorMessage(r));
        else if (PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
        PQclear(r);
        return out;
    }
    std::string lit(const std::string& s) {
        char* e = PQescapeLiteral(c_, s.c_str(), s.size());
        std::string out = e;
        PQfreemem(e);
        return out;
    }

private:
    PGconn* c_;
};

std::string g_conninfo;   // with search_path set to the suite's schema
std::string g_hash;       // kPassword's hash, made once
std::string g_error;      // set-up failure

class AgentTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto schema = chat::testing::create_test_schema("chat_test");
        g_conninfo = schema.conninfo;
        g_error = schema.error;
        if (!g_error.empty()) return;
        std::byte salt[chat::password::kSaltBytes] = {std::byte{1}, std::byte{2}};
        g_hash = chat::password::hash(kPassword, salt);
    }
    static void TearDownTestSuite() { chat::testing::drop_test_schema("chat_test"); }

    void SetUp() override {
        ASSERT_TRUE(g_error.empty()) << g_error;
        db_.emplace(g_conninfo);
        ASSERT_TRUE(db_->ok()) << db_->error();
        ASSERT_EQ(db_->q("TRUNCATE webhook_deliveries, outbox, webhooks, notes, bot_feedback, messages, conversation_minutes, conversations, department_agents, departments, agents, faq_entries, login_failures"), "");
        chat::pg::PoolConfig cfg;
        cfg.conninfo = g_conninfo;
        cfg.size = 4;
        cfg.queue_timeout_ms = 10000;
        pool_.emplace(loop_, cfg);
        pool_->start();
        ASSERT_TRUE(loop_.run_until([&] { return pool_->stats().connected == 4; }, 5000));
        svc_.emplace(loop_, *pool_, exec_, kSecret, chat::agent::Settings{});
    }
    void TearDown() override {
        svc_.reset();
        if (pool_) {
            pool_->shutdown();
            loop_.run_until([] { return false; }, 50);
        }
        pool_.reset();
    }

    Db& db() { return *db_; }

    // Runs one use case to completion on the loop.
    Result<Answer> call(const std::function<void(chat::agent::Done)>& op) {
        std::optional<Result<Answer>> out;
        op([&](Result<Answer> r) { out.emplace(std::move(r)); });
        if (!loop_.run_until([&] { return out.has_value(); }, 20000))
            return chat::make_error(Errc::internal, "timed out");
        return std::move(*out);
    }
    static chat::json::Value body(const Result<Answer>& r) {
        auto v = chat::json::parse(r.value().body);
        return v.ok() ? v.value() : chat::json::Value();
    }

    // An agent row with kPassword (role, capacity, presence).
    std::string make_agent(const std::string& username, const std::string& name, const std::string& role = "agent",
                           int cap = 2, const std::string& presence = "offline") {
        std::string id = db().q("SELECT chat_admin_agent_create(" + db().lit(username) + "," + db().lit(name) + "," +
                                db().lit(g_hash) + "," + db().lit(role) + "," + std::to_string(cap) +
                                ", ARRAY['default'])->'agent'->>'id'");
        if (presence != "offline") db().q("SELECT chat_agent_presence('" + id + "', '" + presence + "')");
        return id;
    }
    std::string token_for(const std::string& id, std::int64_t version = 1) {
        return chat::token::encode_agent(std::as_bytes(std::span(kSecret.data(), kSecret.size())),
                                         {id, version, loop_.wall_ms() + 3600 * 1000});
    }
    Result<Principal> auth(const std::string& token) {
        std::optional<Result<Principal>> out;
        svc_->authenticate(token, "default", [&](Result<Principal> r) { out.emplace(std::move(r)); });
        if (!loop_.run_until([&] { return out.has_value(); }, 10000))
            return chat::make_error(Errc::internal, "timed out");
        return std::move(*out);
    }
    Principal principal(const std::string& id) {
        auto p = auth(token_for(id));
        EXPECT_TRUE(p.ok()) << p.error().message;
        return p.ok() ? p.value() : Principal{};
    }
    // A customer conversation, escalated; returns its id.
    std::string escalated(const std::string& sid) {
        db().q("SELECT chat_open_session('" + sid + "', NULL, 'Hi!', 50, 'default')");
        db().q("SELECT chat_escalate('" + sid + "', " + db().lit(kQueued) + ", NULL, 'away')");
        return conv_of(sid);
    }
    std::string conv_of(const std::string& sid) {
        return db().q("SELECT id FROM conversations WHERE session_id = '" + sid + "'");
    }
    std::string assignee(const std::string& conv) {
        return db().q("SELECT coalesce(assigned_agent_id::text, '') FROM conversations WHERE id = '" + conv + "'");
    }
    int position(const std::string& conv) {
        std::string s = db().q("SELECT coalesce(chat_queue_position(c), 0) FROM conversations c WHERE id = '" + conv + "'");
        return std::atoi(s.c_str());
    }
    int count(const std::string& sql) { return std::atoi(db().q(sql).c_str()); }

    EpollLoop loop_;
    ThreadExecutor exec_{loop_};
    std::optional<Db> db_;
    std::optional<chat::pg::Pool> pool_;
    std::optional<Service> svc_;
};

std::string login_body(const std::string& user, const std::string& pw) {
    std::string out;
    chat::json::Writer w(out);
    w.begin_object().key("username").string(user).key("password").string(pw).end_object();
    return out;
}

TEST(AgentCursor, RoundTripsAndRejectsTimesPostgresCannotHold) {
    const std::string id = "00000000-0000-4000-8000-000000000001";
    auto c = chat::agent::decode_cursor(chat::agent::encode_cursor(1700000000123456, id));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.value().first, 1700000000123456);
    EXPECT_EQ(c.value().second, id);
    // a forged cursor outside 1970..9999 would be "timestamp out of range", a 500
    for (const char* us : {"-1", "-9223372036854775807", "9223372036854775807", "253402300800000000"}) {
        auto bad = chat::agent::decode_cursor(chat::base64::encode_url(std::string(us) + "|" + id));
        ASSERT_FALSE(bad.ok()) << us;
        EXPECT_EQ(bad.error().code, chat::Errc::validation) << us;
    }
}

TEST_F(AgentTest, LoginOkAndTheSame401ForWrongPasswordAndUnknownUser) {
    std::string id = make_agent("Ann.Lee", "Ann Lee");
    auto ok = call([&](auto d) { svc_->login(login_body("ann.lee", kPassword), "10.0.0.1", "default", d); });
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok.value().status, 200);
    EXPECT_FALSE(ok.value().cookie.value.empty());
    auto b = body(ok);
    EXPECT_EQ(*b.find_string("token"), ok.value().cookie.value);
    EXPECT_EQ(*b.find("agent")->find_string("id"), id);
    EXPECT_EQ(*b.find("agent")->find_string("display_name"), "Ann Lee");
    auto p = auth(ok.value().cookie.value);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p.value().agent_id, id);
    EXPECT_EQ(p.value().role, "agent");

    auto wrong = call([&](auto d) { svc_->login(login_body("ann.lee", "wrong password!"), "10.0.0.1", "default", d); });
    auto unknown = call([&](auto d) { svc_->login(login_body("nobody", kPassword), "10.0.0.1", "default", d); });
    ASSERT_FALSE(wrong.ok());
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(wrong.error().code, Errc::unauthorized);
    EXPECT_EQ(unknown.error().code, Errc::unauthorized);
    EXPECT_EQ(wrong.error().message, unknown.error().message);

    auto bad = call([&](auto d) { svc_->login("{\"username\": 1}", "10.0.0.1", "default", d); });
    EXPECT_EQ(bad.error().code, Errc::bad_request);
    auto notjson = call([&](auto d) { svc_->login("{nope", "10.0.0.1", "default", d); });
    EXPECT_EQ(notjson.error().code, Errc::invalid_json);
    // a forged token
    EXPECT_EQ(auth(ok.value().cookie.value + "x").error().code, Errc::unauthorized);
}

TEST_F(AgentTest, LoginIsRateLimitedAfterTenFailuresPerUsernameAndAddress) {
    make_agent("bob", "Bob");
    for (int i = 0; i < 10; i++) {
        auto r = call([&](auto d) { svc_->login(login_body("bob", "not the password"), "10.0.0.2", "default", d); });
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::unauthorized) << i;
    }
    auto limited = call([&](auto d) { svc_->login(login_body("BOB", kPassword), "10.0.0.2", "default", d); });
    ASSERT_TRUE(limited.ok()) << limited.error().message;
    EXPECT_EQ(limited.value().status, 429);
    EXPECT_EQ(*body(limited).find("error")->find_string("code"), "rate_limited");
    EXPECT_TRUE(limited.value().cookie.value.empty());
    EXPECT_GT(limited.value().retry_after_s, 0);
    EXPECT_LE(limited.value().retry_after_s, 300);
    // another address is not affected
    auto other = call([&](auto d) { svc_->login(login_body("bob", kPassword), "10.0.0.3", "default", d); });
    EXPECT_TRUE(other.ok());
    // the window passes: the counter is in Postgres, so age it there
    db().q("UPDATE login_failures SET at = at - interval '6 minutes'");
    auto again = call([&](auto d) { svc_->login(login_body("bob", kPassword), "10.0.0.2", "default", d); });
    EXPECT_TRUE(again.ok());
}

TEST_F(AgentTest, LogoutRevokesTheToken) {
    make_agent("cid", "Cid", "agent", 2, "online");
    auto ok = call([&](auto d) { svc_->login(login_body("cid", kPassword), "10.0.0.1", "default", d); });
    ASSERT_TRUE(ok.ok());
    auto p = auth(ok.value().cookie.value);
    ASSERT_TRUE(p.ok());
    auto out = call([&](auto d) { svc_->logout(p.value(), d); });
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out.value().status, 204);
    EXPECT_TRUE(out.value().cookie.clear);
    auto after = auth(ok.value().cookie.value);
    ASSERT_FALSE(after.ok());
    EXPECT_EQ(after.error().code, Errc::unauthorized);
}

TEST_F(AgentTest, TheOutcomeCarriesTheCookieAndTheEventsOfAWrite) {
    std::string a = make_agent("gus", "Gus", "agent", 2);
    auto in = call([&](auto d) { svc_->login(login_body("gus", kPassword), "10.0.0.1", "default", d); });
    ASSERT_TRUE(in.ok()) << in.error().message;
    EXPECT_EQ(in.value().cookie.name, "chat_agent");
    EXPECT_EQ(in.value().cookie.max_age_s, 12 * 3600);
    EXPECT_FALSE(in.value().cookie.clear);
    EXPECT_EQ(in.value().cache.kind, chat::CacheEffect::Kind::none);
    std::string c = escalated("s-gus");
    Principal p = principal(a);
    auto on = call([&](auto d) { svc_->presence(p, "{\"presence\": \"online\"}", d); });
    ASSERT_TRUE(on.ok()) << on.error().message;
    ASSERT_FALSE(on.value().events.empty());
    EXPECT_EQ(on.value().events.back().type, chat::events::Type::agent_presence_changed);
    const auto& fx = on.value().side_effects;
    EXPECT_NE(std::find(fx.begin(), fx.end(), c), fx.end());
    // a read publishes nothing
    auto got = call([&](auto d) { svc_->conversation(p, c, "", d); });
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_TRUE(got.value().events.empty());
    EXPECT_TRUE(got.value().side_effects.empty());
    // a write: its messages, then the conversation
    auto posted = call([&](auto d) { svc_->post(p, c, "{\"text\": \"hello\"}", d); });
    ASSERT_TRUE(posted.ok()) << posted.error().message;
    ASSERT_GE(posted.value().events.size(), 2u);
    EXPECT_EQ(posted.value().events.front().type, chat::events::Type::message_created);
    EXPECT_EQ(posted.value().events.back().type, chat::events::Type::conversation_updated);
    EXPECT_EQ(posted.value().events.back().assigned_agent_id, a);
    auto out = call([&](auto d) { svc_->logout(p, d); });
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out.value().cookie.name, "chat_agent");
    EXPECT_TRUE(out.value().cookie.value.empty());
}

TEST_F(AgentTest, GoingOnlineAssignsQueuedChats) {
    std::string a = make_agent("dee", "Dee", "agent", 2);
    std::string c1 = escalated("s1"), c2 = escalated("s2"), c3 = escalated("s3");
    EXPECT_EQ(position(c1), 1);
    EXPECT_EQ(position(c3), 3);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE metadata->>'event' = 'queued'"), 3);
    Principal p = principal(a);
    auto bad = call([&](auto d) { svc_->presence(p, "{\"presence\": \"busy\"}", d); });
    EXPECT_EQ(bad.error().code, Errc::validation);
    auto r = call([&](auto d) { svc_->presence(p, "{\"presence\": \"online\"}", d); });
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*body(r).find("agent")->find_string("presence"), "online");
    EXPECT_EQ(body(r).find("agent")->find_int("active_chats"), 2);
    EXPECT_EQ(assignee(c1), a);
    EXPECT_EQ(assignee(c2), a);
    EXPECT_EQ(assignee(c3), "");
    EXPECT_EQ(position(c3), 1);
    const auto& fx = r.value().side_effects;  // "assigned": their events are published
    EXPECT_NE(std::find(fx.begin(), fx.end(), c1), fx.end());
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE content = 'Dee joined the chat'"), 2);
    // away and back: nothing requeued, nothing doubled
    call([&](auto d) { svc_->presence(p, "{\"presence\": \"away\"}", d); });
    EXPECT_EQ(assignee(c1), a);
    auto me = call([&](auto d) { svc_->me(principal(a), d); });
    EXPECT_EQ(*body(me).find("agent")->find_string("presence"), "away");
}

TEST_F(AgentTest, CapacityIsRespectedAndACloseGivesTheSlotToTheOldestQueued) {
    std::string a = make_agent("eve", "Eve", "agent", 2, "online");
    std::string b = make_agent("fay", "Fay", "agent", 2, "online");
    std::vector<std::string> convs;
    for (int i = 1; i <= 6; i++) convs.push_back(escalated("s" + std::to_string(i)));
    EXPECT_EQ(count("SELECT count(*) FROM conversations WHERE assigned_agent_id IS NOT NULL"), 4);
    EXPECT_EQ(count("SELECT max(chat_agent_active(id)) FROM agents"), 2);
    EXPECT_EQ(position(convs[4]), 1);
    EXPECT_EQ(position(convs[5]), 2);
    // escalation with a free agent: only the joined message; queued once only otherwise
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE conversation_id = '" + convs[0] +
                    "' AND sender_type = 'system'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE conversation_id = '" + convs[4] +
                    "' AND sender_type = 'system'"), 1);
    // repeated escalation changes nothing
    db().q("SELECT chat_escalate('s5', " + db().lit(kQueued) + ", NULL, 'away')");
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE conversation_id = '" + convs[4] + "'"), 2);

    std::string owner = assignee(convs[0]);
    Principal p = principal(owner);
    auto r = call([&](auto d) { svc_->close(p, convs[0], d); });
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto b0 = body(r);
    EXPECT_EQ(*b0.find("conversation")->find_string("status"), "closed");
    EXPECT_EQ(*(*b0.find("messages")->as_array())[0].find_string("content"),
              (owner == a ? "Eve" : "Fay") + std::string(" closed the chat"));
    EXPECT_EQ(assignee(convs[4]), owner);
    EXPECT_EQ(position(convs[5]), 1);
    // closing again: 409; posting to a closed chat: 409
    EXPECT_EQ(call([&](auto d) { svc_->close(p, convs[0], d); }).error().code, Errc::invalid_state);
    EXPECT_EQ(call([&](auto d) { svc_->post(p, convs[0], "{\"text\": \"hi\"}", d); }).error().code,
              Errc::invalid_state);
    // the close is visible to the customer
    EXPECT_EQ(db().q("SELECT status FROM conversations WHERE id = '" + convs[0] + "'"), "closed");
    EXPECT_NE(db().q("SELECT chat_escalate('s1', 'x', NULL, 'away')").find("conversation is closed"), std::string::npos);
}

TEST_F(AgentTest, ClaimOverCapacityIs409) {
    std::string a = make_agent("gus", "Gus", "agent", 1, "online");
    std::string b = make_agent("hal", "Hal", "agent", 1, "away");
    std::string c1 = escalated("s1"), c2 = escalated("s2"), c3 = escalated("s3");
    EXPECT_EQ(assignee(c1), a);
    Principal pa = principal(a), pb = principal(b);
    auto full = call([&](auto d) { svc_->claim(pa, c2, d); });
    ASSERT_FALSE(full.ok());
    EXPECT_EQ(full.error().code, Errc::invalid_state);
    auto ok = call([&](auto d) { svc_->claim(pb, c3, d); });
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(*body(ok).find("conversation")->find("assigned_agent")->find_string("id"), b);
    EXPECT_EQ(position(c2), 1);
    // an assigned chat is not claimable
    EXPECT_EQ(call([&](auto d) { svc_->claim(pb, c3, d); }).error().code, Errc::invalid_state);
    EXPECT_EQ(call([&](auto d) { svc_->claim(pb, "not-a-uuid", d); }).error().code, Errc::not_found);
}

TEST_F(AgentTest, TransferNeedsAnOnlineAgentWithCapacity) {
    std::string a = make_agent("ida", "Ida", "agent", 2, "online");
    std::string off = make_agent("jon", "Jon", "agent", 2, "offline");
    std::string c1 = escalated("s1");
    make_agent("kim", "Kim", "agent", 2, "online");
    std::string c2 = escalated("s2");  // Kim is idle longest: c2 goes to Kim
    std::string kim = assignee(c2);
    ASSERT_NE(kim, a);
    Principal pa = principal(a);
    auto r = call([&](auto d) { svc_->transfer(pa, c1, "{\"agent_id\": \"" + off + "\"}", d); });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid_state);
    EXPECT_EQ(call([&](auto d) { svc_->transfer(pa, c1, "{\"agent_id\": 5}", d); }).error().code, Errc::validation);
    // Kim at capacity after a third chat? capacity 2: one more is fine
    auto ok = call([&](auto d) { svc_->transfer(pa, c1, "{\"agent_id\": \"" + kim + "\"}", d); });
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(assignee(c1), kim);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE content = 'Transferred to Kim'"), 1);
    // now Kim is full
    std::string c3 = escalated("s3");
    EXPECT_EQ(assignee(c3), a);
    auto full = call([&](auto d) { svc_->transfer(pa, c3, "{\"agent_id\": \"" + kim + "\"}", d); });
    EXPECT_EQ(full.error().code, Errc::invalid_state);
    // Ida no longer holds c1: she may not transfer it
    EXPECT_EQ(call([&](auto d) { svc_->transfer(pa, c1, "{\"agent_id\": \"" + a + "\"}", d); }).error().code,
              Errc::not_found);
}

TEST_F(AgentTest, AnAgentCannotReadAnotherAgentsChatButASupervisorCan) {
    std::string a = make_agent("lea", "Lea", "agent", 1, "online");
    std::string b = make_agent("max", "Max", "agent", 1, "online");
    std::string s = make_agent("ned", "Ned", "supervisor", 0, "online");
    std::string c1 = escalated("s1");
    std::string owner = assignee(c1);
    std::string other = owner == a ? b : a;
    Principal po = principal(owner), pother = principal(other), ps = principal(s);
    auto mine = call([&](auto d) { svc_->conversation(po, c1, "after=0&limit=10", d); });
    ASSERT_TRUE(mine.ok()) << mine.error().message;
    EXPECT_EQ(body(mine).find("messages")->as_array()->size(), 2u);
    EXPECT_EQ(call([&](auto d) { svc_->conversation(pother, c1, "", d); }).error().code, Errc::not_found);
    EXPECT_EQ(call([&](auto d) { svc_->post(pother, c1, "{\"text\": \"hi\"}", d); }).error().code, Errc::not_found);
    EXPECT_EQ(call([&](auto d) { svc_->close(pother, c1, d); }).error().code, Errc::not_found);
    EXPECT_EQ(call([&](auto d) { svc_->conversation(pother, "zzz", "", d); }).error().code, Errc::not_found);
    auto sup = call([&](auto d) { svc_->conversation(ps, c1, "", d); });
    ASSERT_TRUE(sup.ok()) << sup.error().message;

    // the owner writes (idempotent by client_id) and reads
    std::string msg = "{\"text\": \"Hello, how can I help?\", \"client_id\": \"6f1c1a4e-8a3b-4c55-9d2e-0a1b2c3d4e5f\"}";
    auto p1 = call([&](auto d) { svc_->post(po, c1, msg, d); });
    ASSERT_TRUE(p1.ok()) << p1.error().message;
    EXPECT_EQ(p1.value().status, 201);
    auto p2 = call([&](auto d) { svc_->post(po, c1, msg, d); });
    ASSERT_TRUE(p2.ok());
    EXPECT_EQ(*(*body(p1).find("messages")->as_array())[0].find_string("id"),
              *(*body(p2).find("messages")->as_array())[0].find_string("id"));
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE sender_type = 'agent'"), 1);
    EXPECT_EQ(call([&](auto d) { svc_->post(po, c1, "{\"text\": \"  \"}", d); }).error().code, Errc::validation);
    db().q("SELECT chat_customer_post('s1', NULL, 'text', 'thanks', NULL, NULL)");
    auto rd = call([&](auto d) { svc_->read(po, c1, "{\"up_to_seq\": 10}", d); });
    ASSERT_TRUE(rd.ok());
    EXPECT_EQ(rd.value().status, 204);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE sender_type = 'customer' AND read_at IS NULL"), 0);

    // views: the owner's active, the supervisor's all
    auto act = call([&](auto d) { svc_->conversations(po, "view=active", d); });
    ASSERT_TRUE(act.ok()) << act.error().message;
    ASSERT_EQ(body(act).find("conversations")->as_array()->size(), 1u);
    EXPECT_EQ(*(*body(act).find("conversations")->as_array())[0].find("last_message")->find_string("content"),
              "thanks");
    auto oth = call([&](auto d) { svc_->conversations(pother, "view=all", d); });
    EXPECT_EQ(body(oth).find("conversations")->as_array()->size(), 0u);
    auto all = call([&](auto d) { svc_->conversations(ps, "view=all", d); });
    EXPECT_EQ(body(all).find("conversations")->as_array()->size(), 1u);
    EXPECT_EQ(call([&](auto d) { svc_->conversations(ps, "view=mine", d); }).error().code, Errc::validation);
    EXPECT_EQ(call([&](auto d) { svc_->conversations(ps, "cursor=%%%", d); }).error().code, Errc::validation);
}

// The event as an agent socket hears it (events::json_for_agents).
std::string agents_copy(const chat::events::Event& e) {
    std::string scratch;
    return std::string(chat::events::json_for_agents(e, scratch));
}

// API.md: a Conversation's unread_count is the viewer's, in events too; a read is told only
// when it marked something (the read receipt, and the agent side's count changed), and a read
// of a closed chat never says chat.closed again (only the close does).
TEST_F(AgentTest, EventsCarryEachSidesUnreadCountAndAReadTellsOnlyWhatItMarked) {
    using chat::events::Type;
    std::string a = make_agent("rex", "Rex", "agent", 2, "online");
    std::string c1 = escalated("s1");
    ASSERT_EQ(assignee(c1), a);
    Principal p = principal(a);
    db().q("SELECT chat_customer_post('s1', NULL, 'text', 'still there?', NULL, NULL)");
    auto unread_in = [](std::string_view event_json) {
        auto v = chat::json::parse(event_json);
        return v.ok() ? v.value().find("data")->find_int("unread_count").value_or(-1) : -1;
    };
    auto side = [&](const char* column) {
        return count(std::string("SELECT ") + column + " FROM conversations WHERE id = '" + c1 + "'");
    };
    auto closed = call([&](auto d) { svc_->close(p, c1, d); });
    ASSERT_TRUE(closed.ok()) << closed.error().message;
    ASSERT_NE(side("customer_unread"), side("agent_unread"));
    int told = 0;
    for (const auto& e : closed.value().events) {
        if (e.type != Type::chat_closed && e.type != Type::conversation_updated) continue;
        told++;
        EXPECT_EQ(unread_in(e.json), side("customer_unread")) << e.json;
        EXPECT_EQ(unread_in(agents_copy(e)), side("agent_unread"));
    }
    EXPECT_EQ(told, 2);

    auto rd = call([&](auto d) { svc_->read(p, c1, "{\"up_to_seq\": 100}", d); });
    ASSERT_TRUE(rd.ok()) << rd.error().message;
    const auto& ev = rd.value().events;
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].type, Type::conversation_updated);
    EXPECT_EQ(unread_in(agents_copy(ev[0])), 0);
    EXPECT_EQ(unread_in(ev[0].json), side("customer_unread"));
    EXPECT_EQ(ev[1].type, Type::read);
    EXPECT_EQ(ev[1].sender, chat::events::Sender::agent);
    // the customer's messages got read_at: its cached copy of the closed chat goes, on every node
    EXPECT_EQ(rd.value().cache.kind, chat::CacheEffect::Kind::drop);
    EXPECT_EQ(rd.value().cache.key, "s1");
    EXPECT_EQ(ev[0].cache_key, "s1");
    EXPECT_EQ(ev[0].version, count("SELECT version FROM conversations WHERE id = '" + c1 + "'"));
    auto again = call([&](auto d) { svc_->read(p, c1, "{\"up_to_seq\": 100}", d); });
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_TRUE(again.value().events.empty());
    EXPECT_EQ(again.value().cache.kind, chat::CacheEffect::Kind::none) << "it marked nothing";
}

TEST_F(AgentTest, QueueViewPaginatesWithACursor) {
    std::string a = make_agent("ora", "Ora", "agent", 2, "offline");
    std::vector<std::string> convs;
    for (int i = 1; i <= 5; i++) convs.push_back(escalated("q" + std::to_string(i)));
    Principal p = principal(a);
    std::vector<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 5; page++) {
        std::string q = "view=queue&limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor);
        auto r = call([&](auto d) { svc_->conversations(p, q, d); });
        ASSERT_TRUE(r.ok()) << r.error().message;
        auto b = body(r);
        for (const auto& c : *b.find("conversations")->as_array()) seen.push_back(*c.find_string("id"));
        if (b.find("next_cursor")->is_null()) break;
        cursor = *b.find("next_cursor")->as_string();
    }
    EXPECT_EQ(seen, convs);
}

TEST_F(AgentTest, SweepRequeuesAGoneAgentsChatsAtTheFront) {
    std::string a = make_agent("pia", "Pia", "agent", 2, "online");
    std::string c1 = escalated("s1"), c2 = escalated("s2"), c3 = escalated("s3");
    EXPECT_EQ(position(c3), 1);
    std::optional<Result<std::string>> out;
    svc_->sweep(0, [&](Result<std::string> r) { out.emplace(std::move(r)); });
    ASSERT_TRUE(loop_.run_until([&] { return out.has_value(); }, 10000));
    ASSERT_TRUE(out->ok()) << out->error().message;
    auto v = chat::json::parse(out->value());
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v.value().find("offline")->as_array()->size(), 1u);
    EXPECT_EQ(v.value().find("requeued")->as_array()->size(), 2u);
    EXPECT_EQ(db().q("SELECT presence FROM agents WHERE id = '" + a + "'"), "offline");
    EXPECT_EQ(position(c1), 1);
    EXPECT_EQ(position(c2), 2);
    EXPECT_EQ(position(c3), 3);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE metadata->>'event' = 'requeued'"), 2);
    // a fresh heartbeat keeps an agent: with a long grace nothing happens
    db().q("SELECT chat_agent_presence('" + a + "', 'online')");
    EXPECT_EQ(assignee(c1), a);
    out.reset();
    svc_->sweep(60000, [&](Result<std::string> r) { out.emplace(std::move(r)); });
    ASSERT_TRUE(loop_.run_until([&] { return out.has_value(); }, 10000));
    EXPECT_EQ(assignee(c1), a);
    EXPECT_EQ(db().q("SELECT presence FROM agents WHERE id = '" + a + "'"), "online");
}

TEST_F(AgentTest, AdminManagesAgents) {
    std::string admin = make_agent("root", "Root", "admin", 0, "online");
    std::string plain = make_agent("quin", "Quin", "agent", 2, "online");
    Principal pa = principal(admin), pq = principal(plain);
    std::string create =
        "{\"username\": \"rita\", \"display_name\": \"Rita\", \"password\": \"long enough pw\", "
        "\"role\": \"agent\", \"max_active_chats\": 3}";
    EXPECT_EQ(call([&](auto d) { svc_->admin_create_agent(pq, create, d); }).error().code, Errc::forbidden);
    EXPECT_EQ(call([&](auto d) { svc_->admin_agents(pq, "", d); }).error().code, Errc::forbidden);
    auto weak = call([&](auto d) {
        svc_->admin_create_agent(pa, "{\"username\": \"x\", \"display_name\": \"X\", \"password\": \"short\"}", d);
    });
    EXPECT_EQ(weak.error().code, Errc::validation);
    auto made = call([&](auto d) { svc_->admin_create_agent(pa, create, d); });
    ASSERT_TRUE(made.ok()) << made.error().message;
    EXPECT_EQ(made.value().status, 201);
    std::string rita = *body(made).find("agent")->find_string("id");
    EXPECT_EQ(body(made).find("agent")->find_int("max_active_chats"), 3);
    auto taken = call([&](auto d) { svc_->admin_create_agent(pa, create, d); });
    EXPECT_EQ(taken.error().code, Errc::conflict);

    auto login = call([&](auto d) { svc_->login(login_body("rita", "long enough pw"), "10.0.0.9", "default", d); });
    ASSERT_TRUE(login.ok()) << login.error().message;
    ASSERT_TRUE(auth(login.value().cookie.value).ok());

    // a password change revokes earlier tokens
    auto upd = call([&](auto d) {
        svc_->admin_update_agent(pa, rita, "{\"password\": \"another long pw\", \"display_name\": \"Rita R\"}", d);
    });
    ASSERT_TRUE(upd.ok()) << upd.error().message;
    EXPECT_EQ(*body(upd).find("agent")->find_string("display_name"), "Rita R");
    EXPECT_EQ(auth(login.value().cookie.value).error().code, Errc::unauthorized);
    EXPECT_FALSE(call([&](auto d) { svc_->login(login_body("rita", "long enough pw"), "10.0.0.9", "default", d); }).ok());
    auto relog = call([&](auto d) { svc_->login(login_body("rita", "another long pw"), "10.0.0.9", "default", d); });
    ASSERT_TRUE(relog.ok()) << relog.error().message;
    EXPECT_EQ(call([&](auto d) { svc_->admin_update_agent(pa, rita, "{\"role\": \"king\"}", d); }).error().code,
              Errc::validation);
    EXPECT_EQ(call([&](auto d) { svc_->admin_update_agent(pa, "nope", "{}", d); }).error().code, Errc::not_found);

    // delete: Quin's chats go back to the queue, Quin can't log in, history keeps the name
    std::string c1 = escalated("s1");
    EXPECT_EQ(assignee(c1), plain);
    auto del = call([&](auto d) { svc_->admin_delete_agent(pa, plain, d); });
    ASSERT_TRUE(del.ok()) << del.error().message;
    EXPECT_EQ(del.value().status, 204);
    EXPECT_EQ(assignee(c1), "");
    EXPECT_EQ(position(c1), 1);
    EXPECT_EQ(auth(token_for(plain)).error().code, Errc::unauthorized);
    EXPECT_EQ(call([&](auto d) { svc_->login(login_body("quin", kPassword), "10.0.0.9", "default", d); }).error().code,
              Errc::unauthorized);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE content = 'Quin joined the chat'"), 1);
    EXPECT_EQ(call([&](auto d) { svc_->admin_delete_agent(pa, admin, d); }).error().code, Errc::invalid_state);
    auto list = call([&](auto d) { svc_->admin_agents(pa, "", d); });
    EXPECT_EQ(body(list).find("agents")->as_array()->size(), 2u);
    auto withdel = call([&](auto d) { svc_->admin_agents(pa, "deleted=1", d); });
    EXPECT_EQ(body(withdel).find("agents")->as_array()->size(), 3u);
    // Rita comes online: she takes the requeued chat
    auto pr = auth(relog.value().cookie.value);
    ASSERT_TRUE(pr.ok());
    call([&](auto d) { svc_->presence(pr.value(), "{\"presence\": \"online\"}", d); });
    EXPECT_EQ(assignee(c1), rita);
}

// The admin API's input rules read their bounds from chat/limits.h: a value at each limit
// is accepted, one past it is a 422.
TEST_F(AgentTest, AdminInputStopsAtTheLimitsTable) {
    namespace limits = chat::limits;
    Principal pa = principal(make_agent("root", "Root", "admin", 0));
    auto create = [&](const std::string& username, const std::string& name, std::int64_t max) {
        std::string b = "{\"username\": \"" + username + "\", \"display_name\": \"" + name +
                        "\", \"password\": \"long enough pw\", \"max_active_chats\": " + std::to_string(max) + "}";
        return call([&](auto d) { svc_->admin_create_agent(pa, b, d); });
    };
    auto status_of = [](const auto& r) { return r.ok() ? r.value().status : chat::errc_http_status(r.error().code); };
    std::string u_at(limits::kUsernameBytes.max, 'u'), u_past(limits::kUsernameBytes.max + 1, 'v');
    std::string n_at(limits::kDisplayNameBytes.max, 'n'), n_past(limits::kDisplayNameBytes.max + 1, 'n');
    EXPECT_EQ(status_of(create(u_at, n_at, limits::kMaxActiveChats.max)), 201);
    EXPECT_EQ(status_of(create(u_past, "V", 1)), 422);
    EXPECT_EQ(status_of(create("nora", n_past, 1)), 422);
    EXPECT_EQ(status_of(create("mike", "Mike", limits::kMaxActiveChats.max + 1)), 422);
    EXPECT_EQ(status_of(create("mina", "Mina", limits::kMaxActiveChats.min)), 201);
    EXPECT_EQ(status_of(create("milo", "Milo", limits::kMaxActiveChats.min - 1)), 422);
    std::string pw_short(limits::kPasswordMinChars - 1, 'p');
    EXPECT_EQ(status_of(call([&](auto d) {
                  svc_->admin_create_agent(
                      pa, "{\"username\": \"pat\", \"display_name\": \"P\", \"password\": \"" + pw_short + "\"}", d);
              })),
              422);

    auto faq = [&](const std::string& slug, std::size_t question, std::size_t keyword) {
        std::string b = "{\"slug\": \"" + slug + "\", \"question\": \"" + std::string(question, 'q') +
                        "\", \"answer\": \"a\", \"keywords\": [\"" + std::string(keyword, 'k') + "\"]}";
        return call([&](auto d) { svc_->admin_create_faq(pa, b, d); });
    };
    std::string s_at(limits::kFaqSlugBytes.max, 's'), s_past(limits::kFaqSlugBytes.max + 1, 't');
    auto q_max = static_cast<std::size_t>(limits::kFaqQuestionChars.max);
    auto k_max = static_cast<std::size_t>(limits::kFaqKeywordChars.max);
    EXPECT_EQ(status_of(faq(s_at, q_max, k_max)), 201);
    EXPECT_EQ(status_of(faq(s_past, 1, 1)), 422);
    EXPECT_EQ(status_of(faq("q-past", q_max + 1, 1)), 422);
    EXPECT_EQ(status_of(faq("k-past", 1, k_max + 1)), 422);

    for (std::string_view view : limits::kAgentViews)
        EXPECT_TRUE(call([&](auto d) { svc_->conversations(pa, "view=" + std::string(view), d); }).ok()) << view;
    std::string page_at = "limit=" + std::to_string(limits::kAgentPage.max);
    std::string page_past = "limit=" + std::to_string(limits::kAgentPage.max + 1);
    EXPECT_TRUE(call([&](auto d) { svc_->conversations(pa, page_at, d); }).ok());
    EXPECT_EQ(status_of(call([&](auto d) { svc_->conversations(pa, page_past, d); })), 422);
    for (std::string_view presence : limits::kPresences) {
        std::string b = "{\"presence\": \"" + std::string(presence) + "\"}";
        EXPECT_EQ(status_of(call([&](auto d) { svc_->presence(pa, b, d); })), 200) << presence;
    }
    EXPECT_EQ(status_of(call([&](auto d) { svc_->presence(pa, "{\"presence\": \"busy\"}", d); })), 422);
}

TEST_F(AgentTest, AdminManagesTheFaq) {
    std::string admin = make_agent("root", "Root", "admin", 0);
    Principal pa = principal(admin);
    std::string v0 = db().q("SELECT version FROM chat_faq_version");
    std::string entry =
        "{\"slug\": \"shipping-time\", \"question\": \"How long does shipping take?\", "
        "\"answer\": \"3-5 days.\", \"display_order\": 1, \"keywords\": [\"shipping\", \"delivery\"]}";
    auto made = call([&](auto d) { svc_->admin_create_faq(pa, entry, d); });
    ASSERT_TRUE(made.ok()) << made.error().message;
    EXPECT_EQ(made.value().status, 201);
    EXPECT_EQ(*body(made).find("faq")->find_string("slug"), "shipping-time");
    EXPECT_EQ(call([&](auto d) { svc_->admin_create_faq(pa, entry, d); }).error().code, Errc::conflict);
    EXPECT_EQ(call([&](auto d) { svc_->admin_create_faq(pa, "{\"slug\": \"Bad Slug\", \"question\": \"q\", \"answer\": \"a\"}", d); })
                  .error()
                  .code,
              Errc::validation);
    auto upd = call([&](auto d) { svc_->admin_update_faq(pa, "shipping-time", "{\"is_active\": false}", d); });
    ASSERT_TRUE(upd.ok()) << upd.error().message;
    EXPECT_EQ(body(upd).find("faq")->find("is_active")->as_bool(), false);
    auto list = call([&](auto d) { svc_->admin_faq(pa, d); });
    ASSERT_EQ(body(list).find("faq")->as_array()->size(), 1u);
    auto del = call([&](auto d) { svc_->admin_delete_faq(pa, "shipping-time", d); });
    ASSERT_TRUE(del.ok());
    EXPECT_EQ(del.value().status, 204);
    EXPECT_EQ(call([&](auto d) { svc_->admin_delete_faq(pa, "shipping-time", d); }).error().code, Errc::not_found);
    EXPECT_EQ(std::atoll(db().q("SELECT version FROM chat_faq_version").c_str()), std::atoll(v0.c_str()) + 3);
}

// 30 customers escalate at once through two pools ("two nodes", 4 connections each)
// against 2 agents with capacity 2.
TEST_F(AgentTest, ConcurrentEscalationsNeverExceedCapacity) {
    make_agent("sam", "Sam", "agent", 2, "online");
    make_agent("tia", "Tia", "agent", 2, "online");
    for (int i = 0; i < 30; i++)
        db().q("SELECT chat_open_session('c" + std::to_string(i) + "', NULL, 'Hi!', 50, 'default')");
    chat::pg::PoolConfig cfg;
    cfg.conninfo = g_conninfo;
    cfg.size = 4;
    cfg.queue_timeout_ms = 20000;
    cfg.query_timeout_ms = 20000;
    chat::pg::Pool second(loop_, cfg);
    second.start();
    ASSERT_TRUE(loop_.run_until([&] { return second.stats().connected == 4; }, 5000));
    int finished = 0, failed = 0;
    for (int i = 0; i < 30; i++) {
        chat::pg::Pool& pool = i % 2 ? second : *pool_;
        pool.query("SELECT chat_escalate($1, $2, NULL, 'away')::text", {"c" + std::to_string(i), kQueued},
                   [&](Result<chat::pg::QueryResult> r) {
                       finished++;
                       if (!r.ok()) {
                           failed++;
                           ADD_FAILURE() << r.error().message;
                       }
                   });
    }
    ASSERT_TRUE(loop_.run_until([&] { return finished == 30; }, 30000));
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(count("SELECT count(*) FROM conversations WHERE status = 'agent' AND assigned_agent_id IS NOT NULL"), 4);
    EXPECT_EQ(count("SELECT max(chat_agent_active(id)) FROM agents"), 2);
    EXPECT_EQ(db().q("SELECT string_agg(p::text, ',' ORDER BY p) FROM (SELECT chat_queue_position(c) p "
                     "FROM conversations c WHERE assigned_agent_id IS NULL) q"),
              [] {
                  std::string s;
                  for (int i = 1; i <= 26; i++) s += (i > 1 ? "," : "") + std::to_string(i);
                  return s;
              }());
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE metadata->>'event' = 'queued'"), 26);
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE metadata->>'event' = 'assigned'"), 4);
    second.shutdown();
    loop_.run_until([] { return false; }, 50);
}

// --- login limits (issue 9, item 7) ---------------------------------------------------

TEST(LoginGate, BoundsLoginsInProgressInTotalAndPerAddress) {
    chat::agent::LoginGate gate(3, 2);
    auto a1 = gate.enter("10.0.0.1");
    auto a2 = gate.enter("10.0.0.1");
    EXPECT_TRUE(a1 && a2);
    EXPECT_FALSE(gate.enter("10.0.0.1")) << "a third login from one address waits for none: refused";
    auto b1 = gate.enter("10.0.0.2");
    EXPECT_TRUE(b1) << "another address still gets in";
    EXPECT_FALSE(gate.enter("10.0.0.3")) << "the total is full";
    EXPECT_EQ(gate.in_progress(), 3);
    a1.reset();
    EXPECT_EQ(gate.in_progress(), 2);
    auto a3 = gate.enter("10.0.0.1");
    EXPECT_TRUE(a3) << "a finished login gives its place back";
    {
        std::optional<chat::agent::LoginGate::Ticket> moved(std::move(*b1));
        b1.reset();
        EXPECT_EQ(gate.in_progress(), 3) << "a moved-from ticket gives nothing back";
    }
    EXPECT_EQ(gate.in_progress(), 2);
    a2.reset();
    a3.reset();
    EXPECT_EQ(gate.in_progress(), 0);
    EXPECT_TRUE(gate.enter("10.0.0.9"));
}

TEST(LoginGate, ATicketMayOutliveItsGate) {
    std::optional<chat::agent::LoginGate::Ticket> t;
    {
        chat::agent::LoginGate gate(1, 1);
        t = gate.enter("10.0.0.1");
        ASSERT_TRUE(t);
    }
    t.reset();    // gives back nothing (ASan would see a use after free)
    SUCCEED();
}

TEST_F(AgentTest, ConcurrentWrongGuessesNeverExceedTheLimit) {
    chat::agent::Settings s;
    s.login_queue = 64;
    s.login_address_queue = 64;    // all 30 reach Postgres at once
    svc_.emplace(loop_, *pool_, exec_, kSecret, s);
    make_agent("carol", "Carol");
    std::vector<std::optional<Result<Answer>>> out(30);
    for (int i = 0; i < 30; i++)
        svc_->login(login_body("carol", "guess number " + std::to_string(i)), "10.0.1.1", "default",
                    [&out, i](Result<Answer> r) { out[i].emplace(std::move(r)); });
    ASSERT_TRUE(loop_.run_until([&] { return std::all_of(out.begin(), out.end(), [](auto& o) { return o.has_value(); }); },
                                60000));
    int unauthorized = 0, limited = 0;
    for (auto& o : out) {
        if (!o->ok() && o->error().code == Errc::unauthorized) unauthorized++;
        if (o->ok() && o->value().status == 429 && o->value().retry_after_s > 0) limited++;
    }
    EXPECT_EQ(unauthorized, 10) << "only the limit's worth of guesses is ever checked";
    EXPECT_EQ(limited, 20);
    EXPECT_EQ(count("SELECT count(*) FROM login_failures WHERE username = 'carol'"), 10);
}

TEST_F(AgentTest, AnAddressIsLimitedAcrossUsernamesAndSuccessesNeverCount) {
    chat::agent::Settings s;
    s.login_max_address_failures = 5;
    svc_.emplace(loop_, *pool_, exec_, kSecret, s);
    make_agent("dave", "Dave");
    for (int i = 0; i < 4; i++) {
        auto r = call([&](auto d) { svc_->login(login_body("random" + std::to_string(i), "pw-" + std::to_string(i)), "10.0.2.1", "default", d); });
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::unauthorized) << i;
    }
    for (int i = 0; i < 6; i++) {
        auto ok = call([&](auto d) { svc_->login(login_body("dave", kPassword), "10.0.2.1", "default", d); });
        ASSERT_TRUE(ok.ok()) << ok.error().message;
        EXPECT_EQ(ok.value().status, 200) << "successful login " << i << " does not count";
    }
    auto fifth = call([&](auto d) { svc_->login(login_body("random-x", "pw"), "10.0.2.1", "default", d); });
    ASSERT_FALSE(fifth.ok());
    EXPECT_EQ(fifth.error().code, Errc::unauthorized) << "the fifth failure is still checked";
    auto sixth = call([&](auto d) { svc_->login(login_body("random-y", "pw"), "10.0.2.1", "default", d); });
    ASSERT_TRUE(sixth.ok());
    EXPECT_EQ(sixth.value().status, 429) << "a sixth username from the address is refused";
    EXPECT_GT(sixth.value().retry_after_s, 0);
    EXPECT_LE(sixth.value().retry_after_s, 300);
    auto right = call([&](auto d) { svc_->login(login_body("dave", kPassword), "10.0.2.1", "default", d); });
    ASSERT_TRUE(right.ok());
    EXPECT_EQ(right.value().status, 429) << "while the address is limited, even a right password";
    auto elsewhere = call([&](auto d) { svc_->login(login_body("dave", kPassword), "10.0.2.2", "default", d); });
    ASSERT_TRUE(elsewhere.ok());
    EXPECT_EQ(elsewhere.value().status, 200) << "another address is not affected";
    EXPECT_EQ(count("SELECT count(*) FROM login_failures WHERE address = '10.0.2.1'"), 5);
}

TEST_F(AgentTest, IPv6AddressesOfOneSlash64ShareTheirLimit) {
    chat::agent::Settings s;
    s.login_max_address_failures = 3;
    svc_.emplace(loop_, *pool_, exec_, kSecret, s);
    for (int i = 1; i <= 3; i++) {
        auto r = call([&](auto d) { svc_->login(login_body("u" + std::to_string(i), "pw"), "2001:db8:7:7::" + std::to_string(i), "default", d); });
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::unauthorized);
    }
    auto r = call([&](auto d) { svc_->login(login_body("u4", "pw"), "2001:db8:7:7:1234::99", "default", d); });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().status, 429);
}

TEST_F(AgentTest, LoginsInProgressFromOneAddressAreBoundedAndRefusedAtOnce) {
    chat::agent::Settings s;
    s.login_address_queue = 1;
    svc_.emplace(loop_, *pool_, exec_, kSecret, s);
    make_agent("erin", "Erin");
    std::optional<Result<Answer>> first, second, other;
    svc_->login(login_body("nobody-1", "pw"), "10.0.3.1", "default", [&](Result<Answer> r) { first.emplace(std::move(r)); });
    svc_->login(login_body("nobody-2", "pw"), "10.0.3.1", "default", [&](Result<Answer> r) { second.emplace(std::move(r)); });
    svc_->login(login_body("erin", kPassword), "10.0.3.2", "default", [&](Result<Answer> r) { other.emplace(std::move(r)); });
    ASSERT_TRUE(loop_.run_until([&] { return first && second && other; }, 20000));
    ASSERT_FALSE(first->ok());
    EXPECT_EQ(first->error().code, Errc::unauthorized);
    ASSERT_TRUE(second->ok());
    EXPECT_EQ(second->value().status, 429) << "the second login in progress from one address is refused";
    EXPECT_EQ(second->value().retry_after_s, 1);
    ASSERT_TRUE(other->ok()) << other->error().message;
    EXPECT_EQ(other->value().status, 200) << "another address gets in meanwhile";
    EXPECT_EQ(count("SELECT count(*) FROM login_failures WHERE address = '10.0.3.1'"), 1)
        << "the refused attempt never counted";
    auto later = call([&](auto d) { svc_->login(login_body("nobody-3", "pw"), "10.0.3.1", "default", d); });
    ASSERT_FALSE(later.ok());
    EXPECT_EQ(later.error().code, Errc::unauthorized) << "the place is free again once the first is answered";
}

TEST_F(AgentTest, AFullHashingQueueAnswers429AndTheAttemptDoesNotCount) {
    FullExecutor full(loop_);
    svc_.emplace(loop_, *pool_, full, kSecret, chat::agent::Settings{});
    make_agent("frank", "Frank");
    auto r = call([&](auto d) { svc_->login(login_body("frank", kPassword), "10.0.4.1", "default", d); });
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().status, 429);
    EXPECT_EQ(r.value().retry_after_s, 1);
    EXPECT_TRUE(r.value().cookie.value.empty());
    EXPECT_EQ(count("SELECT count(*) FROM login_failures"), 0);
    svc_.reset();
}

TEST_F(AgentTest, OldFailuresArePrunedInBoundedBatches) {
    db().q("INSERT INTO login_failures (username, address, at) SELECT 'old' || i, '192.0.2.' || (i % 250), "
           "now() - interval '1 day' FROM generate_series(1, 150) i");
    db().q("INSERT INTO login_failures (username, address, at) VALUES ('recent', '192.0.2.1', now() - interval '1 minute')");
    auto r = call([&](auto d) { svc_->login(login_body("someone", "pw"), "10.0.5.1", "default", d); });
    EXPECT_EQ(r.error().code, Errc::unauthorized);
    EXPECT_EQ(count("SELECT count(*) FROM login_failures WHERE username LIKE 'old%'"), 50) << "one batch of 100";
    r = call([&](auto d) { svc_->login(login_body("someone", "pw"), "10.0.5.1", "default", d); });
    EXPECT_EQ(count("SELECT count(*) FROM login_failures WHERE username LIKE 'old%'"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM login_failures WHERE username IN ('recent', 'someone')"), 3)
        << "failures within the window stay";
}

}  // namespace
