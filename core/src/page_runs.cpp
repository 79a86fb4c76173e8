// The cache's page allocator (chat/page_runs.h): free runs in lists by length, boundary tags.
#include "chat/page_runs.h"

#include <algorithm>
#include <bit>

namespace chat::pages {

namespace {

constexpr std::uint32_t list_of(std::uint32_t n) noexcept { return std::min(n, kLists); }

constexpr std::uint64_t bit(std::uint32_t list) noexcept { return std::uint64_t{1} << (list - 1); }

// A tag's state: the run's kind with which end it is (a page of one is both); 0 inside a run.
constexpr std::uint16_t kHead = 4;
constexpr std::uint16_t kTail = 8;

// Writes a run's two ends.
void mark(std::span<Tag> tags, std::uint32_t first, std::uint32_t n, std::uint16_t kind) noexcept {
    const std::uint32_t last = first + n - 1;
    tags[first].run = n;
    tags[last].run = n;
    if (n == 1) {
        tags[first].state = static_cast<std::uint16_t>(kind | kHead | kTail);
    } else {
        tags[first].state = static_cast<std::uint16_t>(kind | kHead);
        tags[last].state = static_cast<std::uint16_t>(kind | kTail);
    }
}

// Makes a run's two ends inner pages of a longer one (or of none).
void unmark(std::span<Tag> tags, std::uint32_t first, std::uint32_t n) noexcept {
    tags[first].run = 0;
    tags[first].state = 0;
    tags[first + n - 1].run = 0;
    tags[first + n - 1].state = 0;
}

// Whether first..first + n - 1 is a run of the table of kind: in range, its head at first
// and its tail at the last page, both of that length.
bool is_run(std::span<const Tag> tags, std::uint32_t first, std::uint32_t n, std::uint16_t kind) noexcept {
    const std::size_t size = tags.size();
    if (n == 0 || first >= size || n > size - first) return false;
    const Tag& a = tags[first];
    const Tag& z = tags[first + n - 1];
    if (!a.owned || !z.owned || a.run != n || z.run != n) return false;
    if (n == 1) return a.state == (kind | kHead | kTail);
    return a.state == (kind | kHead) && z.state == (kind | kTail);
}

void push(Head& head, std::span<Tag> tags, std::uint32_t first) noexcept {
    const std::uint32_t list = list_of(tags[first].run);
    const std::uint32_t next = head.first[list];
    tags[first].prev = kNil;
    tags[first].next = next;
    if (next != kNil && next < tags.size()) tags[next].prev = first;
    head.first[list] = first;
    head.nonempty |= bit(list);
}

void unlink(Head& head, std::span<Tag> tags, std::uint32_t first) noexcept {
    const std::uint32_t list = list_of(tags[first].run);
    const std::uint32_t next = tags[first].next;
    const std::uint32_t prev = tags[first].prev;
    if (prev != kNil && prev < tags.size()) {
        tags[prev].next = next;
    } else {
        head.first[list] = next;
    }
    if (next != kNil && next < tags.size()) tags[next].prev = prev;
    if (head.first[list] == kNil) head.nonempty &= ~bit(list);
    tags[first].next = kNil;
    tags[first].prev = kNil;
}

// Frees the run (in use, checked) at first: joins it with a free run on either side.
void release(Head& head, std::span<Tag> tags, std::uint32_t first, std::uint32_t n) noexcept {
    head.free_pages += n;
    unmark(tags, first, n);

    if (first > 0) {
        const Tag& left = tags[first - 1];
        if (left.owned && (left.state & kTail) && left.run <= first
            && is_run(tags, first - left.run, left.run, kFree)) {
            const std::uint32_t l = left.run;
            unlink(head, tags, first - l);
            unmark(tags, first - l, l);
            first -= l;
            n += l;
        }
    }

    const std::size_t after = static_cast<std::size_t>(first) + n;
    if (after < tags.size()) {
        const Tag& right = tags[after];
        if (right.owned && (right.state & kHead)
            && is_run(tags, static_cast<std::uint32_t>(after), right.run, kFree)) {
            const std::uint32_t r = right.run;
            unlink(head, tags, static_cast<std::uint32_t>(after));
            unmark(tags, static_cast<std::uint32_t>(after), r);
            n += r;
        }
    }

    mark(tags, first, n, kFree);
    push(head, tags, first);
}

}  // namespace

void init(Head& head, std::span<Tag> tags) noexcept {
    head.nonempty = 0;
    std::fill(std::begin(head.first), std::end(head.first), kNil);
    head.free_pages = 0;
    head.owned_pages = 0;
    std::fill(tags.begin(), tags.end(), Tag{0, 0, 0, kNil, kNil});
}

bool add(Head& head, std::span<Tag> tags, std::uint32_t first, std::uint32_t n) noexcept {
    if (n == 0 || first >= tags.size() || n > tags.size() - first) return false;
    for (std::uint32_t p = first; p < first + n; p++) {
        if (tags[p].owned) return false;
    }
    for (std::uint32_t p = first; p < first + n; p++) {
        tags[p] = Tag{0, 0, 1, kNil, kNil};
    }
    head.owned_pages += n;
    release(head, tags, first, n);
    return true;
}

std::optional<std::uint32_t> alloc(Head& head, std::span<Tag> tags, std::uint32_t n) noexcept {
    if (n == 0 || n > tags.size()) return std::nullopt;

    std::uint32_t first = kNil;

    if (n < kLists) {
        // the lists n .. 64: the shortest that holds a run
        const std::uint64_t fits = head.nonempty & ~(bit(n) - 1);
        if (fits == 0) return std::nullopt;
        first = head.first[std::countr_zero(fits) + 1];
    } else {
        // 64 pages or more: the first long enough in the last list (bounded by the table)
        std::uint32_t p = head.first[kLists];
        for (std::size_t hops = 0; p != kNil && p < tags.size() && hops < tags.size(); hops++) {
            if (tags[p].run >= n) {
                first = p;
                break;
            }
            p = tags[p].next;
        }
    }

    if (first == kNil || first >= tags.size()) return std::nullopt;

    const std::uint32_t run = tags[first].run;
    if (run < n || !is_run(tags, first, run, kFree)) return std::nullopt;

    unlink(head, tags, first);
    unmark(tags, first, run);
    if (run > n) {
        mark(tags, first + n, run - n, kFree);
        push(head, tags, first + n);
    }
    mark(tags, first, n, kUsed);
    head.free_pages -= std::min(head.free_pages, n);
    return first;
}

bool free(Head& head, std::span<Tag> tags, std::uint32_t first) noexcept {
    const std::uint32_t n = used_run(tags, first);
    if (n == 0) return false;
    release(head, tags, first, n);
    return true;
}

std::uint32_t used_run(std::span<const Tag> tags, std::uint32_t first) noexcept {
    if (first >= tags.size()) return 0;
    const std::uint32_t n = tags[first].run;
    return is_run(tags, first, n, kUsed) ? n : 0;
}

void reset(Head& head, std::span<Tag> tags) noexcept {
    head.nonempty = 0;
    std::fill(std::begin(head.first), std::end(head.first), kNil);
    head.free_pages = 0;
    head.owned_pages = 0;

    const auto size = static_cast<std::uint32_t>(tags.size());
    for (std::uint32_t p = 0; p < size;) {
        if (!tags[p].owned) {
            p++;
            continue;
        }
        std::uint32_t end = p;
        while (end < size && tags[end].owned) {
            tags[end] = Tag{0, 0, 1, kNil, kNil};
            end++;
        }
        head.owned_pages += end - p;
        head.free_pages += end - p;
        mark(tags, p, end - p, kFree);
        push(head, tags, p);
        p = end;
    }
}

std::uint32_t longest_free(const Head& head, std::span<const Tag> tags) noexcept {
    std::uint32_t longest = 0;
    std::uint32_t p = head.first[kLists];
    for (std::size_t hops = 0; p != kNil && p < tags.size() && hops < tags.size(); hops++) {
        longest = std::max(longest, tags[p].run);
        p = tags[p].next;
    }
    if (longest > 0) return longest;
    const std::uint64_t shorter = head.nonempty & (bit(kLists) - 1);
    return shorter ? static_cast<std::uint32_t>(64 - std::countl_zero(shorter)) : 0;
}

bool check(const Head& head, std::span<const Tag> tags) noexcept {
    const auto size = static_cast<std::uint32_t>(tags.size());

    // the given pages, tiled by runs
    std::uint32_t owned = 0, free_pages = 0, free_runs = 0;
    bool last_free = false;
    for (std::uint32_t p = 0; p < size;) {
        if (!tags[p].owned) {
            last_free = false;
            p++;
            continue;
        }
        const std::uint32_t n = tags[p].run;
        const auto state = static_cast<std::uint16_t>(tags[p].state & (kFree | kUsed));
        if ((state != kFree && state != kUsed) || !is_run(tags, p, n, state)) return false;
        for (std::uint32_t q = p; q < p + n; q++) {
            if (!tags[q].owned) return false;
            if (q != p && q != p + n - 1 && tags[q].state != 0) return false;  // inside: no end
        }
        if (state == kFree) {
            if (last_free) return false;  // two free runs side by side: not joined
            free_pages += n;
            free_runs++;
        }
        last_free = state == kFree;
        owned += n;
        p += n;
    }
    if (owned != head.owned_pages || free_pages != head.free_pages) return false;

    // each free run once, in its list, linked both ways
    std::uint32_t listed = 0;
    for (std::uint32_t list = 1; list <= kLists; list++) {
        std::uint32_t p = head.first[list];
        if ((p != kNil) != ((head.nonempty & bit(list)) != 0)) return false;
        std::uint32_t prev = kNil;
        for (; p != kNil; p = tags[p].next) {
            if (p >= size || listed >= free_runs) return false;
            if (!is_run(tags, p, tags[p].run, kFree) || list_of(tags[p].run) != list) return false;
            if (tags[p].prev != prev) return false;
            prev = p;
            listed++;
        }
    }
    return listed == free_runs;
}

}  // namespace chat::pages
