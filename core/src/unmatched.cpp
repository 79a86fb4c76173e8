// The pending unanswered questions folded into the reports' counts (chat_unmatched_fold).
#include "chat/unmatched.h"

#include <charconv>
#include <string>
#include <utility>

#include "chat/pg_pool.h"

namespace chat::unmatched {

namespace {
constexpr const char* kUnexpected = "unexpected answer to chat_unmatched_fold";
}

Result<Fold> parse_fold(std::string_view answer) noexcept {
    std::int64_t rows = 0;
    const char* const last = answer.data() + answer.size();
    const auto parsed = std::from_chars(answer.data(), last, rows);
    if (answer.empty() || parsed.ec != std::errc() || parsed.ptr != last || rows < -1)
        return make_error(Errc::internal, kUnexpected);
    return Fold{rows >= 0, rows > 0 ? rows : 0};
}

std::int64_t next_fold_ms(const Fold& f) noexcept { return f.rows >= kFoldMax ? 1 : kFoldEveryMs; }

void Folder::fold(std::function<void(Result<Fold>)> done) noexcept {
    try {
        pg_.query("SELECT chat_unmatched_fold($1::int)", {std::to_string(kFoldMax)},
                  [done](Result<pg::QueryResult> res) {
                      if (!res.ok()) return done(res.error());
                      const auto& q = res.value();
                      const auto one = q.text(0, 0);
                      if (q.rows() == 1 && q.cols() == 1 && one) return done(parse_fold(*one));
                      done(make_error(Errc::internal, kUnexpected));
                  });
    } catch (const std::exception& e) {
        try {
            loop_.post([done, why = std::string(e.what())] { done(make_error(Errc::internal, why)); });
        } catch (...) {
            // out of memory twice over: the caller's next timer never comes; nothing else breaks
        }
    }
}

}  // namespace chat::unmatched
