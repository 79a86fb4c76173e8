// The API's Conversation and Message JSON written from typed columns, in jsonb's key order with core's escaping.
#include "chat/conversation_json.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include "chat/json.h"

namespace chat::conversation_json {

using namespace json::literals;

namespace {

// Floor division: timestamps before 1970 still split into a day and a time of day.
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

// A timestamp's characters, on the stack (at most 32 with quotes: any int64 of ms), then
// appended at once: no allocation and no string call per character.
struct Chars {
    std::array<char, 48> buf;  // only its first n bytes are ever read
    std::size_t n = 0;
    void put(char c) { buf[n++] = c; }
    std::string_view view() const { return {buf.data(), n}; }
};

void append_digits(Chars& out, std::int64_t v, int width) {
    char buf[24];
    int n = 0;
    bool neg = v < 0;
    std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    do {
        buf[n++] = static_cast<char>('0' + u % 10);
        u /= 10;
    } while (u != 0);
    while (n < width) buf[n++] = '0';
    if (neg) out.put('-');
    while (n > 0) out.put(buf[--n]);
}

void put_timestamp(Chars& out, std::int64_t ms);

// A timestamp (or null), as chat_ts writes it.
void timestamp(json::Writer& w, const Int& ms) {
    if (!ms) {
        w.null();
        return;
    }
    Chars s;
    s.put('"');
    put_timestamp(s, *ms);
    s.put('"');
    w.raw(s.view());
}

void text(json::Writer& w, const Text& t) {
    if (t) w.string(*t);
    else w.null();
}

// Why a second JSON reader (the decision of wave 15, "metadata at source"): the post batch
// (chat_customer_post_batch_v2) no longer answers message metadata (core writes the bot reply's
// itself), so on the write path only a conversation's context arrives as jsonb text, and jsonb's
// text is never compact (jsonb_out writes ": " and ", "). Answering it compact would take a stored
// copy in core's bytes (a migration, every writer of context, a backfill of old rows) for what
// costs nothing in the common case: a conversation opened without context is "{}", written as it
// is below, before Compact runs. Compact stays bounded (kMaxInput, kMaxDepth, kMaxKeys) and
// fuzzed (core/fuzz/conversation_json_fuzz.cpp); anything it does not accept goes to json::parse.
//
// Postgres's jsonb text made compact without parsing it, when that gives the very bytes that
// parsing and writing would: whitespace between tokens dropped, strings with no byte to escape
// (so no backslash either), integers in canonical form (not -0) of at most 18 digits, other
// numbers already in their shortest round-trip form (not 0), true, false, null, and objects without a repeated key. Anything else (or anything malformed,
// or too deep or too big) returns false: the full parse decides. The compact text is never
// longer than the input: it goes to a buffer on the stack.
class Compact {
public:
    static constexpr std::size_t kMaxInput = 1024;

    explicit Compact(std::string_view s) : s_(s) {}
    std::string_view text() const { return {buf_.data(), n_}; }

    bool run() {
        if (s_.size() > kMaxInput) return false;
        ws();
        if (!value(0)) return false;
        ws();
        return pos_ == s_.size();
    }

private:
    static constexpr int kMaxDepth = 16;         // well within json::Limits' 32
    static constexpr std::size_t kMaxKeys = 16;  // repeated keys found by comparing all pairs
    static constexpr std::size_t kMaxItems = 1000;

    bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
    void ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) pos_++;
    }
    // the input's next n bytes, copied
    void copy(std::size_t n) {
        std::memcpy(buf_.data() + n_, s_.data() + pos_, n);
        n_ += n;
        pos_ += n;
    }
    bool put(char c) {
        if (!at(c)) return false;
        copy(1);
        return true;
    }

