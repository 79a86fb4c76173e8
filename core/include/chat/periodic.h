// A periodic SQL job: one statement that every worker asks of Postgres once a second, off the
// post path, and whose answer is one integer saying what it did. The SQL's advisory lock lets
// one worker of one node at a time do the work; the others answer that they did not run.
// Its users: the search index's pending-list merge (search_index.h) and the unanswered
// questions' fold (unmatched.h); the worker gives each job one timer
// (ngx_http_chat_periodic_t in ngx_chat_module/ngx_http_chat_worker.cpp).
//
// When to ask again (Job::step): after an answer, when the job says (by default in a second);
// while the database is away, in a second (the pool logs that, once per change of state);
// after any other failure (e.g. a module newer than the schema, before `chatctl migrate`), a
// warning and 30 s, not every second.
//
// The worker's other timers are not of this shape: the presence sweep (every 5 s, a JSON answer of
// side effects, errors at error level, no back-off), retention (a JSON batch, timed by the batch
// and the retention), the erasures poll (every 2 s, a JSON list the worker acts on; its 30 s
// back-off after a failure is this rule, kept in the worker beside what it does with the list),
// the FAQ sync (faq_sync.h's own Step) and the webhooks (the sender's own tick).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/event_loop.h"
#include "chat/result.h"

namespace chat::pg {
class Pool;
using Param = std::optional<std::string>;
}  // namespace chat::pg

namespace chat::periodic {

inline constexpr std::int64_t kEveryMs = 1000;
inline constexpr std::int64_t kRetryMs = 30000;

// What the timer does after one ask: log the warning (if any), then ask again in next_ms.
struct Step {
    std::int64_t next_ms = kEveryMs;
    std::optional<std::string> warning;
};

// One job: its statement, the answers it may give, and what its warning says.
struct Spec {
    std::string_view function;  // the SQL function asked, named by an unexpected answer's error
    std::string_view sql;       // one statement, one row, one integer column
    std::int64_t min = 0;       // its lowest answer (below 0: its codes for "did not run")
    std::string_view failed;    // "<failed> (next try in 30 s): <why>" after a failure
    // When to ask again after answer n; nullptr: in a second.
    Step (*answered)(std::int64_t n) = nullptr;
};

// The answer's text as an integer no lower than spec.min, else
// "unexpected answer to <function>".
Result<std::int64_t> parse(const Spec& spec, std::string_view answer) noexcept;

// An answer as the job's own value (what its codes mean).
template <class T>
Result<T> read_as(const Result<std::int64_t>& n, T (*read)(std::int64_t)) {
    if (!n.ok()) return n.error();
    return read(n.value());
}

class Job {
public:
    Job(EventLoop& loop, pg::Pool& pg, const Spec& spec, std::vector<pg::Param> params = {})
        : loop_(loop), pg_(pg), spec_(spec), params_(std::move(params)) {}
    virtual ~Job() = default;
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    // One ask; then(const Result<std::int64_t>&) gets the answer, exactly once, from the loop,
    // never inside the call. Build `then` by moving what it captures: copies happen in here.
    template <class F>
    void ask(F then) noexcept;
    // ask(), the answer read as the job's own value.
    template <class T>
    void ask_as(T (*read)(std::int64_t), std::function<void(Result<T>)> done) noexcept {
        ask([read, done = std::move(done)](const Result<std::int64_t>& n) { done(read_as(n, read)); });
    }
    // One ask, and what the timer does next (the worker's timer calls this).
    void run(std::function<void(Step)> done) noexcept;

    // What the timer does after this answer: the rule above.
    Step step(const Result<std::int64_t>& answer) const noexcept;

private:
    void query(std::function<void(Result<std::int64_t>)> then);

    EventLoop& loop_;
    pg::Pool& pg_;
    Spec spec_;
    std::vector<pg::Param> params_;
};

template <class F>
void Job::ask(F then) noexcept {
    try {
        query(then);
    } catch (const std::exception& e) {
        try {
            loop_.post(
                [then, why = std::string(e.what())] { then(Result<std::int64_t>(make_error(Errc::internal, why))); });
        } catch (...) {
            // out of memory twice over: the caller's next timer never comes; nothing else breaks
        }
    }
}

}  // namespace chat::periodic
