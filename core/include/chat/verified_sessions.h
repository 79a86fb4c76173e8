// A worker's memory of the session tokens it verified lately, so that the next request
// carrying the very same token skips the HMAC.
//
// Why this is as strict as verifying: whether a token verifies depends only on the key and
// the token's bytes (the HMAC and the claims are deterministic), and on the clock through
// its expiry. A memo belongs to one customer::Service, whose key never changes (rotating
// chat_secret, the one way to revoke sessions, reloads nginx and so starts new workers with
// empty memos); it remembers only tokens that verified, with their claims, and tokens the
// Service signed itself with that key, with the claims it signed (encode_session and
// decode_session round-trip, so such a token verifies to exactly those: a new session's
// first post skips the HMAC too); a hit needs the
// whole presented token to equal the remembered one byte for byte; and every hit checks
// the expiry against the clock again, exactly as decode_session does. So a hit answers what
// verifying would have answered. Customer session tokens carry no version to revoke (agent
// tokens do, and are never remembered here).
//
// Bounded: kSlots slots, direct-mapped by a hash of the token, the newest token taking its
// slot; tokens longer than kMaxTokenBytes are never remembered. The comparison is constant
// time, so a forged token learns from the timing no more than from the answer (a 401).
// One thread only, like the Service that owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/token.h"

namespace chat::token {

class VerifiedSessions {
public:
    // A slot is about 300 bytes once used (the token, the session id): 1.2 MB a worker at
    // most, for a hit to about every request of the last few thousand sessions it served.
    static constexpr unsigned kSlotBits = 12;
    static constexpr std::size_t kSlots = std::size_t{1} << kSlotBits;
    static constexpr std::size_t kMaxTokenBytes = 512;

    // The claims of token if it was remembered and is not expired at now_ms; nullptr
    // otherwise. Valid until the next remember().
    const SessionClaims* find(std::string_view token, std::int64_t now_ms) const noexcept;

    // Remembers a token that decode_session() accepted with these claims (an allocation
    // failure or a long token remembers nothing).
    void remember(std::string_view token, const SessionClaims& claims) noexcept;

private:
    struct Slot {
        std::string token;  // empty: free
        SessionClaims claims;
    };

    static std::size_t slot_of(std::string_view token) noexcept;

    std::vector<Slot> slots_;  // kSlots of them once the first token is remembered
};

}  // namespace chat::token
