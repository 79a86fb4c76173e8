// Runs of pages for the conversation cache's blocks: an allocator over a table the host keeps
// (nginx: in shared memory, under the zone's lock), one Tag a page of the region, plain data
// and indexes, no pointers. The host gives it pages (add) and never takes them back; it hands
// out runs of n pages and takes them back, joining free neighbours.
//
// Why not nginx's slab for them: the slab finds n pages by walking its list of free runs from
// the last one freed and takes the first that fits. A post replaces its conversation's block
// with one a little larger, so under a write load the list fills with runs a page or two too
// small for the next block, and every allocation walked past them (~1 200 runs an allocation,
// a quarter of the workers' CPU after a few posts to each of 33 000 conversations: README
// "Session 21"). Here a free run sits in the list of its length (1 .. 63 pages each their
// own, 64 or more together) and a bit a list says which hold one: an allocation of n < 64
// pages takes the head of the shortest list that fits, found with one count of trailing
// zeros, and splits off what it does not need; a free joins the run with its free neighbours
// (each run's first and last Tag hold its length, its state and which end they are, the
// pages inside none: boundary tags, so that only a run's first page frees it).
//
// Every index read from the table is checked before it is followed, so a table a crashed
// worker left half-changed makes a call fail (false, nullopt), never read or write outside
// it; the host then calls reset().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

namespace chat::pages {

inline constexpr std::uint32_t kNil = 0xffffffff;
inline constexpr std::uint32_t kLists = 64;  // [1 .. 63]: runs of that many pages; [64]: more

inline constexpr std::uint16_t kFree = 1;
inline constexpr std::uint16_t kUsed = 2;

// One a page of the region; all zero: a page the allocator was not given.
struct Tag {
    std::uint32_t run;    // on a run's first and last page: its pages
    std::uint16_t state;  // on a run's first and last page: kFree or kUsed, and which end; else 0
    std::uint16_t owned;  // 1 once the page was given (add)
    std::uint32_t next;   // on a free run's first page: its list's links (kNil: none)
    std::uint32_t prev;
};
static_assert(std::is_trivial_v<Tag> && std::is_standard_layout_v<Tag>);

// The lists' heads and the counts; init() makes it empty.
struct Head {
    std::uint64_t nonempty;             // bit c - 1: list c holds a run
    std::uint32_t first[kLists + 1];    // each list's first run (kNil: empty); [0] unused
    std::uint32_t free_pages;
    std::uint32_t owned_pages;
};
static_assert(std::is_trivial_v<Head> && std::is_standard_layout_v<Head>);

// Empties head and every tag: no page given, none free.
void init(Head& head, std::span<Tag> tags) noexcept;

// Gives pages [first, first + n) to the allocator, free (joined with a free neighbour);
// false, changing nothing, if they are outside the table or one of them was given before.
bool add(Head& head, std::span<Tag> tags, std::uint32_t first, std::uint32_t n) noexcept;

// A run of n pages: its first page; nullopt if no free run is that long (or n is 0).
std::optional<std::uint32_t> alloc(Head& head, std::span<Tag> tags, std::uint32_t n) noexcept;

// Takes back the run alloc() returned at first; false, changing nothing, if first is not
// the first page of a run in use.
bool free(Head& head, std::span<Tag> tags, std::uint32_t first) noexcept;

// The pages of the run in use at first; 0 if first is not the first page of one.
std::uint32_t used_run(std::span<const Tag> tags, std::uint32_t first) noexcept;

// Every page given so far free again, in runs as long as they are adjacent (after a crash in
// the middle of a change, when no block is in use any more). O(pages).
void reset(Head& head, std::span<Tag> tags) noexcept;

// The longest free run's pages (for the log of a failed store).
std::uint32_t longest_free(const Head& head, std::span<const Tag> tags) noexcept;

// Whether the table is whole: the given pages tiled by runs whose two ends agree, no two free
// runs adjacent, each free run once in the list of its length, the counts right (tests and
// the fuzzer; O(pages)).
bool check(const Head& head, std::span<const Tag> tags) noexcept;

}  // namespace chat::pages
