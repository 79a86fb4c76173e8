/*
 * Runs core's CPU-heavy work on nginx's thread pool ("default", added by the
 * module at configuration time) and its completion on the event loop.
 */

#include "ngx_http_chat_executor.h"

#include <memory>

#include <openssl/crypto.h>


namespace {

struct ngx_http_chat_job_t {
    std::function<void()>      work;
    std::function<void()>      done;
    ngx_http_chat_executor_t  *executor;    /* outlives its tasks: both end
                                               with the worker */
};


void
ngx_http_chat_job_work(void *data, ngx_log_t *log)
{
    auto *job = *static_cast<ngx_http_chat_job_t **>(data);

    try {
        job->work();

    } catch (...) {
        /* done() still runs; the use case sees its work did not happen */
    }

    /*
     * The thread keeps no OpenSSL state between tasks (the KDF's error queue,
     * its per-thread handlers).  At worker exit nginx's thread pool lets each
     * thread go (pthread_exit) without waiting for it to end, so a thread
     * that still held such state freed it in its key destructor while the
     * main thread's exit() ran OpenSSL's atexit cleanup of the same lists:
     * "double free or corruption", a worker exited on signal 6 after "exit".
     */
    OPENSSL_thread_stop();
}


void
ngx_http_chat_job_done(ngx_event_t *ev)
{
    auto   *task = static_cast<ngx_thread_task_t *>(ev->data);
    std::unique_ptr<ngx_http_chat_job_t>  job(
        *static_cast<ngx_http_chat_job_t **>(task->ctx));

    ngx_free(task);
    job->executor->finished();

    try {
        job->done();

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chat: exception in thread task completion: %s",
                      e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "chat: unknown exception in thread task completion");
    }
}

} /* namespace */


void
ngx_http_chat_executor_t::run(std::function<void()> work,
    std::function<void()> done)
{
    ngx_thread_task_t  *task;

    auto job = std::make_unique<ngx_http_chat_job_t>();
    job->work = std::move(work);
    job->done = std::move(done);
    job->executor = this;

    if (pending_ >= capacity_) {
        /* the bounded queue is full: refused at once, work() never runs */
        loop_.post(std::move(job->done));
        return;
    }

    /* the task outlives any request pool: plain heap, freed on completion */
    task = static_cast<ngx_thread_task_t *>(
               ngx_calloc(sizeof(ngx_thread_task_t)
                          + sizeof(ngx_http_chat_job_t *), log_));
    if (task == NULL) {
        loop_.post(std::move(job->done));
        return;
    }

    task->ctx = task + 1;
    *static_cast<ngx_http_chat_job_t **>(task->ctx) = job.get();
    task->handler = ngx_http_chat_job_work;
    task->event.handler = ngx_http_chat_job_done;
    task->event.data = task;
    task->event.log = log_;

    if (pool_ == NULL || ngx_thread_task_post(pool_, task) != NGX_OK) {
        /* Executor's contract: done() still runs, work() does not */
        ngx_free(task);
        loop_.post(std::move(job->done));
        return;
    }

    pending_++;
    (void) job.release();
}
