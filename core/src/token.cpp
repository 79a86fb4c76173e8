// Signing and constant-time verification of HMAC-SHA256 tokens and their typed claims.
#include "chat/token.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "chat/base64.h"

namespace chat::token {

namespace {

constexpr std::size_t kMacBytes = 32;

// HMAC-SHA256 (RFC 2104) with the key's padded blocks absorbed once: every request
// verifies a token with the same key, and HMAC() would fetch SHA-256 and hash both pads
// again each time (a third of a cached read's instructions). One state per thread, for
// the last key used.
class Hmac {
public:
    bool mac(std::span<const std::byte> key, std::string_view msg, unsigned char (&out)[kMacBytes]) {
        if (!ready_ || key.size() != key_.size() || !std::equal(key.begin(), key.end(), key_.begin())) {
            if (!init(key)) return false;
        }
        unsigned char inner[kMacBytes];
        unsigned int len = 0;
        return EVP_MD_CTX_copy_ex(work_.get(), inner_.get()) == 1 &&
               EVP_DigestUpdate(work_.get(), msg.data(), msg.size()) == 1 &&
               EVP_DigestFinal_ex(work_.get(), inner, &len) == 1 && len == kMacBytes &&
               EVP_MD_CTX_copy_ex(work_.get(), outer_.get()) == 1 &&
               EVP_DigestUpdate(work_.get(), inner, kMacBytes) == 1 &&
               EVP_DigestFinal_ex(work_.get(), out, &len) == 1 && len == kMacBytes;
    }

private:
    struct Free {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
        void operator()(EVP_MD* m) const noexcept { EVP_MD_free(m); }
    };
    static constexpr std::size_t kBlock = 64;

    bool init(std::span<const std::byte> key) {
        ready_ = false;
        if (!md_) md_.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
        if (!inner_) inner_.reset(EVP_MD_CTX_new());
        if (!outer_) outer_.reset(EVP_MD_CTX_new());
        if (!work_) work_.reset(EVP_MD_CTX_new());
        if (!md_ || !inner_ || !outer_ || !work_) return false;

        unsigned char block[kBlock] = {};
        if (key.size() > kBlock) {
            unsigned int len = 0;
            if (EVP_Digest(key.data(), key.size(), block, &len, md_.get(), nullptr) != 1) return false;
        } else if (!key.empty()) {
            std::memcpy(block, key.data(), key.size());
        }
        unsigned char pad[kBlock];
        for (std::size_t i = 0; i < kBlock; i++) pad[i] = block[i] ^ 0x36;
        if (EVP_DigestInit_ex(inner_.get(), md_.get(), nullptr) != 1 ||
            EVP_DigestUpdate(inner_.get(), pad, kBlock) != 1)
            return false;
        for (std::size_t i = 0; i < kBlock; i++) pad[i] = block[i] ^ 0x5c;
        if (EVP_DigestInit_ex(outer_.get(), md_.get(), nullptr) != 1 ||
            EVP_DigestUpdate(outer_.get(), pad, kBlock) != 1)
            return false;
        OPENSSL_cleanse(block, sizeof block);
        OPENSSL_cleanse(pad, sizeof pad);
        key_.assign(key.begin(), key.end());
        ready_ = true;
        return true;
    }

    bool ready_ = false;
    std::vector<std::byte> key_;
    std::unique_ptr<EVP_MD, Free> md_;
    std::unique_ptr<EVP_MD_CTX, Free> inner_, outer_, work_;
};

// HMAC-SHA256 of msg; false on OpenSSL failure.
bool mac(std::span<const std::byte> key, std::string_view msg, unsigned char (&out)[kMacBytes]) {
    thread_local Hmac h;
    return h.mac(key, msg, out);
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

// The tag and site of a claims payload: "<tag>|" for the default site, "<tag>@<site>|"
// for another.
std::string claims_head(char tag, const std::string& site) {
    std::string head(1, tag);
    if (site != limits::kSiteDefault) {
        head.push_back('@');
        head += site;
    }
    head.push_back('|');
    return head;
}

// Takes "<tag>|" or "<tag>@<site>|" off rest into site; false for another tag, a site
// name outside the pattern, or the default site spelt out (one encoding per claim).
bool take_head(std::string_view& rest, char tag, std::string& site) {
    if (rest.size() < 2 || rest[0] != tag) return false;
    if (rest[1] == '|') {
        site = limits::kSiteDefault;
        rest.remove_prefix(2);
        return true;
    }
    if (rest[1] != '@') return false;
    const auto bar = rest.find('|');
    if (bar == std::string_view::npos) return false;
    const std::string_view name = rest.substr(2, bar - 2);
    if (!limits::site_name_ok(name) || name == limits::kSiteDefault) return false;
    site = std::string(name);
    rest.remove_prefix(bar + 1);
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
    return sign(key, claims_head('s', c.site) + c.sid + "|" + std::to_string(c.exp_ms));
}

Result<SessionClaims> decode_session(std::span<const std::byte> key, std::string_view token,
                                     std::int64_t now_ms) noexcept {
    try {
        auto payload = verify(key, token);
        if (!payload.ok()) return payload.error();
        std::string_view rest = payload.value();
        SessionClaims c;
        if (!take_head(rest, 's', c.site)) return unauthorized("not a session token");
        if (!split_last_number(rest, c.exp_ms) || rest.empty()) return unauthorized("malformed session token");
        c.sid = std::string(rest);
        if (now_ms >= c.exp_ms) return unauthorized("session token expired");
        return c;
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

std::string encode_agent(std::span<const std::byte> key, const AgentClaims& c) {
    return sign(key, claims_head('a', c.site) + c.agent_id + "|" + std::to_string(c.token_version) + "|" +
                         std::to_string(c.exp_ms));
}

Result<AgentClaims> decode_agent(std::span<const std::byte> key, std::string_view token,
                                 std::int64_t now_ms) noexcept {
    try {
        auto payload = verify(key, token);
        if (!payload.ok()) return payload.error();
        std::string_view rest = payload.value();
        AgentClaims c;
        if (!take_head(rest, 'a', c.site)) return unauthorized("not an agent token");
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
