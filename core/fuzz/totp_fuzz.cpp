// libFuzzer target: base32 decoding, TOTP codes and secret boxes cope with any input, accept only canonical text and never open a forgery.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/base32.h"
#include "chat/secret_box.h"
#include "chat/totp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto bytes = std::as_bytes(std::span(in.data(), in.size()));

    // whatever base32 accepts re-encodes to the same text; whatever it encodes decodes back
    if (auto d = chat::base32::decode(in); d.ok()) {
        if (chat::base32::encode(std::as_bytes(std::span(d.value().data(), d.value().size()))) != in) std::abort();
    }
    if (size <= 512) {
        auto back = chat::base32::decode(chat::base32::encode(bytes));
        if (!back.ok() || back.value() != in) std::abort();
    }

    // any secret and any code: a match is one of the window's steps, and only for a well-formed code
    const std::int64_t now = 1'700'000'000;
    if (auto m = chat::totp::match(bytes, in.substr(0, 8), now, std::nullopt)) {
        if (!chat::totp::well_formed(in.substr(0, 8))) std::abort();
        if (*m < chat::totp::step_at(now) - 1 || *m > chat::totp::step_at(now) + 1) std::abort();
    }

    // a box opens only if we sealed it: arbitrary text never opens
    static const auto key = chat::secret_box::derive_key(std::as_bytes(std::span("fuzz-secret", 11)), "fuzz").value();
    if (chat::secret_box::open(key, in, "aad").ok()) std::abort();
    if (size <= chat::secret_box::kMaxPlaintext) {
        const std::array<std::byte, chat::secret_box::kNonceBytes> nonce{};
        auto s = chat::secret_box::seal(key, nonce, in, "aad");
        if (!s.ok()) std::abort();
        auto o = chat::secret_box::open(key, s.value(), "aad");
        if (!o.ok() || o.value() != in) std::abort();
    }
    return 0;
}
