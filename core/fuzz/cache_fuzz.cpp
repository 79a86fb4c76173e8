// libFuzzer target: the cache's packed lists are read from shared memory a crashed worker may
// have half-written; checking, slicing, selecting, merging, storing and rendering never read
// outside the bytes and every answer they give is ascending, inside what the entry holds, and
// within the limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/cache_entry.h"
#include "chat/customer.h"

namespace {

using namespace chat::cache;

// Reads the fuzzer's numbers from the front of the input: a tag byte with the high bit
// set is followed by a raw int64, otherwise it is a small number itself (-64 .. 63), so
// both the edges and the interesting small seqs are reached.
struct Input {
    std::span<const std::uint8_t> rest;

    std::int64_t num() {
        if (rest.empty()) return 0;
        const std::uint8_t tag = rest[0];
        rest = rest.subspan(1);
        if ((tag & 0x80) == 0) return static_cast<std::int64_t>(tag & 0x7f) - 64;
        std::int64_t v = 0;
        const std::size_t n = std::min(sizeof v, rest.size());
        std::memcpy(&v, rest.data(), n);
        rest = rest.subspan(n);
        return v;
    }
};

void check(bool ok) {
    if (!ok) std::abort();
}

// The list holds the messages `want` of `run`: one each, seqs ascending one apart, and their
// JSON comma-joined is the slice a read copies.
void check_holds(std::span<const std::byte> list, SeqRange run, SeqRange want) {
    auto u = unpack(list, run, want);
    check(u.ok());
    check(static_cast<std::int64_t>(u.value().size()) == want.count);
    std::string joined;
    for (std::size_t i = 0; i < u.value().size(); i++) {
        check(u.value()[i].seq == want.first + static_cast<std::int64_t>(i));
        if (i > 0) joined += ',';
        joined += u.value()[i].json;
    }
    const auto sl = slice(list, run, want);
    check(sl.has_value() && sl->offset <= list.size() && sl->size <= list.size() - sl->offset);
    check(std::string_view(reinterpret_cast<const char*>(list.data()) + sl->offset, sl->size) == joined);
}

// The answer to the read `want` of a list claimed to hold `held` stays inside its buffer
// (sized exactly to the bound, so ASan sees its end), is rendered exactly when slice() serves
// the read, and is then what the service renders for the sliced messages.
void check_answer(std::span<const std::byte> list, SeqRange held, SeqRange want) {
    static constexpr std::string_view conv = R"({"id":"c"})";
    const auto bound = answer_bound(conv.size(), list.size(), held.count, want.count);
    if (!bound) return;
    std::vector<char> out(*bound);
    // the read that trusts a list checked before reads and writes inside the same bytes
    // whatever they hold, and on a list that checks whole answers what render_read does
    std::vector<char> trusted(*bound);
    const auto trusted_size = render_checked_read(conv, list, held, want, std::span(trusted));
    check(!trusted_size || *trusted_size <= *bound);
    const auto size = render_read(conv, list, held, want, std::span(out));
    const auto sl = slice(list, held, want);
    check(size.has_value() == sl.has_value());
    if (check_list(list, held)) {
        check(trusted_size == size);
        check(!size || std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*size), trusted.begin()));
    }
    if (!size) return;
    check(*size <= *bound);
    const auto u = unpack(list, held, want);
    check(u.ok());
    check(static_cast<std::int64_t>(u.value().size()) == want.count);
    check(std::string_view(out.data(), *size) == chat::customer::Service::render_conversation(conv, u.value()));
}

