// The cache's page allocator: the shortest fitting run, splits and joins, the bounds, and
// what a table a crashed worker left half-changed gets (a refusal, then reset()).
#include "chat/page_runs.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace {

using namespace chat::pages;

struct Table {
    Head head{};
    std::vector<Tag> tags;

    explicit Table(std::uint32_t pages) : tags(pages) { init(head, tags); }
    std::optional<std::uint32_t> get(std::uint32_t n) { return alloc(head, tags, n); }
    bool put(std::uint32_t first) { return free(head, tags, first); }
    bool whole() const { return check(head, tags); }
};

TEST(PageRuns, HandsOutNothingBeforePagesAreGiven) {
    Table t(32);
    EXPECT_FALSE(t.get(1));
    EXPECT_TRUE(t.whole());
    EXPECT_EQ(longest_free(t.head, t.tags), 0U);
}

TEST(PageRuns, SplitsARunAndJoinsItAgainWhenItsPartsAreFree) {
    Table t(32);
    ASSERT_TRUE(add(t.head, t.tags, 4, 20));
    EXPECT_EQ(t.head.free_pages, 20U);
    const auto a = t.get(3), b = t.get(5), c = t.get(2);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(*a, 4U);
    EXPECT_EQ(*b, 7U);
    EXPECT_EQ(*c, 12U);
    EXPECT_EQ(t.head.free_pages, 10U);
    EXPECT_EQ(used_run(t.tags, *b), 5U);
    EXPECT_EQ(used_run(t.tags, *b + 1), 0U) << "only a run's first page names it";
    EXPECT_TRUE(t.whole());

    EXPECT_TRUE(t.put(*b));
    EXPECT_TRUE(t.put(*a));       // joins b's pages on its right
    EXPECT_EQ(longest_free(t.head, t.tags), 10U);
    EXPECT_TRUE(t.put(*c));       // joins both sides: one run again
    EXPECT_EQ(longest_free(t.head, t.tags), 20U);
    EXPECT_EQ(t.head.free_pages, 20U);
    EXPECT_TRUE(t.whole());
}

TEST(PageRuns, TakesTheShortestRunThatFitsNotTheFirst) {
    Table t(64);
    ASSERT_TRUE(add(t.head, t.tags, 0, 40));
    // free runs of 6 (at 0), 2 (at 10), 4 (at 20) between blocks in use
    const auto r0 = t.get(6), u0 = t.get(4), r1 = t.get(2), u1 = t.get(8), r2 = t.get(4), u2 = t.get(16);
    ASSERT_TRUE(r0 && u0 && r1 && u1 && r2 && u2);
    ASSERT_TRUE(t.put(*r0) && t.put(*r1) && t.put(*r2));
    EXPECT_EQ(t.get(3), r2) << "4 pages are the shortest run that holds 3";
    EXPECT_EQ(t.get(2), r1) << "an exact fit";
    EXPECT_EQ(t.get(5), r0);
    EXPECT_FALSE(t.get(2)) << "one page left of the 6, none else";
    EXPECT_TRUE(t.get(1));
    EXPECT_TRUE(t.whole());
}

TEST(PageRuns, LongRunsShareOneListAndAreFoundByLength) {
    Table t(400);
    ASSERT_TRUE(add(t.head, t.tags, 0, 70));
    ASSERT_TRUE(add(t.head, t.tags, 100, 200));   // not adjacent: two runs
    EXPECT_EQ(longest_free(t.head, t.tags), 200U);
    const auto big = t.get(150);
    ASSERT_TRUE(big);
    EXPECT_EQ(*big, 100U);
    EXPECT_FALSE(t.get(80));
    EXPECT_TRUE(t.get(64));
    EXPECT_TRUE(t.whole());
    EXPECT_TRUE(add(t.head, t.tags, 300, 10)) << "adjacent to the long run's rest: joined";
    EXPECT_EQ(longest_free(t.head, t.tags), 60U);
    EXPECT_TRUE(t.whole());
}

