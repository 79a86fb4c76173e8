// resolve_conninfo pins host names to addresses at configuration time and keeps everything else.
#include <gtest/gtest.h>

#include "chat/pg_conninfo.h"

namespace {

using chat::pg::conninfo_needs_dns;
using chat::pg::resolve_conninfo;

TEST(PgConninfo, LocalhostGetsHostaddrAndKeepsOtherKeywords) {
    auto r = resolve_conninfo("host=localhost port=5433 dbname=chat user=chat application_name='my app'");
    ASSERT_TRUE(r.ok()) << r.error().message;
    const std::string& s = r.value();
    EXPECT_NE(s.find("hostaddr='127.0.0.1'"), std::string::npos) << s;
    EXPECT_NE(s.find("host='localhost'"), std::string::npos) << s;
    EXPECT_NE(s.find("port='5433'"), std::string::npos) << s;
    EXPECT_NE(s.find("dbname='chat'"), std::string::npos) << s;
    EXPECT_NE(s.find("user='chat'"), std::string::npos) << s;
    EXPECT_NE(s.find("application_name='my app'"), std::string::npos) << s;
    EXPECT_FALSE(conninfo_needs_dns(s));
    EXPECT_TRUE(conninfo_needs_dns("host=localhost dbname=chat"));
}

TEST(PgConninfo, UriIsAcceptedAndRewritten) {
    auto r = resolve_conninfo("postgresql://chat@localhost:6000/chatdb");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_NE(r.value().find("hostaddr='127.0.0.1'"), std::string::npos) << r.value();
    EXPECT_NE(r.value().find("dbname='chatdb'"), std::string::npos) << r.value();
    EXPECT_NE(r.value().find("port='6000'"), std::string::npos) << r.value();
}

TEST(PgConninfo, UnixSocketPathAndIpAreLeftAlone) {
    auto r = resolve_conninfo("host=/var/run/postgresql dbname=chat");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().find("hostaddr"), std::string::npos) << r.value();
    EXPECT_NE(r.value().find("host='/var/run/postgresql'"), std::string::npos) << r.value();
    EXPECT_FALSE(conninfo_needs_dns(r.value()));

    auto ip = resolve_conninfo("host=127.0.0.1 dbname=chat");
    ASSERT_TRUE(ip.ok());
    EXPECT_EQ(ip.value().find("hostaddr"), std::string::npos) << ip.value();

    auto none = resolve_conninfo("dbname=chat");
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value(), "dbname='chat'");
}

TEST(PgConninfo, ExistingHostaddrIsKept) {
    auto r = resolve_conninfo("host=db.invalid hostaddr=10.1.2.3 dbname=chat");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_NE(r.value().find("hostaddr='10.1.2.3'"), std::string::npos) << r.value();
    EXPECT_FALSE(conninfo_needs_dns(r.value()));
}

TEST(PgConninfo, HostListGetsMatchingHostaddrList) {
    auto r = resolve_conninfo("host=/tmp,localhost,127.0.0.2 dbname=chat");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_NE(r.value().find("hostaddr=',127.0.0.1,'"), std::string::npos) << r.value();
    EXPECT_FALSE(conninfo_needs_dns(r.value()));
}

TEST(PgConninfo, ValuesAreQuotedAndEscaped) {
    auto r = resolve_conninfo(R"(dbname=chat password='it\'s a \\ secret')");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_NE(r.value().find(R"(password='it\'s a \\ secret')"), std::string::npos) << r.value();
    // And it parses back to the same value.
    auto again = resolve_conninfo(r.value());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value(), r.value());
}

TEST(PgConninfo, GarbageIsRejected) {
    auto r = resolve_conninfo("this is not = a conninfo");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, chat::Errc::bad_request);
    EXPECT_FALSE(r.error().message.empty());

    auto kw = resolve_conninfo("nosuchkeyword=1");
    ASSERT_FALSE(kw.ok());
    EXPECT_EQ(kw.error().code, chat::Errc::bad_request);
    EXPECT_NE(kw.error().message.find("nosuchkeyword"), std::string::npos) << kw.error().message;

    auto unresolvable = resolve_conninfo("host=no-such-host.invalid dbname=chat");
    ASSERT_FALSE(unresolvable.ok());
    EXPECT_EQ(unresolvable.error().code, chat::Errc::bad_request);
    EXPECT_TRUE(conninfo_needs_dns("this is not = a conninfo"));
}

}  // namespace
