// The search index's pending-list merge, asked of Postgres (chat_search_index_flush).
#include "chat/search_index.h"

#include <string>
#include <utility>

namespace chat::search_index {

namespace {

Flush flush_of(std::int64_t n) { return Flush{n != -1, n != -2, n > 0 ? n : 0}; }

periodic::Step answered(std::int64_t n) {
    if (flush_of(n).owned) return periodic::Step{};
    return periodic::Step{periodic::kRetryMs,
                          "the search index belongs to another role, its pending list is merged by the posts "
                          "that fill it (next try in 30 s)"};
}

constexpr periodic::Spec kFlush{
    .function = "chat_search_index_flush",
    .sql = "SELECT chat_search_index_flush()",
    .min = -2,
    .failed = "merging the search index's pending list failed",
    .answered = answered,
};

}  // namespace

Result<Flush> parse_flush(std::string_view answer) noexcept {
    return periodic::read_as(periodic::parse(kFlush, answer), flush_of);
}

Flusher::Flusher(EventLoop& loop, pg::Pool& pg) : Job(loop, pg, kFlush) {}

void Flusher::flush(std::function<void(Result<Flush>)> done) noexcept { ask_as(flush_of, std::move(done)); }

}  // namespace chat::search_index
