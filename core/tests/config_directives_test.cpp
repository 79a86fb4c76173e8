// The directives' decisions beyond option strings (chat/config_directives.h): resolving
// chat_postgres and chat_redis, reading chat_secret, and the main configuration's checks, each
// with the exact line nginx logs for a refusal.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "chat/config_directives.h"
#include "chat/config_parse.h"

namespace {

using namespace chat::config;

TEST(ConfigPostgres, KeepsAnAddressConninfoAndReadsPool) {
    auto pg = resolve_postgres("host=127.0.0.1 port=5432 dbname=chat", "pool=8");
    ASSERT_TRUE(pg.ok()) << pg.error().message;
    EXPECT_NE(pg.value().conninfo.find("127.0.0.1"), std::string::npos);
    EXPECT_EQ(pg.value().pool, 8);
    auto no_pool = resolve_postgres("host=127.0.0.1 dbname=chat", std::nullopt);
    ASSERT_TRUE(no_pool.ok());
    EXPECT_EQ(no_pool.value().pool, chat::limits::kPgPoolDefault);
}

TEST(ConfigPostgres, RefusesABadPoolBeforeResolving) {
    auto pg = resolve_postgres("host=127.0.0.1", "pool=0");
    ASSERT_FALSE(pg.ok());
    EXPECT_EQ(pg.error().message, parse_pg_pool("pool=0").error().message);
}

TEST(ConfigPostgres, ReadsPoolAndPrepareInAnyOrderOnceEach) {
    const std::string_view both[] = {"prepare=0", "pool=2"};
    auto pg = resolve_postgres("host=127.0.0.1 dbname=chat", both);
    ASSERT_TRUE(pg.ok()) << pg.error().message;
    EXPECT_EQ(pg.value().pool, 2);
    EXPECT_EQ(pg.value().prepared, 0);
    auto plain = resolve_postgres("host=127.0.0.1 dbname=chat", std::nullopt);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain.value().prepared, chat::limits::kPgPreparedDefault);
    const std::string_view twice[] = {"prepare=1", "prepare=2"};
    auto dup = resolve_postgres("host=127.0.0.1", twice);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().message, "parameter \"prepare=2\" is duplicate");
    const std::string_view bad[] = {"prepare=x"};
    auto refused = resolve_postgres("host=127.0.0.1", bad);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().message, parse_pg_prepare("prepare=x").error().message);
}

TEST(ConfigPostgres, NamesABadConninfo) {
    auto pg = resolve_postgres("nonsense without equals", std::nullopt);
    ASSERT_FALSE(pg.ok());
    EXPECT_EQ(pg.error().message.rfind("invalid chat_postgres conninfo: ", 0), 0u)
        << pg.error().message;
}

TEST(ConfigRedis, ReadsHostAndPort) {
    auto ep = resolve_redis("127.0.0.1:6380");
    ASSERT_TRUE(ep.ok()) << ep.error().message;
    EXPECT_EQ(ep.value().ip, "127.0.0.1");
    EXPECT_EQ(ep.value().port, 6380);
    auto def = resolve_redis("127.0.0.1");
    ASSERT_TRUE(def.ok());
    EXPECT_EQ(def.value().port, chat::limits::kRedisPortDefault);
}

TEST(ConfigRedis, NamesTheBadAddress) {
    auto ep = resolve_redis("127.0.0.1:notaport");
    ASSERT_FALSE(ep.ok());
    EXPECT_EQ(ep.error().message.rfind("invalid chat_redis address \"127.0.0.1:notaport\": ", 0),
              0u)
        << ep.error().message;
}

class ConfigSecretFile : public ::testing::Test {
protected:
    // one file per test: ctest runs the tests of this fixture in parallel processes
    std::string path_ = ::testing::TempDir() + "chat_secret_test." +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".key";
    void write(const std::string& content) {
        std::ofstream(path_, std::ios::binary) << content;
    }
    void TearDown() override { std::remove(path_.c_str()); }
};

TEST_F(ConfigSecretFile, ReadsTheKeyWithoutItsLineBreak) {
    write(std::string(40, 'k') + "\n");
    auto key = read_secret(path_);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_EQ(key.value(), std::string(40, 'k'));
}

TEST_F(ConfigSecretFile, NamesAShortFileNeverItsBytes) {
    write("short-secret");
    auto key = read_secret(path_);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().message,
              "chat_secret file \"" + path_ + "\" holds 12 bytes, at least 32 are needed");
    EXPECT_EQ(key.error().message.find("short-secret"), std::string::npos);
}

TEST_F(ConfigSecretFile, NamesAMissingFileWithErrnoAsNginxLogsIt) {
    auto key = read_secret(path_ + ".missing");
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().message, "cannot read chat_secret file \"" + path_ +
                                       ".missing\" (2: No such file or directory)");
}

TEST(ConfigMain, AcceptsTheDefaults) {
    MainConf c{chat::limits::kHistoryDefault, chat::limits::kMessageMaxDefault,
               static_cast<std::int64_t>(chat::limits::kWsMaxMessageDefault), true, true};
    EXPECT_TRUE(check_main(c).ok());
    c.postgres = false;
    c.secret = false;
    EXPECT_TRUE(check_main(c).ok());
}

TEST(ConfigMain, ChecksRangesInOrderThenTheSecret) {
    MainConf c{0, 0, 1, true, false};
    EXPECT_EQ(check_main(c).error().message,
              check_range("chat_history", chat::limits::kHistory, 0).error().message);
    c.history = chat::limits::kHistoryDefault;
    EXPECT_EQ(check_main(c).error().message,
              check_range("chat_message_max", chat::limits::kMessageMax, 0).error().message);
    c.message_max = chat::limits::kMessageMaxDefault;
    EXPECT_EQ(check_main(c).error().message, check_ws_max_message(1).error().message);
    c.ws_max_message = static_cast<std::int64_t>(chat::limits::kWsMaxMessageDefault);
    EXPECT_EQ(check_main(c).error().message,
              "chat_postgres needs chat_secret (the key that signs session tokens)");
}

}  // namespace
