// The cache's packed lists: what a write keeps, what a read is served, and that
// bytes which do not parse are never believed.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "chat/cache_entry.h"
#include "chat/customer.h"

namespace {

using namespace chat::cache;
using chat::CachedMessage;
using chat::Snapshot;

std::string json_of(std::int64_t seq) { return "{\"seq\":" + std::to_string(seq) + "}"; }

// A snapshot at version v whose messages are from .. to (none if from > to).
Snapshot snap(std::int64_t version, std::int64_t last_seq, std::int64_t from, std::int64_t to) {
    Snapshot s;
    s.key = "session";
    s.version = version;
    s.last_seq = last_seq;
    s.conversation_json = "{}";
    for (std::int64_t q = from; q <= to; q++) s.messages.push_back(CachedMessage{q, json_of(q)});
    return s;
}

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s)); }

// A list's bytes as given: its format, its index of ends, its text.
std::string raw_list(std::uint64_t format, const std::vector<std::uint32_t>& ends, std::string_view text) {
    std::string out(list_header + ends.size() * index_entry, '\0');
    std::memcpy(out.data(), &format, sizeof format);
    for (std::size_t i = 0; i < ends.size(); i++)
        std::memcpy(out.data() + list_header + i * index_entry, &ends[i], sizeof ends[i]);
    return out.append(text);
}

// The list of these messages' JSON, as pack() lays it out.
std::string list_of(const std::vector<std::string>& jsons) {
    std::vector<std::uint32_t> ends;
    std::string text;
    for (const auto& j : jsons) {
        if (!text.empty() || !ends.empty()) text += ',';
        text += j;
        ends.push_back(static_cast<std::uint32_t>(text.size()));
    }
    return raw_list(list_format, ends, text);
}

std::vector<std::int64_t> seqs_of(const std::vector<CachedMessage>& m) {
    std::vector<std::int64_t> out;
    for (const auto& x : m) out.push_back(x.seq);
    return out;
}

std::vector<std::int64_t> seqs(std::int64_t from, std::int64_t to) {
    std::vector<std::int64_t> out;
    for (std::int64_t q = from; q <= to; q++) out.push_back(q);
    return out;
}

// The entry a write leaves behind, as the module builds it: store() of merge()'s decision.
struct Stored {
    std::int64_t version = 0;
    std::int64_t last_seq = 0;
    SeqRange run;
    std::string list;

    Entry entry() const { return Entry{version, last_seq, run, bytes_of(list)}; }
};

std::optional<Stored> write(const std::optional<Stored>& cached, const Snapshot& s, std::size_t max) {
    const auto packed = pack(s, max);
    const auto m = merge(cached ? std::optional<Entry>(cached->entry()) : std::nullopt, s, packed, max);
    if (!m.store) return cached;
    Stored out{s.version, s.last_seq, m.run, {}};
    const auto size = stored_size(m, packed);
    EXPECT_TRUE(size);
    if (!size) return std::nullopt;
    out.list.resize(*size);
    EXPECT_TRUE(store(m, cached ? std::optional<Entry>(cached->entry()) : std::nullopt, packed,
                      std::as_writable_bytes(std::span(out.list))));
    return out;
}

// The messages a read is served, or nullopt for a miss.
std::optional<std::vector<std::int64_t>> read(const Stored& e, std::int64_t after, std::int64_t limit) {
    const auto want = select(e.run, e.last_seq, after, limit);
    if (!want) return std::nullopt;
    const auto sl = slice(bytes_of(e.list), e.run, *want);
    auto list = unpack(bytes_of(e.list), e.run, *want);
    EXPECT_EQ(sl.has_value(), list.ok());
    if (!list.ok()) return std::nullopt;
    for (const auto& m : list.value()) EXPECT_EQ(m.json, json_of(m.seq));
    return seqs_of(list.value());
}

