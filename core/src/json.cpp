// Strict bounded JSON parsing into Value trees (the Writer is in json_writer.cpp).
#include "chat/json.h"

#include <utility>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
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
std::string* Value::as_string() noexcept { return std::get_if<std::string>(&v_); }
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

Value* Value::find(std::string_view key) noexcept {
    return const_cast<Value*>(std::as_const(*this).find(key));  // the same member, of a non-const Value
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

// Up to this many members an object finds a repeated key by a linear scan (a
// conversation has 18: a hash index would allocate a node per key); beyond it, a hash
// index (ObjectBuild), so that a large object is not quadratic.
constexpr std::size_t kLinearMembers = 32;
// The members an object makes room for with its first one.
constexpr std::size_t kFirstMembers = 4;

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

// Thrown by parse_members() when an object it does not build has more members than
// max_members: only the full parse, which counts a repeated key once, can say whether it fits.
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

// A decoded key as the object's policy reads it: a skipped object reads none.
std::string_view view_of(const std::string& s) noexcept { return s; }
std::string_view view_of(const Length&) noexcept { return {}; }

// ---- What a parse makes of what it reads -----------------------------------
//
// The grammar (Parser below) reads every text the same way, with every check and every error;
// a policy says what becomes of each value: Build builds it (parse()), Skip only has it checked,
// Keep builds the members a keep list names and skips the others (parse_members()).
// A policy B has:
//   B::Out      what a value becomes; B::Text, what a string is decoded into
//   null(), boolean(b), number(n), string(text)     a scalar's Out
//   B::Obj, member(obj, key, parse), object(obj)    an object: member() is given each key and
//               parse(policy), which reads the member's value with the policy it names
//   count(obj)  the object's members, a repeated key once; asked only when more members were
//               read than max_members (a policy that cannot tell throws NeedsFullParse)
//   B::Arr, element(arr, parse), array(arr)         an array, likewise

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// An object being built: its members in document order, a repeated key's last value winning.
struct ObjectBuild {
    Object members;
    // Up to kLinearMembers members a repeated key is found by a linear scan; beyond, by this
    // index, built then, so that a large object is not quadratic (a small one never makes it).
    std::optional<std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>>> index;

    // Inlined into its callers: a small object's member costs no call (callgrind: ~1 % of an
    // event's parse_members).
    [[gnu::always_inline]] void add(std::string_view key, Value v) {
        if (members.size() >= kLinearMembers) return add_indexed(key, std::move(v));
        for (Member& m : members) {
            if (m.key == key) {
                m.value = std::move(v);  // last one wins
                return;
            }
        }
        // room for a small object's members at once: a body of two or three members (a post's
        // text and client_id) costs one allocation, not one per doubling
        if (members.empty()) members.reserve(kFirstMembers);
        members.push_back(Member{std::string(key), std::move(v)});
    }

    void add_indexed(std::string_view key, Value v) {
        if (!index) {
            index.emplace();
            for (std::size_t i = 0; i < members.size(); i++) index->emplace(members[i].key, i);
        }
        if (auto it = index->find(key); it != index->end()) {
            members[it->second].value = std::move(v);
            return;
        }
        members.push_back(Member{std::string(key), std::move(v)});
        index->emplace(members.back().key, members.size() - 1);
    }
};

// parse(): every value built.
struct Build {
    using Out = Value;
    using Text = std::string;
    using Obj = ObjectBuild;
    using Arr = Array;
    static Value null() noexcept { return Value(nullptr); }
    static Value boolean(bool b) noexcept { return Value(b); }
    static Value number(Number n) noexcept { return Value(n); }
    static Value string(std::string&& s) noexcept { return Value(std::move(s)); }
    template <class Parse>
    void member(Obj& o, std::string_view key, Parse&& parse) const {
        o.add(key, parse(Build{}));
    }
    static std::size_t count(const Obj& o) noexcept { return o.members.size(); }
    static Value object(Obj&& o) noexcept { return Value(std::move(o.members)); }
    template <class Parse>
    static void element(Arr& a, Parse&& parse) {
        a.push_back(parse(Build{}));
    }
    static Value array(Arr&& a) noexcept { return Value(std::move(a)); }
};

// Checked, not built (no allocation: a string is only counted).
struct Skip {
    struct Nothing {};
    using Out = Nothing;
    using Text = Length;
    using Obj = Nothing;
    using Arr = Nothing;
    static Nothing null() noexcept { return {}; }
    static Nothing boolean(bool) noexcept { return {}; }
    static Nothing number(Number) noexcept { return {}; }
    static Nothing string(Length&&) noexcept { return {}; }
    template <class Parse>
    static void member(Obj&, std::string_view, Parse&& parse) {
        parse(Skip{});
    }
    static std::size_t count(const Obj&) { throw NeedsFullParse{}; }
    static Nothing object(Obj&&) noexcept { return {}; }
    template <class Parse>
    static void element(Arr&, Parse&& parse) {
        parse(Skip{});
    }
    static Nothing array(Arr&&) noexcept { return {}; }
};

// parse_members(): of an object, the members the keep list names below `prefix` ("" at the
// top, "a/" in member a) are built, the others skipped; anything else is built whole.
struct Keep : Build {
    std::span<const std::string_view> keep;
    std::string_view prefix;

    template <class Parse>
    void member(Obj& o, std::string_view key, Parse&& parse) const {
        const Kept k = kept_as(keep, prefix, key);
        if (!k.whole && k.below.empty()) parse(Skip{});
        else o.add(key, k.whole ? parse(Build{}) : parse(Keep{{}, keep, k.below}));
    }
    // o holds only the members it keeps
    static std::size_t count(const Obj&) { throw NeedsFullParse{}; }
};

// ---- The grammar -----------------------------------------------------------

class Parser {
public:
    Parser(std::string_view text, const Limits& limits) : s_(text), lim_(limits) {}

    // One JSON text: a value, white space around it, nothing else.
    template <class B>
    typename B::Out document(const B& b) {
        skip_ws();
        typename B::Out v = value(b, 0);
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

    template <class B>
    typename B::Out value(const B& b, std::size_t depth) {
        if (at_end()) fail("unexpected end of input");
        switch (peek()) {
        case '{': return object(b, depth + 1);
        case '[': return array(b, depth + 1);
        case '"': {
            typename B::Text text;
            string_into(text);
            return b.string(std::move(text));
        }
        case 't': literal("true"); return b.boolean(true);
        case 'f': literal("false"); return b.boolean(false);
        case 'n': literal("null"); return b.null();
        default:
            if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return b.number(number());
            fail("expected a value");
        }
    }

    template <class B>
    typename B::Out object(const B& b, std::size_t depth) {
        if (depth > lim_.max_depth) fail("nesting too deep");
        pos_++;  // '{'
        typename B::Obj members;
        std::size_t read = 0;  // members read, a repeated key each time
        items('}', "expected ',' or '}'", [&] {
            if (at_end() || peek() != '"') fail("expected a string key");
            typename B::Text decoded;
            const std::string_view k = key(decoded);
            skip_ws();
            expect(':', "expected ':'");
            skip_ws();
            b.member(members, k, [&](const auto& of) { return value(of, depth); });
            if (++read > lim_.max_members && b.count(members) > lim_.max_members) fail("too many object members");
        });
        return b.object(std::move(members));
    }

    template <class B>
    typename B::Out array(const B& b, std::size_t depth) {
        if (depth > lim_.max_depth) fail("nesting too deep");
        pos_++;  // '['
        typename B::Arr elements;
        std::size_t n = 0;
        items(']', "expected ',' or ']'", [&] {
            if (n++ >= lim_.max_members) fail("too many array elements");
            b.element(elements, [&](const auto& of) { return value(of, depth); });
        });
        return b.array(std::move(elements));
    }

    // The items of an object or an array, after its opening bracket: none, or item() (which
    // reads one at a time, white space skipped before it) separated by ',', up to `close`.
    template <class Item>
    void items(char close, const char* expected, Item&& item) {
        skip_ws();
        if (!at_end() && peek() == close) {
            pos_++;
            return;
        }
        for (;;) {
            skip_ws();
            item();
            skip_ws();
            if (at_end()) fail(expected);
            if (peek() == ',') {
                pos_++;
                continue;
            }
            if (peek() == close) {
                pos_++;
                return;
            }
            fail(expected);
        }
    }

    // An object's key: one of plain ASCII is looked at where it stands, any other decoded into
    // `decoded` (a string's own checks and errors).
    template <class Text>
    std::string_view key(Text& decoded) {
        const std::size_t run = plain_ascii_run(s_.substr(pos_ + 1));
        if (pos_ + 1 + run < s_.size() && s_[pos_ + 1 + run] == '"' && run <= lim_.max_string) {
            pos_ += run + 2;
            return s_.substr(pos_ - run - 1, run);
        }
        string_into(decoded);
        return view_of(decoded);
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
        Parser p(text, limits);
        return p.document(Keep{{}, keep, {}});
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
        return p.document(Build{});
    } catch (const ParseError& e) {
        return parse_error(e);
    } catch (...) {
        // std::bad_alloc: with the limits above this means the process is out of memory.
        return Error{Errc::internal, {}};
    }
}

}  // namespace chat::json
