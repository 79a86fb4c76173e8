// Agent password hashing and verification with scrypt, in one self-describing string format.
//
// Format: scrypt$<N>$<r>$<p>$<salt, base64 standard padded>$<key, base64 standard padded>
// e.g.    scrypt$16384$8$5$AAECAwQFBgcICQoLDA0ODw==$ZzwlOP1DANmeOKfScHGQx1UV92aq/cm/VIPA91JORg4=
// New hashes use N=16384, r=8, p=5, a 16-byte salt and a 32-byte key.
//
// Both functions are CPU- and memory-heavy on purpose (~16 MiB, tens of
// milliseconds): the module runs them on nginx's thread pool, never on a
// worker's event loop. They touch no shared state and are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace chat::password {

inline constexpr std::uint64_t kN = 16384;
inline constexpr std::uint32_t kR = 8;
inline constexpr std::uint32_t kP = 5;
inline constexpr std::size_t kSaltBytes = 16;
inline constexpr std::size_t kKeyBytes = 32;
// scrypt's memory ceiling passed to OpenSSL; parameters that need more fail.
inline constexpr std::uint64_t kMaxMemBytes = 64ull << 20;

// Hashes password with the caller's salt (kSaltBytes of random bytes in
// production; fixed in tests). Returns an empty string only if OpenSSL fails.
std::string hash(std::string_view password, std::span<const std::byte> salt);

// True when password matches encoded. Parameters are read from the string and
// bounded (N a power of two in [2, 2^20], r in [1, 16], p in [1, 16], and at
// most kMaxMemBytes of memory) so a planted hash cannot exhaust the host;
// anything malformed or out of bounds is simply false. The key comparison is
// constant-time.
bool verify(std::string_view password, std::string_view encoded) noexcept;

}  // namespace chat::password
