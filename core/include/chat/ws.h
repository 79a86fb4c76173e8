// Server side of RFC 6455 WebSocket framing, transport-free: handshake key, an incremental client-frame parser, and server frame encoders.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/result.h"

namespace chat::ws {

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (SHA-1 + base64);
// Errc::bad_request if the key is not 16 bytes of (strict, padded) base64.
Result<std::string> accept_key(std::string_view client_key) noexcept;

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// A whole (reassembled) text/binary message, or a control frame (close, ping, pong).
struct Message {
    Opcode opcode;
    std::string payload;
};

enum class CloseCode : std::uint16_t {
    normal = 1000,
    going_away = 1001,
    protocol_error = 1002,
    unsupported = 1003,
    invalid_payload = 1007,
    policy = 1008,
    too_big = 1009,
    internal = 1011,
};

// Caps on one frame's payload and on one reassembled message; both are
// enforced from the frame header, before any payload byte is buffered.
struct Limits {
    std::size_t max_frame = 64 * 1024;
    std::size_t max_message = 64 * 1024;
};

// Incremental parser for client->server frames. feed() consumes bytes (split
// anywhere) and returns the messages completed by them. On a protocol
// violation the Outcome carries the close code the server must send (with
// `reason` as the close reason) before closing; messages completed before the
// violation in the same feed are still returned. After a failure or a received
// close frame every later feed() returns an empty Outcome.
//
// Rules: frames must be masked, RSV bits 0, opcodes known (else 1002);
// control frames unfragmented with payload <= 125 (1002); a frame over
// max_frame or a message over max_message is 1009; a 64-bit length with the
// top bit set is 1002; continuation without an open message, or a new
// text/binary while one is open, is 1002; text is validated as UTF-8
// incrementally (1007); a close payload is empty or a valid code
// (1000-1003, 1007-1011, 3000-4999) plus a UTF-8 reason (else 1002).
// Out of memory yields 1011. Never throws.
class Parser {
public:
    explicit Parser(Limits limits = {});

    struct Outcome {
        std::vector<Message> messages;
        std::optional<CloseCode> fail;
        std::string reason;
    };
    Outcome feed(std::string_view bytes) noexcept;

    // True once a close frame was received or a violation was reported.
    bool done() const noexcept { return done_; }

private:
    bool on_header_start(Outcome& out);
    bool on_header_complete(Outcome& out);
    bool on_frame_complete(Outcome& out);
    bool fail(Outcome& out, CloseCode code, const char* reason);

    Limits limits_;
    bool done_ = false;

    // Current frame header, accumulated byte by byte (at most 2 + 8 + 4).
    std::array<unsigned char, 14> hdr_{};
    std::size_t hdr_len_ = 0;
    std::size_t hdr_need_ = 2;
    bool in_payload_ = false;
    bool fin_ = false;
    Opcode op_ = Opcode::continuation;
    std::array<unsigned char, 4> mask_{};
    std::size_t mask_pos_ = 0;
    std::uint64_t remaining_ = 0;

    // Open data message (possibly fragmented) and the current control frame.
    bool in_message_ = false;
    Opcode msg_op_ = Opcode::text;
    std::string msg_;
    std::string ctrl_;

    // Incremental UTF-8 state for text messages: continuation bytes still
    // expected, and the allowed range of the next one.
    std::uint8_t u8_need_ = 0;
    unsigned char u8_lo_ = 0x80;
    unsigned char u8_hi_ = 0xBF;
};

// Server->client frames (unmasked, FIN set). Control payloads are cut to the
// 125-byte limit (a close reason to 123 bytes, at a UTF-8 boundary).
std::string frame_text(std::string_view payload);
std::string frame_ping(std::string_view payload);
std::string frame_pong(std::string_view payload);
std::string frame_close(CloseCode code, std::string_view reason = {});

}  // namespace chat::ws
