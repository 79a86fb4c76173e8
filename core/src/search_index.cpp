// The search index's pending-list merge, asked of Postgres (chat_search_index_flush).
#include "chat/search_index.h"

#include <charconv>
#include <string>
#include <utility>

#include "chat/pg_pool.h"

namespace chat::search_index {

Result<Flush> parse_flush(std::string_view answer) noexcept {
    std::int64_t n = 0;
    const char* end = answer.data() + answer.size();
    auto [p, ec] = std::from_chars(answer.data(), end, n);
    if (answer.empty() || ec != std::errc() || p != end || n < -2)
        return make_error(Errc::internal, "unexpected answer to chat_search_index_flush");
    Flush f;
    f.ran = n != -1;
    f.owned = n != -2;
    f.pages = n > 0 ? n : 0;
    return f;
}

void Flusher::flush(std::function<void(Result<Flush>)> done) noexcept {
    try {
        pg_.query("SELECT chat_search_index_flush()", {}, [done](Result<pg::QueryResult> res) {
            if (!res.ok()) return done(res.error());
            const auto text = res.value().text(0, 0);
            if (res.value().rows() != 1 || res.value().cols() != 1 || !text)
                return done(make_error(Errc::internal, "unexpected answer to chat_search_index_flush"));
            done(parse_flush(*text));
        });
    } catch (const std::exception& e) {
        try {
            loop_.post([done, why = std::string(e.what())] { done(make_error(Errc::internal, why)); });
        } catch (...) {
            // out of memory twice over: the caller's next timer never comes; nothing else breaks
        }
    }
}

}  // namespace chat::search_index
