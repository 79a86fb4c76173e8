// Webhooks' rules: a webhook's fields and URL, the signed request, the answer's status line,
// the addresses a delivery may reach.
#include "chat/webhook.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <cstring>
#include <span>

#include "chat/json.h"
#include "chat/limits.h"
#include "chat/secret_box.h"

namespace chat::webhook {

namespace {

Error bad_url(std::string why) { return Error{Errc::validation, "url " + why}; }

// Letters, digits and hyphens in dot-separated labels (none empty, none starting or ending
// with a hyphen, each within kWebhookHostLabelBytes), within kWebhookHostBytes, and not
// all-numeric at the end (so "10.1" or "999.1.1.1" are never handed to a resolver as names;
// whatever a name resolves to is checked at delivery time anyway).
bool host_name(std::string_view h) {
    if (h.empty() || h.size() > limits::kWebhookHostBytes) return false;
    std::size_t start = 0;
    bool last_numeric = true;
    while (start <= h.size()) {
        const std::size_t dot = std::min(h.find('.', start), h.size());
        const std::string_view label = h.substr(start, dot - start);
        if (label.empty() || label.size() > limits::kWebhookHostLabelBytes) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        last_numeric = true;
        for (char c : label) {
            const bool digit = c >= '0' && c <= '9';
            const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            if (!digit && !alpha && c != '-') return false;
            if (!digit) last_numeric = false;
        }
        start = dot + 1;
    }
    return !last_numeric;
}

}  // namespace

Result<Url> parse_url(std::string_view s) noexcept {
    try {
        if (!limits::kWebhookUrlBytes.contains(static_cast<std::int64_t>(s.size())))
            return bad_url("must be " + limits::range_text(limits::kWebhookUrlBytes) + " bytes");
        for (unsigned char c : s)
            if (c <= 0x20 || c >= 0x7f) return bad_url("must be ASCII without spaces or control characters");
        Url u;
        std::string_view rest;
        if (s.starts_with("https://")) {
            u.https = true;
            u.port = 443;
            rest = s.substr(8);
        } else if (s.starts_with("http://")) {
            rest = s.substr(7);
        } else {
            return bad_url("must start with http:// or https://");
        }
        if (rest.find('#') != std::string_view::npos) return bad_url("must not have a fragment");
        const std::size_t slash = rest.find_first_of("/?");
        std::string_view authority = rest.substr(0, slash);
        std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
        if (authority.find('@') != std::string_view::npos) return bad_url("must not hold user info");
        std::string_view host;
        std::string_view port;
        if (authority.starts_with("[")) {
            const std::size_t close = authority.find(']');
            if (close == std::string_view::npos) return bad_url("has a broken IPv6 address");
            host = authority.substr(1, close - 1);
            std::string_view after = authority.substr(close + 1);
            if (!after.empty()) {
                if (after[0] != ':') return bad_url("has a broken port");
                port = after.substr(1);
            }
            u.v6 = true;
        } else {
            const std::size_t colon = authority.find(':');
            host = authority.substr(0, colon);
            if (colon != std::string_view::npos) port = authority.substr(colon + 1);
        }
        if (host.empty()) return bad_url("must name a host");
        std::string h(host);
        unsigned char buf[16];
        if (u.v6 || inet_pton(AF_INET, h.c_str(), buf) == 1) {
            if (inet_pton(u.v6 ? AF_INET6 : AF_INET, h.c_str(), buf) != 1) return bad_url("has a broken IP address");
            u.ip = h;
        } else {
            if (!host_name(host)) return bad_url("host must be an IP address or a host name");
            for (char& c : h) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            u.name = h;
        }
        if (!port.empty() || authority.ends_with(":")) {
            unsigned v = 0;
            auto r = std::from_chars(port.data(), port.data() + port.size(), v);
            if (port.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() || v < 1 || v > 65535)
                return bad_url("has a bad port");
            u.port = static_cast<std::uint16_t>(v);
        }
        u.path = path.empty() ? std::string("/") : (path[0] == '?' ? "/" + std::string(path) : std::string(path));
        u.host_header = std::string(authority);
        return u;
    } catch (const std::exception& e) {
        return Error{Errc::internal, e.what()};
    }
}

bool public_address(std::string_view ip, bool v6) noexcept {
    try {
        std::string s(ip);
        unsigned char a[16];
        if (inet_pton(v6 ? AF_INET6 : AF_INET, s.c_str(), a) != 1) return false;
        const unsigned char* v4 = nullptr;
        if (!v6) {
            v4 = a;
        } else {
            // IPv6 addresses that carry an IPv4 one, which a host or a gateway on the way may
            // reach for them: judged by that IPv4 address (a NAT64 gateway would take
            // 64:ff9b::a00:1 to 10.0.0.1 on the operator's side)
            static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            static constexpr unsigned char compat[12] = {};                       // ::a.b.c.d
            static constexpr unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};     // 64:ff9b::/96
            static constexpr unsigned char nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1};  // 64:ff9b:1::/48
            if (std::memcmp(a, mapped, 12) == 0 || std::memcmp(a, nat64, 12) == 0) v4 = a + 12;
            if (std::memcmp(a, compat, 12) == 0 && (a[12] | a[13]) != 0) v4 = a + 12;  // not :: or ::1
            if (std::memcmp(a, nat64_local, 6) == 0) return false;  // local-use NAT64: any layout
            if (a[0] == 0x20 && a[1] == 0x02) v4 = a + 2;                          // 6to4 2002::/16
        }
        if (v4) {
            const unsigned b0 = v4[0], b1 = v4[1];
            if (b0 == 0 || b0 == 10 || b0 == 127) return false;       // this network, private, loopback
            if (b0 == 100 && (b1 & 0xc0) == 64) return false;          // shared (CGNAT)
            if (b0 == 169 && b1 == 254) return false;                  // link-local (cloud metadata)
            if (b0 == 172 && (b1 & 0xf0) == 16) return false;          // private
            if (b0 == 192 && b1 == 168) return false;                  // private
            if (b0 == 192 && b1 == 0 && v4[2] == 0) return false;      // IETF protocol assignments
            if (b0 == 198 && (b1 & 0xfe) == 18) return false;          // benchmarking
            if (b0 >= 224) return false;                               // multicast, reserved, broadcast
            return true;
        }
        static constexpr unsigned char zero[16] = {};
        if (std::memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) return false;  // :: and ::1
        if ((a[0] & 0xfe) == 0xfc) return false;                                        // fc00::/7
        if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return false;                        // fe80::/10
        if (a[0] == 0xff) return false;                                                 // multicast
        return true;
    } catch (...) {
        return false;
    }
}