    // a string with nothing to escape; its content in text
    bool string(std::string_view& text) {
        if (!at('"')) return false;
        const std::size_t end = s_.find('"', pos_ + 1);
        if (end == std::string_view::npos) return false;
        text = s_.substr(pos_ + 1, end - pos_ - 1);
        if (!json::writes_as_is(text)) return false;  // also: no backslash, so end is the close
        copy(end + 1 - pos_);
        return true;
    }

    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        copy(word.size());
        return true;
    }

    std::size_t digits() {
        const std::size_t first = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
        return pos_ - first;
    }

    // an integer as its int64 is written; a fraction or an exponent only when the text is
    // already its double's shortest round-trip form (as the writer prints it: to_chars)
    bool number() {
        const std::size_t start = pos_;
        if (at('-')) pos_++;
        const std::size_t first = pos_;
        const std::size_t n = digits();
        if (n == 0 || (s_[first] == '0' && n > 1)) return false;
        bool integral = true;
        if (at('.')) {
            integral = false;
            pos_++;
            if (digits() == 0) return false;
        }
        if (at('e') || at('E')) {
            integral = false;
            pos_++;
            if (at('+') || at('-')) pos_++;
            if (digits() == 0) return false;
        }
        const std::size_t end = pos_;
        pos_ = start;
        if (integral) {
            if (n > 18 || (s_[first] == '0' && first != start)) return false;  // -0 is written 0
        } else {
            double d = 0;
            const auto r = std::from_chars(s_.data() + start, s_.data() + end, d);
            if (r.ec != std::errc() || r.ptr != s_.data() + end || !std::isfinite(d) || d == 0) return false;
            char buf[32];
            const auto w = std::to_chars(buf, buf + sizeof buf, d);
            if (w.ec != std::errc() || std::string_view(buf, static_cast<std::size_t>(w.ptr - buf)) != s_.substr(start, end - start))
                return false;
        }
        copy(end - start);
        return true;
    }

    bool value(int depth) {
        if (pos_ >= s_.size()) return false;
        std::string_view text;
        switch (s_[pos_]) {
        case '{': return depth < kMaxDepth && object(depth + 1);
        case '[': return depth < kMaxDepth && array(depth + 1);
        case '"': return string(text);
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default: return number();
        }
    }

    bool object(int depth) {
        put('{');
        ws();
        if (put('}')) return true;
        std::array<std::string_view, kMaxKeys> keys;
        for (std::size_t n = 0;; n++) {
            if (n == kMaxKeys || !string(keys[n])) return false;
            for (std::size_t i = 0; i < n; i++)
                if (keys[i] == keys[n]) return false;
            ws();
            if (!put(':')) return false;
            ws();
            if (!value(depth)) return false;
            ws();
            if (put('}')) return true;
            if (!put(',')) return false;
            ws();
        }
    }

    bool array(int depth) {
        put('[');
        ws();
        if (put(']')) return true;
        for (std::size_t n = 0;; n++) {
            if (n == kMaxItems || !value(depth)) return false;
            ws();
            if (put(']')) return true;
            if (!put(',')) return false;
            ws();
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    std::array<char, kMaxInput> buf_;  // only its first n_ bytes are ever read
    std::size_t n_ = 0;
};

// A jsonb value's text written as core writes it after parsing (compact, its escaping).
bool jsonb(json::Writer& w, std::string_view value) {
    if (value == "{}") {
        w.raw(value);
        return true;
    }
    if (Compact compact(value); compact.run()) {
        w.raw(compact.text());
        return true;
    }
    json::Limits lim;
    lim.max_bytes = 64u << 20;
    auto v = json::parse(value, lim);
    if (!v.ok()) return false;
    w.value(v.value());
    return true;
}

// Postgres's text of an integer, bool or timestamp (chat_ms) column; false for anything else.
bool int_of(const Text& t, std::int64_t& out) {
    if (!t || t->empty()) return false;
    auto [ptr, ec] = std::from_chars(t->data(), t->data() + t->size(), out);
    return ec == std::errc() && ptr == t->data() + t->size();
}

bool int_of(const Text& t, Int& out) {
    if (!t) {
        out.reset();
        return true;
    }
    std::int64_t v = 0;
    if (!int_of(t, v)) return false;
    out = v;
    return true;
}

bool text_of(const Text& t, std::string_view& out) {
    if (!t) return false;
    out = *t;
    return true;
}

Error bad_column(const char* what, std::size_t i) {
    return make_error(Errc::internal, std::string("unexpected database answer: ") + what + " column " + std::to_string(i));
}

}  // namespace