TEST(PageRuns, RefusesWhatItWasNotGivenOrDidNotHandOut) {
    Table t(16);
    EXPECT_FALSE(add(t.head, t.tags, 10, 7)) << "past the table";
    EXPECT_FALSE(add(t.head, t.tags, 0, 0));
    ASSERT_TRUE(add(t.head, t.tags, 0, 8));
    EXPECT_FALSE(add(t.head, t.tags, 6, 4)) << "pages given before";
    const auto a = t.get(3);
    ASSERT_TRUE(a);
    EXPECT_FALSE(t.put(*a + 1)) << "inside a run";
    EXPECT_FALSE(t.put(12)) << "never given";
    EXPECT_FALSE(t.put(99));
    EXPECT_TRUE(t.put(*a));
    EXPECT_FALSE(t.put(*a)) << "twice";
    EXPECT_FALSE(t.get(0));
    EXPECT_FALSE(t.get(9));
    EXPECT_TRUE(t.whole());
}

TEST(PageRuns, APageThatWasARunsEndOnceDoesNotFreeTheRunItIsInsideNow) {
    Table t(32);
    ASSERT_TRUE(add(t.head, t.tags, 0, 32));
    const auto a = t.get(3);
    ASSERT_TRUE(a);
    ASSERT_TRUE(t.put(*a));           // joined with the rest: its ends are inner pages now
    const auto b = t.get(10);
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, *a);
    EXPECT_FALSE(t.put(*a + 2)) << "a's old last page";
    EXPECT_EQ(used_run(t.tags, *a + 2), 0U);
    EXPECT_TRUE(t.whole());
    EXPECT_TRUE(t.put(*b));
    EXPECT_EQ(longest_free(t.head, t.tags), 32U);
}

TEST(PageRuns, ATableLeftHalfChangedIsRefusedThenResetToAllFree) {
    Table t(64);
    ASSERT_TRUE(add(t.head, t.tags, 0, 20));
    ASSERT_TRUE(add(t.head, t.tags, 30, 20));
    const auto a = t.get(5), b = t.get(7);
    ASSERT_TRUE(a && b);
    // a worker died between a run's two ends: the first says 5, the last 9
    t.tags[*a + 4].run = 9;
    EXPECT_FALSE(t.whole());
    EXPECT_FALSE(t.put(*a));
    // and a list pointing outside the table
    t.head.first[3] = 1000;
    t.head.nonempty |= 1U << 2;
    EXPECT_FALSE(t.get(3)) << "the list of 3 is the shortest that fits, and it is not believed";
    reset(t.head, t.tags);
    EXPECT_TRUE(t.whole());
    EXPECT_EQ(t.head.free_pages, 40U);
    EXPECT_EQ(longest_free(t.head, t.tags), 20U);
    EXPECT_TRUE(t.get(20));
    EXPECT_TRUE(t.get(20));
    EXPECT_FALSE(t.get(1));
}

TEST(PageRuns, StaysWholeUnderAGrowingLoad) {
    // the bench's pattern: every block replaced by one a page longer, 500 times over
    Table t(4096);
    ASSERT_TRUE(add(t.head, t.tags, 0, 4096));
    std::mt19937 rng(7);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> live;
    for (int i = 0; i < 300; i++) {
        const auto n = 1 + rng() % 4;
        if (auto p = t.get(n)) live.emplace_back(*p, n);
    }
    for (int round = 0; round < 500; round++) {
        auto& [first, n] = live[rng() % live.size()];
        const std::uint32_t grown = n + (rng() % 3 == 0 ? 1 : 0);
        auto p = t.get(grown);
        if (!p) continue;
        ASSERT_TRUE(t.put(first));
        first = *p;
        n = grown;
    }
    EXPECT_TRUE(t.whole());
    for (auto [first, n] : live) ASSERT_TRUE(t.put(first));
    EXPECT_EQ(t.head.free_pages, 4096U);
    EXPECT_EQ(longest_free(t.head, t.tags), 4096U) << "all joined again";
    EXPECT_TRUE(t.whole());
}

}  // namespace
