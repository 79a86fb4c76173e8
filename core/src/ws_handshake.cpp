// The WebSocket upgrade's checks, in the order API.md answers them, and its accept value.
#include "chat/ws_handshake.h"

#include <utility>

#include "chat/input.h"
#include "chat/origin.h"
#include "chat/ws.h"

namespace chat::ws {

namespace {

bool equals_ascii_nocase(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); i++) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

}  // namespace

Result<std::string> upgrade(const UpgradeRequest& req) noexcept {
    try {
        if (!req.get) return make_error(Errc::method_not_allowed, "method not allowed");
        if (!req.http11 || !equals_ascii_nocase(req.upgrade, "websocket") || req.version != "13" || req.key.empty())
            return make_error(Errc::bad_request, "expected a WebSocket upgrade (HTTP/1.1, version 13)");
        // API.md: a browser Origin must be the request's own host or listed
        if (!req.origin.empty() && !origin::allowed(req.origin, req.host, req.allowed_origins))
            return make_error(Errc::forbidden, "this Origin may not open a socket (chat_allowed_origins)");
        return accept_key(req.key);
    } catch (...) {
        return make_error(Errc::internal, "out of memory");
    }
}

Result<CustomerStart> customer_start(Result<std::string> session, std::optional<std::string_view> after) noexcept {
    try {
        if (!session.ok()) return make_error(Errc::unauthorized, "invalid or missing session token");
        CustomerStart start{std::move(session).value(), 0};
        if (after) {
            auto n = input::parse_seq(*after);
            if (!n) return make_error(Errc::validation, "after must be an integer between 0 and 2147483647");
            start.after = *n;
        }
        return start;
    } catch (...) {
        return make_error(Errc::internal, "out of memory");
    }
}

}  // namespace chat::ws
