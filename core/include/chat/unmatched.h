// The questions the bot could not answer, counted off the post path: each fallback post appends
// its question to unmatched_pending in its own transaction (sql/035_unmatched_pending.sql), and
// every worker asks once a second that the pending ones be folded into the reports' counts
// (chat_unmatched_fold, sql/functions/92_feedback.sql); one at a time gets through. The reports
// read both, so what they answer never waits for a fold.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "chat/periodic.h"
#include "chat/result.h"

namespace chat::unmatched {

inline constexpr std::int64_t kFoldEveryMs = periodic::kEveryMs;
// Pending questions folded per call: a call that folds this many asks again at once.
inline constexpr std::int64_t kFoldMax = 20000;

struct Fold {
    bool ran = false;       // false: another worker or node was folding (its lock was taken)
    std::int64_t rows = 0;  // pending questions folded into the counts
};
// chat_unmatched_fold()'s answer: -1 not run, else the rows folded.
Result<Fold> parse_fold(std::string_view answer) noexcept;
// When to ask again after a fold: at once when it was full, else in a second.
std::int64_t next_fold_ms(const Fold& f) noexcept;

// The fold, a periodic SQL job (periodic.h): the worker's timer runs it.
class Folder : public periodic::Job {
public:
    Folder(EventLoop& loop, pg::Pool& pg);
    // The callback runs exactly once, from the loop, never inside the call.
    void fold(std::function<void(Result<Fold>)> done) noexcept;
};

}  // namespace chat::unmatched