TEST(CacheEntry, PacksTheNewestMessagesOfATailAndUnpacksThemAgain) {
    const auto p = pack(snap(1, 5, 1, 5), 3);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->run, (SeqRange{3, 3}));
    // the JSON comma-joined behind the format and the index of ends
    EXPECT_EQ(p->bytes, list_of({json_of(3), json_of(4), json_of(5)}));
    EXPECT_EQ(p->bytes.substr(list_header + 3 * index_entry), json_of(3) + "," + json_of(4) + "," + json_of(5));
    auto u = unpack(bytes_of(p->bytes), p->run, p->run);
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(seqs_of(u.value()), seqs(3, 5));
    EXPECT_EQ(u.value()[0].json, json_of(3));
    EXPECT_EQ(u.value()[2].json, json_of(5));
    EXPECT_EQ(list_size(3, 10), list_header + 3 * index_entry + 10);
    EXPECT_FALSE(list_size(-1, 0));
    EXPECT_FALSE(list_size(std::numeric_limits<std::int64_t>::max(), 0));
}

TEST(CacheEntry, PacksNothingFromMessagesThatAreNotTheTail) {
    EXPECT_FALSE(pack(snap(1, 0, 1, 0), 10));  // no messages at all
    EXPECT_FALSE(pack(snap(1, 6, 1, 5), 10));  // a newer message exists
    Snapshot gap = snap(1, 5, 1, 5);
    gap.messages.erase(gap.messages.begin() + 2);
    EXPECT_FALSE(pack(gap, 10));
    Snapshot zero = snap(1, 1, 0, 1);
    EXPECT_FALSE(pack(zero, 10));  // seqs start at 1
}

TEST(CacheEntry, UnpacksAnEmptyReadAsNoMessages) {
    auto u = unpack({}, SeqRange{}, SeqRange{});
    ASSERT_TRUE(u.ok());
    EXPECT_TRUE(u.value().empty());
    const auto p = pack(snap(1, 5, 1, 5), 10);
    u = unpack(bytes_of(p->bytes), p->run, SeqRange{});
    ASSERT_TRUE(u.ok());
    EXPECT_TRUE(u.value().empty());
}

TEST(CacheEntry, RejectsAListCutShortOrAnIndexRunningPastTheText) {
    const std::string good = list_of({"ab", "cd"});
    EXPECT_TRUE(slice(bytes_of(good), SeqRange{1, 2}, SeqRange{1, 2}));
    // cut short: in the text, in the index, in the format
    for (const std::size_t n : {good.size() - 1, list_header + index_entry + 1, std::size_t{5}, std::size_t{0}}) {
        EXPECT_FALSE(slice(bytes_of(good.substr(0, n)), SeqRange{1, 2}, SeqRange{1, 1})) << n;
        EXPECT_FALSE(unpack(bytes_of(good.substr(0, n)), SeqRange{1, 2}, SeqRange{1, 2}).ok()) << n;
    }
    // longer than its last end says
    EXPECT_FALSE(slice(bytes_of(good + "x"), SeqRange{1, 2}, SeqRange{2, 1}));
    // an end past the text, or one that swallows the next message
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {1000, 5}, "ab,cd")), SeqRange{1, 2}, SeqRange{2, 1}));
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {0xffffffff, 5}, "ab,cd")), SeqRange{1, 2}, SeqRange{1, 1}));
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {5, 5}, "ab,cd")), SeqRange{1, 2}, SeqRange{1, 1}));
    // ends that go back
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {4, 2, 5}, "a,b,c")), SeqRange{1, 3}, SeqRange{1, 3}));
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {3, 1, 5}, "a,b,c")), SeqRange{1, 3}, SeqRange{2, 2}));
}

