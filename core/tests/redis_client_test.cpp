// The Redis client and subscriber against a real redis-server that each test starts, kills, stops and restarts.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fcntl.h>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chat/epoll_loop.h"
#include "chat/redis_client.h"

namespace {

using chat::Errc;
using chat::Result;
using chat::redis::Reply;

// A redis-server child process on a free loopback port.
class RedisServer {
public:
    RedisServer() : port_(free_port()) {}
    ~RedisServer() { stop(); }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const { return port_; }

    bool start() {
        std::string port = std::to_string(port_);
        pid_ = fork();
        if (pid_ == 0) {
            int devnull = ::open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
            _exit(127);
        }
        if (pid_ < 0) return false;
        // Test code may block: wait until the port accepts connections.
        for (int i = 0; i < 200; i++) {
            if (accepts()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGCONT);
        ::kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    void pause() { ::kill(pid_, SIGSTOP); }
    void resume() { ::kill(pid_, SIGCONT); }

private:
    static int free_port() {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
        getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
        close(s);
        return ntohs(a.sin_port);
    }

    bool accepts() const {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port_));
        bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        close(s);
        return ok;
    }

    int port_;
    pid_t pid_ = -1;
};

class RedisTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(server.start()) << "redis-server did not start"; }

    chat::redis::Config config() const {
        chat::redis::Config c;
        c.endpoint = {"127.0.0.1", server.port()};
        return c;
    }

    // Runs cmd and waits for its result.
    std::optional<Result<Reply>> call(chat::redis::Client& client, std::vector<std::string> argv,
                                      std::uint64_t timeout_ms = 2000) {
        std::optional<Result<Reply>> out;
        client.command(std::move(argv), [&](Result<Reply> r) { out.emplace(std::move(r)); });
        loop.run_until([&] { return out.has_value(); }, timeout_ms);
        return out;
    }

    bool connect(chat::redis::Client& client, std::uint64_t timeout_ms = 2000) {
        client.start();
        return loop.run_until([&] { return client.connected(); }, timeout_ms);
    }

    RedisServer server;
    chat::EpollLoop loop;
};

TEST_F(RedisTest, PingGetsPong) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    auto r = call(client, {"PING"});
    ASSERT_TRUE(r && r->ok());
    EXPECT_EQ(r->value().type, Reply::Type::status);
    EXPECT_EQ(r->value().str, "PONG");
    auto s = client.stats();
    EXPECT_TRUE(s.connected);
    EXPECT_EQ(s.commands, 1u);
    EXPECT_EQ(s.pending, 0u);
}

TEST_F(RedisTest, SetGetIsBinarySafe) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    const std::string key("k\0ey", 4);
    const std::string value("a\0b\r\n\0\xff", 7);
    auto set = call(client, {"SET", key, value});
    ASSERT_TRUE(set && set->ok());
    EXPECT_EQ(set->value().str, "OK");
    auto get = call(client, {"GET", key});
    ASSERT_TRUE(get && get->ok());
    EXPECT_EQ(get->value().type, Reply::Type::string);
    EXPECT_EQ(get->value().str, value);
    auto missing = call(client, {"GET", "nope"});
    ASSERT_TRUE(missing && missing->ok());
    EXPECT_EQ(missing->value().type, Reply::Type::nil);
    auto arr = call(client, {"MGET", key, "nope"});
    ASSERT_TRUE(arr && arr->ok());
    ASSERT_EQ(arr->value().type, Reply::Type::array);
    ASSERT_EQ(arr->value().elements.size(), 2u);
    EXPECT_EQ(arr->value().elements[0].str, value);
    EXPECT_EQ(arr->value().elements[1].type, Reply::Type::nil);
}

// The loop the client runs on, counting how often a watch starts asking for writability (an
// epoll_ctl under nginx each time, and another when it stops).
class WriteArmCountingLoop final : public chat::EventLoop {
public:
    explicit WriteArmCountingLoop(chat::EventLoop& inner) : inner_(inner) {}
    int arms = 0;

