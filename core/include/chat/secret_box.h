// Secrets at rest (an agent's TOTP secret): AES-256-GCM under a key derived from the
// operator's chat_secret with HKDF-SHA256 and a label of its own, so the key that signs
// tokens never encrypts anything, and each purpose has its own key.
//
// A box is text (it lives in a text column): "v1." + base64url(nonce ‖ ciphertext ‖ tag),
// a random 96-bit nonce per seal. The associated data (e.g. the agent's id) is bound
// to the box but not stored in it: a box copied to another row does not open there.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::secret_box {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kNonceBytes = 12;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kMaxPlaintext = 1024;   // boxes hold short secrets only

using Key = std::array<std::byte, kKeyBytes>;

// HKDF-SHA256 (RFC 5869), no salt, `label` as the info: the key of one purpose.
// Errc::internal when OpenSSL fails or the secret is empty.
Result<Key> derive_key(std::span<const std::byte> secret, std::string_view label) noexcept;

// The box of `plaintext` (at most kMaxPlaintext bytes) under `key` with `nonce`
// (kNonceBytes fresh random bytes: never reuse one with the same key).
Result<std::string> seal(const Key& key, std::span<const std::byte> nonce, std::string_view plaintext,
                         std::string_view aad) noexcept;

// The plaintext of a box sealed with the same key and aad; Errc::bad_request for
// anything else (another key, another aad, a changed byte, not a box).
Result<std::string> open(const Key& key, std::string_view box, std::string_view aad) noexcept;

}  // namespace chat::secret_box