// A read of an entry: whatever is served is ascending, inside the entry, within the limit.
void check_read(const Entry& e, std::int64_t after, std::int64_t limit) {
    const auto want = select(e.run, e.last_seq, after, limit);
    if (!want) return;
    check(limit > 0 && want->count >= 0 && want->count <= limit);
    if (want->count == 0) return;
    check(e.run.count > 0 && want->first >= e.run.first && want->count <= e.run.count &&
          want->first - e.run.first <= e.run.count - want->count);
    if (after >= 0) check(want->first > after);
    if (after < 0) check(want->last() == e.last_seq);
    const auto sl = slice(e.list, e.run, *want);
    if (!sl) return;
    check_holds(e.list, e.run, *want);
    check_answer(e.list, e.run, *want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in{std::span(data, size)};
    const Entry cached{in.num(), in.num(), SeqRange{in.num(), static_cast<std::uint32_t>(in.num())}, {}};
    const std::int64_t after = in.num();
    const std::int64_t limit = in.num();
    const std::int64_t version = in.num();
    const std::int64_t last_seq = in.num();
    const std::int64_t k = in.num() & 0x3f;
    const auto max = static_cast<std::size_t>(in.num() & 0x3f);
    const std::int64_t shape = in.num();
    // The rest is the packed list, copied so that ASan sees its exact end; or, to reach the
    // merges of real lists, the list the entry claims to hold, with one byte flipped maybe.
    std::string bytes(reinterpret_cast<const char*>(in.rest.data()), in.rest.size());
    if ((shape & 1) != 0 && cached.run.first > 0 && cached.run.first < 1000 && cached.run.count <= 64) {
        chat::Snapshot held;
        held.last_seq = cached.run.first + cached.run.count - 1;
        for (std::int64_t q = cached.run.first; q <= held.last_seq; q++) held.messages.push_back({q, bytes});
        if (auto p = pack(held, 64)) bytes = p->bytes;
        if ((shape & 2) != 0 && !bytes.empty()) bytes[static_cast<std::size_t>(shape >> 2) % bytes.size()] ^= 0x5a;
    }
    Entry e = cached;
    e.list = std::as_bytes(std::span(bytes));

    // Whatever a list unpacks as is what was asked; any slice of an untrusted list lies inside
    // it and holds what was asked.
    if (auto u = unpack(e.list, e.run, e.run); u.ok()) check(static_cast<std::int64_t>(u.value().size()) == e.run.count);
    if (auto sl = slice(e.list, e.run, e.run); sl && e.run.count > 0) check_holds(e.list, e.run, e.run);
    check_read(e, after, limit);
    // Rendering an untrusted list as if it held the run never reads or writes outside.
    check_answer(e.list, e.run, e.run);
    check_answer(e.list, e.run, SeqRange{after, limit & 0x3f});

    // A write against the untrusted entry: a snapshot of k messages ending at last_seq.
    chat::Snapshot s;
    s.key = "k";
    s.version = version;
    s.last_seq = last_seq;
    if (last_seq > k) {
        for (std::int64_t i = k - 1; i >= 0; i--) s.messages.push_back({last_seq - i, std::to_string(last_seq - i)});
    }
    const auto packed = pack(s, max);
    if (packed) {
        check(packed->run.count <= static_cast<std::int64_t>(max));
        check(packed->run.count == 0 || packed->run.last() == s.last_seq);
        check_holds(std::as_bytes(std::span(packed->bytes)), packed->run, packed->run);
    }
    const Merge m = merge(e, s, packed, max);
    if (m.store) {
        check(m.kept.offset <= e.list.size() && m.kept.size <= e.list.size() - m.kept.offset);
        check(m.run.count <= static_cast<std::int64_t>(max));
        // the stored list is the kept messages, then the packed ones, and it checks
        const auto size = stored_size(m, packed);
        check(size.has_value());
        std::string stored(*size, '\0');
        check(store(m, e, packed, std::as_writable_bytes(std::span(stored))));
        const Entry next{s.version, s.last_seq, m.run, std::as_bytes(std::span(stored))};
        check_holds(next.list, m.run, m.run);
        if (m.keep.count > 0) {
            const auto kept = unpack(e.list, e.run, m.keep);
            const auto now = unpack(next.list, m.run, m.keep);
            check(kept.ok() && now.ok());
            for (std::size_t i = 0; i < kept.value().size(); i++) check(kept.value()[i].json == now.value()[i].json);
        }
        if (packed && packed->run.count > 0) check(m.run.last() == packed->run.last());
        check_read(next, after, limit);
        // Writing the same snapshot again changes nothing.
        check(!merge(next, s, pack(s, max), max).store);
    } else {
        check(e.run.count >= 0 && s.version <= e.version);
    }
    return 0;
}
