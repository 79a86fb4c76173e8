// AES-256-GCM boxes under HKDF-derived keys (OpenSSL EVP), for secrets stored in Postgres.
#include "chat/secret_box.h"

#include <memory>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "chat/base64.h"

namespace chat::secret_box {

namespace {

constexpr std::string_view kPrefix = "v1.";

struct Free {
    void operator()(EVP_KDF* k) const noexcept { EVP_KDF_free(k); }
    void operator()(EVP_KDF_CTX* c) const noexcept { EVP_KDF_CTX_free(c); }
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};

const unsigned char* u8(const void* p) { return static_cast<const unsigned char*>(p); }
unsigned char* u8w(void* p) { return static_cast<unsigned char*>(p); }

}  // namespace

Result<Key> derive_key(std::span<const std::byte> secret, std::string_view label) noexcept {
    if (secret.empty()) return make_error(Errc::internal, "no secret to derive a key from");
    std::unique_ptr<EVP_KDF, Free> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
    if (!kdf) return make_error(Errc::internal, "HKDF unavailable");
    std::unique_ptr<EVP_KDF_CTX, Free> ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx) return make_error(Errc::internal, "HKDF context");
    char digest[] = "SHA256";
    // OSSL_PARAM takes non-const pointers; OpenSSL only reads them
    OSSL_PARAM params[4];
    std::size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::byte*>(secret.data()),
                                                    secret.size());
    if (!label.empty())
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(label.data()),
                                                        label.size());
    params[n] = OSSL_PARAM_construct_end();
    Key key{};
    if (EVP_KDF_derive(ctx.get(), u8w(key.data()), key.size(), params) != 1)
        return make_error(Errc::internal, "HKDF failed");
    return key;
}

Result<std::string> seal(const Key& key, std::span<const std::byte> nonce, std::string_view plaintext,
                         std::string_view aad) noexcept {
    try {
        if (nonce.size() != kNonceBytes) return make_error(Errc::internal, "a box needs a 12-byte nonce");
        if (plaintext.size() > kMaxPlaintext) return make_error(Errc::internal, "plaintext too long for a box");
        std::unique_ptr<EVP_CIPHER_CTX, Free> ctx(EVP_CIPHER_CTX_new());
        if (!ctx) return make_error(Errc::internal, "cipher context");
        std::string raw(kNonceBytes + plaintext.size() + kTagBytes, '\0');
        std::copy(nonce.begin(), nonce.end(), reinterpret_cast<std::byte*>(raw.data()));
        int len = 0;
        auto* ct = u8w(raw.data() + kNonceBytes);
        if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key.data()), u8(nonce.data())) != 1 ||
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(aad.data()), static_cast<int>(aad.size())) != 1 ||
            EVP_EncryptUpdate(ctx.get(), ct, &len, u8(plaintext.data()), static_cast<int>(plaintext.size())) != 1 ||
            EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                                raw.data() + kNonceBytes + plaintext.size()) != 1)
            return make_error(Errc::internal, "AES-256-GCM encryption failed");
        return std::string(kPrefix) + base64::encode_url(std::string_view(raw));
    } catch (...) {
        return make_error(Errc::internal, "out of memory");
    }
}

Result<std::string> open(const Key& key, std::string_view box, std::string_view aad) noexcept {
    try {
        // bounded before decoding: a box of the largest plaintext, and no more
        constexpr std::size_t kMaxBox = kPrefix.size() + ((kNonceBytes + kMaxPlaintext + kTagBytes) * 4 + 2) / 3;
        if (box.size() > kMaxBox || !box.starts_with(kPrefix)) return make_error(Errc::bad_request, "not a box");
        auto raw = base64::decode_url(box.substr(kPrefix.size()));
        if (!raw.ok() || raw.value().size() < kNonceBytes + kTagBytes) return make_error(Errc::bad_request, "not a box");
        const std::string& r = raw.value();
        const std::size_t n = r.size() - kNonceBytes - kTagBytes;
        std::unique_ptr<EVP_CIPHER_CTX, Free> ctx(EVP_CIPHER_CTX_new());
        if (!ctx) return make_error(Errc::internal, "cipher context");
        std::string out(n, '\0');
        std::string tag(r.substr(kNonceBytes + n));
        int len = 0;
        if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key.data()), u8(r.data())) != 1 ||
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(aad.data()), static_cast<int>(aad.size())) != 1 ||
            EVP_DecryptUpdate(ctx.get(), u8w(out.data()), &len, u8(r.data() + kNonceBytes), static_cast<int>(n)) !=
                1 ||
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data()) != 1 ||
            EVP_DecryptFinal_ex(ctx.get(), u8w(out.data()) + len, &len) != 1)
            return make_error(Errc::bad_request, "the box does not open with this key");
        return out;
    } catch (...) {
        return make_error(Errc::internal, "out of memory");
    }
}

}  // namespace chat::secret_box
