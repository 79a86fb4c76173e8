// The JSON codec accepts exactly RFC 8259, within its limits, and writes HTML-safe JSON that parses back.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "chat/json.h"
#include "chat/utf8.h"

namespace {

using chat::Errc;
using namespace chat::json;

Value ok_parse(std::string_view s) {
    auto r = parse(s);
    EXPECT_TRUE(r.ok()) << s << " -> " << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r).value() : Value();
}

TEST(Utf8, ValidatesStrictly) {
    EXPECT_TRUE(chat::valid_utf8(""));
    EXPECT_TRUE(chat::valid_utf8("plain ascii"));
    EXPECT_TRUE(chat::valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
    EXPECT_TRUE(chat::valid_utf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF
    EXPECT_FALSE(chat::valid_utf8("\xC3"));                     // truncated
    EXPECT_FALSE(chat::valid_utf8("\xC0\xAF"));                 // overlong '/'
    EXPECT_FALSE(chat::valid_utf8("\xE0\x80\xAF"));             // overlong
    EXPECT_FALSE(chat::valid_utf8("\xED\xA0\x80"));             // surrogate D800
    EXPECT_FALSE(chat::valid_utf8("\xF4\x90\x80\x80"));         // > U+10FFFF
    EXPECT_FALSE(chat::valid_utf8("\x80"));                     // lone continuation
    EXPECT_FALSE(chat::valid_utf8("\xFF"));
    EXPECT_FALSE(chat::valid_utf8("ab\xE2\x82"));
}

TEST(Utf8, LengthCountsCodePoints) {
    EXPECT_EQ(chat::utf8_length(""), 0u);
    EXPECT_EQ(chat::utf8_length("abc"), 3u);
    EXPECT_EQ(chat::utf8_length("caf\xC3\xA9"), 4u);
    EXPECT_EQ(chat::utf8_length("\xF0\x9F\x98\x80\xE2\x82\xAC"), 2u);
    EXPECT_EQ(chat::utf8_length("\xFF\xFE"), 2u);  // each bad byte counts once
}

TEST(Utf8, AppendEncodesAndReplacesSurrogates) {
    std::string s;
    chat::utf8::append(s, 0x20AC);
    chat::utf8::append(s, 0x1F600);
    chat::utf8::append(s, 0xD800);
    EXPECT_EQ(s, "\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBD");
}

TEST(JsonParse, AcceptsScalars) {
    EXPECT_TRUE(ok_parse("null").is_null());
    EXPECT_EQ(ok_parse("true").as_bool(), true);
    EXPECT_EQ(ok_parse(" false ").as_bool(), false);
    EXPECT_EQ(*ok_parse("\"hi\"").as_string(), "hi");
    EXPECT_EQ(ok_parse("0").as_int(), 0);
    EXPECT_EQ(ok_parse("-0").as_int(), 0);
    EXPECT_EQ(ok_parse("42").as_int(), 42);
    EXPECT_EQ(ok_parse("-17").as_int(), -17);
    EXPECT_EQ(ok_parse("9223372036854775807").as_int(), INT64_MAX);
    EXPECT_EQ(ok_parse("-9223372036854775808").as_int(), INT64_MIN);
    EXPECT_DOUBLE_EQ(*ok_parse("1.5").as_double(), 1.5);
    EXPECT_DOUBLE_EQ(*ok_parse("-1.25e2").as_double(), -125.0);
    EXPECT_DOUBLE_EQ(*ok_parse("1E+2").as_double(), 100.0);
    EXPECT_DOUBLE_EQ(*ok_parse("2e-3").as_double(), 0.002);
}

TEST(JsonParse, IntegerOnlyForIntegralLiteralsThatFit) {
    EXPECT_FALSE(ok_parse("1.0").as_int().has_value());
    EXPECT_FALSE(ok_parse("1e2").as_int().has_value());
    Value big = ok_parse("9223372036854775808");
    EXPECT_FALSE(big.as_int().has_value());
    EXPECT_DOUBLE_EQ(*big.as_double(), 9223372036854775808.0);
    EXPECT_EQ(ok_parse("12345678901234567").as_int(), 12345678901234567);  // exact beyond 2^53
}

TEST(JsonParse, HugeNumbersAreRejectedTinyOnesBecomeZero) {
    EXPECT_EQ(parse("1e400").error().code, Errc::invalid_json);
    EXPECT_EQ(parse("-1e400").error().code, Errc::invalid_json);
    EXPECT_EQ(parse("123456789e999").error().code, Errc::invalid_json);
    EXPECT_EQ(*ok_parse("1e-400").as_double(), 0.0);
    EXPECT_EQ(*ok_parse("0.0000001e-400").as_double(), 0.0);
    EXPECT_EQ(*ok_parse("0e999999999999999").as_double(), 0.0);
}

TEST(JsonParse, ObjectsKeepKeyOrderAndSupportLookup) {
    Value v = ok_parse(R"({"b":1,"a":{"x":[1,2,{"y":null}]},"c":"s"})");
    ASSERT_NE(v.as_object(), nullptr);
    const Object& o = *v.as_object();
    ASSERT_EQ(o.size(), 3u);
    EXPECT_EQ(o[0].key, "b");
    EXPECT_EQ(o[1].key, "a");
    EXPECT_EQ(o[2].key, "c");
    EXPECT_EQ(v.find_int("b"), 1);
    EXPECT_EQ(*v.find_string("c"), "s");
    EXPECT_EQ(v.find("missing"), nullptr);
    EXPECT_EQ(v.find_string("b"), nullptr);
    const Value* x = v.find("a")->find("x");
    ASSERT_NE(x, nullptr);
    ASSERT_EQ(x->as_array()->size(), 3u);
    EXPECT_TRUE((*x->as_array())[2].find("y")->is_null());
    EXPECT_EQ(x->find("anything"), nullptr);  // find on a non-object
}

TEST(JsonParse, DuplicateKeysLastWinsAtFirstPosition) {
    Value v = ok_parse(R"({"a":1,"b":2,"a":3})");
    ASSERT_EQ(v.as_object()->size(), 2u);
    EXPECT_EQ((*v.as_object())[0].key, "a");
    EXPECT_EQ(v.find_int("a"), 3);
    // Same rule once the object is large enough to use the hash index.
    std::string big = "{";
    for (int i = 0; i < 40; i++) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    big += "\"k3\":99,\"k39\":100}";
    Value b = ok_parse(big);
    EXPECT_EQ(b.as_object()->size(), 40u);
    EXPECT_EQ(b.find_int("k3"), 99);
    EXPECT_EQ(b.find_int("k39"), 100);
}

TEST(JsonParse, DecodesEscapesAndSurrogatePairs) {
    EXPECT_EQ(*ok_parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string(), "a\"b\\c/d\b\f\n\r\t");
    EXPECT_EQ(*ok_parse(R"("\u0041\u00e9\u20AC")").as_string(), "A\xC3\xA9\xE2\x82\xAC");
    EXPECT_EQ(*ok_parse(R"("\ud83d\ude00")").as_string(), "\xF0\x9F\x98\x80");
    EXPECT_EQ(*ok_parse(R"("\u0000")").as_string(), std::string("\0", 1));
    EXPECT_EQ(*ok_parse("\"caf\xC3\xA9\"").as_string(), "caf\xC3\xA9");
}

TEST(JsonParse, RejectsWhatRfc8259Rejects) {
    const char* bad[] = {
        "",           " ",          "[1,]",        "{\"a\":1,}",   "[1 2]",
        "{\"a\" 1}",  "{a:1}",      "{'a':1}",     "'s'",          "[01]",
        "+1",         ".5",         "1.",          "1.e3",         "1e",
        "-",          "--1",        "0x10",        "NaN",          "Infinity",
        "-Infinity",  "nul",        "True",        "[",            "{",
        "[1",         "{\"a\":1",   "\"abc",       "\"\\x\"",      "\"\\u12\"",
        "\"\\uZZZZ\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"",
        "\"a\tb\"",   "\"a\nb\"",   "1 2",         "{} x",         "[1]]",
        "/*c*/1",     "1 // c",     "\xEF\xBB\xBF{}", "\"\xC3\"",     "\"\xED\xA0\x80\"",
        "\"\xC0\xAF\"", "\xC3\xA9",   "[1,,2]",      "[,1]",         "{,}",
        "{\"a\":}",   "\"\\\"",     "\x00",        "[\x0C]",
    };
    for (const char* s : bad) {
        auto r = parse(s);
        EXPECT_FALSE(r.ok()) << "accepted: " << s;
        if (!r.ok()) {
            EXPECT_EQ(r.error().code, Errc::invalid_json) << s;
        }
    }
    EXPECT_FALSE(parse(std::string_view("\"a\0b\"", 5)).ok());
    EXPECT_FALSE(parse(std::string_view("1\0", 2)).ok());
}

TEST(JsonParse, ErrorsNameTheOffsetAndWhatWasExpected) {
    auto r = parse(R"({"a": 1 "b": 2})");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "invalid JSON at offset 8: expected ',' or '}'");
    auto t = parse("[1,2] x");
    EXPECT_EQ(t.error().message, "invalid JSON at offset 6: unexpected data after the value");
}

TEST(JsonParse, DepthLimitIsEnforced) {
    Limits lim;
    lim.max_depth = 32;
    std::string ok(32, '[');
    ok += std::string(32, ']');
    EXPECT_TRUE(parse(ok, lim).ok());
    std::string deep(33, '[');
    deep += std::string(33, ']');
    auto r = parse(deep, lim);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("nesting too deep"), std::string::npos);
    // Deep enough to blow the stack of a naive recursive parser.
    std::string bomb(500000, '[');
    EXPECT_FALSE(parse(bomb).ok());
    std::string objs;
    for (int i = 0; i < 40; i++) objs += "{\"a\":";
    objs += "1" + std::string(40, '}');
    EXPECT_FALSE(parse(objs).ok());
}

