// The server's answer to a WebSocket upgrade request (API.md, RFC 6455 section 4.2): refused with a status and a message, or the Sec-WebSocket-Accept of its 101 (and, for a customer, whose socket it is).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::ws {

// What of the request the decision reads; the host fills it from its headers.
struct UpgradeRequest {
    bool get = false;                // the method is GET
    bool http11 = false;             // the request is HTTP/1.1
    std::string_view upgrade;        // Upgrade
    std::string_view version;        // Sec-WebSocket-Version
    std::string_view key;            // Sec-WebSocket-Key
    std::string_view origin;         // Origin; empty when absent (not a browser)
    std::string_view host;           // Host
    std::span<const std::string_view> allowed_origins;  // chat_allowed_origins, normalized
};

// In this order: not GET is Errc::method_not_allowed; not HTTP/1.1, an Upgrade other than
// "websocket" (any case), a version other than 13 or no key is Errc::bad_request; a browser
// Origin that is neither the request's host nor listed (origin::allowed) is Errc::forbidden;
// a key that is not 16 bytes of base64 is Errc::bad_request. Otherwise the accept value.
Result<std::string> upgrade(const UpgradeRequest& req) noexcept;

// A customer's socket: its session and where its replay starts.
struct CustomerStart {
    std::string sid;
    std::int64_t after = 0;
};

// A customer's session token is checked before the upgrade: `session` is what
// customer::Service::authenticate said of it (an error: Errc::unauthorized); `after` the
// ?after= argument if any (not a seq, input::parse_seq: Errc::validation).
Result<CustomerStart> customer_start(Result<std::string> session, std::optional<std::string_view> after) noexcept;

}  // namespace chat::ws
