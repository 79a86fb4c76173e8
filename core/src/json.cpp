// Strict bounded JSON parsing into Value trees (the Writer is in json_writer.cpp).
#include "chat/json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <unordered_map>

#include "chat/utf8.h"

namespace chat::json {

// ---- Value ---------------------------------------------------------------

std::optional<bool> Value::as_bool() const noexcept {
    if (auto p = std::get_if<bool>(&v_)) return *p;
    return std::nullopt;
}

std::optional<double> Value::as_double() const noexcept {
    if (auto p = std::get_if<Number>(&v_)) return p->value;
    return std::nullopt;
}

std::optional<std::int64_t> Value::as_int() const noexcept {
    if (auto p = std::get_if<Number>(&v_)) return p->integer;
    return std::nullopt;
}

const std::string* Value::as_string() const noexcept { return std::get_if<std::string>(&v_); }
const Array* Value::as_array() const noexcept { return std::get_if<Array>(&v_); }
const Object* Value::as_object() const noexcept { return std::get_if<Object>(&v_); }
Array* Value::as_array() noexcept { return std::get_if<Array>(&v_); }
Object* Value::as_object() noexcept { return std::get_if<Object>(&v_); }

const Value* Value::find(std::string_view key) const noexcept {
    const Object* o = as_object();
    if (!o) return nullptr;
    for (const Member& m : *o)
        if (m.key == key) return &m.value;
    return nullptr;
}

const std::string* Value::find_string(std::string_view key) const noexcept {
    const Value* v = find(key);
    return v ? v->as_string() : nullptr;
}

std::optional<std::int64_t> Value::find_int(std::string_view key) const noexcept {
    const Value* v = find(key);
    return v ? v->as_int() : std::nullopt;
}

void Value::set(std::string key, Value v) {
    if (is_null()) v_ = Object{};
    Object* o = as_object();
    if (!o) return;
    for (Member& m : *o) {
        if (m.key == key) {
            m.value = std::move(v);
            return;
        }
    }
    o->push_back(Member{std::move(key), std::move(v)});
}

void Value::push_back(Value v) {
    if (is_null()) v_ = Array{};
    if (Array* a = as_array()) a->push_back(std::move(v));
}

bool operator==(const Value& a, const Value& b) noexcept {
    if (a.type() != b.type()) return false;
    switch (a.type()) {
    case Type::null: return true;
    case Type::boolean: return *a.as_bool() == *b.as_bool();
    case Type::number: {
        const auto& x = std::get<Number>(a.v_);
        const auto& y = std::get<Number>(b.v_);
        // 2.5e3 and 2500 are the same JSON number; exact integers decide when both have one.
        if (x.integer && y.integer) return *x.integer == *y.integer;
        return x.value == y.value;
    }
    case Type::string: return *a.as_string() == *b.as_string();
    case Type::array: return *a.as_array() == *b.as_array();
    case Type::object: return *a.as_object() == *b.as_object();
    }
    return false;
}

// ---- Parser --------------------------------------------------------------

namespace {

// Thrown inside the parser only; parse() turns it into an Error.
struct ParseError {
    std::size_t offset;
    const char* what;
};

// Up to this many members an object finds a duplicate key by a linear scan (a
// conversation has 18: a hash index would allocate a node per key); beyond it, a hash
// index, so that a large object is not quadratic.
constexpr std::size_t kLinearMembers = 32;

// The length of the run of plain ASCII at the start of s: no control character, no
// '"', no '\\', nothing from 0x80. Eight bytes at a time (SWAR): a block with any such
// byte is left to the byte loop.
std::size_t plain_ascii_run(std::string_view s) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    std::size_t n = 0;
    for (; s.size() - n >= 8; n += 8) {
        std::uint64_t x;
        std::memcpy(&x, s.data() + n, 8);
        const std::uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
        const std::uint64_t bad = ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) |
                                  ((backslash - ones) & ~backslash) | x;
        if (bad & highs) break;
    }
    while (n < s.size()) {
        const unsigned char d = static_cast<unsigned char>(s[n]);
        if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') break;
        n++;
    }
    return n;
}