Result<Conversation> conversation_from(std::span<const Text> cols) {
    if (cols.size() != kConversationColumns) return bad_column("conversation", cols.size());
    Conversation c;
    std::size_t i = 0;
    auto fail = [&] { return bad_column("conversation", i); };
    if (!text_of(cols[i], c.id)) return fail();
    if (!text_of(cols[++i], c.status)) return fail();
    c.agent_id = cols[++i];
    c.agent_name = cols[++i];
    if (!int_of(cols[++i], c.queue_position)) return fail();
    if (!text_of(cols[++i], c.context)) return fail();
    c.customer_id = cols[++i];
    c.customer_name = cols[++i];
    c.customer_email = cols[++i];
    c.department_id = cols[++i];
    c.department_name = cols[++i];
    if (!text_of(cols[++i], c.priority)) return fail();
    if (!cols[++i] || (*cols[i] != "t" && *cols[i] != "f")) return fail();
    c.offline = *cols[i] == "t";
    if (!text_of(cols[++i], c.tags)) return fail();
    if (!int_of(cols[++i], c.rating_score)) return fail();
    c.rating_comment = cols[++i];
    if (!int_of(cols[++i], c.last_seq)) return fail();
    if (!int_of(cols[++i], c.unread_count)) return fail();
    if (!int_of(cols[++i], c.created_at)) return fail();
    if (!int_of(cols[++i], c.updated_at)) return fail();
    if (!int_of(cols[++i], c.requested_agent_at)) return fail();
    if (!int_of(cols[++i], c.closed_at)) return fail();
    if (!int_of(cols[++i], c.version)) return fail();
    return c;
}

Result<Message> message_from(std::span<const Text> cols) {
    if (cols.size() != kMessageColumns) return bad_column("message", cols.size());
    Message m;
    std::size_t i = 0;
    auto fail = [&] { return bad_column("message", i); };
    if (!text_of(cols[i], m.id)) return fail();
    if (!text_of(cols[++i], m.conversation_id)) return fail();
    if (!int_of(cols[++i], m.seq)) return fail();
    if (!text_of(cols[++i], m.sender_type)) return fail();
    m.sender_agent_id = cols[++i];
    if (!text_of(cols[++i], m.kind)) return fail();
    if (!text_of(cols[++i], m.content)) return fail();
    if (!text_of(cols[++i], m.metadata)) return fail();
    if (!int_of(cols[++i], m.created_at)) return fail();
    if (!int_of(cols[++i], m.read_at)) return fail();
    return m;
}

namespace {

void put_timestamp(Chars& out, std::int64_t ms) {
    // the civil date of a day count (Howard Hinnant's days_from_civil, inverted)
    const std::int64_t secs = floor_div(ms, 1000);
    const std::int64_t days = floor_div(secs, 86400);
    const std::int64_t sod = secs - days * 86400;
    const std::int64_t z = days + 719468;
    const std::int64_t era = floor_div(z, 146097);
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = yoe + era * 400 + (m <= 2);
    if (y >= 0 && y <= 9999) {
        // every year a chat meets: fixed widths, two digits at a time
        const auto two = [&out](std::int64_t v) {
            out.put(static_cast<char>('0' + v / 10));
            out.put(static_cast<char>('0' + v % 10));
        };
        const std::int64_t milli = ms - secs * 1000;
        two(y / 100);
        two(y % 100);
        out.put('-');
        two(m);
        out.put('-');
        two(d);
        out.put('T');
        two(sod / 3600);
        out.put(':');
        two(sod / 60 % 60);
        out.put(':');
        two(sod % 60);
        out.put('.');
        out.put(static_cast<char>('0' + milli / 100));
        two(milli % 100);
        out.put('Z');
        return;
    }
    append_digits(out, y, 4);
    out.put('-');
    append_digits(out, m, 2);
    out.put('-');
    append_digits(out, d, 2);
    out.put('T');
    append_digits(out, sod / 3600, 2);
    out.put(':');
    append_digits(out, sod / 60 % 60, 2);
    out.put(':');
    append_digits(out, sod % 60, 2);
    out.put('.');
    append_digits(out, ms - secs * 1000, 3);
    out.put('Z');
}

}  // namespace

void append_timestamp(std::string& out, std::int64_t ms) {
    Chars s;
    put_timestamp(s, ms);
    out.append(s.view());
}

