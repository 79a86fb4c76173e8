// libFuzzer target: token and base64 decoding never crash and never accept what was not signed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/base64.h"
#include "chat/token.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const char kKeyBytes[] = "fuzz-key-fuzz-key-fuzz-key-32byt";
    const std::span<const std::byte> key(reinterpret_cast<const std::byte*>(kKeyBytes), 32);
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    // Arbitrary bytes: the verifier must reject them (a forgery by fuzzing
    // would be a broken HMAC), unless they are a token we signed ourselves.
    auto v = chat::token::verify(key, in);
    if (v.ok() && chat::token::sign(key, v.value()) != in) std::abort();
    (void)chat::token::decode_session(key, in, 0);
    (void)chat::token::decode_agent(key, in, 0);

    // Base64 decoders: whatever they accept re-encodes to the same text.
    if (auto d = chat::base64::decode(in); d.ok() && chat::base64::encode(std::string_view(d.value())) != in)
        std::abort();
    if (auto d = chat::base64::decode_url(in); d.ok() && chat::base64::encode_url(std::string_view(d.value())) != in)
        std::abort();

    // Signing arbitrary payloads round-trips, and the claims parsers cope with
    // any signed payload.
    if (size <= 2048) {
        const std::string t = chat::token::sign(key, in);
        auto r = chat::token::verify(key, t);
        if (!r.ok() || r.value() != in) std::abort();
        auto s = chat::token::decode_session(key, t, 0);
        if (s.ok() && chat::token::encode_session(key, s.value()) != t) std::abort();
        auto a = chat::token::decode_agent(key, t, 0);
        if (a.ok() && chat::token::encode_agent(key, a.value()) != t) std::abort();
    }
    return 0;
}
