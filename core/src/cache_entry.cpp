// The cache's packed message lists: packing a snapshot, checking and slicing the
// untrusted bytes, and the read and write decisions (format in chat/cache_entry.h).
#include "chat/cache_entry.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace chat::cache {

namespace {

constexpr std::int64_t kMaxSeq = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kMaxLen = std::numeric_limits<std::uint32_t>::max();

// A run whose seqs are positive and whose last seq is representable; the runs an
// entry stores come from shared memory and are checked before any arithmetic.
bool sane(SeqRange r) noexcept {
    if (r.count == 0) return true;
    return r.count > 0 && r.first > 0 && r.first - 1 <= kMaxSeq - r.count;
}

std::int64_t clamp_count(std::size_t n) noexcept {
    return static_cast<std::int64_t>(std::min<std::size_t>(n, static_cast<std::size_t>(kMaxSeq)));
}

// want inside held, both sane.
bool inside(SeqRange held, SeqRange want) noexcept {
    return sane(held) && held.count > 0 && want.count > 0 && want.count <= held.count && want.first >= held.first &&
           want.first - held.first <= held.count - want.count;
}

// A list of `count` messages whose header and index lie inside it: where its text starts.
struct Index {
    const std::byte* base = nullptr;  // the list
    std::size_t text = 0;             // offset of the text in the list
    std::size_t text_size = 0;
    std::size_t count = 0;  // of messages

    std::size_t end(std::size_t i) const noexcept {
        std::uint32_t e = 0;
        std::memcpy(&e, base + list_header + i * index_entry, sizeof e);
        return e;
    }
    char at(std::size_t off) const noexcept { return static_cast<char>(base[text + off]); }
};

// The index of a list that should hold count > 0 messages, if its format is this one,
// the index fits and its last end is the text's size.
std::optional<Index> index_of(std::span<const std::byte> list, std::int64_t count) noexcept {
    if (count <= 0 || list.size() < list_header ||
        static_cast<std::uint64_t>(count) > (list.size() - list_header) / index_entry) {
        return std::nullopt;
    }
    std::uint64_t format = 0;
    std::memcpy(&format, list.data(), sizeof format);
    if (format != list_format) return std::nullopt;
    const auto n = static_cast<std::size_t>(count);
    Index ix{list.data(), list_header + n * index_entry, 0, n};
    ix.text_size = list.size() - ix.text;
    if (ix.end(static_cast<std::size_t>(count) - 1) != ix.text_size) return std::nullopt;
    return ix;
}

// The text of messages i0 .. i1 (inclusive, inside the index) if their ends, and the
// one before i0, ascend inside the text with a comma after each but the list's last.
std::optional<Slice> text_of(const Index& ix, std::size_t i0, std::size_t i1) noexcept {
    std::size_t start = 0;
    if (i0 > 0) {
        const std::size_t e = ix.end(i0 - 1);
        if (e >= ix.text_size || ix.at(e) != ',') return std::nullopt;
        start = e + 1;
    }
    std::size_t from = start;
    for (std::size_t i = i0; i < i1; i++) {
        const std::size_t e = ix.end(i);
        if (e < from || e >= ix.text_size || ix.at(e) != ',') return std::nullopt;
        from = e + 1;
    }
    const std::size_t stop = ix.end(i1);
    if (stop < from || stop > ix.text_size) return std::nullopt;
    if (i1 + 1 < ix.count && (stop == ix.text_size || ix.at(stop) != ',')) return std::nullopt;
    return Slice{ix.text + start, stop - start};
}

// The text of messages i0 .. i1 of a list that check_list() accepted before: only the
// end before i0 and i1's are read, and only checked to lie inside the text, in order.
std::optional<Slice> bounds_of(const Index& ix, std::size_t i0, std::size_t i1) noexcept {
    std::size_t start = 0;
    if (i0 > 0) {
        const std::size_t e = ix.end(i0 - 1);
        if (e >= ix.text_size) return std::nullopt;
        start = e + 1;
    }
    const std::size_t stop = ix.end(i1);
    if (stop < start || stop > ix.text_size) return std::nullopt;
    return Slice{ix.text + start, stop - start};
}

void put_u64(std::byte* p, std::uint64_t v) noexcept { std::memcpy(p, &v, sizeof v); }
void put_u32(std::byte* p, std::size_t v) noexcept {
    const auto u = static_cast<std::uint32_t>(v);
    std::memcpy(p, &u, sizeof u);
}

}  // namespace