    std::unique_ptr<chat::IoWatch> watch(int fd, std::function<void(bool, bool)> on_ready) override {
        return std::make_unique<Watch>(*this, inner_.watch(fd, std::move(on_ready)));
    }
    std::unique_ptr<chat::Timer> timer(std::function<void()> on_fire) override { return inner_.timer(std::move(on_fire)); }
    void post(std::function<void()> fn) override { inner_.post(std::move(fn)); }
    std::uint64_t now_ms() override { return inner_.now_ms(); }
    std::int64_t wall_ms() override { return inner_.wall_ms(); }
    void random_bytes(std::span<std::byte> out) override { inner_.random_bytes(out); }
    void log(chat::LogLevel level, std::string_view line) noexcept override { inner_.log(level, line); }

private:
    struct Watch final : chat::IoWatch {
        Watch(WriteArmCountingLoop& l, std::unique_ptr<chat::IoWatch> w) : loop(l), inner(std::move(w)) {}
        void want_read(bool on) override { inner->want_read(on); }
        void want_write(bool on) override {
            if (on && !writing) loop.arms++;
            writing = on;
            inner->want_write(on);
        }
        WriteArmCountingLoop& loop;
        std::unique_ptr<chat::IoWatch> inner;
        bool writing = false;
    };
    chat::EventLoop& inner_;
};

// The client writes a turn's commands from the flush it posts in that turn: hiredis's request
// for a writable event per command is not armed (two epoll_ctl a flush under nginx), and every
// command still arrives and is answered.
TEST_F(RedisTest, CommandsTheTurnsFlushWritesArmNoWritableEvent) {
    WriteArmCountingLoop counting(loop);
    chat::redis::Client client(counting, config());
    ASSERT_TRUE(connect(client));
    counting.arms = 0;
    for (int i = 0; i < 20; i++) {
        auto r = call(client, {"SET", "k" + std::to_string(i), std::string(100 * i, 'x')});
        ASSERT_TRUE(r && r->ok());
        EXPECT_EQ(r->value().str, "OK");
    }
    std::vector<std::optional<Result<Reply>>> out(10);
    for (std::size_t i = 0; i < out.size(); i++)
        client.command({"PUBLISH", "c", "m" + std::to_string(i)}, [&out, i](Result<Reply> r) { out[i].emplace(std::move(r)); });
    ASSERT_TRUE(loop.run_until([&] { for (auto& o : out) if (!o) return false; return true; }, 2000));
    for (auto& o : out) EXPECT_TRUE(o->ok());
    EXPECT_EQ(counting.arms, 0);
    auto get = call(client, {"GET", "k19"});
    ASSERT_TRUE(get && get->ok());
    EXPECT_EQ(get->value().str, std::string(1900, 'x'));
}

// A command is written in Redis's protocol into one buffer kept between commands: one of a
// value larger than the buffer keeps (64 KB), and the small ones before and after it, arrive whole.
TEST_F(RedisTest, ALargeCommandAndTheSmallOnesAroundItArriveWhole) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    const std::string key = "redis-test-large-" + std::to_string(::getpid());
    std::string large(200 * 1024, 'x');
    large[0] = '\r';
    large[large.size() - 1] = '\n';
    ASSERT_TRUE(call(client, {"SET", key, "small"}));
    auto set = call(client, {"SET", key, large});
    ASSERT_TRUE(set && set->ok());
    EXPECT_EQ(set->value().str, "OK");
    auto get = call(client, {"GET", key});
    ASSERT_TRUE(get && get->ok());
    EXPECT_EQ(get->value().str, large);
    auto append = call(client, {"APPEND", key, "!"});
    ASSERT_TRUE(append && append->ok());
    EXPECT_EQ(append->value().integer, static_cast<long long>(large.size() + 1));
    call(client, {"DEL", key});
}

// The client keeps its command buffer between commands (not cleared, not cut): a command
// after a longer one sends its own bytes only.
TEST_F(RedisTest, ACommandAfterALongerOneSendsOnlyItsOwnBytes) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    const std::string key = "redis-test-shorter-" + std::to_string(::getpid());
    const std::string medium(32 * 1024, 'm');  // under the buffer kept between commands
    ASSERT_TRUE(call(client, {"SET", key, medium}));
    auto set = call(client, {"SET", key, "s"});
    ASSERT_TRUE(set && set->ok());
    EXPECT_EQ(set->value().str, "OK");
    auto get = call(client, {"GET", key});
    ASSERT_TRUE(get && get->ok());
    EXPECT_EQ(get->value().str, "s");
    auto ping = call(client, {"PING"});
    ASSERT_TRUE(ping && ping->ok());
    EXPECT_EQ(ping->value().str, "PONG");
    call(client, {"DEL", key});
}

