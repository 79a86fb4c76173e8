// The full-text search index's pending list, merged by a query no post waits on
// (sql/functions/98_search_index.sql says why): every worker asks once a second, one at a time
// gets through.
#pragma once

#include <cstdint>
#include <functional>

#include "chat/event_loop.h"
#include "chat/result.h"

namespace chat::pg {
class Pool;
}

namespace chat::search_index {

inline constexpr std::int64_t kFlushEveryMs = 1000;
// After a failure that is not the database being away (e.g. a module newer than the schema,
// before `chatctl migrate`): not every second.
inline constexpr std::int64_t kFlushRetryMs = 30000;

// What one flush did.
struct Flush {
    bool ran = false;         // false: another worker or node was merging (the lock was taken)
    bool owned = true;        // false: the index belongs to another role, nothing can be merged
    std::int64_t pages = 0;   // pending-list pages merged into the index
};
// chat_search_index_flush()'s answer: -1 not run, -2 not owned, else pages.
Result<Flush> parse_flush(std::string_view answer) noexcept;

// The callback runs exactly once, from the loop, never inside the call.
class Flusher {
public:
    Flusher(EventLoop& loop, pg::Pool& pg) noexcept : loop_(loop), pg_(pg) {}
    void flush(std::function<void(Result<Flush>)> done) noexcept;

private:
    EventLoop& loop_;
    pg::Pool& pg_;
};

}  // namespace chat::search_index
