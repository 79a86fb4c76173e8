// Signing and constant-time verification of HMAC-SHA256 tokens and their typed claims.
#include "chat/token.h"

#include <charconv>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chat/base64.h"

namespace chat::token {

namespace {

constexpr std::size_t kMacBytes = 32;

// HMAC-SHA256 of msg; false on OpenSSL failure.
bool mac(std::span<const std::byte> key, std::string_view msg, unsigned char (&out)[kMacBytes]) {
    const unsigned char empty = 0;  // HMAC() wants a non-null key even when empty
    const unsigned char* k = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len))
        return false;
    return len == kMacBytes;
}

Error unauthorized(const char* why) { return make_error(Errc::unauthorized, why); }

bool parse_i64(std::string_view s, std::int64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    // Canonical decimal only (what std::to_string writes): no '+', no leading zeros, no "-0".
    const std::string_view digits = s[0] == '-' ? s.substr(1) : s;
    if (digits.empty() || (digits[0] == '0' && (digits.size() > 1 || s[0] == '-'))) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Splits "rest|number" at the last '|'.
bool split_last_number(std::string_view& rest, std::int64_t& n) {
    const auto bar = rest.rfind('|');
    if (bar == std::string_view::npos) return false;
    if (!parse_i64(rest.substr(bar + 1), n)) return false;
    rest = rest.substr(0, bar);
    return true;
}

}  // namespace

std::string sign(std::span<const std::byte> key, std::string_view payload) {
    std::string body = base64::encode_url(payload);
    unsigned char m[kMacBytes];
    if (!mac(key, body, m)) return {};
    body.push_back('.');
    body += base64::encode_url(std::span<const std::byte>(reinterpret_cast<const std::byte*>(m), kMacBytes));
    return body;
}

Result<std::string> verify(std::span<const std::byte> key, std::string_view token) noexcept {
    try {
        if (token.size() > kMaxTokenBytes) return unauthorized("token too long");
        const auto dot = token.find('.');
        if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos)
            return unauthorized("malformed token");
        const std::string_view body = token.substr(0, dot);
        auto sig = base64::decode_url(token.substr(dot + 1));
        if (!sig.ok() || sig.value().size() != kMacBytes) return unauthorized("malformed token");
        unsigned char expect[kMacBytes];
        if (!mac(key, body, expect)) return make_error(Errc::internal, "HMAC failed");
        if (CRYPTO_memcmp(expect, sig.value().data(), kMacBytes) != 0) return unauthorized("bad token signature");
        // Signed by us, so the body is our own encoding; decode strictly anyway.
        auto payload = base64::decode_url(body);
        if (!payload.ok()) return unauthorized("malformed token");
        return std::move(payload).value();
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

std::string encode_session(std::span<const std::byte> key, const SessionClaims& c) {
    return sign(key, "s|" + c.sid + "|" + std::to_string(c.exp_ms));
}

Result<SessionClaims> decode_session(std::span<const std::byte> key, std::string_view token,
                                     std::int64_t now_ms) noexcept {
    try {
        auto payload = verify(key, token);
        if (!payload.ok()) return payload.error();
        std::string_view rest = payload.value();
        if (rest.substr(0, 2) != "s|") return unauthorized("not a session token");
        rest.remove_prefix(2);
        SessionClaims c;
        if (!split_last_number(rest, c.exp_ms) || rest.empty()) return unauthorized("malformed session token");
        c.sid = std::string(rest);
        if (now_ms >= c.exp_ms) return unauthorized("session token expired");
        return c;
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

std::string encode_agent(std::span<const std::byte> key, const AgentClaims& c) {
    return sign(key, "a|" + c.agent_id + "|" + std::to_string(c.token_version) + "|" + std::to_string(c.exp_ms));
}

Result<AgentClaims> decode_agent(std::span<const std::byte> key, std::string_view token,
                                 std::int64_t now_ms) noexcept {
    try {
        auto payload = verify(key, token);
        if (!payload.ok()) return payload.error();
        std::string_view rest = payload.value();
        if (rest.substr(0, 2) != "a|") return unauthorized("not an agent token");
        rest.remove_prefix(2);
        AgentClaims c;
        if (!split_last_number(rest, c.exp_ms) || !split_last_number(rest, c.token_version) || rest.empty())
            return unauthorized("malformed agent token");
        c.agent_id = std::string(rest);
        if (now_ms >= c.exp_ms) return unauthorized("agent token expired");
        return c;
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

}  // namespace chat::token
