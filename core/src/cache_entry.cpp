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

struct Record {
    std::int64_t seq = 0;
    std::size_t len = 0;  // of the JSON, after the header
};

// The record at off, if its header and its JSON both lie inside list.
std::optional<Record> record_at(std::span<const std::byte> list, std::size_t off) noexcept {
    if (off > list.size() || list.size() - off < record_header) return std::nullopt;
    std::int64_t seq = 0;
    std::uint32_t len = 0;
    std::memcpy(&seq, list.data() + off, sizeof seq);
    std::memcpy(&len, list.data() + off + sizeof seq, sizeof len);
    if (list.size() - off - record_header < len) return std::nullopt;
    return Record{seq, len};
}

// A run whose seqs are positive and whose last seq is representable; the runs an
// entry stores come from shared memory and are checked before any arithmetic.
bool sane(SeqRange r) noexcept {
    if (r.count == 0) return true;
    return r.count > 0 && r.first > 0 && r.first - 1 <= kMaxSeq - r.count;
}

std::int64_t clamp_count(std::size_t n) noexcept {
    return static_cast<std::int64_t>(std::min<std::size_t>(n, static_cast<std::size_t>(kMaxSeq)));
}

void append(std::string& out, const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }

}  // namespace

std::optional<Packed> pack(const Snapshot& s, std::size_t max_messages) {
    const auto& m = s.messages;
    if (m.empty() || m.back().seq != s.last_seq) return std::nullopt;
    for (std::size_t i = 0; i < m.size(); i++) {
        if (m[i].seq <= 0 || m[i].json.size() > kMaxLen) return std::nullopt;
        if (i > 0 && m[i].seq - 1 != m[i - 1].seq) return std::nullopt;
    }

    const std::size_t k = std::min({m.size(), max_messages, kMaxLen});
    const std::size_t from = m.size() - k;
    std::size_t size = 0;
    for (std::size_t i = from; i < m.size(); i++) size += record_header + m[i].json.size();

    Packed p;
    p.bytes.reserve(size);
    for (std::size_t i = from; i < m.size(); i++) {
        const std::int64_t seq = m[i].seq;
        const auto len = static_cast<std::uint32_t>(m[i].json.size());
        append(p.bytes, &seq, sizeof seq);
        append(p.bytes, &len, sizeof len);
        p.bytes.append(m[i].json);
    }
    if (k > 0) p.run = SeqRange{m[from].seq, static_cast<std::int64_t>(k)};
    return p;
}

std::optional<Slice> slice(std::span<const std::byte> list, SeqRange held, SeqRange want) noexcept {
    if (want.count == 0) return Slice{};
    // A record takes at least its header, which bounds held.count by the list's size.
    if (!sane(held) || held.count == 0 || static_cast<std::uint64_t>(held.count) > list.size() / record_header ||
        want.count < 0 || want.count > held.count || want.first < held.first ||
        want.first - held.first > held.count - want.count) {
        return std::nullopt;
    }

    const std::int64_t skip = want.first - held.first;
    const std::int64_t stop = skip + want.count;
    std::size_t off = 0;
    std::size_t start = 0;
    for (std::int64_t i = 0; i < stop; i++) {
        if (i == skip) start = off;
        const auto r = record_at(list, off);
        if (!r || r->seq != held.first + i) return std::nullopt;
        off += record_header + r->len;
    }
    return Slice{start, off - start};
}

Result<std::vector<CachedMessage>> unpack(std::span<const std::byte> list) {
    std::vector<CachedMessage> out;
    std::size_t off = 0;
    while (off < list.size()) {
        const auto r = record_at(list, off);
        if (!r) return make_error(Errc::internal, "cache: a packed record runs past the end of its list");
        if (!out.empty() && r->seq <= out.back().seq)
            return make_error(Errc::internal, "cache: packed seqs do not increase");
        const auto* json = reinterpret_cast<const char*>(list.data() + off + record_header);
        out.push_back(CachedMessage{r->seq, std::string(json, r->len)});
        off += record_header + r->len;
    }
    return out;
}

namespace {

// The answer's fixed bytes around the conversation and the messages (see the header).
constexpr std::string_view kAnswerHead = "{\"conversation\":";
constexpr std::string_view kAnswerMessages = ",\"messages\":[";
constexpr std::string_view kAnswerTail = "]}";

}  // namespace

std::optional<std::size_t> answer_bound(std::size_t conversation_size, std::size_t list_size, std::int64_t held_count,
                                        std::int64_t want_count) noexcept {
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    constexpr std::size_t fixed = kAnswerHead.size() + kAnswerMessages.size() + kAnswerTail.size();
    if (held_count < 0 || want_count < 0 || want_count > held_count ||
        static_cast<std::uint64_t>(held_count) > list_size / record_header) {
        return std::nullopt;
    }
    // the JSON of all the records the list holds, plus a comma between each two wanted
    const auto n = static_cast<std::size_t>(want_count);
    const std::size_t messages = list_size - static_cast<std::size_t>(held_count) * record_header + (n > 0 ? n - 1 : 0);
    if (conversation_size > kMax - fixed || messages > kMax - fixed - conversation_size) return std::nullopt;
    return fixed + conversation_size + messages;
}

std::optional<std::size_t> render_read(std::string_view conversation_json, std::span<const std::byte> list,
                                       SeqRange held, SeqRange want, std::span<char> out) noexcept {
    // the same bounds as slice(): want inside held, held's headers inside the list
    if (want.count != 0 &&
        (!sane(held) || held.count == 0 || static_cast<std::uint64_t>(held.count) > list.size() / record_header ||
         want.count < 0 || want.count > held.count || want.first < held.first ||
         want.first - held.first > held.count - want.count)) {
        return std::nullopt;
    }

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

    const std::int64_t skip = want.count != 0 ? want.first - held.first : 0;
    const std::int64_t stop = skip + want.count;
    const char comma = ',';
    std::size_t off = 0;
    for (std::int64_t i = 0; i < stop; i++) {
        const auto r = record_at(list, off);
        if (!r || r->seq != held.first + i) return std::nullopt;
        if (i >= skip && ((i > skip && !put(&comma, 1)) || !put(list.data() + off + record_header, r->len))) {
            return std::nullopt;
        }
        off += record_header + r->len;
    }
    if (!put(kAnswerTail.data(), kAnswerTail.size())) return std::nullopt;
    return static_cast<std::size_t>(p - out.data());
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
            m.kept = *kept;
        } else {
            keep = SeqRange{};  // the cached records do not parse: keep none of them
        }
    }
    m.run = keep.count > 0 ? SeqRange{keep.first, keep.count + fresh.count} : fresh;
    return m;
}

}  // namespace chat::cache