// What parse_members() keeps of member `key` of the object at `prefix`: all of it, or
// (below: the prefix of its own members) the members of it the list names.
struct Kept {
    bool whole = false;
    std::string_view below;
};

Kept kept_as(std::span<const std::string_view> keep, std::string_view prefix, std::string_view key) noexcept {
    Kept out;
    const std::size_t p = prefix.size(), n = key.size();
    if (n == 0 || key.find('/') != std::string_view::npos) return out;  // a path cannot name it
    for (std::string_view k : keep) {
        // the first letter first: most members are told apart by it, without a compare
        if (k.size() < p + n || k[p] != key[0] || k.compare(0, p, prefix) != 0 || k.compare(p, n, key) != 0)
            continue;
        std::string_view rest = k.substr(p + n);
        if (rest.empty()) out.whole = true;
        else if (rest.front() == '/') out.below = k.substr(0, prefix.size() + key.size() + 1);
    }
    return out;
}

// parse_members() of a parsed tree: the members the keep list does not name removed.
void keep_only(Value& v, std::span<const std::string_view> keep, std::string_view prefix) {
    Object* o = v.as_object();
    if (!o) return;
    Object out;
    for (Member& m : *o) {
        const Kept k = kept_as(keep, prefix, m.key);
        if (!k.whole && k.below.empty()) continue;
        if (!k.whole) keep_only(m.value, keep, k.below);
        out.push_back(std::move(m));
    }
    *o = std::move(out);
}

// Thrown by parse_members() when an object it skips has more members than max_members:
// only the full parse, which counts a duplicate key once, can say whether it fits.
struct NeedsFullParse {};

// A skipped string's decoded length, counted instead of built.
struct Length {
    std::size_t n = 0;
    std::size_t size() const noexcept { return n; }
    void push_back(char) noexcept { n++; }
    void append(std::string_view s) noexcept { n += s.size(); }
};

