// The typed rendering of conversations and messages (conversation_json) against the JSON SQL writes for the same rows, and the customer post's answer, cache snapshot and events against the JSON path (CHAT_TEST_PG).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "chat/conversation_json.h"
#include "chat/customer.h"
#include "chat/epoll_loop.h"
#include "chat/events.h"
#include "chat/json.h"
#include "chat/pg_pool.h"
#include "test_schema.h"

namespace {

namespace cj = chat::conversation_json;

// The event as an agent socket hears it (events::json_for_agents).
std::string agents_copy(const chat::events::Event& e) {
    std::string scratch;
    return std::string(chat::events::json_for_agents(e, scratch));
}
using chat::EpollLoop;
using chat::Errc;
using chat::Outcome;
using chat::Result;

std::string ts(std::int64_t ms) {
    std::string s;
    cj::append_timestamp(s, ms);
    return s;
}

TEST(ConversationJsonTimestamp, WritesChatTsUtcWithMillisecondsAcrossLeapYearsAndTheEpoch) {
    EXPECT_EQ(ts(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(ts(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(ts(951868799999), "2000-02-29T23:59:59.999Z");
    EXPECT_EQ(ts(4107542400000), "2100-03-01T00:00:00.000Z");
    EXPECT_EQ(ts(1796049923123), "2026-11-30T14:45:23.123Z");
    EXPECT_EQ(ts(-2208988800000), "1900-01-01T00:00:00.000Z");
}

// Years 0 to 9999 are written two digits at a time, the rest digit by digit: both agree with
// the C library's gmtime at every step of a sweep, and at the edges between them.
TEST(ConversationJsonTimestamp, AgreesWithGmtimeFromYear0ToYear9999AndBeyond) {
    const auto reference = [](std::int64_t ms) {
        const std::int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
        const std::time_t t = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - secs * 1000));
        return std::string(buf);
    };
    constexpr std::int64_t kYear0 = -62167219200000, kYear10000 = 253402300800000;
    for (std::int64_t ms = kYear0; ms < kYear10000; ms += 86400000LL * 37 + 12345679) {
        ASSERT_EQ(ts(ms), reference(ms)) << ms;
    }
    EXPECT_EQ(ts(kYear0), "0000-01-01T00:00:00.000Z");
    EXPECT_EQ(ts(kYear0 - 1), "-0001-12-31T23:59:59.999Z");
    EXPECT_EQ(ts(kYear10000 - 1), "9999-12-31T23:59:59.999Z");
    EXPECT_EQ(ts(kYear10000), "10000-01-01T00:00:00.000Z");
}

std::vector<cj::Text> texts(const std::vector<const char*>& v) {
    std::vector<cj::Text> out;
    for (const char* s : v) out.push_back(s ? cj::Text(s) : std::nullopt);
    return out;
}

TEST(ConversationJsonColumns, RejectsAWrongCountAndValuesThatAreNotTheirColumns) {
    std::vector<const char*> msg = {"m", "c", "1", "customer", nullptr, "text", "hi", "{}", "0", nullptr};
    ASSERT_TRUE(cj::message_from(texts(msg)).ok());
    const auto all = texts(msg);
    EXPECT_FALSE(cj::message_from(std::span(all).subspan(1)).ok());
    for (std::size_t i : {0u, 2u, 3u, 7u, 8u}) {
        auto bad = msg;
        bad[i] = nullptr;
        EXPECT_FALSE(cj::message_from(texts(bad)).ok()) << "NULL in column " << i;
    }
    auto bad = msg;
    bad[2] = "1x";
    EXPECT_FALSE(cj::message_from(texts(bad)).ok());
    bad = msg;
    bad[9] = "";
    EXPECT_FALSE(cj::message_from(texts(bad)).ok());
    std::vector<const char*> conv = {"c", "automated", nullptr, nullptr, nullptr, "{}", nullptr, nullptr,
                                     nullptr, nullptr, nullptr, "normal", "f", "", nullptr, nullptr,
                                     "2", "1", "0", "0", nullptr, nullptr, "3"};
    ASSERT_TRUE(cj::conversation_from(texts(conv)).ok());
    auto badc = conv;
    badc[12] = "true";
    EXPECT_FALSE(cj::conversation_from(texts(badc)).ok()) << "a bool is t or f";
    badc = conv;
    badc[16] = "99999999999999999999";
    EXPECT_FALSE(cj::conversation_from(texts(badc)).ok());
    Result<std::string> j = cj::render(cj::conversation_from(texts(conv)).value());
    ASSERT_TRUE(j.ok());
    EXPECT_TRUE(chat::json::parse(j.value()).ok()) << j.value();
    auto m = cj::message_from(texts(msg)).value();
    m.metadata = "{\"a\":";
    EXPECT_FALSE(cj::render(m).ok()) << "metadata that is not JSON is an error, not a broken answer";
}

// Metadata is written exactly as parsing it and writing it back would, whether or not the
// compacting shortcut takes it: jsonb's spacing, escapes, numbers, repeated keys, depth, bad text.
TEST(ConversationJsonMetadata, IsWhatParsingAndWritingItGivesForEveryKindOfJsonbText) {
    std::vector<const char*> msg = {"m", "c", "1", "customer", nullptr, "text", "hi", "{}", "0", nullptr};
    const std::string deep = std::string(40, '[') + std::string(40, ']');
    const std::string deep_ok = std::string(16, '[') + std::string(16, ']');
    const std::vector<std::string> texts_in = {
        "{}", "[]", "{\"faq\": \"x\", \"in_reply_to\": \"0190-ab\"}", " {\"a\" :\t[1, -2, 0, true, false, null, {}] }\n",
        "{\"a\": {\"b\": [[], {\"c\": \"d e\"}]}}", "{\"n\": -0}", "{\"n\": 1.0}", "{\"n\": 1e3}", "{\"n\": 012}",
        "{\"faq\": \"shipping-time\", \"score\": 6.99113063676554, \"in_reply_to\": \"01a2\"}", "{\"n\": 0.5}",
        "{\"n\": -2.5e-7}", "{\"n\": 1e+21}", "{\"n\": 0.0}", "{\"n\": -0.0}", "{\"n\": 0.10}", "{\"n\": 1E5}",
        "{\"n\": 1e999}", "{\"n\": 1e-999}", "{\"n\": 1.}", "{\"n\": .5}", "{\"n\": 1e}",
        "{\"n\": 123456789012345678}", "{\"n\": 1234567890123456789}", "{\"n\": 99999999999999999999}",
        "{\"s\": \"a\\\"b\\\\c\\n\\u0001\\/\"}", "{\"s\": \"<b>&amp;</b>\"}", "{\"s\": \"caf\xc3\xa9 \xe2\x80\xa8\"}",
        "{\"a\": 1, \"a\": 2}", "{\"a\": 1, \"b\": 2, \"a\": 3}", "\"just a string\"", "42", "null", "tru", "nullx",
        "{\"a\": 1,}", "[1 2]", "{\"a\" 1}", "{\"a\": 1} x", "", " ", deep, deep_ok,
    };
    for (const std::string& in : texts_in) {
        auto m = cj::message_from(texts(msg)).value();
        m.metadata = in;
        chat::json::Limits lim;
        lim.max_bytes = 64u << 20;
        auto parsed = chat::json::parse(in, lim);
        auto j = cj::render(m);
        ASSERT_EQ(j.ok(), parsed.ok()) << in;
        if (!parsed.ok()) continue;
        const std::string want = "\"metadata\":" + chat::json::to_string(parsed.value()) + ",\"created_at\"";
        EXPECT_NE(j.value().find(want), std::string::npos) << in << " -> " << j.value();
    }
}

// Test set-up only: blocking libpq (the code under test is the async pool).
class Db {
public:
    explicit Db(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
        PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
    }
    ~Db() { PQfinish(c_); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
    std::string error() const { return PQerrorMessage(c_); }
    // The rows of the last statement as text (nullopt for NULL); an error's message in `err`.
    std::vector<std::vector<cj::Text>> rows(const std::string& sql) {
        keep_.emplace_back(PQexec(c_, sql.c_str()));
        PGresult* r = keep_.back().get();
        std::vector<std::vector<cj::Text>> out;
        auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            err = PQresultErrorMessage(r);
            ADD_FAILURE() << sql << ": " << err;
            return out;
        }
        for (int i = 0; i < PQntuples(r); ++i) {
            auto& row = out.emplace_back();
            for (int c = 0; c < PQnfields(r); ++c)
                row.push_back(PQgetisnull(r, i, c) ? std::nullopt
                                                   : cj::Text(std::string_view(PQgetvalue(r, i, c),
                                                                               static_cast<std::size_t>(
                                                                                   PQgetlength(r, i, c)))));
        }
        return out;
    }
    std::string q(const std::string& sql) {
        auto r = rows(sql);
        return !r.empty() && !r[0].empty() && r[0][0] ? std::string(*r[0][0]) : std::string();
    }
    std::string err;

private:
    struct Clear {
        void operator()(PGresult* r) const { PQclear(r); }
    };
    PGconn* c_;
    std::vector<std::unique_ptr<PGresult, Clear>> keep_;
};


std::string compact(std::string_view json) {
    chat::json::Limits lim;
    lim.max_bytes = 64u << 20;
    auto v = chat::json::parse(json, lim);
    EXPECT_TRUE(v.ok()) << json;
    return v.ok() ? chat::json::to_string(v.value()) : std::string();
}

std::string g_conninfo;
std::string g_error;

// Content and metadata that test the escaping: quotes, backslash, controls, HTML, non-ASCII,
// U+2028, an emoji.
const std::string kTricky = "say \"hi\" \\ back\n\ttab \x01 </script> & caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80";

class ConversationJsonDb : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto schema = chat::testing::create_test_schema("chat_cjtest");
        g_conninfo = schema.conninfo;
        g_error = schema.error;
    }
    static void TearDownTestSuite() { chat::testing::drop_test_schema("chat_cjtest"); }

    void SetUp() override {
        ASSERT_TRUE(g_error.empty()) << g_error;
        db_.emplace(g_conninfo);
        ASSERT_TRUE(db_->ok()) << db_->error();
        db_->q("TRUNCATE messages, conversations, customers, department_agents, departments, agents CASCADE");
        agent_ = db_->q("INSERT INTO agents (username, display_name, password_hash, presence) "
                        "VALUES ('ann', 'Ann \"A\" \xc3\x85str\xc3\xb6m', 'x', 'online') RETURNING id");
        dept_ = db_->q("INSERT INTO departments (name) VALUES ('Billing & <Co>') RETURNING id");
        customer_ = db_->q("INSERT INTO customers (name, email) VALUES ('Zo\xc3\xab', 'zoe@example.com') RETURNING id");
        nameless_ = db_->q("INSERT INTO customers (email) VALUES ('x@example.com') RETURNING id");
    }

    Db& db() { return *db_; }

    std::optional<Db> db_;
    std::string agent_, dept_, customer_, nameless_;
};

// Every conversation and message in the database: the typed columns rendered equal SQL's JSON
// as core writes it (compacted).
void expect_same_rendering(Db& db) {
    for (const char* viewer : {"customer", "agent"}) {
        auto rows = db.rows(std::string("SELECT chat_conversation_json(c, '") + viewer + "')::text, r.* FROM conversations c "
                            "CROSS JOIN LATERAL chat_conversation_row(c, '" + viewer + "') r ORDER BY c.created_at");
        ASSERT_FALSE(rows.empty());
        for (const auto& row : rows) {
            auto c = cj::conversation_from(std::span(row).subspan(1));
            ASSERT_TRUE(c.ok()) << c.error().message;
            auto j = cj::render(c.value());
            ASSERT_TRUE(j.ok()) << j.error().message;
            EXPECT_EQ(j.value(), compact(*row[0])) << viewer;
        }
    }
    auto rows = db.rows("SELECT chat_message_json(m)::text, r.* FROM messages m "
                        "CROSS JOIN LATERAL chat_message_row(m) r ORDER BY m.conversation_id, m.seq");
    ASSERT_FALSE(rows.empty());
    for (const auto& row : rows) {
        auto m = cj::message_from(std::span(row).subspan(1));
        ASSERT_TRUE(m.ok()) << m.error().message;
        auto j = cj::render(m.value());
        ASSERT_TRUE(j.ok()) << j.error().message;
        EXPECT_EQ(j.value(), compact(*row[0]));
    }
}

TEST_F(ConversationJsonDb, RendersExactlyWhatSqlWritesInEveryState) {
    const std::string tricky = db().q("SELECT " + std::string("$t$") + kTricky + "$t$");
    ASSERT_EQ(tricky, kTricky);
    // automated, with a context of every JSON kind, unicode and escapes
    db().q("INSERT INTO conversations (session_id, context, last_seq, created_at, updated_at) VALUES "
           "('s1', $j${\"url\": \"/p?a=1&b=<x>\", \"n\": 1.50, \"big\": 1e3, \"neg\": -0.25, \"t\": true, "
           "\"nil\": null, \"list\": [1, \"\\u2028\", {\"deep\": [\"caf\xc3\xa9\"]}], \"q\": \"" +
           std::string("say \\\"hi\\\" \\\\ \\n \\u0001 \xf0\x9f\x98\x80") +
           "\"}$j$, 3, '2026-11-30 14:45:23.123999+00', '2026-11-30 14:45:24.5+00')");
    // queued in a department, urgent, identified, tagged; another queued before it
    db().q("INSERT INTO conversations (session_id, status, department_id, priority, customer_id, tags, queued_at, "
           "requested_agent_at, offline) VALUES "
           "('s2', 'agent', '" + dept_ + "', 'urgent', '" + customer_ + "', '{vip,billing-2}', now() - interval '1 minute', "
           "now() - interval '1 minute', true), "
           "('s3', 'agent', '" + dept_ + "', 'urgent', '" + nameless_ + "', '{}', now(), '1969-12-31 23:59:59.999+00', false), "
           "('s3b', 'agent', NULL, 'low', NULL, '{}', now(), now(), false)");
    // assigned to an agent; closed with a rating (comment and none)
    db().q("INSERT INTO conversations (session_id, status, assigned_agent_id, queued_at, requested_agent_at, "
           "customer_unread, agent_unread) VALUES ('s4', 'agent', '" + agent_ + "', now(), now(), 2, 5)");
    db().q("INSERT INTO conversations (session_id, status, assigned_agent_id, closed_at, rating_score, rating_comment, "
           "version, department_id) VALUES ('s5', 'closed', '" + agent_ + "', '2000-02-29 23:59:59.9995+00', 4, $t$" +
           kTricky + "$t$, 12, '" + dept_ + "'), ('s6', 'closed', NULL, now(), 1, NULL, 2, NULL)");
    // messages: the customer's, the bot's with metadata, an agent's read, a system event
    const std::string c1 = db().q("SELECT id FROM conversations WHERE session_id = 's1'");
    const std::string c4 = db().q("SELECT id FROM conversations WHERE session_id = 's4'");
    db().q("INSERT INTO messages (conversation_id, seq, sender_type, kind, content, metadata, created_at) VALUES "
           "('" + c1 + "', 1, 'customer', 'text', $t$" + kTricky + "$t$, '{}', '2026-11-30 14:45:23.0009+00'), "
           "('" + c1 + "', 2, 'bot', 'text', 'Track it here.', "
           "'{\"faq\": \"track\", \"score\": 0.8123, \"in_reply_to\": \"x\", \"offer_agent\": false}', now()), "
           "('" + c1 + "', 3, 'customer', 'quick_reply', '', '{\"k\": [\"\\u00e9\\ud83d\\ude00\", {}]}', now())");
    db().q("INSERT INTO messages (conversation_id, seq, sender_type, sender_agent_id, kind, content, metadata, "
           "created_at, read_at) VALUES "
           "('" + c4 + "', 1, 'agent', '" + agent_ + "', 'text', 'Hello', '{}', now(), now()), "
           "('" + c4 + "', 2, 'system', NULL, 'event', 'Ann joined', '{\"event\": \"assigned\"}', now(), NULL)");
    expect_same_rendering(db());
    // the states above are there: the queue position, the agent and department objects
    EXPECT_EQ(db().q("SELECT chat_conversation_json(c, 'customer')->>'queue_position' FROM conversations c "
                     "WHERE session_id = 's3'"),
              "2");
}

class PostTest : public ConversationJsonDb {
protected:
    void SetUp() override {
        ConversationJsonDb::SetUp();
        if (HasFatalFailure()) return;
        chat::pg::PoolConfig cfg;
        cfg.conninfo = g_conninfo;
        cfg.size = 2;
        pool_.emplace(loop_, cfg);
        pool_->start();
        ASSERT_TRUE(loop_.run_until([&] { return pool_->stats().connected == 2; }, 5000));
        svc_.emplace(loop_, *pool_, "conversation-json-test-secret-0123456789", chat::customer::Settings{});
    }
    void TearDown() override {
        svc_.reset();
        if (pool_) {
            pool_->shutdown();
            loop_.run_until([] { return false; }, 50);
        }
        pool_.reset();
    }