TEST(JsonParse, SizeLimitsAreEnforced) {
    Limits lim;
    lim.max_bytes = 16;
    EXPECT_TRUE(parse("\"0123456789abc\"", lim).ok());
    auto r = parse("\"0123456789abcdef\"", lim);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::too_large);

    Limits str;
    str.max_string = 4;
    EXPECT_TRUE(parse("\"abcd\"", str).ok());
    EXPECT_FALSE(parse("\"abcde\"", str).ok());
    EXPECT_FALSE(parse("{\"abcde\":1}", str).ok());

    Limits mem;
    mem.max_members = 3;
    EXPECT_TRUE(parse("[1,2,3]", mem).ok());
    EXPECT_FALSE(parse("[1,2,3,4]", mem).ok());
    EXPECT_TRUE(parse(R"({"a":1,"b":2,"c":3,"a":4})", mem).ok());  // duplicates don't count
    EXPECT_FALSE(parse(R"({"a":1,"b":2,"c":3,"d":4})", mem).ok());
}

// A run of plain ASCII is scanned 8 bytes at a time: every byte that ends a run must be
// found at every offset of a block, and the text around it kept.
TEST(JsonParse, StringRunsStopAtEverySpecialByte) {
    const std::pair<std::string_view, std::string_view> specials[] = {
        {"\\\"", "\""}, {"\\\\", "\\"}, {"\\n", "\n"}, {"\\u00e9", "\xC3\xA9"},
        {"\xC3\xA9", "\xC3\xA9"}, {"\xE2\x82\xAC", "\xE2\x82\xAC"}, {"\x7F", "\x7F"}};
    for (const auto& [raw, decoded] : specials) {
        for (std::size_t at = 0; at < 20; at++) {
            const std::string tail(19 - at % 7, 'b');
            const std::string text = std::string(at, 'a') + std::string(raw) + tail;
            auto v = ok_parse("\"" + text + "\"");
            ASSERT_TRUE(v.as_string()) << text;
            EXPECT_EQ(*v.as_string(), std::string(at, 'a') + std::string(decoded) + tail) << text;
        }
    }
    for (char bad : {'\x01', '\x1F', '\t'}) {
        for (std::size_t at = 0; at < 20; at++) {
            auto r = parse("\"" + std::string(at, 'a') + bad + "bbbbbbbbbbbb\"");
            ASSERT_FALSE(r.ok()) << at;
            EXPECT_EQ(r.error().message,
                      "invalid JSON at offset " + std::to_string(at + 1) + ": control character in string");
        }
    }
}