void put_code_point(std::string& out, char32_t cp) { utf8::append(out, cp); }
void put_code_point(Length& out, char32_t cp) { out.n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

class Parser {
public:
    Parser(std::string_view text, const Limits& limits, std::span<const std::string_view> keep = {})
        : s_(text), lim_(limits), keep_(keep) {}

    Value document() {
        skip_ws();
        Value v = value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("unexpected data after the value");
        return v;
    }

    // parse_members(): the same scan, every check included, building only the kept paths.
    Value kept_document() {
        skip_ws();
        Value v = kept(0, {});
        skip_ws();
        if (pos_ != s_.size()) fail("unexpected data after the value");
        return v;
    }

private:
    [[noreturn]] void fail(const char* what) { throw ParseError{pos_, what}; }
    [[noreturn]] void fail_at(std::size_t at, const char* what) { throw ParseError{at, what}; }

    bool at_end() const { return pos_ >= s_.size(); }
    char peek() const { return s_[pos_]; }

    void skip_ws() {
        while (!at_end()) {
            char c = peek();
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            pos_++;
        }
    }

    void expect(char c, const char* what) {
        if (at_end() || peek() != c) fail(what);
        pos_++;
    }

    void literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) fail("invalid literal");
        pos_ += word.size();
    }

    Value value(std::size_t depth) {
        if (at_end()) fail("unexpected end of input");
        switch (peek()) {
        case '{': return object(depth + 1);
        case '[': return array(depth + 1);
        case '"': return Value(string());
        case 't': literal("true"); return Value(true);
        case 'f': literal("false"); return Value(false);
        case 'n': literal("null"); return Value(nullptr);
        default:
            if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return Value(number());
            fail("expected a value");
        }
    }

    Value object(std::size_t depth) {
        if (depth > lim_.max_depth) fail("nesting too deep");
        pos_++;  // '{'
        Object members;
        // Duplicate detection: a linear scan for small objects, a hash index
        // once the object is big enough for the scan to be quadratic trouble.
        std::unordered_map<std::string, std::size_t> index;
        skip_ws();
        if (!at_end() && peek() == '}') {
            pos_++;
            return Value(std::move(members));
        }
        for (;;) {
            skip_ws();
            if (at_end() || peek() != '"') fail("expected a string key");
            std::string key = string();
            skip_ws();
            expect(':', "expected ':'");
            skip_ws();
            Value v = value(depth);
            std::size_t found = members.size();
            if (members.size() < kLinearMembers) {
                for (std::size_t i = 0; i < members.size(); i++)
                    if (members[i].key == key) found = i;
            } else {
                if (index.empty())
                    for (std::size_t i = 0; i < members.size(); i++) index.emplace(members[i].key, i);
                auto it = index.find(key);
                if (it != index.end()) found = it->second;
            }
            if (found < members.size()) {
                members[found].value = std::move(v);  // last one wins
            } else {
                if (members.size() >= lim_.max_members) fail("too many object members");
                if (!index.empty()) index.emplace(key, members.size());
                members.push_back(Member{std::move(key), std::move(v)});
            }
            skip_ws();
            if (at_end()) fail("expected ',' or '}'");
            if (peek() == ',') {
                pos_++;
                continue;
            }
            if (peek() == '}') {
                pos_++;
                return Value(std::move(members));
            }
            fail("expected ',' or '}'");
        }
    }

    Value array(std::size_t depth) {
        if (depth > lim_.max_depth) fail("nesting too deep");
        pos_++;  // '['
        Array items;
        skip_ws();
        if (!at_end() && peek() == ']') {
            pos_++;
            return Value(std::move(items));
        }
        for (;;) {
            skip_ws();
            if (items.size() >= lim_.max_members) fail("too many array elements");
            items.push_back(value(depth));
            skip_ws();
            if (at_end()) fail("expected ',' or ']'");
            if (peek() == ',') {
                pos_++;
                continue;
            }
            if (peek() == ']') {
                pos_++;
                return Value(std::move(items));
            }
            fail("expected ',' or ']'");
        }
    }

    unsigned hex4() {
        if (s_.size() - pos_ < 4) fail("truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
            char c = s_[pos_ + i];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
            else fail("invalid \\u escape");
        }
        pos_ += 4;
        return v;
    }

    std::string string() {
        std::string out;
        string_into(out);
        return out;
    }

    template <class Out>
    void string_into(Out& out) {
        const std::size_t start = pos_;
        pos_++;  // '"'
        for (;;) {
            if (out.size() > lim_.max_string) fail_at(start, "string too long");
            if (at_end()) fail_at(start, "unterminated string");
            const unsigned char c = static_cast<unsigned char>(peek());
            if (c == '"') {
                pos_++;
                break;
            }
            if (c < 0x20) fail("control character in string");
            if (c == '\\') {
                pos_++;
                if (at_end()) fail_at(start, "unterminated string");
                const char e = peek();
                pos_++;
                switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    const std::size_t esc = pos_ - 2;
                    char32_t cp = hex4();
                    if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at(esc, "lone low surrogate");
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (s_.substr(pos_, 2) != "\\u") fail_at(esc, "lone high surrogate");
                        pos_ += 2;
                        const char32_t lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "lone high surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    put_code_point(out, cp);
                    break;
                }
                default: fail_at(pos_ - 2, "invalid escape");
                }
                continue;
            }
            if (c < 0x80) {
                // Copy the run of plain ASCII in one go.
                const std::size_t run = plain_ascii_run(s_.substr(pos_));
                out.append(s_.substr(pos_, run));
                pos_ += run;
                continue;
            }
            const std::size_t at = pos_;
            if (utf8::next_code_point(s_, pos_) == utf8::kInvalid) fail_at(at, "invalid UTF-8");
            out.append(s_.substr(at, pos_ - at));
        }
        if (out.size() > lim_.max_string) fail_at(start, "string too long");
    }

    // ---- parse_members(): kept paths built, the rest only checked ----

    // A value at a kept path: an object keeps the members the keep list names below
    // `prefix` ("a/" for the members of "a"); anything else is built whole.
    Value kept(std::size_t depth, std::string_view prefix) {
        if (!at_end() && peek() == '{') return kept_object(depth + 1, prefix);
        return value(depth);
    }

    Value kept_object(std::size_t depth, std::string_view prefix) {
        if (depth > lim_.max_depth) fail("nesting too deep");
        pos_++;  // '{'
        Object members;
        std::size_t raw = 0;
        skip_ws();
        if (!at_end() && peek() == '}') {
            pos_++;
            return Value(std::move(members));
        }
        for (;;) {
            skip_ws();
            if (at_end() || peek() != '"') fail("expected a string key");
            // a key of plain ASCII is looked at where it is; others are decoded as always
            std::string decoded;
            std::string_view key;
            const std::size_t run = plain_ascii_run(s_.substr(pos_ + 1));
            if (pos_ + 1 + run < s_.size() && s_[pos_ + 1 + run] == '"' && run <= lim_.max_string) {
                key = s_.substr(pos_ + 1, run);
                pos_ += run + 2;
            } else {
                decoded = string();
                key = decoded;
            }
            skip_ws();
            expect(':', "expected ':'");
            skip_ws();
            if (++raw > lim_.max_members) throw NeedsFullParse{};
            const Kept k = kept_as(keep_, prefix, key);
            if (k.whole || !k.below.empty()) {
                Value v = k.whole ? value(depth) : kept(depth, k.below);
                std::size_t found = members.size();
                for (std::size_t i = 0; i < members.size(); i++)
                    if (members[i].key == key) found = i;
                if (found < members.size()) members[found].value = std::move(v);  // last one wins
                else members.push_back(Member{std::string(key), std::move(v)});
            } else {
                skip(depth);
            }
            skip_ws();
            if (at_end()) fail("expected ',' or '}'");
            if (peek() == ',') {
                pos_++;
                continue;
            }
            if (peek() == '}') {
                pos_++;
                return Value(std::move(members));
            }
            fail("expected ',' or '}'");
        }
    }

    // value() without the value: the same grammar, depth, length and count checks.
    void skip(std::size_t depth) {
        if (at_end()) fail("unexpected end of input");
        switch (peek()) {
        case '{': return skip_object(depth + 1);
        case '[': return skip_array(depth + 1);
        case '"': {
            Length n;
            return string_into(n);
        }
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default:
            if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
                (void)number();
                return;
            }
            fail("expected a value");
        }
    }

    void skip_object(std::size_t depth) {
        if (depth > lim_.max_depth) fail("nesting too deep");
        pos_++;  // '{'
        std::size_t raw = 0;
        skip_ws();
        if (!at_end() && peek() == '}') {
            pos_++;
            return;
        }
        for (;;) {
            skip_ws();
            if (at_end() || peek() != '"') fail("expected a string key");
            Length key;
            string_into(key);
            skip_ws();
            expect(':', "expected ':'");
            skip_ws();
            skip(depth);
            if (++raw > lim_.max_members) throw NeedsFullParse{};
            skip_ws();
            if (at_end()) fail("expected ',' or '}'");
            if (peek() == ',') {
                pos_++;
                continue;
            }
            if (peek() == '}') {
                pos_++;
                return;
            }
            fail("expected ',' or '}'");
        }
    }

    void skip_array(std::size_t depth) {
        if (depth > lim_.max_depth) fail("nesting too deep");
        pos_++;  // '['
        std::size_t items = 0;
        skip_ws();
        if (!at_end() && peek() == ']') {
            pos_++;
            return;
        }
        for (;;) {
            skip_ws();
            if (items >= lim_.max_members) fail("too many array elements");
            skip(depth);
            items++;
            skip_ws();
            if (at_end()) fail("expected ',' or ']'");
            if (peek() == ',') {
                pos_++;
                continue;
            }
            if (peek() == ']') {
                pos_++;
                return;
            }
            fail("expected ',' or ']'");
        }
    }

    Number number() {
        const std::size_t start = pos_;
        auto digit = [&] { return !at_end() && peek() >= '0' && peek() <= '9'; };
        if (peek() == '-') pos_++;
        if (!digit()) fail("expected a digit");
        if (peek() == '0') {
            pos_++;
            if (digit()) fail("leading zero in number");
        } else {
            while (digit()) pos_++;
        }
        bool integral = true;
        if (!at_end() && peek() == '.') {
            integral = false;
            pos_++;
            if (!digit()) fail("expected a digit after '.'");
            while (digit()) pos_++;
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            integral = false;
            pos_++;
            if (!at_end() && (peek() == '+' || peek() == '-')) pos_++;
            if (!digit()) fail("expected a digit in exponent");
            while (digit()) pos_++;
        }
        const char* first = s_.data() + start;
        const char* last = s_.data() + pos_;
        Number n;
        if (integral) {
            std::int64_t i = 0;
            auto r = std::from_chars(first, last, i);
            if (r.ec == std::errc() && r.ptr == last) n.integer = i;
        }
        auto r = std::from_chars(first, last, n.value);
        if (r.ec == std::errc::result_out_of_range) {
            if (overflows(first, last)) fail_at(start, "number out of range");
            n.value = (*first == '-') ? -0.0 : 0.0;
        } else if (r.ec != std::errc() || r.ptr != last) {
            fail_at(start, "invalid number");
        }
        return n;
    }

    // For a grammatical literal that from_chars found out of range: true when
    // its magnitude is too large (overflow), false when too small (underflow).
    static bool overflows(const char* p, const char* end) {
        if (*p == '-') p++;
        long long mag = 0;  // decimal exponent of the first significant digit
        bool seen = false;
        long long int_digits = 0, lead_frac_zeros = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (*p != '0') seen = true;
            if (seen) int_digits++;
        }
        if (p < end && *p == '.') {
            for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
                if (seen) continue;
                if (*p == '0') lead_frac_zeros++;
                else seen = true;
            }
        }
        long long exp = 0;
        if (p < end && (*p == 'e' || *p == 'E')) {
            p++;
            bool neg = false;
            if (*p == '+' || *p == '-') neg = *p++ == '-';
            for (; p < end; p++) {
                if (exp < 100000) exp = exp * 10 + (*p - '0');
            }
            if (neg) exp = -exp;
        }
        mag = int_digits > 0 ? int_digits - 1 + exp : -(lead_frac_zeros + 1) + exp;
        return mag > 0;
    }

    std::string_view s_;
    const Limits& lim_;
    std::span<const std::string_view> keep_;
    std::size_t pos_ = 0;
};

