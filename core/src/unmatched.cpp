// The pending unanswered questions folded into the reports' counts (chat_unmatched_fold).
#include "chat/unmatched.h"

#include <string>
#include <utility>

namespace chat::unmatched {

namespace {

Fold fold_of(std::int64_t rows) { return Fold{rows >= 0, rows > 0 ? rows : 0}; }

periodic::Step answered(std::int64_t rows) { return periodic::Step{next_fold_ms(fold_of(rows)), std::nullopt}; }

constexpr periodic::Spec kFold{
    .function = "chat_unmatched_fold",
    .sql = "SELECT chat_unmatched_fold($1::int)",
    .min = -1,
    .failed = "folding the unanswered questions failed",
    .answered = answered,
};

}  // namespace

Result<Fold> parse_fold(std::string_view answer) noexcept {
    return periodic::read_as(periodic::parse(kFold, answer), fold_of);
}

std::int64_t next_fold_ms(const Fold& f) noexcept { return f.rows >= kFoldMax ? 1 : kFoldEveryMs; }

Folder::Folder(EventLoop& loop, pg::Pool& pg) : Job(loop, pg, kFold, {std::to_string(kFoldMax)}) {}

void Folder::fold(std::function<void(Result<Fold>)> done) noexcept { ask_as(fold_of, std::move(done)); }

}  // namespace chat::unmatched
