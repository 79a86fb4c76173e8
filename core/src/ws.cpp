// RFC 6455 server-side framing: the handshake accept key, the incremental client-frame parser, and server frame encoders.
#include "chat/ws.h"

#include <openssl/evp.h>

#include <algorithm>
#include <new>

#include "chat/base64.h"
#include "chat/utf8.h"

namespace chat::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t kMaxControl = 125;

bool is_control(Opcode op) { return (static_cast<unsigned>(op) & 0x8u) != 0; }

bool valid_close_code(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

std::string frame(Opcode op, std::string_view payload) {
    std::string out;
    const std::size_t n = payload.size();
    out.reserve(n + 10);
    out.push_back(static_cast<char>(0x80u | static_cast<unsigned>(op)));
    if (n < 126) {
        out.push_back(static_cast<char>(n));
    } else if (n <= 0xFFFF) {
        out.push_back(static_cast<char>(126));
        out.push_back(static_cast<char>((n >> 8) & 0xFF));
        out.push_back(static_cast<char>(n & 0xFF));
    } else {
        out.push_back(static_cast<char>(127));
        const std::uint64_t len = n;
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((len >> shift) & 0xFF));
    }
    out.append(payload);
    return out;
}

// Longest prefix of s no longer than max that does not split a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0u) == 0x80u) --n;
    return s.substr(0, n);
}

}  // namespace

Result<std::string> accept_key(std::string_view client_key) noexcept {
    try {
        auto raw = base64::decode(client_key);
        if (!raw.ok() || raw.value().size() != 16)
            return make_error(Errc::bad_request, "Sec-WebSocket-Key must be 16 bytes of base64");
        std::string input;
        input.reserve(client_key.size() + kGuid.size());
        input.append(client_key).append(kGuid);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) != 1 || len != 20)
            return make_error(Errc::internal, "SHA-1 failed");
        return base64::encode(std::string_view(reinterpret_cast<const char*>(digest), len));
    } catch (...) {
        return make_error(Errc::internal, "out of memory");
    }
}

Parser::Parser(Limits limits) : limits_(limits) {}

bool Parser::fail(Outcome& out, CloseCode code, const char* reason) {
    done_ = true;
    out.fail = code;
    out.reason = reason;
    msg_.clear();
    msg_.shrink_to_fit();
    ctrl_.clear();
    return false;
}

// First two header bytes: everything but the length can be judged now.
bool Parser::on_header_start(Outcome& out) {
    const unsigned b0 = hdr_[0], b1 = hdr_[1];
    if (b0 & 0x70u) return fail(out, CloseCode::protocol_error, "reserved bits set");
    const unsigned op = b0 & 0x0Fu;
    if (op != 0 && op != 1 && op != 2 && op != 8 && op != 9 && op != 10)
        return fail(out, CloseCode::protocol_error, "unknown opcode");
    if (!(b1 & 0x80u)) return fail(out, CloseCode::protocol_error, "client frame not masked");
    fin_ = (b0 & 0x80u) != 0;
    op_ = static_cast<Opcode>(op);
    const unsigned len7 = b1 & 0x7Fu;
    if (is_control(op_)) {
        // The length itself is judged with the whole header (non-minimal encodings are allowed).
        if (!fin_) return fail(out, CloseCode::protocol_error, "fragmented control frame");
    } else if (op_ == Opcode::continuation) {
        if (!in_message_) return fail(out, CloseCode::protocol_error, "continuation without a message");
    } else if (in_message_) {
        return fail(out, CloseCode::protocol_error, "new message inside a fragmented one");
    }
    hdr_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
    return true;
}

// Whole header: decide on the length before buffering any payload.
bool Parser::on_header_complete(Outcome& out) {
    const unsigned len7 = hdr_[1] & 0x7Fu;
    std::uint64_t len = len7;
    std::size_t p = 2;
    if (len7 == 126) {
        len = (std::uint64_t{hdr_[2]} << 8) | hdr_[3];
        p = 4;
    } else if (len7 == 127) {
        len = 0;
        for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | hdr_[i];
        p = 10;
        if (len >> 63) return fail(out, CloseCode::protocol_error, "64-bit length with the top bit set");
    }
    std::copy_n(hdr_.begin() + static_cast<std::ptrdiff_t>(p), 4, mask_.begin());
    mask_pos_ = 0;
    remaining_ = len;
    if (is_control(op_)) {
        if (len > kMaxControl) return fail(out, CloseCode::protocol_error, "control frame too long");
        ctrl_.clear();
        ctrl_.reserve(static_cast<std::size_t>(len));
    } else {
        if (len > limits_.max_frame) return fail(out, CloseCode::too_big, "frame too big");
        const std::size_t have = op_ == Opcode::continuation ? msg_.size() : 0;
        if (have > limits_.max_message || len > limits_.max_message - have)
            return fail(out, CloseCode::too_big, "message too big");
        if (op_ != Opcode::continuation) {
            in_message_ = true;
            msg_op_ = op_;
            msg_.clear();
            u8_need_ = 0;
            u8_lo_ = 0x80;
            u8_hi_ = 0xBF;
        }
        // Exact reservation: the appends below never grow past the limit.
        msg_.reserve(have + static_cast<std::size_t>(len));
    }
    in_payload_ = true;
    return true;
}

