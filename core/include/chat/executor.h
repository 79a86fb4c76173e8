// The seam for CPU-heavy work (password hashing): run it off the event loop, finish on it.
//
// The nginx module implements Executor with ngx_thread_task_post (nginx's thread pool);
// core's tests with a std::thread. core's use cases never hash or verify a password on
// the loop: they hand the work to an Executor and continue in `done`.
#pragma once

#include <functional>

namespace chat {

class Executor {
public:
    virtual ~Executor() = default;
    // Runs `work` on another thread, then `done` on the loop thread (never inside run()).
    // `work` must not throw and must touch no loop-owned state; `done` may. If the
    // executor cannot take the task (pool gone, shutdown, or its queue is full: an
    // executor may bound the tasks it holds, so that a flood of work is refused at once
    // rather than queued for ever) it still calls `done` on the loop, after not running
    // `work`: callers detect that from state `work` would set.
    virtual void run(std::function<void()> work, std::function<void()> done) = 0;
};

}  // namespace chat