TEST(CacheEntry, RejectsAListOfAnotherFormatOrWithoutItsCommas) {
    const std::string good = list_of({"ab", "cd"});
    // the format of the build before: records of [int64 seq][uint32 len][JSON]
    std::string old(12, '\0');
    const std::int64_t seq = 1;
    const std::uint32_t len = 2;
    std::memcpy(old.data(), &seq, sizeof seq);
    std::memcpy(old.data() + sizeof seq, &len, sizeof len);
    old += "ab";
    EXPECT_FALSE(slice(bytes_of(old), SeqRange{1, 1}, SeqRange{1, 1}));
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format ^ 1, {2, 5}, "ab,cd")), SeqRange{1, 2}, SeqRange{1, 1}));
    // the format is never a positive seq: the build before refuses this one's lists
    EXPECT_LT(static_cast<std::int64_t>(list_format), 0);
    // no comma after a message that is not the last
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {2, 5}, "ab;cd")), SeqRange{1, 2}, SeqRange{2, 1}));
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {2, 5}, "ab;cd")), SeqRange{1, 2}, SeqRange{1, 2}));
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {2, 5}, "ab;cd")), SeqRange{1, 2}, SeqRange{1, 1}));
    EXPECT_FALSE(slice(bytes_of(raw_list(list_format, {1, 3, 5}, "a,b;c")), SeqRange{1, 3}, SeqRange{2, 1}));
    EXPECT_TRUE(slice(bytes_of(raw_list(list_format, {1, 3, 5}, "a,b;c")), SeqRange{1, 3}, SeqRange{1, 1}));  // believed as far as it checks
}

TEST(CacheEntry, SlicesOnlyInsideWhatTheEntryHolds) {
    const auto p = pack(snap(1, 5, 1, 5), 10);
    ASSERT_TRUE(p);
    const auto all = bytes_of(p->bytes);
    const auto mid = slice(all, p->run, SeqRange{2, 3});
    ASSERT_TRUE(mid);
    // one run of bytes: the messages' JSON with their commas
    EXPECT_EQ(p->bytes.substr(mid->offset, mid->size), json_of(2) + "," + json_of(3) + "," + json_of(4));
    auto u = unpack(all, p->run, SeqRange{2, 3});
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(seqs_of(u.value()), seqs(2, 4));
    EXPECT_EQ(slice(all, p->run, SeqRange{}), Slice{});
    EXPECT_FALSE(slice(all, p->run, SeqRange{0, 2}));
    EXPECT_FALSE(slice(all, p->run, SeqRange{5, 2}));
    EXPECT_FALSE(slice(all, p->run, SeqRange{2, -1}));
    // A run that claims more messages than the bytes can index, or fewer than they do.
    EXPECT_FALSE(slice(all, SeqRange{1, 1'000'000}, SeqRange{1, 1}));
    EXPECT_FALSE(slice(all, SeqRange{1, 4}, SeqRange{1, 1}));
    EXPECT_FALSE(slice(all, SeqRange{std::numeric_limits<std::int64_t>::max(), 2}, SeqRange{1, 1}));
}

TEST(CacheEntry, SelectsTheMessagesAfterASeqAscendingAndAtMostLimit) {
    const SeqRange held{3, 8};  // 3 .. 10
    EXPECT_EQ(select(held, 10, 4, 100), (SeqRange{5, 6}));
    EXPECT_EQ(select(held, 10, 4, 2), (SeqRange{5, 2}));
    EXPECT_EQ(select(held, 10, 2, 100), (SeqRange{3, 8}));
    EXPECT_EQ(select(held, 10, 10, 100), SeqRange{});  // after the last: covered and empty
    EXPECT_EQ(select(held, 10, 99, 100), SeqRange{});
    EXPECT_EQ(select(held, 10, std::numeric_limits<std::int64_t>::max(), 5), SeqRange{});
}

TEST(CacheEntry, SelectsTheLastLimitMessagesForANegativeAfter) {
    const SeqRange held{3, 8};
    EXPECT_EQ(select(held, 10, -1, 3), (SeqRange{8, 3}));
    EXPECT_EQ(select(held, 10, -1, 8), (SeqRange{3, 8}));
    EXPECT_FALSE(select(held, 10, -1, 9));                           // seqs 1 and 2 are not cached
    EXPECT_EQ(select(SeqRange{1, 4}, 4, -1, 50), (SeqRange{1, 4}));  // all there is
}