// Commands of few and of many arguments (a count of two digits) arrive whole.
TEST_F(RedisTest, CommandsOfFewAndOfManyArgumentsArriveWhole) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    const std::string key = "redis-test-args-" + std::to_string(::getpid());
    std::vector<std::string> many{"RPUSH", key};
    for (int i = 0; i < 15; i++) many.push_back("v" + std::to_string(i));      // 17 arguments
    std::vector<std::string> few{"RPUSH", key, "a", "b", "c", "d", "e", "f"};  // exactly 8
    for (const auto& argv : {many, few}) {
        auto r = call(client, argv);
        ASSERT_TRUE(r && r->ok());
    }
    auto len = call(client, {"LLEN", key});
    ASSERT_TRUE(len && len->ok());
    EXPECT_EQ(len->value().integer, 21);
    auto last = call(client, {"LINDEX", key, "14"});
    ASSERT_TRUE(last && last->ok());
    EXPECT_EQ(last->value().str, "v14");
    auto f = call(client, {"LINDEX", key, "-1"});
    ASSERT_TRUE(f && f->ok());
    EXPECT_EQ(f->value().str, "f");
    call(client, {"DEL", key});
}

TEST_F(RedisTest, ErrorReplyIsAReplyNotAnError) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    auto r = call(client, {"GET"});
    ASSERT_TRUE(r && r->ok());
    EXPECT_EQ(r->value().type, Reply::Type::error);
    EXPECT_NE(r->value().str.find("wrong number of arguments"), std::string::npos) << r->value().str;
    EXPECT_EQ(client.stats().errors, 1u);
    // The connection stays usable.
    auto ping = call(client, {"PING"});
    ASSERT_TRUE(ping && ping->ok());
    EXPECT_EQ(ping->value().str, "PONG");
}

TEST_F(RedisTest, ThousandPipelinedIncrsCompleteInOrder) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    std::vector<long long> got;
    int failures = 0;
    for (int i = 0; i < 1000; i++)
        client.command({"INCR", "counter"}, [&](Result<Reply> r) {
            if (!r.ok() || r.value().type != Reply::Type::integer) failures++;
            else got.push_back(r.value().integer);
        });
    EXPECT_EQ(client.stats().pending, 1000u);
    ASSERT_TRUE(loop.run_until([&] { return got.size() + failures == 1000; }, 5000));
    EXPECT_EQ(failures, 0);
    for (std::size_t i = 0; i < got.size(); i++) ASSERT_EQ(got[i], static_cast<long long>(i + 1));
    auto r = call(client, {"GET", "counter"});
    ASSERT_TRUE(r && r->ok());
    EXPECT_EQ(r->value().str, "1000");
}

TEST_F(RedisTest, CallbacksNeverRunInsideCommand) {
    chat::redis::Client client(loop, config());  // not started: disconnected
    int calls = 0;
    std::optional<Errc> code;
    client.command({"PING"}, [&](Result<Reply> r) {
        calls++;
        code = r.ok() ? Errc::ok : r.error().code;
    });
    client.command({}, [&](Result<Reply>) { calls++; });
    client.command({"SUBSCRIBE", "x"}, [&](Result<Reply>) { calls++; });
    EXPECT_EQ(calls, 0);
    ASSERT_TRUE(loop.run_until([&] { return calls == 3; }, 500));
    EXPECT_EQ(code, Errc::unavailable);
}

