/*
 * core's Executor on nginx's thread pool: CPU-heavy work (scrypt) runs on a
 * pool thread, its completion back on the worker's event loop. The worker
 * holds at most `capacity` tasks at a time (queued or running); past that a
 * task is refused at once (done() runs, work() does not), so a flood never
 * builds a queue that every later login waits behind.
 */

#ifndef NGX_HTTP_CHAT_EXECUTOR_H_INCLUDED_
#define NGX_HTTP_CHAT_EXECUTOR_H_INCLUDED_

#include "ngx_http_chat.h"

#include "chat/event_loop.h"
#include "chat/executor.h"


class ngx_http_chat_executor_t final : public chat::Executor {
public:
    ngx_http_chat_executor_t(ngx_thread_pool_t *pool, ngx_log_t *log,
        chat::EventLoop &loop, ngx_uint_t capacity)
        : pool_(pool), log_(log), loop_(loop), capacity_(capacity) {}

    void run(std::function<void()> work, std::function<void()> done) override;

    ngx_uint_t pending() const { return pending_; }
    void finished() { pending_--; }

private:
    ngx_thread_pool_t  *pool_;
    ngx_log_t          *log_;
    chat::EventLoop    &loop_;
    ngx_uint_t          capacity_;
    ngx_uint_t          pending_ = 0;    /* posted, completion not yet run */
};

#endif /* NGX_HTTP_CHAT_EXECUTOR_H_INCLUDED_ */