std::uint64_t key_hash(std::string_view key) noexcept {
    // each step is a bijection of h (xor a word, multiply by an odd constant, xor-shift),
    // so a change in one word always changes the result
    constexpr std::uint64_t kMul = 0x9e37'79b9'7f4a'7c15ULL;
    auto mix = [](std::uint64_t h, std::uint64_t w) noexcept {
        h = (h ^ w) * kMul;
        return h ^ (h >> 29);
    };
    std::uint64_t h = mix(0, key.size());
    std::size_t i = 0;
    for (; key.size() - i >= sizeof(std::uint64_t); i += sizeof(std::uint64_t)) {
        std::uint64_t w = 0;
        std::memcpy(&w, key.data() + i, sizeof w);
        h = mix(h, w);
    }
    if (i < key.size()) {
        std::uint64_t w = 0;
        std::memcpy(&w, key.data() + i, key.size() - i);
        h = mix(h, w);
    }
    return h ^ (h >> 32);
}

std::optional<std::size_t> list_size(std::int64_t count, std::size_t text_size) noexcept {
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    if (count < 0 || static_cast<std::uint64_t>(count) > (kMax - list_header) / index_entry) return std::nullopt;
    const std::size_t head = list_header + static_cast<std::size_t>(count) * index_entry;
    if (text_size > kMax - head) return std::nullopt;
    return head + text_size;
}

std::optional<Packed> pack(const Snapshot& s, std::size_t max_messages) {
    const auto& m = s.messages;
    if (m.empty() || m.back().seq != s.last_seq) return std::nullopt;
    for (std::size_t i = 0; i < m.size(); i++) {
        if (m[i].seq <= 0 || m[i].json.size() > kMaxLen) return std::nullopt;
        if (i > 0 && m[i].seq - 1 != m[i - 1].seq) return std::nullopt;
    }

    const std::size_t k = std::min(m.size(), max_messages);
    const std::size_t from = m.size() - k;
    std::size_t text = 0;
    for (std::size_t i = from; i < m.size(); i++) {
        text += m[i].json.size() + (i > from ? 1 : 0);
        if (text > kMaxLen) return std::nullopt;  // the ends are 32 bits
    }
    const auto size = list_size(static_cast<std::int64_t>(k), text);
    if (!size) return std::nullopt;

    Packed p;
    p.bytes.resize(*size);
    auto* out = reinterpret_cast<std::byte*>(p.bytes.data());
    put_u64(out, list_format);
    std::size_t off = list_header + k * index_entry;
    std::size_t end = 0;
    for (std::size_t i = from; i < m.size(); i++) {
        if (i > from) {
            p.bytes[off++] = ',';
            end++;
        }
        std::memcpy(p.bytes.data() + off, m[i].json.data(), m[i].json.size());
        off += m[i].json.size();
        end += m[i].json.size();
        put_u32(out + list_header + (i - from) * index_entry, end);
    }
    if (k > 0) p.run = SeqRange{m[from].seq, static_cast<std::int64_t>(k)};
    return p;
}

std::optional<Slice> slice(std::span<const std::byte> list, SeqRange held, SeqRange want) noexcept {
    if (want.count == 0) return Slice{};
    if (!inside(held, want)) return std::nullopt;
    const auto ix = index_of(list, held.count);
    if (!ix) return std::nullopt;
    const auto i0 = static_cast<std::size_t>(want.first - held.first);
    return text_of(*ix, i0, i0 + static_cast<std::size_t>(want.count) - 1);
}

