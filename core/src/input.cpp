// The input rules every use case shares.
#include "chat/input.h"

#include <charconv>
#include <utility>

#include "chat/limits.h"
#include "chat/utf8.h"

namespace chat::input {

Result<json::Value> parse_body(std::string_view body) noexcept {
    if (blank(body)) return json::Value(json::Object{});
    auto v = json::parse(body);
    // what parse() accepts is valid UTF-8 (json.h): only a refused body is checked, for its error
    if (!v.ok()) {
        if (!chat::valid_utf8(body)) return make_error(Errc::validation, "body is not valid UTF-8");
        return v.error();
    }
    if (v.value().type() != json::Type::object) return make_error(Errc::bad_request, "body must be a JSON object");
    return v;
}

Result<std::optional<std::string>> take_client_id(json::Value& body) {
    json::Value* c = body.find("client_id");
    if (!c || c->is_null()) return std::optional<std::string>();
    std::string* s = c->as_string();
    if (!s || !is_uuid(*s)) return make_error(Errc::validation, "client_id must be a UUID");
    return std::optional<std::string>(std::move(*s));
}

Result<std::string> take_message_text(json::Value& text, std::size_t max_chars) {
    std::string* s = text.as_string();
    if (!s) return make_error(Errc::validation, "text must be a string");
    if (blank(*s)) return make_error(Errc::validation, "text is empty");
    if (chat::utf8_length(*s) > max_chars)
        return make_error(Errc::validation, "text is longer than " + std::to_string(max_chars) + " characters");
    return std::move(*s);
}

std::optional<std::int64_t> parse_seq(std::string_view s) noexcept {
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || n < 0 || n > limits::kSeqMax) return std::nullopt;
    return n;
}

bool has_control(std::string_view s) noexcept {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

bool valid_slug(std::string_view s) noexcept {
    if (!limits::kFaqSlugBytes.contains(static_cast<std::int64_t>(s.size()))) return false;
    for (std::size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(i > 0 && c == '-')) return false;
    }
    return true;
}

bool blank(std::string_view s) noexcept {
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
    return true;
}

bool is_uuid(std::string_view s) noexcept {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

}  // namespace chat::input

namespace chat::input {

bool valid_email(std::string_view s) noexcept {
    if (!limits::kEmailBytes.contains(static_cast<std::int64_t>(s.size()))) return false;
    const auto at = s.rfind('@');
    if (at == std::string_view::npos || at == 0 || at > limits::kEmailLocalMaxBytes) return false;
    for (char c : s.substr(0, at)) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '@' || c == '"' || c == '<' || c == '>' || c == '\\' || c == ',' ||
            c == ';')
            return false;
    }
    std::string_view domain = s.substr(at + 1);
    int labels = 0;
    while (true) {
        const auto dot = domain.find('.');
        const std::string_view label = domain.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
            if (!ok) return false;
        }
        ++labels;
        if (dot == std::string_view::npos) break;
        domain.remove_prefix(dot + 1);
    }
    return labels >= 2;
}

std::optional<std::string> normal_tag(std::string_view s) {
    if (s.size() > static_cast<std::size_t>(limits::kTagBytes.max)) return std::nullopt;
    std::string t(s);
    for (char& c : t)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!limits::tag_ok(t)) return std::nullopt;
    return t;
}

}  // namespace chat::input
