// The HTML-safe JSON Writer and the serialization of Value trees (parsing is in json.cpp).
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "chat/json.h"
#include "chat/utf8.h"

namespace chat::json {

// ---- Writer --------------------------------------------------------------

namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_u(std::string& out, unsigned cp) {
    const char buf[6] = {'\\', 'u', kHex[(cp >> 12) & 0xF], kHex[(cp >> 8) & 0xF],
                         kHex[(cp >> 4) & 0xF], kHex[cp & 0xF]};
    out.append(buf, 6);
}

// Bytes written as they are: printable ASCII (and DEL) other than the quote, the backslash and
// the HTML-sensitive <, > and &. A run of them is appended at once instead of byte by byte.
constexpr auto kPlain = [] {
    std::array<bool, 256> t{};
    for (unsigned c = 0x20; c < 0x80; c++) t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
    return t;
}();

// Whether any of the 8 bytes of x is not plain (kPlain): 8 bytes tested at once.
bool any_not_plain(std::uint64_t x) {
    constexpr std::uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
    // a byte of v is 0 (exactly: a byte above one that is 0 may be flagged too, never one alone)
    const auto zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    return ((x & kHigh) |                                   // 0x80 and up
            ((x - kOnes * 0x20) & ~x & kHigh) |             // below 0x20
            zero((x ^ (kOnes * '"')) & ~(kOnes * 0x04)) |  // " and & (0x22, 0x26)
            zero((x ^ (kOnes * '<')) & ~(kOnes * 0x02)) |  // < and > (0x3c, 0x3e)
            zero(x ^ (kOnes * '\\'))) != 0;
}

#if defined(__SSE2__)
// A bit per byte of the 16 at p that is not plain (kPlain): below 0x20 or 0x80 and up (both
// below 0x20 as signed bytes), ", &, <, > or the backslash.
unsigned not_plain16(const char* p) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i bad = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_or_si128(x, _mm_set1_epi8(0x04)), _mm_set1_epi8('&')));  // " &
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_or_si128(x, _mm_set1_epi8(0x02)), _mm_set1_epi8('>')));  // < >
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    return static_cast<unsigned>(_mm_movemask_epi8(bad));
}
#endif

// The end of the run of plain bytes of s from pos.
std::size_t plain_end(std::string_view s, std::size_t pos) {
#if defined(__SSE2__)
    // 16 bytes at a time; a string of 16 bytes or more ends with the block of its last 16,
    // which overlaps bytes before pos: their bits are dropped
    if (s.size() >= 16) {
        for (; pos + 16 <= s.size(); pos += 16)
            if (const unsigned m = not_plain16(s.data() + pos)) return pos + static_cast<std::size_t>(std::countr_zero(m));
        if (pos == s.size()) return pos;
        const std::size_t at = s.size() - 16;  // < pos
        const unsigned m = not_plain16(s.data() + at) >> (pos - at);
        return m ? pos + static_cast<std::size_t>(std::countr_zero(m)) : s.size();
    }
#endif
    for (std::uint64_t x; pos + 8 <= s.size(); pos += 8) {
        std::memcpy(&x, s.data() + pos, 8);
        if (any_not_plain(x)) break;
    }
    while (pos < s.size() && kPlain[static_cast<unsigned char>(s[pos])]) pos++;
    return pos;
}

// `lead` (if not 0), s quoted, then `trail` (if not 0): a short plain s (a key, most values)
// in one append.
void quoted_between(std::string& out, char lead, std::string_view s, char trail) {
    constexpr std::size_t kShort = 64;
    if (s.size() <= kShort && plain_end(s, 0) == s.size()) {
        char buf[kShort + 4];
        std::size_t n = 0;
        if (lead) buf[n++] = lead;
        buf[n++] = '"';
        if (!s.empty()) std::memcpy(buf + n, s.data(), s.size());
        n += s.size();
        buf[n++] = '"';
        if (trail) buf[n++] = trail;
        out.append(buf, n);
        return;
    }
    if (lead) out.push_back(lead);
    append_quoted(out, s);
    if (trail) out.push_back(trail);
}

}  // namespace

bool writes_as_is(std::string_view s) noexcept { return plain_end(s, 0) == s.size(); }