std::string render_agent(const Conversation& c) {
    std::string out;
    if (!c.agent_id) return out;
    json::Writer w(out);
    w.begin_object().key("id"_key).string(*c.agent_id).key("display_name"_key);
    text(w, c.agent_name);
    w.end_object();
    return out;
}

// jsonb's order: keys by length, then by bytes (chat_conversation_json's keys).
Result<std::string> render(const Conversation& c) {
    std::string out;
    out.reserve(512);
    json::Writer w(out);
    w.begin_object();
    w.key("id"_key).string(c.id);
    w.key("tags"_key).begin_array();
    for (std::string_view t = c.tags; !t.empty();) {
        const auto sp = t.find(' ');
        w.string(t.substr(0, sp));
        t = sp == std::string_view::npos ? std::string_view() : t.substr(sp + 1);
    }
    w.end_array();
    w.key("rating"_key);
    if (c.rating_score) {
        w.begin_object().key("score"_key).number(*c.rating_score).key("comment"_key);
        text(w, c.rating_comment);
        w.end_object();
    } else {
        w.null();
    }
    w.key("status"_key).string(c.status);
    w.key("context"_key);
    if (!jsonb(w, c.context)) return make_error(Errc::internal, "conversation context is not JSON");
    w.key("offline"_key).boolean(c.offline);
    w.key("version"_key).number(c.version);
    w.key("customer"_key);
    if (c.customer_id) {
        w.begin_object().key("id"_key).string(*c.customer_id).key("name"_key);
        text(w, c.customer_name);
        w.key("email"_key);
        text(w, c.customer_email);
        w.end_object();
    } else {
        w.null();
    }
    w.key("last_seq"_key).number(c.last_seq);
    w.key("priority"_key).string(c.priority);
    w.key("closed_at"_key);
    timestamp(w, c.closed_at);
    w.key("created_at"_key);
    timestamp(w, c.created_at);
    w.key("department"_key);
    if (c.department_id) {
        w.begin_object().key("id"_key).string(*c.department_id).key("name"_key);
        text(w, c.department_name);
        w.end_object();
    } else {
        w.null();
    }
    w.key("updated_at"_key);
    timestamp(w, c.updated_at);
    w.key("unread_count"_key).number(c.unread_count);
    w.key("assigned_agent"_key);
    if (c.agent_id) {
        w.begin_object().key("id"_key).string(*c.agent_id).key("display_name"_key);
        text(w, c.agent_name);
        w.end_object();
    } else {
        w.null();
    }
    w.key("queue_position"_key);
    if (c.queue_position) w.number(*c.queue_position);
    else w.null();
    w.key("requested_agent_at"_key);
    timestamp(w, c.requested_agent_at);
    w.end_object();
    if (!w.complete()) return make_error(Errc::internal, "conversation JSON failed");
    return out;
}

// chat_message_json's keys in jsonb's order.
Result<std::string> render(const Message& m) {
    std::string out;
    // the keys, ids, seq, timestamp and punctuation take ~255 bytes (more with a long seq),
    // then its text and metadata, unescaped: without the metadata's room the bot's reply (its
    // metadata ~100 bytes) grew once, a second allocation and a copy
    out.reserve(320 + m.content.size() + m.metadata.size());
    json::Writer w(out);
    w.begin_object();
    w.key("id"_key).string(m.id);
    w.key("seq"_key).number(m.seq);
    w.key("kind"_key).string(m.kind);
    w.key("content"_key).string(m.content);
    w.key("read_at"_key);
    timestamp(w, m.read_at);
    w.key("metadata"_key);
    if (m.metadata_as_is) w.raw(m.metadata);
    else if (!jsonb(w, m.metadata)) return make_error(Errc::internal, "message metadata is not JSON");
    w.key("created_at"_key);
    timestamp(w, m.created_at);
    w.key("sender_type"_key).string(m.sender_type);
    w.key("conversation_id"_key).string(m.conversation_id);
    w.key("sender_agent_id"_key);
    text(w, m.sender_agent_id);
    w.end_object();
    if (!w.complete()) return make_error(Errc::internal, "message JSON failed");
    return out;
}

}  // namespace chat::conversation_json
