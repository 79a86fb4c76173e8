// chat::address_key: the key login failures and new sessions are limited under.
#include <gtest/gtest.h>

#include <string>

#include "chat/address.h"

namespace {

TEST(AddressKey, CountsIPv6PerSlash64AndKeepsTheRest) {
    EXPECT_EQ(chat::address_key("192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(chat::address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    EXPECT_EQ(chat::address_key("2001:db8:1:2::1"), chat::address_key("2001:db8:1:2:ffff::9"));
    EXPECT_NE(chat::address_key("2001:db8:1:2::1"), chat::address_key("2001:db8:1:3::1"));
    EXPECT_EQ(chat::address_key("::ffff:192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(chat::address_key("unix:"), "unix:");
    EXPECT_EQ(chat::address_key("not:an:address:at:all"), "not:an:address:at:all");
    EXPECT_EQ(chat::address_key(std::string(100, ':')), std::string(100, ':'));
}

}  // namespace