TEST(CacheEntry, DoesNotCoverGapsOlderMessagesOrANewerTail) {
    const SeqRange held{3, 8};
    EXPECT_FALSE(select(held, 10, 0, 100));  // seqs 1 and 2 are missing
    EXPECT_FALSE(select(held, 11, 4, 100));  // seq 11 is not cached
    EXPECT_FALSE(select(SeqRange{}, 10, 4, 100));
    EXPECT_FALSE(select(held, 10, 4, 0));
    EXPECT_EQ(select(SeqRange{1, 10}, 10, 0, 100), (SeqRange{1, 10}));
}

TEST(CacheEntry, AnswersAConversationWithoutMessagesEmpty) {
    EXPECT_EQ(select(SeqRange{}, 0, 0, 50), SeqRange{});
    EXPECT_EQ(select(SeqRange{}, 0, -1, 50), SeqRange{});
    EXPECT_FALSE(select(SeqRange{}, 0, 0, 0));
}

TEST(CacheEntry, StoresAFirstWriteTrimmedToMaxMessages) {
    const auto e = write(std::nullopt, snap(1, 30, 1, 30), 10);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->run, (SeqRange{21, 10}));
    EXPECT_EQ(read(*e, -1, 10), seqs(21, 30));
    EXPECT_EQ(read(*e, 25, 100), seqs(26, 30));
    EXPECT_FALSE(read(*e, 5, 100));
}

TEST(CacheEntry, StoresAConversationWithoutMessages) {
    const auto e = write(std::nullopt, snap(1, 0, 1, 0), 10);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->run, SeqRange{});
    EXPECT_EQ(read(*e, 0, 50), std::vector<std::int64_t>{});
}

TEST(CacheEntry, ANewerVersionAppendsItsTailToTheCachedMessages) {
    auto e = write(std::nullopt, snap(1, 5, 1, 5), 10);
    e = write(e, snap(2, 7, 6, 7), 10);
    EXPECT_EQ(e->run, (SeqRange{1, 7}));
    EXPECT_EQ(read(*e, 0, 100), seqs(1, 7));
    // ... and trims the oldest past max_messages.
    e = write(e, snap(3, 12, 8, 12), 10);
    EXPECT_EQ(e->run, (SeqRange{3, 10}));
    EXPECT_EQ(read(*e, -1, 10), seqs(3, 12));
}

TEST(CacheEntry, ANewerVersionWithADisconnectedTailDropsTheCachedMessages) {
    auto e = write(std::nullopt, snap(1, 5, 1, 5), 10);
    e = write(e, snap(2, 9, 8, 9), 10);
    EXPECT_EQ(e->run, (SeqRange{8, 2}));
}

TEST(CacheEntry, ANewerVersionWithoutATailKeepsMessagesThatStillEndAtLastSeq) {
    auto e = write(std::nullopt, snap(1, 5, 1, 5), 10);
    e = write(e, snap(2, 5, 1, 0), 10);  // a status change: same messages
    EXPECT_EQ(e->version, 2);
    EXPECT_EQ(e->run, (SeqRange{1, 5}));
    EXPECT_EQ(read(*e, 2, 100), seqs(3, 5));
    e = write(e, snap(3, 5, 1, 0), 3);  // kept, trimmed to the newest
    EXPECT_EQ(e->run, (SeqRange{3, 3}));
    e = write(e, snap(4, 6, 1, 0), 10);  // a message arrived elsewhere: none kept
    EXPECT_EQ(e->version, 4);
    EXPECT_EQ(e->run, SeqRange{});
    EXPECT_EQ(e->list, list_of({}));  // the format alone
    EXPECT_FALSE(read(*e, -1, 1));
}

