// Turns a configured "host[:port]" into a numeric Redis endpoint; blocking, for configuration time only.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <string>

#include "chat/redis_client.h"

namespace chat::redis {

namespace {

Result<int> parse_port(std::string_view s) {
    int port = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || port < 1 || port > 65535)
        return make_error(Errc::validation, "invalid redis port \"" + std::string(s) + "\"");
    return port;
}

Result<Endpoint> resolve(std::string_view host_port) {
    std::string_view host = host_port;
    std::string_view port;
    if (!host_port.empty() && host_port.front() == '[') {
        // "[v6]" or "[v6]:port"
        auto close = host_port.find(']');
        if (close == std::string_view::npos)
            return make_error(Errc::validation, "unterminated '[' in redis address");
        host = host_port.substr(1, close - 1);
        auto rest = host_port.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return make_error(Errc::validation, "junk after ']' in redis address");
            port = rest.substr(1);
            if (port.empty()) return make_error(Errc::validation, "empty redis port");
        }
    } else if (auto colon = host_port.find(':'); colon != std::string_view::npos) {
        // A second colon means a bare IPv6 address, which has no port.
        if (host_port.find(':', colon + 1) == std::string_view::npos) {
            host = host_port.substr(0, colon);
            port = host_port.substr(colon + 1);
            if (port.empty()) return make_error(Errc::validation, "empty redis port");
        }
    }
    if (host.empty()) return make_error(Errc::validation, "empty redis host");

    Endpoint ep;
    if (!port.empty()) {
        auto p = parse_port(port);
        if (!p) return p.error();
        ep.port = p.value();
    }

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string h(host);
    int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
    if (rc != 0 || res == nullptr)
        return make_error(Errc::not_found, "cannot resolve redis host \"" + h + "\": " + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, &freeaddrinfo);

    // Prefer IPv4: Redis binds 127.0.0.1 by default, not always ::1.
    const addrinfo* pick = nullptr;
    for (auto* ai = res; ai != nullptr; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    if (pick == nullptr)
        for (auto* ai = res; ai != nullptr; ai = ai->ai_next)
            if (ai->ai_family == AF_INET6) {
                pick = ai;
                break;
            }
    if (pick == nullptr) return make_error(Errc::not_found, "no IP address for redis host \"" + h + "\"");

    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr = pick->ai_family == AF_INET
                           ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(pick->ai_addr)->sin_addr)
                           : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(pick->ai_addr)->sin6_addr);
    if (inet_ntop(pick->ai_family, addr, buf, sizeof buf) == nullptr)
        return make_error(Errc::internal, "inet_ntop failed");
    ep.ip = buf;
    return ep;
}

}  // namespace

Result<Endpoint> resolve_endpoint(std::string_view host_port) noexcept {
    try {
        return resolve(host_port);
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

}  // namespace chat::redis