    Result<Outcome> post(const std::string& sid, const std::string& body) {
        std::optional<Result<Outcome>> out;
        svc_->post_message(sid, body, "default", [&](Result<Outcome> r) { out.emplace(std::move(r)); });
        if (!loop_.run_until([&] { return out.has_value(); }, 10000)) return chat::make_error(Errc::internal, "timeout");
        return std::move(*out);
    }

    // A session with its conversation (chat_open_session), changed by `update` (SQL SET list).
    std::string session(const std::string& sid, const std::string& update) {
        db().q("SELECT chat_open_session('" + sid + "', $j${\"page\": \"/caf\xc3\xa9?x=<1>\", \"n\": 2.50}$j$, "
               "'Hi!', 50, 'default')");
        if (!update.empty()) db().q("UPDATE conversations SET " + update + " WHERE session_id = '" + sid + "'");
        return sid;
    }

    // The post's answer, snapshot and events equal those of the JSON path for the same rows:
    // the replay (chat_customer_post's JSON, through the code of before) answers the same
    // conversation and messages; the events equal from_parsed's of SQL's JSON answer.
    void expect_like_json_path(const std::string& sid, const std::string& body, std::size_t messages) {
        Result<Outcome> typed = post(sid, body);
        ASSERT_TRUE(typed.ok()) << typed.error().message;
        EXPECT_EQ(typed.value().status, 201);
        EXPECT_EQ(pool_->stats().batches, batches_ + 1) << "the post went through the batch";
        batches_ = pool_->stats().batches;
        const std::string answer =
            db().q("SELECT jsonb_build_object('conversation', chat_conversation_json(c, 'customer'), "
                   "'messages', (SELECT jsonb_agg(chat_message_json(m) ORDER BY m.seq) FROM messages m "
                   "WHERE m.conversation_id = c.id AND m.seq > c.last_seq - " + std::to_string(messages) +
                   "), 'replayed', false, 'unread', chat_unread_json(c))::text FROM conversations c "
                   "WHERE session_id = '" + sid +
                   "' ORDER BY created_at DESC LIMIT 1");
        auto parsed = chat::json::parse(answer);
        ASSERT_TRUE(parsed.ok());
        const std::string conv = chat::json::to_string(*parsed.value().find("conversation"));
        std::string expected_body = "{\"conversation\":" + conv + ",\"messages\":[";
        std::vector<std::string> msgs;
        for (const auto& m : *parsed.value().find("messages")->as_array()) msgs.push_back(chat::json::to_string(m));
        for (std::size_t i = 0; i < msgs.size(); ++i) expected_body += (i ? "," : "") + msgs[i];
        expected_body += "]}";
        EXPECT_EQ(typed.value().body, expected_body);

        const auto& cache = typed.value().cache;
        if (cache.kind == chat::CacheEffect::Kind::apply) {
            EXPECT_EQ(cache.snapshot.key, sid);
            EXPECT_EQ(cache.snapshot.conversation_json, conv);
            ASSERT_EQ(cache.snapshot.messages.size(), msgs.size());
            for (std::size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(cache.snapshot.messages[i].json, msgs[i]);
            EXPECT_EQ(cache.snapshot.version, parsed.value().find("conversation")->find_int("version"));
            EXPECT_EQ(cache.snapshot.last_seq, parsed.value().find("conversation")->find_int("last_seq"));
        } else {
            EXPECT_EQ(cache.kind, chat::CacheEffect::Kind::drop);
            EXPECT_EQ(cache.key, sid);
            EXPECT_EQ(*parsed.value().find("conversation")->find_string("status"), "agent");
        }

        auto expected = chat::events::from_answer(answer, "default");
        ASSERT_EQ(typed.value().events.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            const auto& a = typed.value().events[i];
            const auto& e = expected[i];
            EXPECT_EQ(a.json, e.json);
            EXPECT_EQ(a.type, e.type);
            EXPECT_EQ(a.seq, e.seq);
            EXPECT_EQ(a.conversation_id, e.conversation_id);
            EXPECT_EQ(a.assigned_agent_id, e.assigned_agent_id);
            EXPECT_EQ(a.status, e.status);
            EXPECT_EQ(a.site, e.site);
            EXPECT_EQ(a.department_id, e.department_id);
            EXPECT_EQ(a.agent_unread, e.agent_unread);
            EXPECT_EQ(agents_copy(a), agents_copy(e));
            EXPECT_EQ(a.cache_key, sid);
            EXPECT_EQ(a.version, parsed.value().find("conversation")->find_int("version"));
            EXPECT_EQ(chat::events::encode(a), [&] {
                auto x = e;
                x.cache_key = a.cache_key;
                x.version = a.version;
                return chat::events::encode(x);
            }());
        }

        // the same client_id again: chat_customer_post's JSON, the path of before
        Result<Outcome> replay = post(sid, body);
        ASSERT_TRUE(replay.ok()) << replay.error().message;
        EXPECT_EQ(replay.value().body, typed.value().body);
        EXPECT_TRUE(replay.value().events.empty());
        batches_ = pool_->stats().batches;
    }

    EpollLoop loop_;
    std::optional<chat::pg::Pool> pool_;
    std::optional<chat::customer::Service> svc_;
    std::uint64_t batches_ = 0;
};

// A POST /messages body: {"text"} or {"faq"} (key), and its client_id.
std::string post_body(std::string_view key, const std::string& value, const std::string& client_id) {
    std::string out;
    chat::json::Writer w(out);
    w.begin_object().key(key).string(value).key("client_id").string(client_id).end_object();
    return out;
}

std::string text_body(const std::string& text, const std::string& client_id) {
    return post_body("text", text, client_id);
}

TEST_F(PostTest, AnswerSnapshotAndEventsAreByteIdenticalToTheJsonPathInEveryState) {
    // automated: the customer's message and the bot's reply, escapes and unicode in both
    expect_like_json_path(session("p1", ""), text_body(kTricky, "00000000-0000-4000-8000-000000000001"), 2);
    // queued in a department with a queue position, identified, tagged, offline
    session("p0", "status = 'agent', queued_at = now() - interval '1 hour', department_id = '" + dept_ + "'");
    expect_like_json_path(
        session("p2", "status = 'agent', queued_at = now(), requested_agent_at = now(), department_id = '" + dept_ +
                          "', customer_id = '" + customer_ + "', tags = '{vip,b-2}', priority = 'high', offline = true"),
        text_body("anyone there?", "00000000-0000-4000-8000-000000000002"), 1);
    // assigned to an agent, a customer without a name, earlier messages read
    expect_like_json_path(session("p3", "status = 'agent', assigned_agent_id = '" + agent_ +
                                            "', requested_agent_at = now(), customer_id = '" + nameless_ + "'"),
                          text_body("thanks \xe2\x80\xa8 </b>", "00000000-0000-4000-8000-000000000003"), 1);
    db().q("UPDATE messages SET read_at = now() WHERE conversation_id = "
           "(SELECT id FROM conversations WHERE session_id = 'p1')");
    expect_like_json_path("p1", text_body("again", "00000000-0000-4000-8000-000000000004"), 2);
    expect_same_rendering(db());
}

std::string faq_body(const std::string& slug, const std::string& client_id) {
    return post_body("faq", slug, client_id);
}

// The bot reply's metadata is written by core where the reply is chosen (the stored jsonb is not
// read back): a match with its score, a quick reply and the fallback each answer the bytes of the
// JSON path, in_reply_to in jsonb's key order among the others.
TEST_F(PostTest, TheBotsMetadataWrittenByCoreIsByteIdenticalForAMatchAQuickReplyAndTheFallback) {
    auto set = chat::customer::load_faq(
        R"([{"slug":"returns \"\u00e9\"","question":"How do I return an item?","answer":"Within 30 days.",)"
        R"("display_order":1,"keywords":["return","send back"],"is_active":true}])",
        1);
    ASSERT_TRUE(set.ok()) << set.error().message;
    svc_->set_faq(set.value());
    expect_like_json_path(session("q1", ""), text_body("how do I return an item", "00000000-0000-4000-8000-0000000000d1"),
                          2);
    EXPECT_NE(db().q("SELECT metadata::text FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                     "WHERE c.session_id = 'q1' AND m.sender_type = 'bot' AND m.metadata ? 'score'"),
              "")
        << "a match, with its score";
    expect_like_json_path(session("q2", ""), faq_body("returns \"\xc3\xa9\"", "00000000-0000-4000-8000-0000000000d2"), 2);
    expect_like_json_path(session("q3", ""), text_body("zzz qqq", "00000000-0000-4000-8000-0000000000d3"), 2);
    EXPECT_EQ(db().q("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                     "WHERE c.session_id IN ('q1', 'q2', 'q3') AND m.sender_type = 'bot' AND m.metadata ? 'in_reply_to'"),
              "3");
}

// An upgrade's install reloads nginx before `chatctl migrate`: until the migration creates
// chat_customer_post_batch_v2, the batch call fails (42883) and each of its posts is posted again on
// its own (chat_customer_post, post_alone): answered, not a 500, the same body as once migrated,
// stored once, its events raised. (It replaces the test of a database not yet migrated to 026:
// this core no longer reads the batch of before v2.)
TEST_F(PostTest, ADatabaseWithoutTheV2BatchIsAnsweredPostByPost) {
    struct Restore {
        Db& d;
        ~Restore() {
            d.q("ALTER FUNCTION chat_customer_post_batch_v2_away(text[], uuid[], text[], text[], text[], jsonb[]) "
                "RENAME TO chat_customer_post_batch_v2");
        }
    };
    db().q("ALTER FUNCTION chat_customer_post_batch_v2(text[], uuid[], text[], text[], text[], jsonb[]) "
           "RENAME TO chat_customer_post_batch_v2_away");
    Restore restore{db()};

    const std::string sid = session("u1", "status = 'agent', queued_at = now(), requested_agent_at = now()");
    Result<Outcome> r = post(sid, text_body("still answered", "00000000-0000-4000-8000-0000000000c1"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().status, 201);
    EXPECT_EQ(pool_->stats().batches, batches_ + 1) << "the post went to the batch first";
    EXPECT_NE(r.value().body.find("still answered"), std::string::npos) << r.value().body;
    EXPECT_FALSE(r.value().events.empty());
    // the same client_id again: replayed from what was stored once
    Result<Outcome> again = post(sid, text_body("still answered", "00000000-0000-4000-8000-0000000000c1"));
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again.value().body, r.value().body);
    EXPECT_EQ(db().q("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                     "WHERE c.session_id = 'u1' AND m.content = 'still answered'"),
              "1");
}

// chat_customer_post_batch_v2 answers only what core cannot know: the conversation, the ids of
// the two messages and the agent side's unread count. The run's rows share one clock value (the
// conversation's updated_at is both messages' created_at, the answer's c_updated_at its
// milliseconds), and created_at never goes down along seq: a later run of the batch and a post
// alone in it (the conversation's second post) come after.
TEST_F(PostTest, TheV2BatchAnswersIdsAndOneClockValueARunInSeqOrder) {
    session("v1", "");
    session("v2", "");
    auto rows = db().rows(
        "SELECT * FROM chat_customer_post_batch_v2(ARRAY['v1', 'v2', 'v1', 'v2'], "
        "ARRAY[NULL, NULL, NULL, NULL]::uuid[], ARRAY['text', 'text', 'text', 'text'], "
        "ARRAY['one', 'two', 'three', 'four'], ARRAY['bot', 'bot', 'bot', 'bot'], "
        "ARRAY['{\"faq\": \"x\"}', '{\"faq\": \"x\"}', '{\"faq\": \"x\"}', '{\"faq\": \"x\"}']::jsonb[])");
    ASSERT_EQ(rows.size(), 4u);
    ASSERT_EQ(rows[0].size(), 3u + cj::kConversationColumns + 3);
    for (std::size_t i : {0u, 1u}) {
        EXPECT_FALSE(rows[i][0]) << "item " << i << " written set-based: typed";
        auto c = cj::conversation_from(std::span(rows[i]).subspan(3, cj::kConversationColumns));
        ASSERT_TRUE(c.ok()) << c.error().message;
        const auto& m_id = rows[i][3 + cj::kConversationColumns];
        const auto& r_id = rows[i][3 + cj::kConversationColumns + 1];
        ASSERT_TRUE(m_id && r_id);
        EXPECT_EQ(*rows[i].back(), "1") << "the agent side has the post unread";
        // both messages as core renders them: their stored rows agree
        EXPECT_EQ(db().q("SELECT string_agg(seq || ' ' || sender_type || ' ' || content || ' ' || "
                         "(chat_ms(created_at) = " + std::to_string(c.value().updated_at) + "), ',' ORDER BY seq) "
                         "FROM messages WHERE id IN ('" +
                         std::string(*m_id) + "', '" + std::string(*r_id) + "')"),
                  std::string("2 customer ") + (i == 0 ? "one" : "two") + " true,3 bot bot true");
        EXPECT_EQ(db().q("SELECT metadata->>'in_reply_to' FROM messages WHERE id = '" + std::string(*r_id) + "'"),
                  std::string(*m_id));
    }
    EXPECT_EQ(db().q("SELECT count(DISTINCT m.created_at) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                     "WHERE c.session_id IN ('v1', 'v2') AND m.seq IN (2, 3)"),
              "1")
        << "one clock value for the run";
    for (std::size_t i : {2u, 3u}) ASSERT_TRUE(rows[i][0]) << "a second post of a conversation goes alone: JSON";
    EXPECT_EQ(db().q("SELECT count(*) FROM messages a JOIN messages b ON a.conversation_id = b.conversation_id "
                     "AND a.seq < b.seq AND a.created_at > b.created_at JOIN conversations c ON c.id = a.conversation_id "
                     "WHERE c.session_id IN ('v1', 'v2')"),
              "0")
        << "created_at never goes down along seq";
    EXPECT_EQ(db().q("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                     "WHERE c.session_id IN ('v1', 'v2')"),
              "10")
        << "each conversation: the greeting and two posts with their replies";
}

// Nodes older than v2 still call chat_customer_post_batch during a rolling upgrade: it answers
// both messages' rows (chat_message_row) as before, from the rows v2 wrote.
TEST_F(PostTest, TheBatchOfBeforeV2AnswersBothMessagesRowsFromWhatV2Wrote) {
    session("o1", "");
    auto rows = db().rows(
        "SELECT * FROM chat_customer_post_batch(ARRAY['o1'], ARRAY[NULL]::uuid[], ARRAY['text'], ARRAY['hello'], "
        "ARRAY['bot says'], ARRAY['{\"faq\": \"x\"}']::jsonb[])");
    ASSERT_EQ(rows.size(), 1u);
    const auto& row = rows[0];
    ASSERT_EQ(row.size(), 3u + cj::kConversationColumns + 2 * cj::kMessageColumns + 1);
    EXPECT_FALSE(row[0]) << "typed: no JSON";
    auto m = cj::message_from(std::span(row).subspan(3 + cj::kConversationColumns, cj::kMessageColumns));
    auto r = cj::message_from(std::span(row).subspan(3 + cj::kConversationColumns + cj::kMessageColumns, cj::kMessageColumns));
    ASSERT_TRUE(m.ok() && r.ok());
    auto mj = cj::render(m.value());
    auto rj = cj::render(r.value());
    ASSERT_TRUE(mj.ok() && rj.ok());
    // the stored rows, read by a statement after the call's
    const auto stored = [&](std::string_view id) {
        return compact(db().q("SELECT chat_message_json(m)::text FROM messages m WHERE m.id = '" + std::string(id) + "'"));
    };
    EXPECT_EQ(mj.value(), stored(m.value().id));
    EXPECT_EQ(rj.value(), stored(r.value().id));
    EXPECT_EQ(m.value().content, "hello");
    EXPECT_EQ(r.value().content, "bot says");
    EXPECT_EQ(r.value().seq, 3);
    EXPECT_EQ(*row.back(), "1") << "c_agent_unread";
}

// The questions the bot fell back on are counted for the reports in the batch's one statement:
// the same question twice (as chat_unmatched_text normalises it) in one batch is one row of this
// backend counted twice, and both posts are still written set-based (typed answers); a question
// that normalises to nothing is not counted, a matched one neither.
TEST_F(PostTest, TheSameUnansweredQuestionTwiceInOneBatchIsCountedTwiceAndWrittenSetBased) {
    session("n1", "");
    session("n2", "");
    session("n3", "");
    session("n4", "");
    const std::string fallback = "'{\"fallback\": true, \"offer_agent\": true}'";
    auto rows = db().rows(
        "SELECT * FROM chat_customer_post_batch(ARRAY['n1', 'n2', 'n3', 'n4'], "
        "ARRAY[NULL, NULL, NULL, NULL]::uuid[], ARRAY['text', 'text', 'text', 'text'], "
        "ARRAY['Where IS  my\tOrder? ', 'where is my order?', ' ', 'where is my order?'], "
        "ARRAY['sorry', 'sorry', 'sorry', 'answer'], "
        "ARRAY[" + fallback + ", " + fallback + ", " + fallback + ", '{\"faq\": \"x\"}']::jsonb[])");
    ASSERT_EQ(rows.size(), 4u);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_FALSE(rows[i][0]) << "item " << i << " written set-based: typed, no JSON";
        EXPECT_FALSE(rows[i][1]) << "item " << i << ": no error";
    }
    EXPECT_EQ(db().q("SELECT string_agg(text || '=' || count, ',' ORDER BY text) FROM unmatched_questions "
                     "WHERE site = 'default' AND backend = pg_backend_pid()"),
              "where is my order?=2");
    // a later batch adds to the same row
    rows = db().rows(
        "SELECT * FROM chat_customer_post_batch(ARRAY['n1'], ARRAY[NULL]::uuid[], ARRAY['text'], "
        "ARRAY['WHERE is my order?'], ARRAY['sorry'], ARRAY[" + fallback + "]::jsonb[])");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_FALSE(rows[0][0]);
    EXPECT_EQ(db().q("SELECT string_agg(text || '=' || count, ',' ORDER BY text) FROM unmatched_questions "
                     "WHERE site = 'default' AND backend = pg_backend_pid()"),
              "where is my order?=3");
}

TEST_F(PostTest, ABatchAnswersTypedColumnsOnlyForWhatItWroteSetBased) {
    session("b1", "");
    session("b2", "status = 'closed', closed_at = now()");
    // b1 twice (its second post goes alone: chat_customer_post's JSON), b2 closed (CH409)
    auto rows = db().rows(
        "SELECT * FROM chat_customer_post_batch(ARRAY['b1', 'b1', 'b2'], "
        "ARRAY['00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000b2', NULL]::uuid[], "
        "ARRAY['text', 'text', 'text'], ARRAY['one', 'two', 'three'], ARRAY['bot', 'bot', 'bot'], "
        "ARRAY['{\"faq\": \"x\"}', '{\"faq\": \"x\"}', '{\"faq\": \"x\"}']::jsonb[])");
    ASSERT_EQ(rows.size(), 3u);
    // ... then the agent side's unread count (c_agent_unread: the events agents hear carry it)
    ASSERT_EQ(rows[0].size(), 3u + cj::kConversationColumns + 2 * cj::kMessageColumns + 1);
    ASSERT_TRUE(rows[0].back());
    EXPECT_EQ(*rows[0].back(), "1") << "the agent side has the post unread";
    EXPECT_FALSE(rows[0][0]) << "typed: no JSON";
    EXPECT_FALSE(rows[0][1]);
    auto c = cj::conversation_from(std::span(rows[0]).subspan(3, cj::kConversationColumns));
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c.value().last_seq, 3) << "the greeting, the post and the bot's reply";
    auto m = cj::message_from(std::span(rows[0]).subspan(3 + cj::kConversationColumns, cj::kMessageColumns));
    auto r = cj::message_from(
        std::span(rows[0]).subspan(3 + cj::kConversationColumns + cj::kMessageColumns, cj::kMessageColumns));
    ASSERT_TRUE(m.ok() && r.ok());
    EXPECT_EQ(m.value().content, "one");
    EXPECT_EQ(m.value().seq, 2);
    EXPECT_EQ(r.value().seq, 3);
    EXPECT_EQ(r.value().sender_type, "bot");
    EXPECT_EQ(compact(r.value().metadata), "{\"faq\":\"x\",\"in_reply_to\":\"" + std::string(m.value().id) + "\"}");
    ASSERT_TRUE(rows[1][0]) << "the second post of a conversation goes alone: JSON";
    EXPECT_NE(rows[1][0]->find("\"last_seq\": 5"), std::string_view::npos) << *rows[1][0];
    for (std::size_t i = 3; i < rows[1].size(); ++i) EXPECT_FALSE(rows[1][i]) << "column " << i;
    EXPECT_FALSE(rows[2][0]);
    ASSERT_TRUE(rows[2][1]);
    EXPECT_EQ(*rows[2][1], "CH409");
    for (std::size_t i = 3; i < rows[2].size(); ++i) EXPECT_FALSE(rows[2][i]) << "column " << i;
}

}  // namespace
