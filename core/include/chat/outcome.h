// What a use case decided, customer or agent: the one value both services complete with,
// and that the module carries out in one place (ngx_http_chat_apply) without re-reading
// the database answer.
//
// Every field is built in core from a single parse of the SQL function's answer: the
// HTTP answer (status, body, cookie, Retry-After), what the node's shared-memory cache
// does (keep a snapshot, drop a key, nothing), the events the other side hears and the
// other conversations the write changed. The effects (cache, events, side effects) are
// those of a committed write: the module applies them even when the request that asked
// is gone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "chat/events.h"
#include "chat/result.h"
#include "chat/snapshot.h"

namespace chat {

// A cookie to set (name and value, for max_age_s seconds) or to expire (clear).
struct Cookie {
    std::string name;                 // empty: no cookie
    std::string value;                // the token; empty when clear
    std::int64_t max_age_s = 0;
    bool clear = false;               // Max-Age=0

    bool empty() const noexcept { return name.empty(); }
};

// What the node's cache does with the outcome.
struct CacheEffect {
    enum class Kind { none, apply, drop };
    Kind kind = Kind::none;
    Snapshot snapshot;                // apply: the conversation at its version
    std::string key;                  // drop: the session whose entry goes
};

struct Outcome {
    int status = 200;
    std::string body;                       // JSON; empty for 204
    std::string content_type;               // empty: application/json
    Cookie cookie;
    CacheEffect cache;
    std::vector<events::Event> events;      // what the other side hears (publish after commit)
    std::vector<std::string> side_effects;  // other conversations the write changed (events::side_effects)
    std::int64_t retry_after_s = 0;         // > 0: the Retry-After header (429 of login)

    // The cache keeps the snapshot, or drops its key while agents may change the
    // conversation behind the customer's back (Snapshot::cacheable).
    void cache_snapshot(Snapshot s) {
        if (s.cacheable) {
            cache.kind = CacheEffect::Kind::apply;
            cache.snapshot = std::move(s);
        } else {
            cache_drop(std::move(s.key));
        }
    }
    void cache_drop(std::string key) {
        cache.kind = CacheEffect::Kind::drop;
        cache.key = std::move(key);
    }
    // A write that changed the customer's conversation behind its cached copy without a
    // message (its customer, rating, tags, priority, department): the conversation.updated
    // events carry the session's key and the conversation's new version, so every node drops
    // its older cached copy, and this node's copy goes now.
    void conversation_changed(const std::string& key, std::int64_t version) {
        for (events::Event& e : events) {
            if (e.type != events::Type::conversation_updated) continue;
            e.cache_key = key;
            e.version = version;
        }
        cache_drop(key);
    }
};

// An answer's body without an allocation of its own each time: body_room(n) hands out the thread's
// spare buffer (empty, with room for n bytes; a new string when there is none), and the host gives
// a body back once it has copied it out (recycle_body: `body` is left empty when kept). A body above 1 KB
// is one of malloc's large requests, which make it merge its fastbins: a post's answer was one.
// Only buffers up to 64 KB are kept (one a thread), so a large answer does not stay.
std::string body_room(std::size_t bytes);
void recycle_body(std::string& body) noexcept;

// How every use case completes: exactly once, on the loop.
using OutcomeDone = std::function<void(Result<Outcome>)>;

}  // namespace chat