bool Parser::on_frame_complete(Outcome& out) {
    in_payload_ = false;
    hdr_len_ = 0;
    hdr_need_ = 2;
    if (is_control(op_)) {
        if (op_ == Opcode::close) {
            if (ctrl_.size() == 1) return fail(out, CloseCode::protocol_error, "close payload of one byte");
            if (ctrl_.size() >= 2) {
                const unsigned code = (static_cast<unsigned char>(ctrl_[0]) << 8) | static_cast<unsigned char>(ctrl_[1]);
                if (!valid_close_code(code)) return fail(out, CloseCode::protocol_error, "invalid close code");
                if (!valid_utf8(std::string_view(ctrl_).substr(2)))
                    return fail(out, CloseCode::protocol_error, "close reason is not UTF-8");
            }
            out.messages.push_back(Message{op_, std::move(ctrl_)});
            ctrl_.clear();
            done_ = true;
            msg_.clear();
            msg_.shrink_to_fit();
            return false;
        }
        out.messages.push_back(Message{op_, std::move(ctrl_)});
        ctrl_.clear();
        return true;
    }
    if (!fin_) return true;
    if (msg_op_ == Opcode::text && u8_need_ != 0) return fail(out, CloseCode::invalid_payload, "text is not UTF-8");
    out.messages.push_back(Message{msg_op_, std::move(msg_)});
    msg_.clear();
    in_message_ = false;
    return true;
}

Parser::Outcome Parser::feed(std::string_view bytes) noexcept {
    Outcome out;
    try {
        std::size_t pos = 0;
        const std::size_t n = bytes.size();
        while (!done_) {
            if (!in_payload_) {
                if (pos == n) break;
                hdr_[hdr_len_++] = static_cast<unsigned char>(bytes[pos++]);
                if (hdr_len_ == 2 && !on_header_start(out)) break;
                if (hdr_len_ < hdr_need_ || hdr_len_ < 2) continue;
                if (!on_header_complete(out)) break;
                if (remaining_ == 0 && !on_frame_complete(out)) break;
                continue;
            }
            if (pos == n) break;
            const std::size_t take =
                static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(n - pos)));
            std::string& dst = is_control(op_) ? ctrl_ : msg_;
            const std::size_t start = dst.size();
            dst.append(bytes.substr(pos, take));
            for (std::size_t i = start; i < dst.size(); ++i) dst[i] = static_cast<char>(dst[i] ^ mask_[mask_pos_++ & 3]);
            pos += take;
            remaining_ -= take;
            if (!is_control(op_) && msg_op_ == Opcode::text) {
                bool ok = true;
                for (std::size_t i = start; i < dst.size() && ok; ++i) {
                    const unsigned char b = static_cast<unsigned char>(dst[i]);
                    if (u8_need_ == 0) {
                        if (b < 0x80) continue;
                        if (b >= 0xC2 && b <= 0xDF) { u8_need_ = 1; u8_lo_ = 0x80; u8_hi_ = 0xBF; }
                        else if (b == 0xE0) { u8_need_ = 2; u8_lo_ = 0xA0; u8_hi_ = 0xBF; }
                        else if (b == 0xED) { u8_need_ = 2; u8_lo_ = 0x80; u8_hi_ = 0x9F; }
                        else if (b >= 0xE1 && b <= 0xEF) { u8_need_ = 2; u8_lo_ = 0x80; u8_hi_ = 0xBF; }
                        else if (b == 0xF0) { u8_need_ = 3; u8_lo_ = 0x90; u8_hi_ = 0xBF; }
                        else if (b >= 0xF1 && b <= 0xF3) { u8_need_ = 3; u8_lo_ = 0x80; u8_hi_ = 0xBF; }
                        else if (b == 0xF4) { u8_need_ = 3; u8_lo_ = 0x80; u8_hi_ = 0x8F; }
                        else ok = false;
                    } else if (b < u8_lo_ || b > u8_hi_) {
                        ok = false;
                    } else {
                        --u8_need_;
                        u8_lo_ = 0x80;
                        u8_hi_ = 0xBF;
                    }
                }
                if (!ok) {
                    fail(out, CloseCode::invalid_payload, "text is not UTF-8");
                    break;
                }
            }
            if (remaining_ == 0 && !on_frame_complete(out)) break;
        }
    } catch (...) {
        // Out of memory: report it; the messages already completed stay valid.
        done_ = true;
        out.fail = CloseCode::internal;
        try {
            out.reason = "out of memory";
        } catch (...) {
        }
    }
    return out;
}

std::string frame_text(std::string_view payload) { return frame(Opcode::text, payload); }
std::string frame_ping(std::string_view payload) { return frame(Opcode::ping, payload.substr(0, kMaxControl)); }
std::string frame_pong(std::string_view payload) { return frame(Opcode::pong, payload.substr(0, kMaxControl)); }

std::string frame_close(CloseCode code, std::string_view reason) {
    const auto c = static_cast<std::uint16_t>(code);
    std::string payload;
    payload.push_back(static_cast<char>(c >> 8));
    payload.push_back(static_cast<char>(c & 0xFF));
    payload.append(utf8_prefix(reason, kMaxControl - 2));
    return frame(Opcode::close, payload);
}

}  // namespace chat::ws