TEST_F(RedisTest, KilledRedisFailsFastAndClientReconnects) {
    auto cfg = config();
    chat::redis::Client client(loop, cfg);
    ASSERT_TRUE(connect(client));

    // Commands in flight when Redis dies: BLPOP blocks server-side forever.
    int pending_failed = 0;
    for (int i = 0; i < 3; i++)
        client.command({"BLPOP", "never", "0"}, [&](Result<Reply> r) {
            if (!r.ok() && r.error().code == Errc::unavailable) pending_failed++;
        });
    loop.run_once(10);  // sent
    auto killed_at = loop.now_ms();
    server.stop();
    ASSERT_TRUE(loop.run_until([&] { return pending_failed == 3; }, 1100));
    EXPECT_LT(loop.now_ms() - killed_at, 1100u);
    EXPECT_FALSE(client.connected());

    // New commands fail fast while Redis is down.
    auto before = loop.now_ms();
    auto r = call(client, {"PING"}, 1100);
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, Errc::unavailable);
    EXPECT_LT(loop.now_ms() - before, 100u);

    // Keep it down for a while so backoff grows, then bring it back.
    loop.run_until([] { return false; }, 1500);
    ASSERT_TRUE(server.start());
    auto restarted_at = loop.now_ms();
    ASSERT_TRUE(loop.run_until([&] { return client.connected(); }, 3000));
    EXPECT_LT(loop.now_ms() - restarted_at, 3000u);
    auto ping = call(client, {"PING"});
    ASSERT_TRUE(ping && ping->ok());
    EXPECT_EQ(ping->value().str, "PONG");
    EXPECT_EQ(client.stats().reconnects, 1u);
}

TEST_F(RedisTest, StuckRedisTimesOutCommands) {
    auto cfg = config();
    cfg.command_timeout_ms = 300;
    chat::redis::Client client(loop, cfg);
    ASSERT_TRUE(connect(client));
    server.pause();  // the socket stays open but nothing answers
    std::optional<Result<Reply>> r;
    auto sent_at = loop.now_ms();
    client.command({"PING"}, [&](Result<Reply> res) { r.emplace(std::move(res)); });
    ASSERT_TRUE(loop.run_until([&] { return r.has_value(); }, 1000));
    auto waited = loop.now_ms() - sent_at;
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().code, Errc::unavailable);
    EXPECT_NE(r->error().message.find("timeout"), std::string::npos) << r->error().message;
    EXPECT_GE(waited, 290u);
    EXPECT_LT(waited, 600u);
    server.resume();
    ASSERT_TRUE(loop.run_until([&] { return client.connected(); }, 3000));
    auto ping = call(client, {"PING"});
    ASSERT_TRUE(ping && ping->ok());
}

TEST_F(RedisTest, ShutdownAndDestructionFailPendingExactlyOnce) {
    auto client = std::make_unique<chat::redis::Client>(loop, config());
    ASSERT_TRUE(connect(*client));
    std::vector<int> calls(4, 0);
    std::vector<Errc> codes(4, Errc::ok);
    for (int i = 0; i < 2; i++)
        client->command({"BLPOP", "never", "0"}, [&, i](Result<Reply> r) {
            calls[i]++;
            codes[i] = r.ok() ? Errc::ok : r.error().code;
        });
    loop.run_once(10);
    client->shutdown();
    EXPECT_FALSE(client->connected());
    client->command({"PING"}, [&](Result<Reply> r) {
        calls[2]++;
        codes[2] = r.ok() ? Errc::ok : r.error().code;
    });
    loop.run_until([] { return false; }, 50);
    EXPECT_EQ(calls[0], 1);
    EXPECT_EQ(calls[1], 1);
    EXPECT_EQ(calls[2], 1);
    EXPECT_EQ(codes[0], Errc::unavailable);
    EXPECT_EQ(codes[2], Errc::unavailable);

    // Destroyed with a command in flight: its callback still runs, later.
    client = std::make_unique<chat::redis::Client>(loop, config());
    ASSERT_TRUE(connect(*client));
    client->command({"BLPOP", "never", "0"}, [&](Result<Reply> r) {
        calls[3]++;
        codes[3] = r.ok() ? Errc::ok : r.error().code;
    });
    loop.run_once(10);
    client.reset();
    EXPECT_EQ(calls[3], 0);
    loop.run_until([] { return false; }, 50);
    EXPECT_EQ(calls[3], 1);
    EXPECT_EQ(codes[3], Errc::unavailable);
}

TEST_F(RedisTest, TooManyPendingFailFast) {
    auto cfg = config();
    cfg.max_pending = 5;
    chat::redis::Client client(loop, cfg);
    ASSERT_TRUE(connect(client));
    int ok = 0, unavailable = 0;
    for (int i = 0; i < 8; i++)
        client.command({"PING"}, [&](Result<Reply> r) {
            if (r.ok()) ok++;
            else if (r.error().code == Errc::unavailable) unavailable++;
        });
    ASSERT_TRUE(loop.run_until([&] { return ok + unavailable == 8; }, 2000));
    EXPECT_EQ(ok, 5);
    EXPECT_EQ(unavailable, 3);
}

