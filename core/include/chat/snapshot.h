// What core hands the module's shared-memory cache after a read or a write:
// the conversation as the API renders it, and a contiguous run of its messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chat {

struct CachedMessage {
    std::int64_t seq = 0;
    std::string json;  // the API's Message object, serialized
};

// A conversation at one version. `messages` are ascending and contiguous;
// when the last one has seq == last_seq they are the conversation's tail and
// the cache may serve reads from them.
struct Snapshot {
    std::string key;              // the customer's session id
    std::int64_t version = 0;     // conversations.version: bumps on every change
    std::int64_t last_seq = 0;
    std::string conversation_json;
    std::vector<CachedMessage> messages;
    // False while agents (on any node) may change the conversation behind the
    // customer's back (status "agent"): then the cache must drop the entry.
    // Automated conversations change only by the customer's own writes, closed
    // ones not at all, so those may be served from the cache.
    bool cacheable = true;
};

}  // namespace chat