// parse_members builds only the named paths and is otherwise parse(): the same answer with
// the other members removed, the same errors.
TEST(JsonParse, MembersKeepsOnlyNamedPaths) {
    static constexpr std::string_view keep[] = {"type", "data/status", "data/agent", "n"};
    auto r = parse_members(R"({"type":"x","big":{"deep":[1,2,{"a":"b"}]},"data":{"status":"open","text":"hi",)"
                           R"("agent":{"id":"7","sites":["a"]},"status":"closed"},"type":"y","a/b":1,"n":[1]})",
                           keep);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(to_string(r.value()),
              R"({"type":"y","data":{"status":"closed","agent":{"id":"7","sites":["a"]}},"n":[1]})");
    // a kept path through a non-object keeps it whole; the top level need not be an object
    EXPECT_EQ(to_string(parse_members(R"({"data":[1,{"status":2}]})", keep).value()), R"({"data":[1,{"status":2}]})");
    EXPECT_EQ(to_string(parse_members(R"([{"type":1,"x":2}])", keep).value()), R"([{"type":1,"x":2}])");
    EXPECT_EQ(to_string(parse_members("{}", keep).value()), "{}");

    // errors in skipped members are parse()'s errors, at the same offsets
    for (std::string_view bad : {R"({"x":"\u12"})", R"({"x":[1,]})", R"({"x":{"a" 1}})", R"({"x":01})",
                                 R"({"x":1e999})", R"({"x":tru})", R"({"x":"\ud800"})", "{\"x\":\"\xC3\"}",
                                 R"({"x":1} x)", R"({"type":"a","x":{)"}) {
        auto full = parse(bad);
        auto some = parse_members(bad, keep);
        ASSERT_FALSE(full.ok()) << bad;
        ASSERT_FALSE(some.ok()) << bad;
        EXPECT_EQ(some.error().code, full.error().code) << bad;
        EXPECT_EQ(some.error().message, full.error().message) << bad;
    }

    // and so are its limits: depth, string length, members (a duplicate counted once)
    Limits lim;
    lim.max_depth = 2;
    lim.max_string = 4;
    lim.max_members = 3;
    for (std::string_view text :
         {R"({"x":[[1]]})", R"({"x":[1]})", R"({"x":"abcde"})", R"({"x":"abcd"})", R"({"x":"\u00e9\u00e9\u00e9"})",
          R"({"abcde":1})", R"({"x":[1,2,3,4]})", R"({"x":[1,2,3]})", R"({"x":{"a":1,"b":2,"c":3,"d":4}})",
          R"({"x":{"a":1,"a":2,"a":3,"a":4}})", R"({"a":1,"a":2,"a":3,"type":4})", R"({"a":1,"b":2,"c":3,"type":4})"}) {
        auto full = parse(text, lim);
        auto some = parse_members(text, keep, lim);
        ASSERT_EQ(some.ok(), full.ok()) << text;
        if (!full.ok()) {
            EXPECT_EQ(some.error().message, full.error().message) << text;
            continue;
        }
        const Value* want = full.value().find("type");
        const Value* got = some.value().find("type");
        EXPECT_EQ(got ? to_string(*got) : "", want ? to_string(*want) : "") << text;
    }
}

