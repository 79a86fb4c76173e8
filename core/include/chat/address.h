// The key a client address is limited under (login failures, new sessions): one subscriber
// usually holds a whole IPv6 /64, so counting per address there would count nothing.
#pragma once

#include <string>
#include <string_view>

namespace chat {

// An IPv4 address as it is, an IPv6 address as its /64 ("2001:db8:1:2::/64"), an
// IPv4-mapped IPv6 address as the IPv4 one, anything else (a unix socket) as given.
std::string address_key(std::string_view address);

}  // namespace chat
