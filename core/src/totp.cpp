// RFC 6238 TOTP: HOTP of the time step, the window of accepted steps, the otpauth:// URL.
#include "chat/totp.h"

#include <array>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace chat::totp {

std::int64_t step_at(std::int64_t unix_s) noexcept {
    // floor division, so a negative time never rounds towards step 0
    std::int64_t q = unix_s / kPeriodS;
    if (unix_s % kPeriodS < 0) --q;
    return q;
}

std::string hotp(std::span<const std::byte> secret, std::uint64_t counter, int digits) {
    if (digits < 1 || digits > 9) return {};
    std::array<unsigned char, 8> msg{};
    for (int i = 7; i >= 0; --i) {
        msg[static_cast<std::size_t>(i)] = static_cast<unsigned char>(counter & 0xFFU);
        counter >>= 8;
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int len = 0;
    if (HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), msg.data(), msg.size(), mac.data(), &len) ==
            nullptr ||
        len != 20)
        return {};
    // RFC 4226 §5.3: 31 bits from the offset the last nibble names
    const std::size_t off = mac[19] & 0x0FU;
    const std::uint32_t bin = (static_cast<std::uint32_t>(mac[off] & 0x7FU) << 24) |
                              (static_cast<std::uint32_t>(mac[off + 1]) << 16) |
                              (static_cast<std::uint32_t>(mac[off + 2]) << 8) | static_cast<std::uint32_t>(mac[off + 3]);
    std::uint32_t mod = 1;
    for (int i = 0; i < digits; ++i) mod *= 10;
    std::uint32_t v = bin % mod;
    std::string out(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
    return out;
}

std::string code_at(std::span<const std::byte> secret, std::int64_t step) {
    if (step < 0) return {};
    return hotp(secret, static_cast<std::uint64_t>(step), kDigits);
}

bool well_formed(std::string_view code) noexcept {
    if (code.size() != static_cast<std::size_t>(kDigits)) return false;
    for (char c : code)
        if (c < '0' || c > '9') return false;
    return true;
}

std::optional<std::int64_t> match(std::span<const std::byte> secret, std::string_view code, std::int64_t now_unix_s,
                                  std::optional<std::int64_t> last_used) {
    if (!well_formed(code) || secret.empty()) return std::nullopt;
    const std::int64_t now = step_at(now_unix_s);
    std::optional<std::int64_t> found;
    // every candidate is computed and compared, so the time taken says nothing about which matched
    for (std::int64_t s = now - kSkewSteps; s <= now + kSkewSteps; ++s) {
        const std::string want = code_at(secret, s);
        if (want.size() != code.size()) continue;
        if (CRYPTO_memcmp(want.data(), code.data(), code.size()) == 0 && !found) found = s;
    }
    if (found && last_used && *found <= *last_used) return std::nullopt;
    return found;
}

std::string percent_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0x0FU]);
        }
    }
    return out;
}

std::string otpauth_url(std::string_view issuer, std::string_view account, std::string_view base32_secret) {
    const std::string is = percent_encode(issuer);
    std::string url = "otpauth://totp/";
    url += is;
    url += ':';
    url += percent_encode(account);
    url += "?secret=";
    url += percent_encode(base32_secret);
    url += "&issuer=";
    url += is;
    url += "&period=" + std::to_string(kPeriodS) + "&digits=" + std::to_string(kDigits) + "&algorithm=SHA1";
    return url;
}

}  // namespace chat::totp
