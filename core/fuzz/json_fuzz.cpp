// libFuzzer target: parse() never crashes, and whatever it accepts the Writer writes back identically;
// parse_members() answers what parse() answers, with the members it does not keep removed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/json.h"
#include "chat/utf8.h"

namespace {

constexpr std::string_view kKeep[] = {"a", "b/c", "b/d/e", "type", "data/status"};

// parse_members()'s answer, from parse()'s: written apart from json.cpp's own filter.
chat::json::Value kept(const chat::json::Value& v, const std::string& prefix) {
    if (!v.as_object()) return v;
    chat::json::Value out{chat::json::Object{}};
    for (const chat::json::Member& m : *v.as_object()) {
        if (m.key.find('/') != std::string::npos) continue;
        const std::string path = prefix + m.key;
        bool whole = false, below = false;
        for (std::string_view k : kKeep) {
            whole = whole || k == path;
            below = below || k.rfind(path + "/", 0) == 0;
        }
        if (whole) out.as_object()->push_back(m);
        else if (below) out.as_object()->push_back(chat::json::Member{m.key, kept(m.value, path + "/")});
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    chat::json::Limits lim;
    lim.max_depth = 16;
    lim.max_members = 64;
    lim.max_string = 256;
    auto r = chat::json::parse(text, lim);
    auto some = chat::json::parse_members(text, kKeep, lim);
    if (some.ok() != r.ok()) std::abort();
    if (r.ok() && !(some.value() == kept(r.value(), ""))) std::abort();
    if (!r.ok() && (some.error().code != r.error().code || some.error().message != r.error().message)) std::abort();
    if (r.ok()) {
        // Accepted input is valid UTF-8 by construction.
        if (!chat::valid_utf8(text)) std::abort();
        std::string out = chat::json::to_string(r.value());
        auto again = chat::json::parse(out);  // default limits: escaping may grow strings
        if (!again.ok()) std::abort();
        if (!(again.value() == r.value())) std::abort();
        if (chat::json::to_string(again.value()) != out) std::abort();
        if (out.find('<') != std::string::npos || out.find('>') != std::string::npos) std::abort();
    } else if (r.error().code == chat::Errc::invalid_json &&
               r.error().message.rfind("invalid JSON at offset ", 0) != 0) {
        std::abort();
    }
    // The writer must turn any byte string into valid JSON; what it writes as it is, byte for
    // byte, is exactly printable ASCII (and DEL) but for ", \\, <, > and & (every suffix too:
    // the writer scans from where its last escape ended).
    for (std::size_t from = 0; from < text.size() && from < 40; from++) {
        const std::string_view rest = text.substr(from);
        bool plain = true;
        for (unsigned char c : rest)
            plain = plain && c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
        if (chat::json::writes_as_is(rest) != plain) std::abort();
    }
    std::string quoted;
    chat::json::append_quoted(quoted, text);
    auto q = chat::json::parse(quoted);
    if (!q.ok() || !chat::valid_utf8(quoted)) std::abort();
    if (chat::valid_utf8(text) && *q.value().as_string() != text) std::abort();
    (void)chat::utf8_length(text);
    return 0;
}