TEST(CacheEntry, AnOlderVersionChangesNothing) {
    const auto e = write(std::nullopt, snap(5, 5, 1, 5), 10);
    const auto m = merge(e->entry(), snap(4, 9, 1, 9), pack(snap(4, 9, 1, 9), 10), 10);
    EXPECT_FALSE(m.store);
}

TEST(CacheEntry, TheSameVersionMergesOnlyALongerTail) {
    auto e = write(std::nullopt, snap(1, 10, 8, 10), 10);
    // A history read reaching further back is merged in front.
    e = write(e, snap(1, 10, 4, 10), 10);
    EXPECT_EQ(e->run, (SeqRange{4, 7}));
    EXPECT_EQ(read(*e, 3, 100), seqs(4, 10));
    // Shorter or equal tails, no tail, or another last_seq change nothing.
    for (const auto& s : {snap(1, 10, 6, 10), snap(1, 10, 4, 10), snap(1, 10, 1, 0), snap(1, 11, 1, 11)}) {
        const auto m = merge(e->entry(), s, pack(s, 10), 10);
        EXPECT_FALSE(m.store) << s.messages.size();
    }
    // A longer tail is bounded by max_messages too.
    e = write(e, snap(1, 10, 1, 10), 8);
    EXPECT_EQ(e->run, (SeqRange{3, 8}));
    EXPECT_EQ(read(*e, 2, 100), seqs(3, 10));
}

TEST(CacheEntry, TheSameVersionFillsAnEntryThatHeldNoTail) {
    auto e = write(std::nullopt, snap(1, 5, 1, 0), 10);
    EXPECT_EQ(e->run, SeqRange{});
    e = write(e, snap(1, 5, 3, 5), 10);
    EXPECT_EQ(e->run, (SeqRange{3, 3}));
}

TEST(CacheEntry, CachedRecordsThatDoNotParseAreNotKept) {
    auto e = write(std::nullopt, snap(1, 5, 1, 5), 10);
    e->list.resize(e->list.size() - 3);  // the last message cut short
    const auto s = snap(2, 5, 1, 0);
    const auto m = merge(e->entry(), s, pack(s, 10), 10);
    EXPECT_TRUE(m.store);
    EXPECT_EQ(m.keep, SeqRange{});
    EXPECT_EQ(m.kept, Slice{});
    EXPECT_EQ(m.run, SeqRange{});
    EXPECT_FALSE(read(*e, 0, 100));
}

TEST(CacheEntry, StoresKeptMessagesWithTheirEndsRebasedBeforeTheFreshOnes) {
    // 1 .. 5 cached, 6 .. 7 fresh, at most 4 kept: 4 .. 7, byte for byte what packing them would give
    auto e = write(std::nullopt, snap(1, 5, 1, 5), 10);
    e = write(e, snap(2, 7, 6, 7), 4);
    EXPECT_EQ(e->run, (SeqRange{4, 4}));
    EXPECT_EQ(e->list, pack(snap(2, 7, 4, 7), 10)->bytes);
    // kept without a tail: the newest, re-based
    e = write(e, snap(3, 7, 1, 0), 2);
    EXPECT_EQ(e->list, pack(snap(3, 7, 6, 7), 10)->bytes);
    // store() refuses an out of another size, and kept bytes that are not what merge() saw
    const auto packed = pack(snap(4, 8, 8, 8), 10);
    const auto m = merge(e->entry(), snap(4, 8, 8, 8), packed, 10);
    ASSERT_EQ(m.keep, (SeqRange{6, 2}));
    std::string out(*stored_size(m, packed) + 1, '\0');
    EXPECT_FALSE(store(m, e->entry(), packed, std::as_writable_bytes(std::span(out))));
    out.pop_back();
    EXPECT_TRUE(store(m, e->entry(), packed, std::as_writable_bytes(std::span(out))));
    EXPECT_EQ(out, pack(snap(4, 8, 6, 8), 10)->bytes);
    Stored cut = *e;
    cut.list.resize(cut.list.size() - 1);
    EXPECT_FALSE(store(m, cut.entry(), packed, std::as_writable_bytes(std::span(out))));
}

