// Parsing and comparing browser origins for the WebSocket upgrade check.
#include "chat/origin.h"

#include <algorithm>

namespace chat::origin {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '[' || c == ']' ||
           c == ':' || c == '_';
}

}  // namespace

std::optional<std::string> normalize(std::string_view o) noexcept {
    try {
        if (o.size() > 512) return std::nullopt;
        std::string s;
        s.reserve(o.size());
        for (char c : o) s += lower(c);
        std::string_view v = s;
        std::string_view scheme;
        if (v.starts_with("http://")) scheme = "http";
        else if (v.starts_with("https://")) scheme = "https";
        else return std::nullopt;
        std::string_view rest = v.substr(scheme.size() + 3);
        if (rest.empty()) return std::nullopt;
        // host[:port]; an IPv6 literal keeps its brackets
        std::string_view host = rest, port;
        std::size_t colon = rest.rfind(':');
        std::size_t bracket = rest.rfind(']');
        if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
            host = rest.substr(0, colon);
            port = rest.substr(colon + 1);
            if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
                    return c >= '0' && c <= '9';
                }))
                return std::nullopt;
            if (std::stoul(std::string(port)) > 65535) return std::nullopt;
            while (port.size() > 1 && port.front() == '0') port.remove_prefix(1);
        }
        if (host.empty() || !std::all_of(host.begin(), host.end(), host_char)) return std::nullopt;
        if (host.front() != '[' && host.find(':') != std::string_view::npos) return std::nullopt;
        if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port = {};
        std::string out = std::string(scheme) + "://" + std::string(host);
        if (!port.empty()) out += ":" + std::string(port);
        return out;
    } catch (...) {
        return std::nullopt;
    }
}

bool allowed(std::string_view origin, std::string_view host, std::span<const std::string_view> list) noexcept {
    try {
        auto o = normalize(origin);
        if (!o) return false;
        std::string_view scheme = o->starts_with("https://") ? "https" : "http";
        if (!host.empty()) {
            auto own = normalize(std::string(scheme) + "://" + std::string(host));
            if (own && *own == *o) return true;
        }
        return std::find(list.begin(), list.end(), std::string_view(*o)) != list.end();
    } catch (...) {
        return false;
    }
}

}  // namespace chat::origin
