// A bounded, strict RFC 8259 JSON codec: a parsed value tree and an escaping writer.
//
// parse() is what every request body and every Redis event goes through, so it
// is bounded (input size, nesting depth, string length, container size),
// strict (no comments, trailing commas, NaN, leading zeros, BOM, lone
// surrogates, invalid UTF-8 or trailing garbage) and never throws.
//
// Duplicate object keys are accepted and the last value wins, as in most
// JavaScript engines; the key keeps the position of its first occurrence.
//
// Writer emits compact JSON that is safe to embed in HTML: besides the
// mandatory escapes it writes '<', '>', '&', U+2028 and U+2029 as \uXXXX.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "chat/result.h"

namespace chat::json {

enum class Type { null, boolean, number, string, array, object };

class Value;
using Array = std::vector<Value>;
struct Member;
using Object = std::vector<Member>;  // in document order

// A JSON number: always a double; `integer` is set when the literal had no
// fraction or exponent and fits in int64 (so ids and seqs stay exact).
struct Number {
    double value = 0;
    std::optional<std::int64_t> integer;
};

// One JSON value. Accessors never throw: the typed ones return nullptr or
// nullopt when the value has another type.
class Value {
public:
    // Defined below Member: Object must be complete for them.
    Value() noexcept;  // null
    Value(std::nullptr_t) noexcept;
    Value(bool b) noexcept;
    Value(int i) noexcept;
    Value(std::int64_t i) noexcept;
    Value(double d) noexcept;
    Value(Number n) noexcept;
    Value(std::string s) noexcept;
    Value(std::string_view s);
    Value(const char* s);
    Value(Array a) noexcept;
    Value(Object o) noexcept;

    Type type() const noexcept { return static_cast<Type>(v_.index()); }
    bool is_null() const noexcept { return type() == Type::null; }

    std::optional<bool> as_bool() const noexcept;
    std::optional<double> as_double() const noexcept;
    // The exact integer of an integral literal (or of a Value built from one).
    std::optional<std::int64_t> as_int() const noexcept;
    const std::string* as_string() const noexcept;
    std::string* as_string() noexcept;  // to move a parsed string out (input::take_client_id)
    const Array* as_array() const noexcept;
    const Object* as_object() const noexcept;
    Array* as_array() noexcept;
    Object* as_object() noexcept;

    // The member's value in an object; nullptr when absent or not an object.
    // Linear in the number of members: objects in this API are small.
    const Value* find(std::string_view key) const noexcept;
    Value* find(std::string_view key) noexcept;
    // Convenience for the common "optional string / integer field" lookups.
    const std::string* find_string(std::string_view key) const noexcept;
    std::optional<std::int64_t> find_int(std::string_view key) const noexcept;

    // Builders: set() replaces an existing key in place or appends it, turning
    // a null into an object; push_back() turns a null into an array. Both are
    // no-ops on values of another type.
    void set(std::string key, Value v);
    void push_back(Value v);