Result<std::vector<CachedMessage>> unpack(std::span<const std::byte> list, SeqRange held, SeqRange want) {
    const auto sl = slice(list, held, want);
    if (!sl) return make_error(Errc::internal, "cache: a packed list does not hold what its entry says");
    std::vector<CachedMessage> out;
    if (want.count == 0) return out;
    out.reserve(static_cast<std::size_t>(want.count));
    // slice() checked the ends: each message runs from `from` to its end, a comma after it
    const auto ix = index_of(list, held.count);
    const auto i0 = static_cast<std::size_t>(want.first - held.first);
    std::size_t from = sl->offset - ix->text;
    for (std::size_t i = 0; i < static_cast<std::size_t>(want.count); i++) {
        const std::size_t e = ix->end(i0 + i);
        const auto* json = reinterpret_cast<const char*>(list.data() + ix->text + from);
        out.push_back(CachedMessage{want.first + static_cast<std::int64_t>(i), std::string(json, e - from)});
        from = e + 1;
    }
    return out;
}

namespace {

// The answer's fixed bytes around the conversation and the messages (see the header).
constexpr std::string_view kAnswerHead = "{\"conversation\":";
constexpr std::string_view kAnswerMessages = ",\"messages\":[";
constexpr std::string_view kAnswerTail = "]}";

// below glibc's smallest threshold for `rep movsb` (see render_read)
constexpr std::size_t kCopyPiece = 1984;

// glibc's memcpy for one piece. Not inlined and its size not propagated on purpose: a
// memcpy whose size GCC can bound (here by kCopyPiece) is expanded inline as `rep movsq`,
// the microcoded copy the pieces are there to avoid (callgrind counts it a word at a time:
// about 1 200 instructions for 7 KB with the loop around it, glibc's vector loop 1 040).
#if defined(__clang__)
[[gnu::noinline]]
#else
[[gnu::noipa]]
#endif
void copy_piece(char* to, const std::byte* from, std::size_t n) noexcept {
    std::memcpy(to, from, n);
}

}  // namespace

std::optional<std::size_t> answer_bound(std::size_t conversation_size, std::size_t list_size, std::int64_t held_count,
                                        std::int64_t want_count) noexcept {
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    constexpr std::size_t fixed = kAnswerHead.size() + kAnswerMessages.size() + kAnswerTail.size();
    if (held_count < 0 || want_count < 0 || want_count > held_count) return std::nullopt;
    // the text of all the messages the list holds: want's, with its commas, is no more
    std::size_t messages = 0;
    if (held_count > 0) {
        if (list_size < list_header ||
            static_cast<std::uint64_t>(held_count) > (list_size - list_header) / index_entry) {
            return std::nullopt;
        }
        if (want_count > 0) messages = list_size - list_header - static_cast<std::size_t>(held_count) * index_entry;
    }
    if (conversation_size > kMax - fixed || messages > kMax - fixed - conversation_size) return std::nullopt;
    return fixed + conversation_size + messages;
}

namespace {

// The answer around the messages' JSON sl (inside list), into out.
std::optional<std::size_t> render_slice(std::string_view conversation_json, std::span<const std::byte> list,
                                        Slice sl, std::span<char> out) noexcept {
    char* p = out.data();
    char* const end = out.data() + out.size();
    auto put = [&p, end](const void* src, std::size_t n) {
        if (static_cast<std::size_t>(end - p) < n) return false;
        if (n > 0) std::memcpy(p, src, n);
        p += n;
        return true;
    };
    if (!put(kAnswerHead.data(), kAnswerHead.size()) || !put(conversation_json.data(), conversation_json.size()) ||
        !put(kAnswerMessages.data(), kAnswerMessages.size())) {
        return std::nullopt;
    }
    // The messages in pieces under kCopyPiece, each by glibc's vector loop: glibc copies 4 KB
    // and more (with AVX2) with `rep movsb`, which callgrind counts a byte at a time, so
    // bench/instructions.sh would no longer see the read's other costs. On this machine one
    // call measured 5-20 ns faster for 7 KB, the pieces 20-55 ns faster than GCC's inline
    // `rep movsq` (README Benchmarks, session 8).
    if (sl.offset > list.size() || sl.size > list.size() - sl.offset) return std::nullopt;
    const auto* from = list.data() + sl.offset;
    if (static_cast<std::size_t>(end - p) < sl.size) return std::nullopt;
    for (std::size_t left = sl.size; left > 0;) {
        const std::size_t n = std::min(left, kCopyPiece);
        copy_piece(p, from, n);
        p += n;
        from += n;
        left -= n;
    }
    if (!put(kAnswerTail.data(), kAnswerTail.size())) return std::nullopt;
    return static_cast<std::size_t>(p - out.data());
}

}  // namespace

