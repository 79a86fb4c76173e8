// Webhooks' rules (API.md "Webhooks (transactional outbox)"): a webhook's fields, its URL,
// the signed request a delivery sends, the status line of the answer, and which addresses
// a delivery may reach. The sender that uses them is chat/webhook_sender.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::json {
class Value;
}

namespace chat::webhook {

// A webhook URL: http[s]://HOST[:port][/path][?query]. HOST is a host name (resolved at
// delivery time by the non-blocking resolver, chat/resolver.h) or an IP address (IPv4, or
// IPv6 in brackets), never user info.
struct Url {
    bool https = false;
    std::string ip;           // an IP literal: "192.0.2.7" or "2001:db8::1" (no brackets); else ""
    bool v6 = false;
    std::string name;         // a host name, lower case: "shop.example.com"; "" for an IP literal
    std::uint16_t port = 80;  // 443 for https
    std::string path;         // "/hook?x=1"; "/" when the URL has none
    std::string host_header;  // "192.0.2.7:8080", as the Host header carries it
    const std::string& host() const noexcept { return ip.empty() ? name : ip; }
};
// Errc::validation with a message naming "url" for anything else: another scheme, user
// info, a fragment, a host that is neither an address nor a host name (letters, digits and
// hyphens in dot-separated labels of at most limits::kWebhookHostLabelBytes, at most
// limits::kWebhookHostBytes in all, not all-numeric), a bad port, control characters or
// spaces, a length outside limits::kWebhookUrlBytes.
Result<Url> parse_url(std::string_view url) noexcept;

// Whether a delivery may connect to this address when private addresses are not allowed
// (chat_webhook_private off): not loopback, private (RFC 1918, fc00::/7), link-local,
// shared (100.64/10), unspecified, multicast, broadcast or reserved; IPv4-mapped IPv6 is
// judged as its IPv4 address. An unparsable address is not public.
bool public_address(std::string_view ip, bool v6) noexcept;

// POST /admin/webhooks: {"url", "events", "secret"} checked into `out` (events deduplicated,
// in the order given). Missing fields are bad_request; bad ones validation naming the field.
Result<json::Value> check_fields(const json::Value& in) noexcept;

// A webhook's secret at rest: a secret_box (AES-256-GCM, "v1." text) under the key derived
// from chat_secret for webhook secrets (HKDF label of its own); random_nonce is 12 random
// bytes (seal_secret answers "" otherwise). open_secret fails (Errc::internal) on anything
// else or a changed chat_secret.
std::string seal_secret(std::string_view chat_secret, std::string_view secret, std::string_view random_nonce);
Result<std::string> open_secret(std::string_view chat_secret, std::string_view sealed) noexcept;

// "sha256=<hex HMAC-SHA256 of body keyed with secret>", the X-Chat-Signature header.
std::string signature(std::string_view secret, std::string_view body);

// The HTTP/1.1 request of one delivery (Connection: close).
std::string request(const Url& url, std::string_view body, std::string_view signature);

// The status line of an answer from the bytes received so far. more: no CRLF yet (and fewer
// than limits::kWebhookStatusLineMax bytes); bad: not "HTTP/1.x DDD ..." within that bound;
// done: `code` is the status (100-599).
struct StatusLine {
    enum class State { more, bad, done };
    State state = State::more;
    int code = 0;
};
StatusLine parse_status_line(std::string_view received) noexcept;

// Whether a status means delivered (2xx).
constexpr bool delivered(int code) noexcept { return code >= 200 && code <= 299; }

}  // namespace chat::webhook
