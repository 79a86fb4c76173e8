// Strict UTF-8 decoding, encoding, validation and code point counting.
#include "chat/utf8.h"

namespace chat::utf8 {

char32_t next_code_point(std::string_view s, std::size_t& pos) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char b0 = byte(pos);
    if (b0 < 0x80) {
        pos += 1;
        return b0;
    }
    std::size_t len;
    char32_t cp;
    // The permitted range of the second byte excludes overlongs (E0, F0),
    // surrogates (ED) and code points above U+10FFFF (F4) in one check.
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        pos += 1;
        return kInvalid;
    }
    if (s.size() - pos < len) {
        pos += 1;
        return kInvalid;
    }
    const unsigned char b1 = byte(pos + 1);
    if (b1 < lo || b1 > hi) {
        pos += 1;
        return kInvalid;
    }
    cp = (cp << 6) | (b1 & 0x3F);
    for (std::size_t i = 2; i < len; i++) {
        const unsigned char b = byte(pos + i);
        if ((b & 0xC0) != 0x80) {
            pos += 1;
            return kInvalid;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    pos += len;
    return cp;
}

void append(std::string& out, char32_t cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace chat::utf8

namespace chat {

bool valid_utf8(std::string_view s) noexcept {
    std::size_t pos = 0;
    while (pos < s.size()) {
        // Fast path for ASCII runs.
        if (static_cast<unsigned char>(s[pos]) < 0x80) {
            pos++;
            continue;
        }
        if (utf8::next_code_point(s, pos) == utf8::kInvalid) return false;
    }
    return true;
}

std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t pos = 0, n = 0;
    while (pos < s.size()) {
        utf8::next_code_point(s, pos);
        n++;
    }
    return n;
}

}  // namespace chat