// The answer a cached read renders for the records `want` of a stored entry, or nullopt.
std::optional<std::string> answer(const Stored& e, std::string_view conv, SeqRange want) {
    const auto bound = answer_bound(conv.size(), e.list.size(), e.run.count, want.count);
    if (!bound) return std::nullopt;
    std::string out(*bound, '\0');
    const auto size = render_read(conv, bytes_of(e.list), e.run, want, std::span(out));
    if (!size) return std::nullopt;
    // what slice() serves for the same read
    EXPECT_TRUE(slice(bytes_of(e.list), e.run, want));
    out.resize(*size);
    // a stored list checks whole, and the read that trusts that renders the same bytes
    EXPECT_TRUE(check_list(bytes_of(e.list), e.run));
    std::string checked(*bound, '\0');
    const auto checked_size = render_checked_read(conv, bytes_of(e.list), e.run, want, std::span(checked));
    EXPECT_EQ(checked_size, size);
    if (checked_size) {
        EXPECT_EQ(checked.substr(0, *checked_size), out);
    }
    return out;
}

TEST(CacheEntry, RendersTheAnswerOfAReadByteForByteAsTheServiceDoes) {
    Snapshot s = snap(1, 5, 1, 5);
    s.messages[1].json = R"({"seq":2,"text":"caf\u00e9 \"quoted\" <b>"})";
    const auto e = write(std::nullopt, s, 10);
    const std::string conv = R"({"id":"c1","status":"open"})";
    for (const SeqRange want : {SeqRange{1, 5}, SeqRange{2, 3}, SeqRange{5, 1}}) {
        const std::vector<CachedMessage> msgs(s.messages.begin() + (want.first - 1),
                                              s.messages.begin() + (want.first - 1 + want.count));
        EXPECT_EQ(answer(*e, conv, want), chat::customer::Service::render_conversation(conv, msgs));
    }
    EXPECT_EQ(answer(*e, conv, SeqRange{2, 1}), "{\"conversation\":" + conv + ",\"messages\":[" + s.messages[1].json + "]}");
    // reading them all, the bound is the answer's size exactly
    EXPECT_EQ(answer_bound(conv.size(), e->list.size(), 5, 5), answer(*e, conv, SeqRange{1, 5})->size());
    // nothing outside what the entry holds
    EXPECT_FALSE(answer(*e, conv, SeqRange{4, 3}));
    EXPECT_FALSE(answer(*e, conv, SeqRange{0, 1}));
}

TEST(CacheEntry, RendersRunsLargerThanACopyPieceWhole) {
    // 21 messages of about 350 bytes (7 KB, the bench's read): copied in several pieces
    Snapshot s = snap(1, 21, 1, 21);
    for (auto& m : s.messages) m.json = R"({"seq":)" + std::to_string(m.seq) + R"(,"text":")" + std::string(330 + m.seq, 'a' + m.seq % 26) + "\"}";
    const auto e = write(std::nullopt, s, 50);
    const std::string conv = R"({"id":"c1"})";
    for (const SeqRange want : {SeqRange{1, 21}, SeqRange{2, 20}, SeqRange{7, 9}}) {
        const std::vector<CachedMessage> msgs(s.messages.begin() + (want.first - 1),
                                              s.messages.begin() + (want.first - 1 + want.count));
        EXPECT_EQ(answer(*e, conv, want), chat::customer::Service::render_conversation(conv, msgs));
    }
    // an out one byte short of a multi-piece answer is refused, not overrun
    const auto bound = answer_bound(conv.size(), e->list.size(), 21, 21);
    std::string small(*bound - 1, '\0');
    EXPECT_FALSE(render_read(conv, bytes_of(e->list), e->run, SeqRange{1, 21}, std::span(small)));
}

