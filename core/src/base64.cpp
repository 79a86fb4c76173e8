// Base64 encoding and strict decoding for the standard and URL-safe alphabets.
#include "chat/base64.h"

#include <array>
#include <cstdint>

namespace chat::base64 {

namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> reverse(const char* alphabet) {
    std::array<std::int8_t, 256> r{};
    for (auto& v : r) v = -1;
    for (int i = 0; i < 64; i++) r[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return r;
}

constexpr auto kStdRev = reverse(kStd);
constexpr auto kUrlRev = reverse(kUrl);

std::string encode_impl(const unsigned char* p, std::size_t n, const char* alpha, bool pad) {
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
        out.push_back(alpha[(v >> 18) & 63]);
        out.push_back(alpha[(v >> 12) & 63]);
        out.push_back(alpha[(v >> 6) & 63]);
        out.push_back(alpha[v & 63]);
    }
    const std::size_t rest = n - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{p[i]} << 16;
        out.push_back(alpha[(v >> 18) & 63]);
        out.push_back(alpha[(v >> 12) & 63]);
        if (pad) out.append("==");
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
        out.push_back(alpha[(v >> 18) & 63]);
        out.push_back(alpha[(v >> 12) & 63]);
        out.push_back(alpha[(v >> 6) & 63]);
        if (pad) out.push_back('=');
    }
    return out;
}

Result<std::string> decode_impl(std::string_view text, const std::array<std::int8_t, 256>& rev,
                                bool padded) noexcept {
    try {
        std::size_t len = text.size();
        if (padded) {
            if (len % 4 != 0) return make_error(Errc::bad_request, "base64: length not a multiple of 4");
            if (len >= 1 && text[len - 1] == '=') len--;
            if (len >= 1 && text[len - 1] == '=') len--;
        }
        // Now `len` symbols carry data; a remainder of 1 symbol is never valid.
        if (len % 4 == 1) return make_error(Errc::bad_request, "base64: truncated input");
        // Four symbols make three bytes; a tail of 2 or 3 symbols makes 1 or 2, whose unused
        // low bits (4 or 2) must be zero (one encoding per byte string).
        const std::size_t tail = len % 4;
        std::string out(len / 4 * 3 + (tail ? tail - 1 : 0), '\0');
        const auto sym = [&](std::size_t i) -> int { return rev[static_cast<unsigned char>(text[i])]; };
        std::size_t i = 0, o = 0;
        for (; i + 4 <= len; i += 4) {
            const int a = sym(i), b = sym(i + 1), c = sym(i + 2), d = sym(i + 3);
            if ((a | b | c | d) < 0) return make_error(Errc::bad_request, "base64: invalid character");
            const std::uint32_t v = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6 | d);
            out[o++] = static_cast<char>(v >> 16);
            out[o++] = static_cast<char>(v >> 8 & 0xFF);
            out[o++] = static_cast<char>(v & 0xFF);
        }
        if (tail) {
            const int a = sym(i), b = sym(i + 1), c = tail == 3 ? sym(i + 2) : 0;
            if ((a | b | c) < 0) return make_error(Errc::bad_request, "base64: invalid character");
            const std::uint32_t v = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6);
            out[o++] = static_cast<char>(v >> 16);
            if (tail == 3) out[o++] = static_cast<char>(v >> 8 & 0xFF);
            if ((tail == 2 ? b & 0xF : c & 0x3) != 0)
                return make_error(Errc::bad_request, "base64: non-zero trailing bits");
        }
        return out;
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

const unsigned char* bytes(std::span<const std::byte> d) {
    return reinterpret_cast<const unsigned char*>(d.data());
}
const unsigned char* bytes(std::string_view d) { return reinterpret_cast<const unsigned char*>(d.data()); }

}  // namespace

std::string encode(std::span<const std::byte> data) { return encode_impl(bytes(data), data.size(), kStd, true); }
std::string encode(std::string_view data) { return encode_impl(bytes(data), data.size(), kStd, true); }
std::string encode_url(std::span<const std::byte> data) {
    return encode_impl(bytes(data), data.size(), kUrl, false);
}
std::string encode_url(std::string_view data) { return encode_impl(bytes(data), data.size(), kUrl, false); }

Result<std::string> decode(std::string_view text) noexcept { return decode_impl(text, kStdRev, true); }
Result<std::string> decode_url(std::string_view text) noexcept { return decode_impl(text, kUrlRev, false); }

}  // namespace chat::base64