Result<json::Value> check_fields(const json::Value& in) noexcept {
    try {
        json::Value out{json::Object{}};
        const json::Value* u = in.find("url");
        if (!u || u->is_null()) return Error{Errc::bad_request, "url is required"};
        const std::string* us = u->as_string();
        if (!us) return Error{Errc::validation, "url must be a string"};
        if (auto parsed = parse_url(*us); !parsed.ok()) return parsed.error();
        out.set("url", json::Value(*us));

        const json::Value* ev = in.find("events");
        if (!ev || ev->is_null()) return Error{Errc::bad_request, "events is required"};
        const json::Array* list = ev->as_array();
        const std::string names = limits::names_text(limits::kWebhookEvents);
        if (!list || list->empty() || list->size() > limits::kWebhookEventsMax * 4)
            return Error{Errc::validation, "events must be a non-empty list of " + names};
        json::Value events{json::Array{}};
        std::array<bool, limits::kWebhookEvents.size()> seen{};
        for (const json::Value& e : *list) {
            const std::string* s = e.as_string();
            std::size_t i = 0;
            while (s && i < limits::kWebhookEvents.size() && limits::kWebhookEvents[i] != *s) i++;
            if (!s || i == limits::kWebhookEvents.size())
                return Error{Errc::validation, "events must be a non-empty list of " + names};
            if (!seen[i]) events.push_back(json::Value(*s));
            seen[i] = true;
        }
        out.set("events", std::move(events));

        const json::Value* sec = in.find("secret");
        if (!sec || sec->is_null()) return Error{Errc::bad_request, "secret is required"};
        const std::string* ss = sec->as_string();
        bool printable = ss != nullptr;
        if (ss)
            for (unsigned char c : *ss)
                if (c < 0x20 || c == 0x7f) printable = false;
        if (!printable || !limits::kWebhookSecretBytes.contains(static_cast<std::int64_t>(ss->size())))
            return Error{Errc::validation, "secret must be " + limits::range_text(limits::kWebhookSecretBytes) +
                                               " bytes without control characters"};
        out.set("secret", json::Value(*ss));
        return out;
    } catch (const std::exception& e) {
        return Error{Errc::internal, e.what()};
    }
}

