// The full-text search index's pending list, merged by a query no post waits on
// (sql/functions/98_search_index.sql says why): every worker asks once a second, one at a time
// gets through.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "chat/periodic.h"
#include "chat/result.h"

namespace chat::search_index {

// What one flush did.
struct Flush {
    bool ran = false;        // false: another worker or node was merging (the lock was taken)
    bool owned = true;       // false: the index belongs to another role, nothing can be merged
    std::int64_t pages = 0;  // pending-list pages merged into the index
};
// chat_search_index_flush()'s answer: -1 not run, -2 not owned, else pages.
Result<Flush> parse_flush(std::string_view answer) noexcept;

// The merge, a periodic SQL job (periodic.h): the worker's timer runs it. An index of another
// role is a warning and 30 s, like a failure.
class Flusher : public periodic::Job {
public:
    Flusher(EventLoop& loop, pg::Pool& pg);
    // The callback runs exactly once, from the loop, never inside the call.
    void flush(std::function<void(Result<Flush>)> done) noexcept;
};

}  // namespace chat::search_index