TEST(CacheEntry, KeyHashCountsEveryByteAndTheLength) {
    const std::string sid = "0123456789abcdef0123456789abcdef";
    EXPECT_EQ(key_hash(sid), key_hash(std::string(sid)));
    // a session id that differs in any one byte (one 8-byte word) never shares its hash
    for (std::size_t i = 0; i < sid.size(); i++) {
        std::string other = sid;
        other[i] = other[i] == 'f' ? 'e' : 'f';
        EXPECT_NE(key_hash(other), key_hash(sid)) << i;
    }
    // a prefix, a longer key, a zero byte more, the tail shorter than a word
    EXPECT_NE(key_hash(sid.substr(0, 31)), key_hash(sid));
    EXPECT_NE(key_hash(sid + "0"), key_hash(sid));
    EXPECT_NE(key_hash(std::string("ab")), key_hash(std::string("ab\0", 3)));
    EXPECT_NE(key_hash(""), key_hash(std::string(1, '\0')));
    EXPECT_NE(key_hash("a"), key_hash("b"));
}

TEST(CacheEntry, RendersAnAnswerWithoutMessagesAsAnEmptyList) {
    const std::string conv = R"({"id":"c1"})";
    const auto size = answer_bound(conv.size(), 0, 0, 0);
    ASSERT_TRUE(size);
    std::string out(*size, '\0');
    ASSERT_EQ(render_read(conv, {}, SeqRange{}, SeqRange{}, std::span(out)), out.size());
    EXPECT_EQ(out, chat::customer::Service::render_conversation(conv, {}));
    EXPECT_EQ(out, R"({"conversation":{"id":"c1"},"messages":[]})");
}

TEST(CacheEntry, RefusesToRenderListsThatLieAboutThemselves) {
    const std::string list = list_of({"{}", "[1]"});
    const auto records = bytes_of(list);
    std::string out(*answer_bound(2, list.size(), 2, 2), '\0');
    EXPECT_EQ(render_read("{}", records, SeqRange{1, 2}, SeqRange{1, 2}, std::span(out)), out.size());
    EXPECT_EQ(out, R"({"conversation":{},"messages":[{},[1]]})");

    // more messages than the bytes can index, or a want outside them
    EXPECT_FALSE(answer_bound(2, list_header + index_entry, 2, 2));
    EXPECT_FALSE(answer_bound(2, 3, 1, 1));
    EXPECT_FALSE(answer_bound(2, list.size(), 2, -1));
    EXPECT_FALSE(answer_bound(2, list.size(), 2, 3));
    EXPECT_FALSE(render_read("{}", records, SeqRange{1, 2}, SeqRange{2, 2}, std::span(out)));
    // an out too small for the answer
    std::string small(out.size() - 1, '\0');
    EXPECT_FALSE(render_read("{}", records, SeqRange{1, 2}, SeqRange{1, 2}, std::span(small)));
    // a first end that swallows the second message
    const std::string liar = raw_list(list_format, {6, 6}, "{},[1]");
    EXPECT_FALSE(render_read("{}", bytes_of(liar), SeqRange{1, 2}, SeqRange{1, 2}, std::span(out)));
    // a list cut short
    std::string cut = list.substr(0, list.size() - 1);
    std::string cut_out(*answer_bound(2, cut.size(), 2, 2), '\0');
    EXPECT_FALSE(render_read("{}", bytes_of(cut), SeqRange{1, 2}, SeqRange{1, 2}, std::span(cut_out)));
    // another format
    const std::string other = raw_list(list_format + 1, {2, 6}, "{},[1]");
    EXPECT_FALSE(render_read("{}", bytes_of(other), SeqRange{1, 2}, SeqRange{1, 1}, std::span(out)));
}

