/*
 * core's EventLoop on nginx's event machinery, so core's Postgres and Redis
 * clients run on a worker's event loop without ever blocking it.
 *
 * A watched fd (owned by libpq or hiredis) is wrapped in a connection from
 * ngx_get_connection() and registered level-triggered (NGX_LEVEL_EVENT), so the
 * clients may read once per callback like they do under poll(). The fd is never
 * closed here: on release the events are deleted and the connection is given
 * back with ngx_free_connection().
 *
 * Core's log lines (e.g. why Postgres is unavailable) go to the current
 * cycle's error log, prefixed "chat: " like the module's own lines.
 */

#include "ngx_http_chat_loop.h"

#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/time.h>
#include <time.h>


namespace {

class ngx_http_chat_io_watch_t final : public chat::IoWatch {
public:
    ngx_http_chat_io_watch_t(ngx_connection_t *c,
        std::function<void(bool, bool)> cb)
        : c_(c), cb_(std::move(cb))
    {
        c_->data = this;
        c_->read->handler = handler;
        c_->write->handler = handler;
        c_->read->log = c_->log;
        c_->write->log = c_->log;
    }

    ~ngx_http_chat_io_watch_t() override
    {
        ngx_uint_t  flags;

        /*
         * libpq closes its socket itself when the server goes away, before
         * the client drops the watch: the kernel has then already forgotten
         * the fd, and epoll_ctl(DEL) would fail with EBADF.
         */
        flags = (fcntl(c_->fd, F_GETFD) == -1) ? NGX_CLOSE_EVENT : 0;

        if (c_->read->active) {
            ngx_del_event(c_->read, NGX_READ_EVENT, flags);
        }

        if (c_->write->active) {
            ngx_del_event(c_->write, NGX_WRITE_EVENT, flags);
        }

        if (c_->read->posted) {
            ngx_delete_posted_event(c_->read);
        }

        if (c_->write->posted) {
            ngx_delete_posted_event(c_->write);
        }

        if (c_->read->timer_set) {
            ngx_del_timer(c_->read);
        }

        if (c_->write->timer_set) {
            ngx_del_timer(c_->write);
        }

        /*
         * libpq/hiredis own the fd: free the connection, never close it, and
         * mark it unused so nginx does not report it as a leaked socket
         */
        ngx_free_connection(c_);
        c_->fd = (ngx_socket_t) -1;
    }

    void want_read(bool on) override
    {
        toggle(c_->read, NGX_READ_EVENT, on);
    }

    void want_write(bool on) override
    {
        toggle(c_->write, NGX_WRITE_EVENT, on);
    }

private:
    void toggle(ngx_event_t *ev, ngx_int_t event, bool on)
    {
        if (on && !ev->active) {
            if (ngx_add_event(ev, event, NGX_LEVEL_EVENT) != NGX_OK) {
                ngx_log_error(NGX_LOG_ALERT, c_->log, 0,
                              "chat: adding %s event on fd %d failed",
                              event == NGX_READ_EVENT ? "read" : "write",
                              c_->fd);
            }

        } else if (!on && ev->active) {
            ngx_del_event(ev, event, 0);
        }
    }

    static void handler(ngx_event_t *ev)
    {
        ngx_connection_t          *c = static_cast<ngx_connection_t *>(ev->data);
        ngx_http_chat_io_watch_t  *w = static_cast<ngx_http_chat_io_watch_t *>(c->data);

        bool readable = ev == c->read;
        bool writable = ev == c->write;

        ev->ready = 0;

        try {
            /* the callback may destroy this watch: touch nothing after it */
            w->cb_(readable, writable);

        } catch (const std::exception &e) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "chat: exception in I/O callback: %s", e.what());
        } catch (...) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "chat: unknown exception in I/O callback");
        }
    }

    ngx_connection_t                  *c_;
    std::function<void(bool, bool)>    cb_;
};


class ngx_http_chat_timer_t final : public chat::Timer {
public:
    ngx_http_chat_timer_t(ngx_log_t *log, std::function<void()> cb)
        : cb_(std::move(cb))
    {
        ngx_memzero(&ev_, sizeof(ngx_event_t));
        ev_.handler = handler;
        ev_.data = this;
        ev_.log = log;
        ev_.cancelable = 1;    /* never delays a graceful worker exit */
    }

    ~ngx_http_chat_timer_t() override
    {
        cancel();
    }

    void arm(std::uint64_t ms) override
    {
        ngx_add_timer(&ev_, (ngx_msec_t) ms);
    }

