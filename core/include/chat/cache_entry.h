// The pure half of the module's shared-memory conversation cache: the packed
// message list format, which messages an entry keeps on a write, which it serves on a read,
// and the answer a read renders from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/result.h"
#include "chat/snapshot.h"

namespace chat::cache {

// A packed list is records back to back, each
//
//     [int64 seq][uint32 len][len bytes of JSON]
//
// in host byte order (shared memory never leaves the machine), unaligned, with
// consecutive ascending seqs. An entry keeps beside its list the run of seqs the
// list holds. The bytes live in shared memory that a worker killed mid-write may
// have left half-written, so nothing here trusts them: every function reads only
// inside the span it is given, and a list is believed only as far as it parses.

inline constexpr std::size_t record_header = sizeof(std::int64_t) + sizeof(std::uint32_t);

// The seqs first .. first + count - 1; count 0 holds none (first is then 0).
struct SeqRange {
    std::int64_t first = 0;
    std::int64_t count = 0;

    constexpr std::int64_t last() const noexcept { return first + (count - 1); }
    bool operator==(const SeqRange&) const = default;
};

// A byte range inside a packed list.
struct Slice {
    std::size_t offset = 0;
    std::size_t size = 0;
    bool operator==(const Slice&) const = default;
};

// A snapshot's messages, packed.
struct Packed {
    std::string bytes;
    SeqRange run;
};

// What a cached entry says of itself, and its packed list (untrusted bytes).
struct Entry {
    std::int64_t version = 0;
    std::int64_t last_seq = 0;  // the conversation's last seq
    SeqRange run;               // the seqs `list` should hold
    std::span<const std::byte> list;
};

// The newest max_messages of s.messages, packed; nullopt if s carries no usable
// tail (contiguous, ascending, positive seqs ending at s.last_seq, each message
// shorter than 4 GiB). May throw std::bad_alloc.
std::optional<Packed> pack(const Snapshot& s, std::size_t max_messages);

// The bytes of the records `want` in a list that should hold `held`, checking every
// record up to them (framing inside the list, seqs held.first, held.first + 1, ...);
// nullopt if want is not inside held or the list does not parse so far. An empty want
// is the empty slice.
std::optional<Slice> slice(std::span<const std::byte> list, SeqRange held, SeqRange want) noexcept;

// The records of a whole packed list as messages; an error if a record is cut short,
// runs past the end, or its seq does not increase.
Result<std::vector<CachedMessage>> unpack(std::span<const std::byte> list);

// Which cached seqs answer a read of a conversation whose last seq is last_seq from
// an entry holding `held`: after >= 0 asks for the seqs > after, ascending, at most
// limit; after < 0 for the last limit. nullopt if the entry does not cover the whole
// answer (Postgres must); an empty run is a covered empty answer.
std::optional<SeqRange> select(SeqRange held, std::int64_t last_seq, std::int64_t after, std::int64_t limit) noexcept;

// The answer to a conversation read served from the cache,
//
//     {"conversation":<conversation_json>,"messages":[<json>,<json>,...]}
//
// byte for byte what customer::Service::render_conversation writes for the same
// messages, rendered in one pass straight from a packed list, so that a cached read
// walks the list once and copies each message once, from shared memory into the answer.
//
// answer_bound: at least the size of the answer to a read of `want_count` records from a
// list of list_size bytes that holds held_count records (exact when it wants them all),
// from the sizes alone; nullopt if the list cannot hold held_count record headers, or
// want_count is not within 0 .. held_count, or the size overflows.
std::optional<std::size_t> answer_bound(std::size_t conversation_size, std::size_t list_size, std::int64_t held_count,
                                        std::int64_t want_count) noexcept;

// Writes the answer to the read `want` of a list that should hold `held` into out (at
// least answer_bound() bytes) and returns its size. list is untrusted bytes: every record
// up to want's last is checked as slice() checks it (framing inside the list, seqs
// held.first, held.first + 1, ...), the ones before want skipped, want's copied; nullopt
// (out then holds garbage) if want is not inside held, the list does not parse so far, or
// the answer does not fit out. An empty want is an answer without messages. Reads only
// inside list, writes only inside out.
std::optional<std::size_t> render_read(std::string_view conversation_json, std::span<const std::byte> list,
                                       SeqRange held, SeqRange want, std::span<char> out) noexcept;

// What a write does to an entry.
struct Merge {
    bool store = false;  // false: the cached entry stays as it is
    Slice kept;          // the bytes of cached.list to put in front of the packed ones
    SeqRange run;        // the seqs the stored list holds: the kept ones, then packed's
};

// s (packed as `packed`, nullopt if it has no tail) against the cached entry, if any.
// A newer version (or no entry) replaces; the same version only merges a tail that
// reaches further back than the cached one; an older one is dropped. With a tail the
// cached messages contiguous with it are kept in front of it; without one they are
// kept only if they still end at s.last_seq. At most max_messages, the newest. Cached
// messages whose records do not parse are not kept.
Merge merge(const std::optional<Entry>& cached, const Snapshot& s, const std::optional<Packed>& packed,
            std::size_t max_messages) noexcept;

}  // namespace chat::cache