TEST_F(RedisTest, APublishArrivesWholeAndCallsBackOnlyWhenItFails) {
    chat::redis::Client client(loop, config());
    ASSERT_TRUE(connect(client));
    std::vector<std::string> got;
    chat::redis::Subscriber sub(
        loop, config(), {"pub.test"}, {}, [&](std::string_view, std::string_view m) { got.emplace_back(m); });
    sub.start();
    ASSERT_TRUE(loop.run_until([&] { return sub.connected(); }, 2000));

    int failed = 0;
    const std::string binary("a\0b\r\n$3\r\nc", 10);
    client.publish("pub.test", binary, [&](Result<Reply>) { failed++; });
    client.publish("pub.test", "second", [&](Result<Reply>) { failed++; });
    // a PING after them: its answer comes after theirs
    ASSERT_TRUE(call(client, {"PING"}).has_value());
    ASSERT_TRUE(loop.run_until([&] { return got.size() == 2; }, 2000));
    EXPECT_EQ(got[0], binary);
    EXPECT_EQ(got[1], "second");
    EXPECT_EQ(failed, 0);  // Redis took them: nothing called back

    // refused (too many pending) or not sent at all: called back once each, unavailable
    std::vector<Errc> codes;
    chat::redis::Client down(loop, config());  // never started
    down.publish("pub.test", "lost", [&](Result<Reply> r) { codes.push_back(r.ok() ? Errc::internal : r.error().code); });
    ASSERT_TRUE(loop.run_until([&] { return codes.size() == 1; }, 2000));
    EXPECT_EQ(codes[0], Errc::unavailable);
}

TEST_F(RedisTest, SubscriberReceivesAndResubscribesAfterRestart) {
    chat::redis::Client pub(loop, config());
    ASSERT_TRUE(connect(pub));
    std::vector<std::pair<std::string, std::string>> got;
    std::vector<bool> states;
    chat::redis::Subscriber sub(
        loop, config(), {"alpha", "beta"}, {"room.*"},
        [&](std::string_view ch, std::string_view payload) { got.emplace_back(ch, payload); },
        [&](bool up) { states.push_back(up); });
    sub.start();
    ASSERT_TRUE(loop.run_until([&] { return states.size() == 1; }, 2000));
    EXPECT_TRUE(states[0]);
    EXPECT_TRUE(sub.connected());

    auto publish_all = [&](const std::string& tag) {
        for (const char* ch : {"alpha", "beta", "room.7", "gamma"}) {
            auto r = call(pub, {"PUBLISH", ch, tag + std::string("\0", 1) + ch});
            ASSERT_TRUE(r && r->ok());
        }
    };
    publish_all("one");
    ASSERT_TRUE(loop.run_until([&] { return got.size() >= 3; }, 2000));
    loop.run_until([] { return false; }, 50);  // nothing for "gamma" arrives late
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], (std::pair<std::string, std::string>{"alpha", std::string("one\0alpha", 9)}));
    EXPECT_EQ(got[1], (std::pair<std::string, std::string>{"beta", std::string("one\0beta", 8)}));
    EXPECT_EQ(got[2], (std::pair<std::string, std::string>{"room.7", std::string("one\0room.7", 10)}));

    server.stop();
    ASSERT_TRUE(loop.run_until([&] { return states.size() == 2; }, 1100));
    EXPECT_FALSE(states[1]);
    EXPECT_FALSE(sub.connected());
    ASSERT_TRUE(server.start());
    ASSERT_TRUE(loop.run_until([&] { return states.size() == 3 && pub.connected(); }, 3000));
    EXPECT_TRUE(states[2]);

    got.clear();
    publish_all("two");
    ASSERT_TRUE(loop.run_until([&] { return got.size() >= 3; }, 2000));
    EXPECT_EQ(got[0].first, "alpha");
    EXPECT_EQ(got[1].first, "beta");
    EXPECT_EQ(got[2].first, "room.7");

    // No callbacks after shutdown.
    sub.shutdown();
    EXPECT_FALSE(sub.connected());
    auto n = got.size();
    auto s = states.size();
    publish_all("three");
    loop.run_until([] { return false; }, 50);
    EXPECT_EQ(got.size(), n);
    EXPECT_EQ(states.size(), s);
}