// parse() and parse_members() are one grammar: a key is matched decoded, and a large object's
// repeated keys (the hash index) and a skipped object's escaped keys are read alike.
TEST(JsonParse, MembersReadKeysAsParseDoes) {
    static constexpr std::string_view keep[] = {"type", "k3", "k39", "data/status"};
    EXPECT_EQ(to_string(parse_members(R"({"\u0074ype":"x","t\u00ffpe":1,"data":{"st\u0061tus":"open"}})", keep).value()),
              R"({"type":"x","data":{"status":"open"}})");
    std::string big = "{";
    for (int i = 0; i < 40; i++) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    big += "\"k3\":99,\"k39\":100,\"skipped\":{\"\\u00e9\":1,\"\\u00e9\":2}}";
    EXPECT_EQ(to_string(parse_members(big, keep).value()), R"({"k3":99,"k39":100})");
    Value all = ok_parse(big);
    EXPECT_EQ(all.as_object()->size(), 41u);
    EXPECT_EQ(to_string(*all.find("skipped")), "{\"\u00e9\":2}");
}

TEST(JsonWriter, WritesCommasAndNesting) {
    std::string out;
    Writer w(out);
    w.begin_object()
        .key("a").number(std::int64_t{1})
        .key("b").begin_array().boolean(true).null().string("x").begin_object().end_object().end_array()
        .key("c").number(1.5)
        .key("d").raw(R"({"pre":"made"})")
        .end_object();
    EXPECT_TRUE(w.complete());
    EXPECT_EQ(out, R"({"a":1,"b":[true,null,"x",{}],"c":1.5,"d":{"pre":"made"}})");
}