Result<Value> parse_error(const ParseError& e) noexcept {
    try {
        return make_error(Errc::invalid_json, "invalid JSON at offset " + std::to_string(e.offset) + ": " + e.what);
    } catch (...) {
        return Error{Errc::invalid_json, {}};
    }
}

}  // namespace

Result<Value> parse_members(std::string_view text, std::span<const std::string_view> keep,
                            const Limits& limits) noexcept {
    try {
        if (text.size() > limits.max_bytes) return parse(text, limits);
        Parser p(text, limits, keep);
        return p.kept_document();
    } catch (const NeedsFullParse&) {
        // rare (an object of more than max_members members): parse it all, then keep the paths
        auto v = parse(text, limits);
        if (!v.ok()) return v;
        try {
            keep_only(v.value(), keep, {});
        } catch (...) {
            return Error{Errc::internal, {}};
        }
        return v;
    } catch (const ParseError& e) {
        return parse_error(e);
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

Result<Value> parse(std::string_view text, const Limits& limits) noexcept {
    try {
        if (text.size() > limits.max_bytes)
            return make_error(Errc::too_large, "JSON text of " + std::to_string(text.size()) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_bytes));
        Parser p(text, limits);
        return p.document();
    } catch (const ParseError& e) {
        return parse_error(e);
    } catch (...) {
        // std::bad_alloc: with the limits above this means the process is out of memory.
        return Error{Errc::internal, {}};
    }
}

}  // namespace chat::json