    // Structural equality; numbers compare by value (2.5e3 == 2500), by their
    // exact integers when both have one.
    friend bool operator==(const Value& a, const Value& b) noexcept;

private:
    std::variant<std::monostate, bool, Number, std::string, Array, Object> v_;
};

struct Member {
    std::string key;
    Value value;
    friend bool operator==(const Member&, const Member&) = default;
};

inline Value::Value() noexcept = default;
inline Value::Value(std::nullptr_t) noexcept {}
inline Value::Value(bool b) noexcept : v_(b) {}
inline Value::Value(int i) noexcept : v_(Number{static_cast<double>(i), i}) {}
inline Value::Value(std::int64_t i) noexcept : v_(Number{static_cast<double>(i), i}) {}
inline Value::Value(double d) noexcept : v_(Number{d, std::nullopt}) {}
inline Value::Value(Number n) noexcept : v_(n) {}
inline Value::Value(std::string s) noexcept : v_(std::move(s)) {}
inline Value::Value(std::string_view s) : v_(std::string(s)) {}
inline Value::Value(const char* s) : v_(std::string(s)) {}
inline Value::Value(Array a) noexcept : v_(std::move(a)) {}
inline Value::Value(Object o) noexcept : v_(std::move(o)) {}

struct Limits {
    std::size_t max_bytes = 1 << 20;   // whole input
    std::size_t max_depth = 32;        // nested arrays/objects
    std::size_t max_string = 1 << 20;  // bytes of one decoded string or key
    std::size_t max_members = 10000;   // elements of one array / members of one object
};

// Parses one JSON text (surrounding whitespace allowed). Errors are
// Errc::invalid_json with "invalid JSON at offset N: <what>"; an input over
// max_bytes is Errc::too_large. Out-of-range numbers (1e400) are rejected;
// numbers that underflow become 0.
Result<Value> parse(std::string_view text, const Limits& limits = {}) noexcept;

// parse() for a reader that needs a few members of a large text: the same checks and the
// same errors as parse() (the whole text is validated), but of each object only the members
// named by `keep` are built: "a" keeps member a whole, "a/b" keeps member b of object a
// (names without '/'). The result equals parse()'s with every other member removed, and
// costs no allocation for what is skipped (events::parse of a message heard from Redis).
Result<Value> parse_members(std::string_view text, std::span<const std::string_view> keep,
                            const Limits& limits = {}) noexcept;

// A key known when the program is compiled, written without scanning it for bytes to escape:
// "id"_key (using namespace chat::json::literals). Only plain keys compile (printable ASCII
// but for '"', '\\', '<', '>' and '&': what Writer writes as it is), and the bytes the Writer
// appends for it (`,"id":`) are built by the compiler, so a key costs one append.
struct Key {
    std::string_view text;  // `,"<key>":`: without its first byte when no member precedes it
};

namespace detail {
template <std::size_t N>
struct KeyText {
    char text[N + 4] = {};  // ',' '"' the N - 1 bytes '"' ':' and a NUL
    consteval KeyText(const char (&k)[N]) {
        text[0] = ',';
        text[1] = '"';
        for (std::size_t i = 0; i + 1 < N; i++) {
            const char c = k[i];
            if (c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&')
                throw "a _key literal must be plain (Writer would escape it)";
            text[i + 2] = c;
        }
        text[N + 1] = '"';
        text[N + 2] = ':';
    }
};
}  // namespace detail

inline namespace literals {
// (a template parameter object lives as long as the program: the view stays valid)
template <detail::KeyText K>
consteval Key operator""_key() {
    return Key{std::string_view(K.text, sizeof K.text - 1)};
}
}  // namespace literals

// Appends compact JSON to a string. Commas are automatic. Misuse (a value
// where a key is expected, unbalanced end_*, a second top-level value) or an
// allocation failure is remembered and reported by ok(); nothing throws.
// Strings that are not valid UTF-8 are written with U+FFFD replacements;
// non-finite doubles are written as null.
class Writer {
public:
    explicit Writer(std::string& out) : out_(out) {}

    Writer& begin_object() noexcept;
    Writer& end_object() noexcept;
    Writer& begin_array() noexcept;
    Writer& end_array() noexcept;
    Writer& key(std::string_view k) noexcept;
    Writer& key(Key k) noexcept;  // "id"_key: no scan, one append
    Writer& string(std::string_view s) noexcept;
    Writer& number(std::int64_t n) noexcept;
    Writer& number(int n) noexcept { return number(static_cast<std::int64_t>(n)); }
    Writer& number(double d) noexcept;
    Writer& boolean(bool b) noexcept;
    Writer& null() noexcept;
    // Inserts already-serialized JSON as one value, verbatim (caller vouches for it).
    Writer& raw(std::string_view json) noexcept;
    Writer& value(const Value& v) noexcept;

    // No misuse and no allocation failure so far.
    bool ok() const noexcept { return ok_; }
    // ok() and exactly one complete top-level value written.
    bool complete() const noexcept { return ok_ && done_ && stack_.empty(); }

private:
    enum class Frame : char { object_key, object_value, array };
    // A frame's byte in stack_ also holds whether its container has a member or element yet.
    static constexpr char kHasItems = 4;
    // Whether a value may come now (and its comma written): inline for the common case, a
    // member's value, the rest in before_value_rest().
    bool before_value() noexcept {
        if (ok_ && !stack_.empty() && top() == Frame::object_value) {
            set_top(Frame::object_key);
            return true;
        }
        return before_value_rest();
    }
    bool before_value_rest() noexcept;
    Frame top() const noexcept { return static_cast<Frame>(stack_.back() & ~kHasItems); }
    void set_top(Frame f) noexcept { stack_.back() = static_cast<char>((stack_.back() & kHasItems) | static_cast<char>(f)); }
    // Whether the innermost container has an item already; marks it as having one.
    bool had_items() noexcept {
        const bool had = (stack_.back() & kHasItems) != 0;
        stack_.back() = static_cast<char>(stack_.back() | kHasItems);
        return had;
    }
    void value_rec(const Value& v);

    std::string& out_;
    // One byte per open container (a string: up to 15 levels need no allocation).
    std::string stack_;
    bool ok_ = true;
    bool done_ = false;
};

// The compact serialization of v (empty string only on allocation failure).
std::string to_string(const Value& v) noexcept;

// Appends s as a quoted, escaped JSON string (the Writer's escaping).
void append_quoted(std::string& out, std::string_view s);

// Whether append_quoted writes s between its quotes exactly as it is (no byte escaped).
bool writes_as_is(std::string_view s) noexcept;

}  // namespace chat::json