std::optional<std::size_t> render_read(std::string_view conversation_json, std::span<const std::byte> list,
                                       SeqRange held, SeqRange want, std::span<char> out) noexcept {
    const auto sl = slice(list, held, want);
    if (!sl) return std::nullopt;
    return render_slice(conversation_json, list, *sl, out);
}

bool check_list(std::span<const std::byte> list, SeqRange held) noexcept {
    return slice(list, held, held).has_value();
}

std::optional<std::size_t> render_checked_read(std::string_view conversation_json, std::span<const std::byte> list,
                                               SeqRange held, SeqRange want, std::span<char> out) noexcept {
    if (want.count == 0) return render_slice(conversation_json, list, Slice{}, out);
    if (!inside(held, want)) return std::nullopt;
    const auto ix = index_of(list, held.count);
    if (!ix) return std::nullopt;
    const auto i0 = static_cast<std::size_t>(want.first - held.first);
    const auto sl = bounds_of(*ix, i0, i0 + static_cast<std::size_t>(want.count) - 1);
    if (!sl) return std::nullopt;
    return render_slice(conversation_json, list, *sl, out);
}

std::optional<SeqRange> select(SeqRange held, std::int64_t last_seq, std::int64_t after, std::int64_t limit) noexcept {
    if (limit <= 0) return std::nullopt;
    // No messages yet: every read is answered, empty.
    if (last_seq == 0) return SeqRange{};
    // Not the tail: newer messages exist that the entry does not hold.
    if (!sane(held) || held.count == 0 || held.last() != last_seq) return std::nullopt;

    const std::int64_t last = held.last();
    if (after >= 0) {
        // Older messages than the entry holds exist (seq 1 is the first of all).
        if (after < held.first - 1 && held.first != 1) return std::nullopt;
        if (after >= last) return SeqRange{};
        const std::int64_t start = std::max(after + 1, held.first);
        return SeqRange{start, std::min(limit, last - start + 1)};
    }
    const std::int64_t need = std::min(limit, last_seq);
    if (need > held.count) return std::nullopt;
    return SeqRange{last - need + 1, need};
}

Merge merge(const std::optional<Entry>& cached, const Snapshot& s, const std::optional<Packed>& packed,
            std::size_t max_messages) noexcept {
    const SeqRange fresh = packed ? packed->run : SeqRange{};
    const std::int64_t max = clamp_count(max_messages);
    Merge m;

    if (cached) {
        const SeqRange& held = cached->run;
        if (s.version < cached->version) return m;
        // The same version is the same conversation state, so its messages may only
        // add coverage: a tail reaching further back (say, a history read that
        // missed the cache) is merged in.
        if (s.version == cached->version &&
            (!packed || fresh.count == 0 || cached->last_seq != s.last_seq ||
             (sane(held) && held.count > 0 && held.last() == cached->last_seq && fresh.first >= held.first))) {
            return m;
        }
    }
    m.store = true;

    // Which of the cached messages survive, as a run of seqs.
    SeqRange keep;
    if (cached && sane(cached->run) && cached->run.count > 0) {
        const SeqRange& held = cached->run;
        if (packed) {
            const std::int64_t room = max - fresh.count;
            if (fresh.count > 0 && room > 0 && held.first <= fresh.first - 1 && fresh.first - 1 <= held.last()) {
                keep.count = std::min(fresh.first - held.first, room);
                keep.first = fresh.first - keep.count;
            }
        } else if (held.last() == s.last_seq) {
            keep.count = std::min(held.count, max);
            keep.first = keep.count > 0 ? held.last() - keep.count + 1 : 0;
        }
    }

    if (keep.count > 0) {
        if (const auto kept = slice(cached->list, cached->run, keep)) {
            m.keep = keep;
            m.kept = *kept;
        } else {
            keep = SeqRange{};  // the cached messages do not check: keep none of them
        }
    }
    m.run = keep.count > 0 ? SeqRange{keep.first, keep.count + fresh.count} : fresh;
    return m;
}

