// A periodic SQL job's one statement, its one-integer answer and when to ask again (periodic.h).
#include "chat/periodic.h"

#include <charconv>

#include "chat/pg_pool.h"

namespace chat::periodic {

static_assert(kRetryMs == 30000, "the warning says \"next try in 30 s\"");

namespace {

Error unexpected(const Spec& spec) {
    return make_error(Errc::internal, "unexpected answer to " + std::string(spec.function));
}

Step next(const Spec& spec, const Result<std::int64_t>& answer) noexcept {
    try {
        if (answer.ok()) return spec.answered ? spec.answered(answer.value()) : Step{};
        if (answer.error().code == Errc::unavailable) return Step{};
        return Step{kRetryMs, std::string(spec.failed) + " (next try in 30 s): " + answer.error().message};
    } catch (...) {
        return Step{kRetryMs, std::nullopt};  // out of memory: the wait, without its warning
    }
}

}  // namespace

Result<std::int64_t> parse(const Spec& spec, std::string_view answer) noexcept {
    try {
        std::int64_t n = 0;
        const char* const last = answer.data() + answer.size();
        const auto parsed = std::from_chars(answer.data(), last, n);
        if (answer.empty() || parsed.ec != std::errc() || parsed.ptr != last || n < spec.min) return unexpected(spec);
        return n;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

Step Job::step(const Result<std::int64_t>& answer) const noexcept { return next(spec_, answer); }

void Job::run(std::function<void(Step)> done) noexcept {
    // the spec copied, not the job: what the pool or the loop holds never points into it
    ask([spec = spec_, done = std::move(done)](const Result<std::int64_t>& n) { done(next(spec, n)); });
}

void Job::query(std::function<void(Result<std::int64_t>)> then) {
    pg_.query(std::string(spec_.sql), params_, [spec = spec_, then = std::move(then)](Result<pg::QueryResult> res) {
        if (!res.ok()) return then(res.error());
        const auto& q = res.value();
        const auto one = q.text(0, 0);
        if (q.rows() == 1 && q.cols() == 1 && one) return then(parse(spec, *one));
        then(unexpected(spec));
    });
}

}  // namespace chat::periodic
