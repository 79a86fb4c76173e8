// Strict bounded JSON parsing into Value trees (the Writer is in json_writer.cpp).
#include "chat/json.h"

#include <charconv>
#include <cmath>
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

class Parser {
public:
    Parser(std::string_view text, const Limits& limits) : s_(text), lim_(limits) {}

    Value document() {
        skip_ws();
        Value v = value(0);
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
            if (members.size() < 16) {
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
        const std::size_t start = pos_;
        pos_++;  // '"'
        std::string out;
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
                    utf8::append(out, cp);
                    break;
                }
                default: fail_at(pos_ - 2, "invalid escape");
                }
                continue;
            }
            if (c < 0x80) {
                // Copy the run of plain ASCII in one go.
                std::size_t end = pos_;
                while (end < s_.size()) {
                    const unsigned char d = static_cast<unsigned char>(s_[end]);
                    if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') break;
                    end++;
                }
                out.append(s_.substr(pos_, end - pos_));
                pos_ = end;
                continue;
            }
            const std::size_t at = pos_;
            if (utf8::next_code_point(s_, pos_) == utf8::kInvalid) fail_at(at, "invalid UTF-8");
            out.append(s_.substr(at, pos_ - at));
        }
        if (out.size() > lim_.max_string) fail_at(start, "string too long");
        return out;
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

}  // namespace

Result<Value> parse(std::string_view text, const Limits& limits) noexcept {
    try {
        if (text.size() > limits.max_bytes)
            return make_error(Errc::too_large, "JSON text of " + std::to_string(text.size()) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_bytes));
        Parser p(text, limits);
        return p.document();
    } catch (const ParseError& e) {
        try {
            return make_error(Errc::invalid_json,
                              "invalid JSON at offset " + std::to_string(e.offset) + ": " + e.what);
        } catch (...) {
            return Error{Errc::invalid_json, {}};
        }
    } catch (...) {
        // std::bad_alloc: with the limits above this means the process is out of memory.
        return Error{Errc::internal, {}};
    }
}

}  // namespace chat::json