void append_quoted(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t pos = 0;
    while (pos < s.size()) {
        const std::size_t end = plain_end(s, pos);
        if (end > pos) {
            out.append(s.data() + pos, end - pos);
            pos = end;
            if (pos == s.size()) break;
        }
        const unsigned char c = static_cast<unsigned char>(s[pos]);
        if (c >= 0x80) {
            const std::size_t at = pos;
            const char32_t cp = utf8::next_code_point(s, pos);
            if (cp == utf8::kInvalid) append_u(out, 0xFFFD);
            else if (cp == 0x2028 || cp == 0x2029) append_u(out, cp);
            else out.append(s.substr(at, pos - at));
            continue;
        }
        pos++;
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        case '<':
        case '>':
        case '&': append_u(out, c); break;
        default:
            if (c < 0x20) append_u(out, c);
            else out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

bool Writer::before_value_rest() noexcept {
    if (!ok_) return false;
    if (stack_.empty()) {
        if (done_) {
            ok_ = false;  // a second top-level value
            return false;
        }
        done_ = true;
        return true;
    }
    switch (top()) {
    case Frame::object_key: ok_ = false; return false;  // value without a key
    case Frame::object_value: set_top(Frame::object_key); return true;
    case Frame::array:
        try {
            if (had_items()) out_.push_back(',');
        } catch (...) {
            ok_ = false;
            return false;
        }
        return true;
    }
    return false;
}

Writer& Writer::begin_object() noexcept {
    if (!before_value()) return *this;
    try {
        out_.push_back('{');
        stack_.push_back(static_cast<char>(Frame::object_key));
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

Writer& Writer::end_object() noexcept {
    if (!ok_) return *this;
    if (stack_.empty() || top() != Frame::object_key) {
        ok_ = false;
        return *this;
    }
    try {
        out_.push_back('}');
    } catch (...) {
        ok_ = false;
    }
    stack_.pop_back();
    return *this;
}

Writer& Writer::begin_array() noexcept {
    if (!before_value()) return *this;
    try {
        out_.push_back('[');
        stack_.push_back(static_cast<char>(Frame::array));
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

Writer& Writer::end_array() noexcept {
    if (!ok_) return *this;
    if (stack_.empty() || top() != Frame::array) {
        ok_ = false;
        return *this;
    }
    try {
        out_.push_back(']');
    } catch (...) {
        ok_ = false;
    }
    stack_.pop_back();
    return *this;
}

Writer& Writer::key(std::string_view k) noexcept {
    if (!ok_) return *this;
    if (stack_.empty() || top() != Frame::object_key) {
        ok_ = false;
        return *this;
    }
    try {
        quoted_between(out_, had_items() ? ',' : '\0', k, ':');
    } catch (...) {
        ok_ = false;
    }
    set_top(Frame::object_value);
    return *this;
}

Writer& Writer::key(Key k) noexcept {
    if (!ok_) return *this;
    if (stack_.empty() || top() != Frame::object_key) {
        ok_ = false;
        return *this;
    }
    try {
        out_.append(had_items() ? k.text : k.text.substr(1));
    } catch (...) {
        ok_ = false;
    }
    set_top(Frame::object_value);
    return *this;
}

Writer& Writer::string(std::string_view s) noexcept {
    if (!before_value()) return *this;
    try {
        quoted_between(out_, '\0', s, '\0');
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

Writer& Writer::number(std::int64_t n) noexcept {
    if (!before_value()) return *this;
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    try {
        out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

Writer& Writer::number(double d) noexcept {
    if (!before_value()) return *this;
    try {
        if (!std::isfinite(d)) {
            out_.append("null");
            return *this;
        }
        if (d == 0 && std::signbit(d)) {
            out_.append("-0.0");  // "-0" would read back as the integer 0
            return *this;
        }
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
        out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

Writer& Writer::boolean(bool b) noexcept {
    if (!before_value()) return *this;
    try {
        out_.append(b ? "true" : "false");
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

Writer& Writer::null() noexcept {
    if (!before_value()) return *this;
    try {
        out_.append("null");
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

Writer& Writer::raw(std::string_view json) noexcept {
    if (!before_value()) return *this;
    try {
        out_.append(json);
    } catch (...) {
        ok_ = false;
    }
    return *this;
}

void Writer::value_rec(const Value& v) {
    switch (v.type()) {
    case Type::null: null(); break;
    case Type::boolean: boolean(*v.as_bool()); break;
    case Type::number:
        if (auto i = v.as_int()) number(*i);
        else number(*v.as_double());
        break;
    case Type::string: string(*v.as_string()); break;
    case Type::array:
        begin_array();
        for (const Value& e : *v.as_array()) value_rec(e);
        end_array();
        break;
    case Type::object:
        begin_object();
        for (const Member& m : *v.as_object()) {
            key(m.key);
            value_rec(m.value);
        }
        end_object();
        break;
    }
}

Writer& Writer::value(const Value& v) noexcept {
    value_rec(v);  // every step is noexcept; failures land in ok_
    return *this;
}

std::string to_string(const Value& v) noexcept {
    try {
        std::string out;
        Writer w(out);
        w.value(v);
        if (!w.ok()) return {};
        return out;
    } catch (...) {
        return {};
    }
}

}  // namespace chat::json
