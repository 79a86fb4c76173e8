// The pure half of the module's shared-memory conversation cache: the packed
// message list format (comma-joined JSON behind an index of ends), which messages an entry keeps on a write, which it serves on a read,
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

// A packed list is, in host byte order (shared memory never leaves the machine),
// unaligned:
//
//     [uint64 format][uint32 end] x count [text]
//
// text is the JSON of the messages joined by commas (",": the bytes a read answers,
// so that any run of messages is one copy), end[i] the offset in text just past
// message i's JSON (message i starts at 0, or at end[i - 1] + 1 after its comma), and
// the last end is the size of text. The seqs are not stored: an entry keeps beside
// its list the run of seqs the list holds, consecutive and ascending, and message i
// has seq run.first + i. `format` names this layout; its top bit is set so that it
// is never a positive seq (the first field of the records of the format before it,
// which a worker of the previous build refuses: a reload's old and new workers share
// the zone). The bytes live in shared memory that a worker killed mid-write may have
// left half-written, so nothing here trusts them: every function reads only inside
// the span it is given, and a list is believed only as far as it checks (its format,
// its index inside the list, ends ascending with a comma after each but the last).

// The tree key of an entry's key (a session id) in the module's rbtree. The tree orders
// entries by this hash and then by the key's bytes, so two keys with one hash cost a byte
// comparison, never each other's entry, and a lookup stays O(log n) whatever the keys: no
// keyed hash is needed for safety. Keys are session ids the server minted (16 bytes of the
// worker's random source, hex, inside an HMAC-signed token): nobody chooses them. Cheap: a
// multiply and a shift per 8 bytes (CRC32 took a table lookup per byte, 260 instructions
// of a cached read). Every byte and the length count: keys of one length that differ in
// one 8-byte word never share a hash (the module keeps its low 32 bits, as nginx's string
// tree takes them). The tree lives in a zone that a reload reuses only
// with the very same module (nginx reuses a zone only for the same tag, the module's
// address), so old and new workers never hash differently in one tree.
std::uint64_t key_hash(std::string_view key) noexcept;

inline constexpr std::uint64_t list_format = 0x8000'6368'6174'0002;  // top bit, "chat", 2
inline constexpr std::size_t list_header = sizeof(std::uint64_t);
inline constexpr std::size_t index_entry = sizeof(std::uint32_t);

// The size of a list of `count` messages whose JSON is text_size bytes, commas
// included; nullopt if it overflows.
std::optional<std::size_t> list_size(std::int64_t count, std::size_t text_size) noexcept;

// The seqs first .. first + count - 1; count 0 holds none (first is then 0).
struct SeqRange {
    std::int64_t first = 0;
    std::int64_t count = 0;

    constexpr std::int64_t last() const noexcept { return first + (count - 1); }
    bool operator==(const SeqRange&) const = default;
};

// A byte range inside a packed list: a run of messages' JSON with the commas between them.
struct Slice {
    std::size_t offset = 0;
    std::size_t size = 0;
    bool operator==(const Slice&) const = default;
};

// A snapshot's messages, packed (a whole list, its header and index too).
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

// The JSON of the messages `want`, comma-joined, in a list that should hold `held`: its
// format, its index inside it, and the ends of want (and the one before) ascending
// inside the text with a comma after each but the last are checked; nullopt if want is
// not inside held or the list does not check so far. An empty want is the empty slice.
std::optional<Slice> slice(std::span<const std::byte> list, SeqRange held, SeqRange want) noexcept;

// The messages `want` of a list that should hold `held`, their seqs from want.first on;
// an error if slice() refuses them. May throw std::bad_alloc.
Result<std::vector<CachedMessage>> unpack(std::span<const std::byte> list, SeqRange held, SeqRange want);

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
// looks two ends up in the index and copies the messages' JSON with one memcpy, from
// shared memory into the answer.
//
// answer_bound: at least the size of the answer to a read of `want_count` messages from
// a list of list_size bytes that holds held_count messages (exact when it wants them
// all), from the sizes alone; nullopt if the list cannot hold its header and held_count
// index entries, or want_count is not within 0 .. held_count, or the size overflows.
std::optional<std::size_t> answer_bound(std::size_t conversation_size, std::size_t list_size, std::int64_t held_count,
                                        std::int64_t want_count) noexcept;

// Writes the answer to the read `want` of a list that should hold `held` into out (at
// least answer_bound() bytes) and returns its size. list is untrusted bytes: want is
// checked as slice() checks it and its JSON copied at once; nullopt (out then holds
// garbage) if slice() refuses it or the answer does not fit out. An empty want is an
// answer without messages. Reads only inside list, writes only inside out.
std::optional<std::size_t> render_read(std::string_view conversation_json, std::span<const std::byte> list,
                                       SeqRange held, SeqRange want, std::span<char> out) noexcept;

// Whether a list that should hold `held` checks whole, every end as slice() checks the
// ends it uses: what render_checked_read() may then skip for the same bytes.
bool check_list(std::span<const std::byte> list, SeqRange held) noexcept;

// render_read() for a list that check_list() accepted before and whose bytes have not
// changed since (the module's zone never changes a block once it is reachable: a write
// links a new block). Only what the copy depends on is checked: the format, the index
// inside the list, want inside held, and the ends where the copy starts and stops
// inside the text, so it still reads only inside list and writes only inside out,
// whatever the bytes; the commas between the messages are not looked at again (a cached
// read of 21 messages: 300 of its 15 000 instructions). On a list that checks whole its
// answer is render_read()'s, byte for byte.
std::optional<std::size_t> render_checked_read(std::string_view conversation_json, std::span<const std::byte> list,
                                               SeqRange held, SeqRange want, std::span<char> out) noexcept;

// What a write does to an entry.
struct Merge {
    bool store = false;  // false: the cached entry stays as it is
    SeqRange keep;       // the cached messages to keep in front of the packed ones
    Slice kept;          // their JSON in cached.list (checked by slice())
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

// The size of the list a write stores for m (m.store), nullopt if it overflows or
// packed is not a list of its run.
std::optional<std::size_t> stored_size(const Merge& m, const std::optional<Packed>& packed) noexcept;

// Writes the list m stores into out (stored_size() bytes): the kept messages of
// `cached` (the entry merge() was given, unchanged since) with their ends re-based,
// then packed's. False (out then holds garbage) if the cached index does not check
// for m.keep or out is not the size. Reads only inside the lists, writes only inside out.
bool store(const Merge& m, const std::optional<Entry>& cached, const std::optional<Packed>& packed,
           std::span<std::byte> out) noexcept;

}  // namespace chat::cache
