// The rate limits' token buckets: refill, refusal with its wait, and the rule that a
// bucket in use is never reset by a colliding key.
#include "chat/rate_buckets.h"

#include <gtest/gtest.h>

#include <array>

namespace {

using chat::rate::Bucket;
using chat::rate::Limit;
using chat::rate::take;

constexpr std::size_t kSlots = 4 * chat::rate::kWays;  // four sets

// 1 token per second (1000 millionths per ms), burst 2
constexpr Limit kOnePerSecond{1000, 2};

// a hash in set `set` with tag `tag`
constexpr std::uint64_t key(std::uint64_t set, std::uint64_t tag) { return (set << 32) | tag; }

TEST(RateBuckets, AllowsTheBurstThenRefusesWithTheWaitForOneToken) {
    std::array<Bucket, kSlots> table{};
    EXPECT_EQ(take(table, key(1, 1), kOnePerSecond, 5000), 0U);
    EXPECT_EQ(take(table, key(1, 1), kOnePerSecond, 5000), 0U);
    EXPECT_EQ(take(table, key(1, 1), kOnePerSecond, 5000), 1000U);
    EXPECT_EQ(take(table, key(1, 1), kOnePerSecond, 5400), 600U);
}

TEST(RateBuckets, RefillsWithTimeNeverAboveTheBurst) {
    std::array<Bucket, kSlots> table{};
    take(table, key(0, 7), kOnePerSecond, 0);
    take(table, key(0, 7), kOnePerSecond, 0);
    EXPECT_EQ(take(table, key(0, 7), kOnePerSecond, 1000), 0U);  // one refilled
    EXPECT_EQ(take(table, key(0, 7), kOnePerSecond, 1000), 1000U);
    // a long pause refills to the burst, no more
    EXPECT_EQ(take(table, key(0, 7), kOnePerSecond, 1000000), 0U);
    EXPECT_EQ(take(table, key(0, 7), kOnePerSecond, 1000000), 0U);
    EXPECT_NE(take(table, key(0, 7), kOnePerSecond, 1000000), 0U);
}

TEST(RateBuckets, KeysOfOneSetHaveTheirOwnBucketsWhileThereIsRoom) {
    std::array<Bucket, kSlots> table{};
    for (std::uint64_t tag = 1; tag <= chat::rate::kWays; tag++) {
        EXPECT_EQ(take(table, key(2, tag), kOnePerSecond, 0), 0U);
        EXPECT_EQ(take(table, key(2, tag), kOnePerSecond, 0), 0U);
    }
    // the set's other keys were untouched by each other; the other sets are empty
    for (std::size_t i = 0; i < kSlots; i++) {
        EXPECT_EQ(table[i].key != 0, i / chat::rate::kWays == 2) << i;
    }
}

TEST(RateBuckets, ABucketInUseIsNeverResetByACollidingKey) {
    std::array<Bucket, kSlots> table{};
    // fill every bucket of set 3 and empty them
    for (std::uint64_t tag = 1; tag <= chat::rate::kWays; tag++) {
        take(table, key(3, tag), kOnePerSecond, 0);
        take(table, key(3, tag), kOnePerSecond, 0);
    }
    // a fifth key shares one of them: no fresh burst for it ...
    EXPECT_NE(take(table, key(3, 99), kOnePerSecond, 0), 0U);
    // ... and the owners still have nothing
    for (std::uint64_t tag = 1; tag <= chat::rate::kWays; tag++) {
        EXPECT_NE(take(table, key(3, tag), kOnePerSecond, 0), 0U) << tag;
    }
}

TEST(RateBuckets, AnIdleFullBucketIsTakenOver) {
    std::array<Bucket, kSlots> table{};
    for (std::uint64_t tag = 1; tag <= chat::rate::kWays; tag++) take(table, key(1, tag), kOnePerSecond, 0);
    // long after, every bucket has refilled: a new key takes one with a fresh burst
    EXPECT_EQ(take(table, key(1, 50), kOnePerSecond, 10000), 0U);
    EXPECT_EQ(take(table, key(1, 50), kOnePerSecond, 10000), 0U);
    EXPECT_NE(take(table, key(1, 50), kOnePerSecond, 10000), 0U);
}

TEST(RateBuckets, NoRateOrNoTableMeansNoLimit) {
    std::array<Bucket, kSlots> table{};
    for (int i = 0; i < 10; i++) EXPECT_EQ(take(table, key(0, 1), Limit{0, 1}, 0), 0U);
    EXPECT_EQ(take(std::span<Bucket>{}, key(0, 1), kOnePerSecond, 0), 0U);
}

TEST(RateBuckets, AZeroHashIsStillAKey) {
    std::array<Bucket, kSlots> table{};
    EXPECT_EQ(take(table, 0, Limit{1000, 1}, 0), 0U);
    EXPECT_EQ(take(table, 0, Limit{1000, 1}, 0), 1000U);
}

TEST(RateBuckets, RetryAfterRoundsUpToWholeSeconds) {
    EXPECT_EQ(chat::rate::retry_after_s(1), 1U);
    EXPECT_EQ(chat::rate::retry_after_s(1000), 1U);
    EXPECT_EQ(chat::rate::retry_after_s(1001), 2U);
}

}  // namespace
