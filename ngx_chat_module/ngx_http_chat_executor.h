/*
 * core's Executor on nginx's thread pool: CPU-heavy work (scrypt) runs on a
 * pool thread, its completion back on the worker's event loop.
 */

#ifndef NGX_HTTP_CHAT_EXECUTOR_H_INCLUDED_
#define NGX_HTTP_CHAT_EXECUTOR_H_INCLUDED_

#include "ngx_http_chat.h"

#include "chat/event_loop.h"
#include "chat/executor.h"


class ngx_http_chat_executor_t final : public chat::Executor {
public:
    ngx_http_chat_executor_t(ngx_thread_pool_t *pool, ngx_log_t *log,
        chat::EventLoop &loop)
        : pool_(pool), log_(log), loop_(loop) {}

    void run(std::function<void()> work, std::function<void()> done) override;

private:
    ngx_thread_pool_t  *pool_;
    ngx_log_t          *log_;
    chat::EventLoop    &loop_;
};

#endif /* NGX_HTTP_CHAT_EXECUTOR_H_INCLUDED_ */
