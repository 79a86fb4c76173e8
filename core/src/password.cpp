// scrypt password hashing through OpenSSL's EVP_KDF, and parsing/verification of stored hashes.
#include "chat/password.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "chat/base64.h"

namespace chat::password {

namespace {

struct KdfDeleter {
    void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
    void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

// Derives out.size() bytes; false on any OpenSSL failure (including the memory ceiling).
bool scrypt(std::string_view password, std::string_view salt, std::uint64_t n, std::uint32_t r,
            std::uint32_t p, std::span<unsigned char> out) {
    std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
    if (!kdf) return false;
    std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx) return false;
    std::uint64_t maxmem = kMaxMemBytes;
    // OSSL_PARAM wants non-const pointers; OpenSSL only reads these buffers.
    char empty = 0;
    char* pass = password.empty() ? &empty : const_cast<char*>(password.data());
    char* s = salt.empty() ? &empty : const_cast<char*>(salt.data());
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pass, password.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, s, salt.size()),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    return EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1;
}

std::string encode(std::uint64_t n, std::uint32_t r, std::uint32_t p, std::string_view salt,
                   std::span<const unsigned char> key) {
    std::string out = "scrypt$" + std::to_string(n) + "$" + std::to_string(r) + "$" + std::to_string(p) + "$";
    out += base64::encode(salt);
    out.push_back('$');
    out += base64::encode(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
    return out;
}

// Plain decimal, no sign, no leading zeros, at most `max`.
bool parse_u64(std::string_view s, std::uint64_t max, std::uint64_t& out) {
    if (s.empty() || s.size() > 19 || (s[0] == '0' && s.size() > 1)) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && out <= max;
}

// Splits off the field up to the next '$'.
std::string_view next_field(std::string_view& rest) {
    const auto d = rest.find('$');
    std::string_view f = rest.substr(0, d);
    rest = d == std::string_view::npos ? std::string_view() : rest.substr(d + 1);
    return f;
}

}  // namespace

std::string hash(std::string_view password, std::span<const std::byte> salt) {
    const std::string_view s(reinterpret_cast<const char*>(salt.data()), salt.size());
    unsigned char key[kKeyBytes];
    if (!scrypt(password, s, kN, kR, kP, key)) return {};
    std::string out = encode(kN, kR, kP, s, key);
    OPENSSL_cleanse(key, sizeof key);
    return out;
}

bool verify(std::string_view password, std::string_view encoded) noexcept {
    try {
        if (encoded.size() > 512) return false;
        if (std::count(encoded.begin(), encoded.end(), '$') != 5) return false;
        std::string_view rest = encoded;
        if (next_field(rest) != "scrypt") return false;
        std::uint64_t n = 0, r = 0, p = 0;
        if (!parse_u64(next_field(rest), 1u << 20, n) || n < 2 || (n & (n - 1)) != 0) return false;
        if (!parse_u64(next_field(rest), 16, r) || r < 1) return false;
        if (!parse_u64(next_field(rest), 16, p) || p < 1) return false;
        // Memory scrypt needs, as OpenSSL counts it: checked here so we never
        // even ask for more than the ceiling.
        if (128 * r * (n + 2) + 128 * r * p > kMaxMemBytes) return false;
        const std::string_view salt_b64 = next_field(rest);
        const std::string_view key_b64 = next_field(rest);
        auto salt = base64::decode(salt_b64);
        auto key = base64::decode(key_b64);
        if (!salt.ok() || !key.ok()) return false;
        if (salt.value().size() < 4 || salt.value().size() > 64) return false;
        if (key.value().size() < 16 || key.value().size() > 64) return false;
        std::vector<unsigned char> derived(key.value().size());
        if (!scrypt(password, salt.value(), n, static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(p), derived))
            return false;
        const bool same = CRYPTO_memcmp(derived.data(), key.value().data(), derived.size()) == 0;
        OPENSSL_cleanse(derived.data(), derived.size());
        return same;
    } catch (...) {
        return false;
    }
}

}  // namespace chat::password
