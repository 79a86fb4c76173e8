// libFuzzer target: reading a typed row (conversation_from, message_from) and rendering it never crashes, and what it renders is JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "chat/conversation_json.h"
#include "chat/json.h"

namespace cj = chat::conversation_json;

namespace {

// The input split at '\x1f' into column values; a value "\x1e" alone is NULL.
std::vector<cj::Text> columns(std::string_view in) {
    std::vector<cj::Text> out;
    while (true) {
        const auto cut = in.find('\x1f');
        const std::string_view v = in.substr(0, cut);
        out.push_back(v == "\x1e" ? cj::Text() : cj::Text(v));
        if (cut == std::string_view::npos) break;
        in.remove_prefix(cut + 1);
    }
    return out;
}

void check(const chat::Result<std::string>& j) {
    if (j.ok() && !chat::json::parse(j.value(), chat::json::Limits{64u << 20, 64, 64u << 20, 1u << 20}).ok())
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    auto cols = columns(in);
    if (cols.size() == cj::kConversationColumns) {
        if (auto c = cj::conversation_from(cols); c.ok()) {
            check(cj::render(c.value()));
            (void)cj::render_agent(c.value());
        }
    }
    if (cols.size() == cj::kMessageColumns) {
        if (auto m = cj::message_from(cols); m.ok()) check(cj::render(m.value()));
    }
    // the input as a message's metadata: written exactly as parsing and writing it would
    {
        std::vector<cj::Text> msg = {"m", "c", "1", "customer", cj::Text(), "text", "hi", in, "0", cj::Text()};
        auto m = cj::message_from(msg);
        if (!m.ok()) std::abort();
        auto parsed = chat::json::parse(in, chat::json::Limits{64u << 20, 32, 1u << 20, 10000});
        auto j = cj::render(m.value());
        if (j.ok() != parsed.ok()) std::abort();
        if (j.ok() && j.value().find("\"metadata\":" + chat::json::to_string(parsed.value()) + ",\"created_at\"") ==
                          std::string::npos)
            std::abort();
    }
    // any column count: the readers refuse without reading out of bounds
    (void)cj::conversation_from(cols);
    (void)cj::message_from(cols);
    // any instant
    if (size >= 8) {
        std::int64_t ms = 0;
        for (int i = 0; i < 8; ++i) ms = static_cast<std::int64_t>(static_cast<std::uint64_t>(ms) << 8 | data[i]);
        std::string s;
        cj::append_timestamp(s, ms);
    }
    return 0;
}