TEST_F(RedisTest, SubscriberDestroyedInsideItsCallbackIsSafe) {
    chat::redis::Client pub(loop, config());
    ASSERT_TRUE(connect(pub));
    int messages = 0;
    std::unique_ptr<chat::redis::Subscriber> sub;
    sub = std::make_unique<chat::redis::Subscriber>(
        loop, config(), std::vector<std::string>{"c"}, std::vector<std::string>{},
        [&](std::string_view, std::string_view) {
            messages++;
            sub.reset();
        });
    sub->start();
    ASSERT_TRUE(loop.run_until([&] { return sub->connected(); }, 2000));
    for (int i = 0; i < 3; i++) pub.command({"PUBLISH", "c", "x"}, [](Result<Reply>) {});
    ASSERT_TRUE(loop.run_until([&] { return !sub; }, 2000));
    loop.run_until([] { return false; }, 50);
    EXPECT_EQ(messages, 1);
}

TEST_F(RedisTest, LogsWhyRedisIsDownOncePerChangeNotOncePerRetry) {
    std::vector<std::pair<chat::LogLevel, std::string>> lines;
    loop.set_log_sink([&](chat::LogLevel level, std::string_view line) { lines.emplace_back(level, line); });
    auto cfg = config();
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 40;
    chat::redis::Client client(loop, cfg);

    server.stop();  // refused from the first attempt on, retried every 10-40 ms
    client.start();
    loop.run_until([] { return false; }, 500);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].first, chat::LogLevel::error);
    EXPECT_EQ(lines[0].second, "redis unavailable: Connection refused");

    ASSERT_TRUE(server.start());
    ASSERT_TRUE(loop.run_until([&] { return client.connected(); }, 2000));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1].first, chat::LogLevel::notice);
    EXPECT_EQ(lines[1].second, "redis available again");

    // Lost, then refused: one line per reason, however many retries.
    server.stop();
    loop.run_until([] { return false; }, 500);
    ASSERT_GE(lines.size(), 3u);
    ASSERT_LE(lines.size(), 4u);
    for (std::size_t i = 2; i < lines.size(); i++) {
        EXPECT_EQ(lines[i].first, chat::LogLevel::error);
        EXPECT_EQ(lines[i].second.rfind("redis unavailable: ", 0), 0u) << lines[i].second;
        EXPECT_NE(lines[i].second, lines[i - 1].second);
    }
    EXPECT_EQ(lines.back().second, "redis unavailable: Connection refused");
}

TEST(RedisEndpoint, ResolvesNamesAndRejectsBadPorts) {
    auto r = chat::redis::resolve_endpoint("localhost:6390");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r.value().ip == "127.0.0.1" || r.value().ip == "::1") << r.value().ip;
    EXPECT_EQ(r.value().port, 6390);

    auto d = chat::redis::resolve_endpoint("127.0.0.1");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d.value().ip, "127.0.0.1");
    EXPECT_EQ(d.value().port, 6379);

    auto v6 = chat::redis::resolve_endpoint("[::1]:7000");
    ASSERT_TRUE(v6.ok());
    EXPECT_EQ(v6.value().ip, "::1");
    EXPECT_EQ(v6.value().port, 7000);

    auto bare6 = chat::redis::resolve_endpoint("::1");
    ASSERT_TRUE(bare6.ok());
    EXPECT_EQ(bare6.value().port, 6379);

    for (const char* bad : {"host:notaport", "localhost:0", "localhost:65536", "localhost:", ":6379", "", "[::1",
                            "[::1]x", "localhost:12x"}) {
        auto b = chat::redis::resolve_endpoint(bad);
        ASSERT_FALSE(b.ok()) << bad;
        EXPECT_EQ(b.error().code, Errc::validation) << bad;
    }
    auto unknown = chat::redis::resolve_endpoint("no-such-host.invalid:6379");
    EXPECT_FALSE(unknown.ok());
}

}  // namespace
