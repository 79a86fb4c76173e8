// The bounded memo of verified session tokens (why it is safe: chat/verified_sessions.h).
#include "chat/verified_sessions.h"

#include <algorithm>
#include <cstring>

namespace chat::token {

namespace {

// Whether two strings of the same size are equal, in time that depends on the size only:
// every word is read and the differences are OR-ed together, no early exit (OpenSSL's
// CRYPTO_memcmp does the same a byte at a time, five times slower on a token).
bool same_bytes(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size();
    std::uint64_t diff = 0;
    std::size_t i = 0;
    // two words a step: a session token is about 150 bytes, compared on every request
    for (; i + 2 * sizeof diff <= n; i += 2 * sizeof diff) {
        std::uint64_t x[2];
        std::uint64_t y[2];
        std::memcpy(x, a.data() + i, sizeof x);
        std::memcpy(y, b.data() + i, sizeof y);
        diff |= (x[0] ^ y[0]) | (x[1] ^ y[1]);
    }
    for (; i + sizeof diff <= n; i += sizeof diff) {
        std::uint64_t x = 0;
        std::uint64_t y = 0;
        std::memcpy(&x, a.data() + i, sizeof x);
        std::memcpy(&y, b.data() + i, sizeof y);
        diff |= x ^ y;
    }
    if (i < n && n >= sizeof diff) {
        // the last bytes as the last word, overlapping the one before: no byte loop
        std::uint64_t x = 0;
        std::uint64_t y = 0;
        std::memcpy(&x, a.data() + n - sizeof x, sizeof x);
        std::memcpy(&y, b.data() + n - sizeof y, sizeof y);
        diff |= x ^ y;
        i = n;
    }
    for (; i < n; i++) diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace

// A token's last bytes are its MAC's, uniform for every token we signed: they pick the
// slot. A forger can aim at any slot, but only a token that verifies is ever stored.
std::size_t VerifiedSessions::slot_of(std::string_view token) noexcept {
    std::uint64_t tail = 0;
    const std::size_t n = std::min(token.size(), sizeof tail);
    std::memcpy(&tail, token.data() + (token.size() - n), n);
    return static_cast<std::size_t>((tail * 0x9e3779b97f4a7c15ULL) >> (64 - kSlotBits));
}

const SessionClaims* VerifiedSessions::find(std::string_view token, std::int64_t now_ms) const noexcept {
    if (slots_.empty() || token.empty() || token.size() > kMaxTokenBytes) return nullptr;
    const Slot& s = slots_[slot_of(token)];
    // the lengths of tokens are no secret; their bytes are compared in constant time
    if (s.token.size() != token.size() || !same_bytes(s.token, token))
        return nullptr;
    if (now_ms >= s.claims.exp_ms) return nullptr;  // expired, as decode_session decides
    return &s.claims;
}

void VerifiedSessions::remember(std::string_view token, const SessionClaims& claims) noexcept {
    if (token.empty() || token.size() > kMaxTokenBytes) return;
    try {
        if (slots_.empty()) slots_.resize(kSlots);
        Slot& s = slots_[slot_of(token)];
        s.token.assign(token);
        s.claims = claims;
    } catch (...) {
        // a half-written slot must never match: forget it
        if (!slots_.empty()) slots_[slot_of(token)].token.clear();
    }
}

}  // namespace chat::token