TEST(JsonWriter, EscapesForJsonAndHtml) {
    std::string out;
    Writer w(out);
    w.string("q\"\\ \n\t\x01\x1f <script>&amp;</script> \xE2\x80\xA8\xE2\x80\xA9 caf\xC3\xA9");
    EXPECT_EQ(out,
              R"("q\"\\ \n\t\u0001\u001f \u003cscript\u003e\u0026amp;\u003c/script\u003e \u2028\u2029 caf)"
              "\xC3\xA9\"");
    EXPECT_EQ(out.find('<'), std::string::npos);
}

TEST(JsonWriter, ReplacesInvalidUtf8AndNonFiniteNumbers) {
    std::string out;
    Writer w(out);
    w.begin_array().string("a\xFF" "b").number(std::nan("")).number(INFINITY).end_array();
    EXPECT_EQ(out, R"(["a\ufffdb",null,null])");
    EXPECT_TRUE(parse(out).ok());
}

// The frames live in a string: nesting past its inline 15 bytes keeps every comma and check.
TEST(JsonWriter, DeepNestingKeepsCommasAndChecks) {
    std::string out, want;
    Writer w(out);
    for (int i = 0; i < 40; i++) {
        w.begin_array().number(i).begin_object().key("k").number(i).key("v");
        want += "[" + std::to_string(i) + ",{\"k\":" + std::to_string(i) + ",\"v\":";
    }
    w.null();
    want += "null";
    for (int i = 0; i < 40; i++) {
        w.end_object().string("after").end_array();
        want += "},\"after\"]";
    }
    EXPECT_TRUE(w.complete());
    EXPECT_EQ(out, want);
    w.end_array();
    EXPECT_FALSE(w.ok()) << "closing past the top level is misuse";
}

// Plain runs are scanned 8 bytes at a time: every special byte is caught at every offset, in
// short strings (written at once with their quotes) and long ones.
TEST(JsonWriter, EscapesEverySpecialByteAtEveryOffset) {
    const std::string specials = std::string("\"\\<>&\x01\x1f\x7f") + '\0' + "\xC3\xA9";
    for (std::size_t len : {std::size_t{7}, std::size_t{20}, std::size_t{64}, std::size_t{65}, std::size_t{100}}) {
        for (std::size_t at = 0; at < len; at++) {
            for (char c : specials) {
                std::string text(len, 'a');
                text[at] = c;
                std::string want = "\"";
                for (std::size_t i = 0; i < text.size(); i++) {
                    const auto u = static_cast<unsigned char>(text[i]);
                    if (u == 0xC3 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA9) {
                        want += text.substr(i, 2);
                        i++;
                    } else if (u >= 0x80) {
                        want += "\\ufffd";  // a lone byte of a two-byte sequence
                    } else if (c == text[i] && (u < 0x20 || c == '<' || c == '>' || c == '&')) {
                        static constexpr char kHex[] = "0123456789abcdef";
                        want += std::string("\\u00") + kHex[u >> 4] + kHex[u & 15];
                    } else if (c == text[i] && (c == '"' || c == '\\')) {
                        want += std::string("\\") + c;
                    } else {
                        want += text[i];
                    }
                }
                want += "\"";
                std::string out;
                Writer w(out);
                w.string(text);
                ASSERT_EQ(out, want) << "length " << len << ", byte " << static_cast<int>(c) << " at " << at;
                std::string keyed;
                Writer k(keyed);
                k.begin_object().key(text).number(1).key(text).null().end_object();
                ASSERT_EQ(keyed, "{" + want + ":1," + want + ":null}") << "length " << len << " at " << at;
            }
        }
    }
}

