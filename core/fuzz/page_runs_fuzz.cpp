// libFuzzer target: the cache's page allocator (chat/page_runs.h) under any sequence of gives,
// allocations and frees, and with its table's bytes overwritten the way a worker dying in
// the middle of a change could leave them: it never reads or writes outside the table, a run
// it hands out is inside what it was given and overlaps no other run in use, and after
// reset() the table is whole again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "chat/page_runs.h"

namespace {

using namespace chat::pages;

void need(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::uint32_t kPages = 300;
    Head head{};
    std::vector<Tag> tags(kPages);
    init(head, tags);

    std::vector<bool> given(kPages, false);
    std::map<std::uint32_t, std::uint32_t> live;   // first page -> pages
    bool corrupted = false;

    for (std::size_t i = 0; i + 2 < size; i += 3) {
        const std::uint8_t op = data[i] % 5;
        const std::uint32_t a = data[i + 1];
        const std::uint32_t b = data[i + 2];
        switch (op) {
        case 0: {   // give pages
            const std::uint32_t first = a + (b & 0x3f), n = 1 + (b >> 2);
            bool fresh = first + n <= kPages;
            for (std::uint32_t p = first; fresh && p < first + n; p++) fresh = !given[p];
            const bool ok = add(head, tags, first, n);
            if (!corrupted) need(ok == fresh);
            if (ok) for (std::uint32_t p = first; p < first + n; p++) given[p] = true;
            break;
        }
        case 1: case 2: {   // allocate
            const std::uint32_t n = op == 1 ? 1 + a % 8 : 1 + a;
            if (auto p = alloc(head, tags, n)) {
                need(*p < kPages && *p + n <= kPages);
                for (std::uint32_t q = *p; q < *p + n; q++) need(given[q]);
                if (!corrupted) {
                    auto next = live.lower_bound(*p);
                    need(next == live.end() || next->first >= *p + n);
                    if (next != live.begin()) {
                        auto prev = std::prev(next);
                        need(prev->first + prev->second <= *p);
                    }
                }
                live[*p] = n;
            }
            break;
        }
        case 3: {   // free one in use, or any page
            std::uint32_t first = a + b;
            if (!live.empty() && (b & 1)) {
                auto it = live.begin();
                std::advance(it, a % live.size());
                first = it->first;
            }
            const bool ok = free(head, tags, first);
            if (!corrupted) need(ok == (live.count(first) == 1));
            live.erase(first);
            break;
        }
        case 4: {   // a byte of the table overwritten
            auto* bytes = reinterpret_cast<std::uint8_t*>(tags.data());
            const std::size_t at = (static_cast<std::size_t>(a) << 8 | b) % (kPages * sizeof(Tag));
            bytes[at] = static_cast<std::uint8_t>(a ^ b);
            corrupted = true;
            break;
        }
        }
        if (!corrupted) need(check(head, tags));
        (void) longest_free(head, tags);
    }

    // the host's recovery: nothing in use any more, every page given is free again
    std::uint32_t owned = 0;
    for (std::uint32_t p = 0; p < kPages; p++) owned += tags[p].owned ? 1 : 0;
    reset(head, tags);
    need(check(head, tags));
    need(head.free_pages == owned);
    if (!corrupted) {
        std::uint32_t n = 0;
        for (std::uint32_t p = 0; p < kPages; p++) n += given[p] ? 1 : 0;
        need(n == owned);
    }
    return 0;
}
