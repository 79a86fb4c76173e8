/*
 * core's EventLoop implemented on nginx: file descriptors become nginx
 * connections with level-triggered events, timers are cancelable nginx timers,
 * posted callbacks run from one posted event, core's log lines go to the
 * cycle's error log.
 */

#ifndef NGX_HTTP_CHAT_LOOP_H_INCLUDED_
#define NGX_HTTP_CHAT_LOOP_H_INCLUDED_

#include "ngx_http_chat.h"

#include <functional>
#include <memory>
#include <vector>

#include "chat/event_loop.h"


class ngx_http_chat_loop_t final : public chat::EventLoop {
public:
    explicit ngx_http_chat_loop_t(ngx_log_t *log);
    ~ngx_http_chat_loop_t() override;

    std::unique_ptr<chat::IoWatch> watch(int fd,
        std::function<void(bool, bool)> on_ready) override;
    std::unique_ptr<chat::Timer> timer(std::function<void()> on_fire) override;
    void post(std::function<void()> fn) override;
    std::uint64_t now_ms() override;
    std::int64_t wall_ms() override;
    void random_bytes(std::span<std::byte> out) override;
    void log(chat::LogLevel level, std::string_view line) noexcept override;

private:
    static void run_posted(ngx_event_t *ev);
    void run_batch(std::vector<std::function<void()>> &batch);

    ngx_log_t                           *log_;
    ngx_event_t                          posted_ev_;
    /*
     * posted_ collects callbacks; a run swaps it with running_ (empty, its
     * capacity kept), so rounds reuse the two vectors' storage
     */
    std::vector<std::function<void()>>   posted_;
    std::vector<std::function<void()>>   running_;
    bool                                 running_busy_ = false;
};

#endif /* NGX_HTTP_CHAT_LOOP_H_INCLUDED_ */
