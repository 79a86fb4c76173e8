// libFuzzer target: events::parse reads network input (every Redis message of chat:events);
// it never crashes, and what it accepts survives encode -> parse unchanged (the agents' copy
// too); events::peek reads of it what parse does. The same for the forget and end messages of
// `chatctl erase` on that channel (retention::parse_forget, retention::parse_end). A batch
// (events::split_batch) is read part by part like that, within its bounds, and its events
// batched again read back as the same payloads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "chat/events.h"
#include "chat/json.h"
#include "chat/retention.h"

// The event as an agent socket hears it (events::json_for_agents).
static std::string agents_copy(const chat::events::Event& e) {
    std::string scratch;
    return std::string(chat::events::json_for_agents(e, scratch));
}

// What a worker does with one payload heard on chat:events (alone or in a batch).
static void one(std::string_view in) {
    const auto peeked = chat::events::peek(in);
    if (auto e = chat::events::parse(in); e.ok()) {
        const auto& a = e.value();
        // what a worker decides from a peek is what the event says
        if (peeked && (peeked->conversation_id != a.conversation_id || peeked->cache_key != a.cache_key ||
                       peeked->version != a.version))
            std::abort();
        auto again = chat::events::parse(chat::events::encode(a));
        if (!again.ok()) std::abort();
        const auto& b = again.value();
        if (a.type != b.type || a.sender != b.sender || a.conversation_id != b.conversation_id || a.seq != b.seq ||
            a.assigned_agent_id != b.assigned_agent_id || a.json != b.json ||
            a.cache_key != b.cache_key || a.version != b.version || a.status != b.status ||
            a.agent_unread != b.agent_unread || agents_copy(a) != agents_copy(b))
            std::abort();
    }

    if (auto keys = chat::retention::parse_forget(in)) {
        if (keys->size() > chat::retention::kForgetMax) std::abort();
        auto msgs = chat::retention::forget_messages(*keys);
        if (keys->empty() ? !msgs.empty() : (msgs.size() != 1 || chat::retention::parse_forget(msgs[0]) != keys))
            std::abort();
    }
    if (auto ids = chat::retention::parse_end(in)) {
        if (ids->size() > chat::retention::kForgetMax) std::abort();
        auto msgs = chat::retention::end_messages(*ids);
        if (ids->empty() ? !msgs.empty() : (msgs.size() != 1 || chat::retention::parse_end(msgs[0]) != ids))
            std::abort();
    }
    (void)chat::retention::parse_sweep(in);
    (void)chat::retention::parse_erased(in);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    one(in);

    if (auto parts = chat::events::split_batch(in); parts.ok()) {
        if (!chat::events::is_batch(in) || parts.value().empty() ||
            parts.value().size() > chat::events::kBatchEventsMax)
            std::abort();
        std::string again;
        std::vector<std::string> encoded;
        for (const std::string_view part : parts.value()) {
            if (part.data() < in.data() || part.data() + part.size() > in.data() + in.size()) std::abort();
            one(part);
            if (auto e = chat::events::parse(part); e.ok()) {
                chat::events::append_to_batch(again, e.value());
                encoded.push_back(chat::events::encode(e.value()));
            }
        }
        if (!encoded.empty()) {
            auto back = chat::events::split_batch(again);
            if (!back.ok() || back.value().size() != encoded.size()) std::abort();
            for (std::size_t i = 0; i < encoded.size(); i++)
                if (back.value()[i] != encoded[i]) std::abort();
        }
    } else if (chat::events::is_batch(in) && chat::events::parse(in).ok()) {
        std::abort();  // a batch is never one event
    }

    // The builders read database answers; arbitrary JSON must not crash them either.
    (void)chat::events::from_answer(in);
    (void)chat::events::side_effects(in);
    (void)chat::events::presence(in);
    if (auto v = chat::json::parse(in); v.ok()) {
        const auto note = chat::events::note_created(v.value());
        if (!note.json.empty() && chat::events::customer_may_hear(note.type)) std::abort();
    }
    return 0;
}