namespace {

// a webhook's secret is a secret_box of its own purpose (label), like an agent's TOTP secret
constexpr std::string_view kBoxLabel = "nginx-chat webhook secret v1";
constexpr std::string_view kBoxAad = "webhook";

Result<secret_box::Key> box_key(std::string_view chat_secret) noexcept {
    return secret_box::derive_key(std::as_bytes(std::span(chat_secret.data(), chat_secret.size())), kBoxLabel);
}

}  // namespace

std::string seal_secret(std::string_view chat_secret, std::string_view secret, std::string_view nonce) {
    auto key = box_key(chat_secret);
    if (!key.ok()) return {};
    auto box = secret_box::seal(key.value(), std::as_bytes(std::span(nonce.data(), nonce.size())), secret, kBoxAad);
    return box.ok() ? std::move(box.value()) : std::string();
}

Result<std::string> open_secret(std::string_view chat_secret, std::string_view sealed) noexcept {
    try {
        const Error bad{Errc::internal, "the webhook's secret cannot be decrypted (was chat_secret changed?)"};
        auto key = box_key(chat_secret);
        if (!key.ok()) return bad;
        auto opened = secret_box::open(key.value(), sealed, kBoxAad);
        if (!opened.ok()) return bad;
        return std::move(opened.value());
    } catch (const std::exception& e) {
        return Error{Errc::internal, e.what()};
    }
}

std::string signature(std::string_view secret, std::string_view body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len))
        return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned i = 0; i < len; i++) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

std::string request(const Url& url, std::string_view body, std::string_view sig) {
    std::string r;
    r.reserve(256 + url.path.size() + body.size());
    r += "POST ";
    r += url.path;
    r += " HTTP/1.1\r\nHost: ";
    r += url.host_header;
    r += "\r\nUser-Agent: nginx-chat\r\nContent-Type: application/json\r\nX-Chat-Signature: ";
    r += sig;
    r += "\r\nContent-Length: ";
    r += std::to_string(body.size());
    r += "\r\nConnection: close\r\n\r\n";
    r += body;
    return r;
}

StatusLine parse_status_line(std::string_view in) noexcept {
    const std::size_t bound = limits::kWebhookStatusLineMax;
    const std::string_view head = in.substr(0, bound);
    const std::size_t eol = head.find("\r\n");
    // What we have so far must be a prefix of "HTTP/1.x DDD"
    static constexpr std::string_view proto = "HTTP/1.";
    const std::size_t n = std::min(head.size(), proto.size());
    if (head.substr(0, n) != proto.substr(0, n)) return {StatusLine::State::bad, 0};
    if (eol == std::string_view::npos) {
        if (in.size() >= bound) return {StatusLine::State::bad, 0};
        // reject early what can no longer become a status line
        if (head.size() > 7 && (head[7] != '0' && head[7] != '1')) return {StatusLine::State::bad, 0};
        if (head.size() > 8 && head[8] != ' ') return {StatusLine::State::bad, 0};
        for (std::size_t i = 9; i < head.size() && i < 12; i++)
            if (head[i] < '0' || head[i] > '9') return {StatusLine::State::bad, 0};
        // after the code: a space, or the CR of the line's end (its LF not here yet)
        if (head.size() > 12 && head[12] != ' ' && !(head[12] == '\r' && head.size() == 13))
            return {StatusLine::State::bad, 0};
        return {StatusLine::State::more, 0};
    }
    const std::string_view line = head.substr(0, eol);
    if (line.size() < 12 || (line[7] != '0' && line[7] != '1') || line[8] != ' ') return {StatusLine::State::bad, 0};
    int code = 0;
    for (std::size_t i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9') return {StatusLine::State::bad, 0};
        code = code * 10 + (line[i] - '0');
    }
    if (line.size() > 12 && line[12] != ' ') return {StatusLine::State::bad, 0};
    if (code < 100 || code > 599) return {StatusLine::State::bad, 0};
    return {StatusLine::State::done, code};
}

}  // namespace chat::webhook
