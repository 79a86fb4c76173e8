// Token buckets for the rate limits: refill, the choice of bucket, the wait of a refusal.
#include "chat/rate_buckets.h"

namespace chat::rate {

namespace {

// The tokens of b at now, refilled since b.last, capped at burst (in millionths).
std::uint64_t tokens(const Bucket& b, Limit limit, std::uint64_t burst, std::uint64_t now) noexcept {
    std::uint64_t elapsed = now - b.last;
    if (elapsed > burst / limit.rate) return burst;  // and no overflow below
    std::uint64_t t = b.tokens + elapsed * limit.rate;
    return t > burst ? burst : t;
}

}  // namespace

std::uint64_t take(std::span<Bucket> table, std::uint64_t hash, Limit limit, std::uint64_t now_ms) noexcept {
    std::size_t sets = table.size() / kWays;
    if (sets == 0 || limit.rate == 0) return 0;
    if (hash == 0) hash = 1;  // 0 marks an empty bucket

    std::uint64_t burst = limit.burst * kToken;
    std::span<Bucket> set = table.subspan(((hash >> 32) % sets) * kWays, kWays);
    Bucket* b = nullptr;
    Bucket* free = nullptr;

    for (Bucket& c : set) {
        if (c.key == hash) {
            b = &c;
            break;
        }
        if (free == nullptr && (c.key == 0 || tokens(c, limit, burst, now_ms) == burst)) free = &c;
    }

    if (b == nullptr && free != nullptr) {
        // empty, or idle long enough to be full: nothing is lost
        b = free;
        *b = Bucket{hash, static_cast<std::uint32_t>(burst), now_ms};
    }
    if (b == nullptr) {
        // every bucket of the set is in use: share one, never reset it
        b = &set[(hash >> 8) % kWays];
    }

    std::uint64_t t = tokens(*b, limit, burst, now_ms);
    std::uint64_t wait = 0;
    b->last = now_ms;
    if (t >= kToken) {
        t -= kToken;
    } else {
        wait = (kToken - t + limit.rate - 1) / limit.rate;
    }
    b->tokens = static_cast<std::uint32_t>(t);
    return wait;
}

}  // namespace chat::rate