namespace {

// The text size of a packed list of its run, if it is one.
std::optional<std::size_t> packed_text(const std::optional<Packed>& packed) noexcept {
    if (!packed || packed->run.count == 0) return 0;
    const auto ix = index_of(std::as_bytes(std::span(packed->bytes)), packed->run.count);
    if (!ix) return std::nullopt;
    return ix->text_size;
}

}  // namespace

std::optional<std::size_t> stored_size(const Merge& m, const std::optional<Packed>& packed) noexcept {
    const auto fresh = packed_text(packed);
    const std::int64_t fresh_count = packed ? packed->run.count : 0;
    if (!fresh || m.keep.count < 0 || m.run.count != m.keep.count + fresh_count) return std::nullopt;
    const std::size_t comma = m.keep.count > 0 && fresh_count > 0 ? 1 : 0;
    if (m.kept.size > kMaxLen || *fresh > kMaxLen - comma - m.kept.size) return std::nullopt;  // the ends are 32 bits
    return list_size(m.run.count, m.kept.size + comma + *fresh);
}

bool store(const Merge& m, const std::optional<Entry>& cached, const std::optional<Packed>& packed,
           std::span<std::byte> out) noexcept {
    const auto size = stored_size(m, packed);
    if (!size || *size != out.size()) return false;
    const std::int64_t fresh_count = packed ? packed->run.count : 0;
    std::byte* const index = out.data() + list_header;
    std::byte* text = index + static_cast<std::size_t>(m.run.count) * index_entry;
    put_u64(out.data(), list_format);

    std::size_t shift = 0;
    if (m.keep.count > 0) {
        if (!cached || !inside(cached->run, m.keep)) return false;
        const auto ix = index_of(cached->list, cached->run.count);
        if (!ix || m.kept.offset < ix->text || m.kept.offset > cached->list.size() ||
            m.kept.size > cached->list.size() - m.kept.offset) {
            return false;
        }
        const std::size_t base = m.kept.offset - ix->text;
        const auto k0 = static_cast<std::size_t>(m.keep.first - cached->run.first);
        for (std::size_t i = 0; i < static_cast<std::size_t>(m.keep.count); i++) {
            const std::size_t e = ix->end(k0 + i);
            if (e < base || e - base > m.kept.size) return false;
            put_u32(index + i * index_entry, e - base);
        }
        std::memcpy(text, cached->list.data() + m.kept.offset, m.kept.size);
        text += m.kept.size;
        shift = m.kept.size;
        if (fresh_count > 0) {
            *text++ = std::byte{','};
            shift++;
        }
    }
    if (fresh_count > 0) {
        const auto fresh = std::as_bytes(std::span(packed->bytes));
        const auto ix = index_of(fresh, fresh_count);  // checked by stored_size()
        std::byte* const at = index + static_cast<std::size_t>(m.keep.count) * index_entry;
        for (std::size_t j = 0; j < static_cast<std::size_t>(fresh_count); j++) {
            put_u32(at + j * index_entry, ix->end(j) + shift);
        }
        std::memcpy(text, fresh.data() + ix->text, ix->text_size);
    }
    return true;
}

}  // namespace chat::cache
