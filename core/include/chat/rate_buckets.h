// Token buckets for the rate limits (chat_rate, chat_session_rate): the arithmetic and
// the choice of bucket over a plain table the host keeps (nginx: in shared memory, under
// its lock). Pure functions of the table, the key's hash, the limit and the clock.
//
// A table is sets of kWays buckets, keyed by a 64-bit hash of the key (its high 32 bits
// pick the set, all 64 are the tag). Bounded, no allocation.
//
// The invariant: a bucket in use is never reset. A key finds its own bucket in its set;
// else it takes an empty one, or one that has refilled to its burst (its owner has been
// idle long enough that a fresh bucket is exactly what it would have: evicting it gives
// nobody anything). Only when every bucket of the set is in use does the key share one
// of them, chosen by its hash so that it is always the same one: colliding keys then draw
// from one bucket, which may slow them down but never hands anyone a fresh burst.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>

namespace chat::rate {

inline constexpr std::size_t kWays = 4;           // buckets per set
inline constexpr std::uint64_t kToken = 1000000;  // tokens are counted in millionths

// One bucket, plain data (all zero: empty), placed by the host in shared memory.
struct Bucket {
    std::uint64_t key;     // the key's hash; 0: empty
    std::uint32_t tokens;  // in millionths
    std::uint64_t last;    // ms of the last take
};
static_assert(std::is_trivial_v<Bucket> && std::is_standard_layout_v<Bucket>);

struct Limit {
    std::uint64_t rate;   // millionths of a token per millisecond; 0: no limit
    std::uint64_t burst;  // tokens
};

// Takes one token from key's bucket in table (a multiple of kWays buckets) at now_ms.
// Returns 0 when allowed, else the milliseconds until a token is available.
std::uint64_t take(std::span<Bucket> table, std::uint64_t hash, Limit limit, std::uint64_t now_ms) noexcept;

// The Retry-After of a refusal: take()'s wait in whole seconds, rounded up.
constexpr std::uint64_t retry_after_s(std::uint64_t wait_ms) noexcept { return (wait_ms + 999) / 1000; }

}  // namespace chat::rate