TEST(CacheEntry, ChecksAListWholeOnceAndThenOnlyTheEndsACopyUses) {
    const std::string list = list_of({"{}", "[1]", "\"x\""});
    std::string out(*answer_bound(2, list.size(), 3, 3), '\0');
    EXPECT_TRUE(check_list(bytes_of(list), SeqRange{3, 3}));
    EXPECT_TRUE(check_list({}, SeqRange{}));
    ASSERT_EQ(render_checked_read("{}", bytes_of(list), SeqRange{3, 3}, SeqRange{3, 3}, std::span(out)), out.size());
    EXPECT_EQ(out, R"({"conversation":{},"messages":[{},[1],"x"]})");
    std::string two(*answer_bound(2, list.size(), 3, 2), '\0');
    const auto size = render_checked_read("{}", bytes_of(list), SeqRange{3, 3}, SeqRange{4, 2}, std::span(two));
    ASSERT_TRUE(size);
    EXPECT_EQ(two.substr(0, *size), R"({"conversation":{},"messages":[[1],"x"]})");

    // what check_list() refuses: the lists render_read() refuses (a comma missing, an end
    // that swallows the next message, ends that go back, a list cut short, another format)
    EXPECT_FALSE(check_list(bytes_of(raw_list(list_format, {2, 5}, "ab;cd")), SeqRange{1, 2}));
    EXPECT_FALSE(check_list(bytes_of(raw_list(list_format, {6, 6}, "{},[1]")), SeqRange{1, 2}));
    EXPECT_FALSE(check_list(bytes_of(raw_list(list_format, {4, 2, 5}, "a,b,c")), SeqRange{1, 3}));
    EXPECT_FALSE(check_list(bytes_of(list.substr(0, list.size() - 1)), SeqRange{1, 3}));
    EXPECT_FALSE(check_list(bytes_of(raw_list(list_format + 1, {2, 6}, "{},[1]")), SeqRange{1, 2}));
    EXPECT_FALSE(check_list(bytes_of(list), SeqRange{1, 4}));

    // whatever the bytes, the trusting read copies only inside the text and the out: an end
    // past the text, a start past the stop, an index or a want outside the list, another
    // format, an out too small are refused
    EXPECT_FALSE(render_checked_read("{}", bytes_of(raw_list(list_format, {1000, 5}, "ab,cd")), SeqRange{1, 2},
                                     SeqRange{2, 1}, std::span(out)));
    EXPECT_FALSE(render_checked_read("{}", bytes_of(raw_list(list_format, {0xffffffff, 5}, "ab,cd")), SeqRange{1, 2},
                                     SeqRange{1, 1}, std::span(out)));
    EXPECT_FALSE(render_checked_read("{}", bytes_of(raw_list(list_format, {4, 2, 5}, "a,b,c")), SeqRange{1, 3},
                                     SeqRange{2, 1}, std::span(out)));
    EXPECT_FALSE(render_checked_read("{}", bytes_of(list.substr(0, list.size() - 1)), SeqRange{1, 3},
                                     SeqRange{1, 3}, std::span(out)));
    EXPECT_FALSE(render_checked_read("{}", bytes_of(raw_list(list_format + 1, {2, 6}, "{},[1]")), SeqRange{1, 2},
                                     SeqRange{1, 1}, std::span(out)));
    EXPECT_FALSE(render_checked_read("{}", bytes_of(list), SeqRange{1, 1'000'000}, SeqRange{1, 1}, std::span(out)));
    EXPECT_FALSE(render_checked_read("{}", bytes_of(list), SeqRange{3, 3}, SeqRange{5, 2}, std::span(out)));
    std::string small(out.size() - 1, '\0');
    EXPECT_FALSE(render_checked_read("{}", bytes_of(list), SeqRange{3, 3}, SeqRange{3, 3}, std::span(small)));
    // an empty read needs no list at all
    std::string empty(*answer_bound(2, 0, 0, 0), '\0');
    EXPECT_EQ(render_checked_read("{}", {}, SeqRange{}, SeqRange{}, std::span(empty)), empty.size());
    EXPECT_EQ(empty, R"({"conversation":{},"messages":[]})");
}

}  // namespace