// The scan after an escape starts mid-string: a second special byte is found wherever it is,
// the last 16 bytes of a string included (they overlap bytes already written).
TEST(JsonWriter, EscapesASecondSpecialByteAfterAnyFirst) {
    for (std::size_t len : {std::size_t{16}, std::size_t{17}, std::size_t{31}, std::size_t{40}}) {
        for (std::size_t first = 0; first < len; first++) {
            for (std::size_t second = first + 1; second < len; second++) {
                std::string text(len, 'a');
                text[first] = '<';
                text[second] = '\x01';
                std::string want = "\"";
                for (char c : text) want += c == '<' ? std::string("\\u003c") : c == '\x01' ? std::string("\\u0001") : std::string(1, c);
                want += "\"";
                std::string out;
                Writer(out).string(text);
                ASSERT_EQ(out, want) << "length " << len << ", at " << first << " and " << second;
            }
        }
    }
}

// ("a<b"_key, a key Writer would escape, does not compile: detail::KeyText.)
TEST(JsonWriter, WritesLiteralKeysAsItsOtherKeys) {
    std::string with_literals, with_views;
    for (bool literal : {true, false}) {
        std::string& out = literal ? with_literals : with_views;
        Writer w(out);
        w.begin_object();
        literal ? w.key("id"_key) : w.key("id");
        w.string("x");
        literal ? w.key("inner_object"_key) : w.key("inner_object");
        w.begin_object();
        literal ? w.key("a b~\x7f"_key) : w.key("a b~\x7f");
        w.number(std::int64_t{1});
        literal ? w.key("z"_key) : w.key("z");
        w.null().end_object().end_object();
        EXPECT_TRUE(w.complete());
    }
    EXPECT_EQ(with_literals, with_views);
    EXPECT_EQ(with_literals, "{\"id\":\"x\",\"inner_object\":{\"a b~\x7f\":1,\"z\":null}}");

    std::string out;
    Writer w(out);
    w.begin_array().key("k"_key);  // a key where a value goes: misuse, as key("k")
    EXPECT_FALSE(w.ok());
}

TEST(JsonWriter, ReportsMisuse) {
    {
        std::string out;
        Writer w(out);
        w.begin_object().string("no key");
        EXPECT_FALSE(w.ok());
    }
    {
        std::string out;
        Writer w(out);
        w.begin_array().key("k");
        EXPECT_FALSE(w.ok());
    }
    {
        std::string out;
        Writer w(out);
        w.begin_array().end_object();
        EXPECT_FALSE(w.ok());
    }
    {
        std::string out;
        Writer w(out);
        w.null().null();
        EXPECT_FALSE(w.ok());
    }
    {
        std::string out;
        Writer w(out);
        w.begin_object().key("a");
        EXPECT_TRUE(w.ok());
        EXPECT_FALSE(w.complete());
    }
}

TEST(JsonRoundTrip, ParseWriteParseIsIdentity) {
    const char* docs[] = {
        R"({"id":"0b7e","seq":12,"neg":-3,"f":0.1,"big":1e300,"arr":[[],{},[null,true,false]],"s":"\u2028<&>\ud83d\ude00"})",
        R"([1,-0.5,"x\u0000y",{"a":{"b":{"c":[1,2,3]}}}])",
        R"([-0.0,-0,2.5e3,1e18,1e20,5e-324])",
        R"("just a string")",
        R"(12345678901234567)",
    };
    for (const char* d : docs) {
        Value v = ok_parse(d);
        std::string s = to_string(v);
        ASSERT_FALSE(s.empty());
        Value again = ok_parse(s);
        EXPECT_EQ(v, again) << d << " -> " << s;
        EXPECT_EQ(to_string(again), s);  // the writer's output is a fixed point
    }
}

TEST(JsonValue, BuildersSetAndPush) {
    Value v;
    v.set("a", 1);
    v.set("b", "two");
    v.set("a", 3);
    Value arr;
    arr.push_back(true);
    arr.push_back(nullptr);
    v.set("arr", std::move(arr));
    EXPECT_EQ(to_string(v), R"({"a":3,"b":"two","arr":[true,null]})");
    Value s("str");
    s.set("ignored", 1);  // no-op on a non-object
    EXPECT_EQ(to_string(s), R"("str")");
}

}  // namespace
