// Base32 encoding and strict, bounded decoding (RFC 4648 §6, unpadded).
#include "chat/base32.h"

#include <cstdint>

namespace chat::base32 {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int value_of(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
}

}  // namespace

std::string encode(std::span<const std::byte> data) {
    std::string out;
    out.reserve((data.size() * 8 + 4) / 5);
    std::uint32_t acc = 0;  // at most 12 pending bits
    int bits = 0;
    for (std::byte b : data) {
        acc = (acc << 8) | static_cast<std::uint8_t>(b);
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out.push_back(kAlphabet[(acc >> bits) & 31U]);
        }
        acc &= (1U << bits) - 1U;
    }
    if (bits > 0) out.push_back(kAlphabet[(acc << (5 - bits)) & 31U]);
    return out;
}

Result<std::string> decode(std::string_view text) noexcept {
    try {
        if (text.size() > kMaxText) return make_error(Errc::bad_request, "base32 text too long");
        // 8 characters carry 5 bytes; a tail of 1, 3 or 6 characters ends no byte string
        const std::size_t tail = text.size() % 8;
        if (tail == 1 || tail == 3 || tail == 6) return make_error(Errc::bad_request, "base32 text of a wrong length");
        std::string out;
        out.reserve(text.size() * 5 / 8);
        std::uint32_t acc = 0;
        int bits = 0;
        for (char c : text) {
            const int v = value_of(c);
            if (v < 0) return make_error(Errc::bad_request, "not a base32 character");
            acc = (acc << 5) | static_cast<std::uint32_t>(v);
            bits += 5;
            if (bits >= 8) {
                bits -= 8;
                out.push_back(static_cast<char>((acc >> bits) & 0xFFU));
            }
            acc &= (1U << bits) - 1U;
        }
        if (acc != 0) return make_error(Errc::bad_request, "base32 text with nonzero trailing bits");
        return out;
    } catch (...) {
        return make_error(Errc::internal, "out of memory");
    }
}

}  // namespace chat::base32
