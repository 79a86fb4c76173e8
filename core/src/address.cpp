// The key a client address is limited under: IPv6 per /64, IPv4-mapped as IPv4 (address.h).
#include "chat/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace chat {

std::string address_key(std::string_view address) {
    if (address.find(':') == std::string_view::npos || address.size() >= INET6_ADDRSTRLEN)
        return std::string(address);
    char text[INET6_ADDRSTRLEN];
    std::memcpy(text, address.data(), address.size());
    text[address.size()] = '\0';
    unsigned char a[16];
    if (::inet_pton(AF_INET6, text, a) != 1) return std::string(address);
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, kMapped, sizeof kMapped) == 0) {
        if (!::inet_ntop(AF_INET, a + 12, text, sizeof text)) return std::string(address);
        return text;
    }
    std::memset(a + 8, 0, 8);
    if (!::inet_ntop(AF_INET6, a, text, sizeof text)) return std::string(address);
    return std::string(text) + "/64";
}

}  // namespace chat
