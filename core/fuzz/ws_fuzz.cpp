// libFuzzer target: the WebSocket frame parser never crashes, never returns a message over its limits, and returns nothing after a failure or a close.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/utf8.h"
#include "chat/ws.h"

namespace {

using chat::ws::Opcode;

// Every message respects the limits and the rules the parser claims to enforce.
void check(const chat::ws::Parser::Outcome& o, const chat::ws::Limits& lim, bool& over) {
    for (const auto& m : o.messages) {
        if (over) std::abort();  // a message after a failure or a close
        switch (m.opcode) {
            case Opcode::text:
                if (!chat::valid_utf8(m.payload)) std::abort();
                [[fallthrough]];
            case Opcode::binary:
                if (m.payload.size() > lim.max_message) std::abort();
                break;
            case Opcode::close:
                over = true;
                [[fallthrough]];
            case Opcode::ping:
            case Opcode::pong:
                if (m.payload.size() > 125) std::abort();
                break;
            default:
                std::abort();  // continuation is never surfaced
        }
    }
    if (o.fail) {
        if (over) std::abort();
        over = true;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // Byte 0 picks the split point; byte 1 picks small or default limits so
    // both the size checks and the reassembly paths get exercised.
    const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
    const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
    const chat::ws::Limits lim = (data[1] & 1) ? chat::ws::Limits{} : chat::ws::Limits{64, 200};

    chat::ws::Parser p(lim);
    bool over = false;
    check(p.feed(in.substr(0, cut)), lim, over);
    check(p.feed(in.substr(cut)), lim, over);
    check(p.feed(in), lim, over);  // once done, a further feed returns nothing
    if (p.done() != over) std::abort();
    return 0;
}