    void cancel() override
    {
        if (ev_.timer_set) {
            ngx_del_timer(&ev_);
        }

        if (ev_.posted) {
            ngx_delete_posted_event(&ev_);
        }
    }

    bool armed() const override
    {
        return ev_.timer_set;
    }

private:
    static void handler(ngx_event_t *ev)
    {
        auto *t = static_cast<ngx_http_chat_timer_t *>(ev->data);

        try {
            t->cb_();

        } catch (const std::exception &e) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "chat: exception in timer callback: %s", e.what());
        } catch (...) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "chat: unknown exception in timer callback");
        }
    }

    ngx_event_t              ev_;
    std::function<void()>    cb_;
};

} /* namespace */


ngx_http_chat_loop_t::ngx_http_chat_loop_t(ngx_log_t *log)
    : log_(log)
{
    ngx_memzero(&posted_ev_, sizeof(ngx_event_t));
    posted_ev_.handler = run_posted;
    posted_ev_.data = this;
    posted_ev_.log = log;
}


ngx_http_chat_loop_t::~ngx_http_chat_loop_t()
{
    if (posted_ev_.posted) {
        ngx_delete_posted_event(&posted_ev_);
    }
}


std::unique_ptr<chat::IoWatch>
ngx_http_chat_loop_t::watch(int fd, std::function<void(bool, bool)> on_ready)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, log_);
    if (c == NULL) {
        throw std::runtime_error("no free nginx connection for a backend fd");
    }

    c->log = log_;

    return std::make_unique<ngx_http_chat_io_watch_t>(c, std::move(on_ready));
}


std::unique_ptr<chat::Timer>
ngx_http_chat_loop_t::timer(std::function<void()> on_fire)
{
    return std::make_unique<ngx_http_chat_timer_t>(log_, std::move(on_fire));
}


void
ngx_http_chat_loop_t::post(std::function<void()> fn)
{
    posted_.push_back(std::move(fn));

    if (!posted_ev_.posted) {
        ngx_post_event(&posted_ev_, &ngx_posted_events);
    }
}


void
ngx_http_chat_loop_t::run_posted(ngx_event_t *ev)
{
    auto *loop = static_cast<ngx_http_chat_loop_t *>(ev->data);

    /* callbacks posted while running wait for the next round */

    if (loop->running_busy_) {
        /* a run inside a callback's run: a batch of its own */
        std::vector<std::function<void()>>  batch;

        batch.swap(loop->posted_);
        loop->run_batch(batch);
        return;
    }

    loop->running_busy_ = true;
    loop->running_.swap(loop->posted_);
    loop->run_batch(loop->running_);
    loop->running_.clear();
    loop->running_busy_ = false;
}


void
ngx_http_chat_loop_t::run_batch(std::vector<std::function<void()>> &batch)
{
    /* by index: nothing adds to a batch while it runs (post() adds to posted_) */

    for (std::size_t i = 0; i < batch.size(); i++) {
        try {
            batch[i]();

        } catch (const std::exception &e) {
            ngx_log_error(NGX_LOG_ALERT, log_, 0,
                          "chat: exception in posted callback: %s", e.what());
        } catch (...) {
            ngx_log_error(NGX_LOG_ALERT, log_, 0,
                          "chat: unknown exception in posted callback");
        }
    }
}


std::uint64_t
ngx_http_chat_loop_t::now_ms()
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (std::uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


std::int64_t
ngx_http_chat_loop_t::wall_ms()
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (std::int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


void
ngx_http_chat_loop_t::random_bytes(std::span<std::byte> out)
{
    if (RAND_bytes(reinterpret_cast<unsigned char *>(out.data()),
                   static_cast<int>(out.size())) != 1)
    {
        throw std::runtime_error("RAND_bytes failed");
    }
}


void
ngx_http_chat_loop_t::log(chat::LogLevel level, std::string_view line) noexcept
{
    ngx_uint_t  ngx_level;

    switch (level) {
    case chat::LogLevel::error:
        ngx_level = NGX_LOG_ERR;
        break;
    case chat::LogLevel::warn:
        ngx_level = NGX_LOG_WARN;
        break;
    case chat::LogLevel::notice:
        ngx_level = NGX_LOG_NOTICE;
        break;
    default:
        ngx_level = NGX_LOG_INFO;
        break;
    }

    ngx_log_error(ngx_level, ngx_cycle->log, 0, "chat: %*s",
                  line.size(), line.data());
}
