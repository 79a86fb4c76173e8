/*
 * The worker's state: the event loop adapter, Postgres pool, Redis client,
 * event bus, use-case services and FAQ sync, created in init_process and torn
 * down in exit_process; the presence sweep, the FAQ sync timer, retention
 * (chat_retention's batches and the erased sessions' cached copies), the
 * periodic SQL jobs (the search index's merge, the unanswered questions'
 * fold) and publish.
 */

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"
#include "ngx_http_chat_executor.h"
#include "ngx_http_chat_loop.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "chat/agent.h"
#include "chat/bus.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/faq_sync.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/ops.h"
#include "chat/periodic.h"
#include "chat/pg_pool.h"
#include "chat/redis_client.h"
#include "chat/retention.h"
#include "chat/search_index.h"
#include "chat/unmatched.h"
#include "chat/webhook_sender.h"


/*
 * Where core's event bus reaches into this worker: its sockets, and the
 * zone's event ring and cache.
 */
struct ngx_http_chat_bus_sink_t : chat::bus::Sink {
    ngx_http_chat_zone_t  *zone = NULL;

    void dispatch(const chat::events::Event &e) noexcept override
    {
        ngx_http_chat_dispatch(e);
    }

    void share(const chat::events::Event &e) noexcept override
    {
        ngx_http_chat_ring_put(zone, e);
    }

    void forget(std::string_view key, std::int64_t version) noexcept override
    {
        ngx_http_chat_cache_forget(zone, key, version);
    }

    void end(std::span<const std::string> conversation_ids) noexcept override
    {
        ngx_http_chat_ws_end(conversation_ids);
    }

    bool listens(std::string_view conversation_id) const noexcept override
    {
        return ngx_http_chat_ws_listens(conversation_id);
    }
};


/* the FAQ set one worker loaded, kept in the zone for the others */
struct ngx_http_chat_faq_shelf_t : chat::faq_sync::Shelf {
    ngx_http_chat_zone_t  *zone = NULL;

    std::optional<Copy> get() noexcept override
    {
        try {
            Copy  c;

            if (ngx_http_chat_faq_get(zone, &c.list_json, &c.version)) {
                return c;
            }

        } catch (...) {
        }

        return std::nullopt;
    }

    void put(std::string_view json, std::int64_t version) noexcept override
    {
        ngx_http_chat_faq_put(zone, json, version);
    }
};


/*
 * A periodic SQL job (chat::periodic::Job) and its timer: asked once a second
 * by every worker, one at a time doing the work (the SQL's advisory lock).
 */
struct ngx_http_chat_periodic_t {
    std::unique_ptr<chat::periodic::Job>    job;
    /* after the job: destroyed first */
    std::unique_ptr<chat::Timer>            timer;
};


/*
 * The worker's C++ state. It lives exactly as long as the worker process:
 * built in init_process, torn down in exit_process (before nginx frees the
 * connections it borrowed).
 */
struct ngx_http_chat_worker_state_t {
    std::unique_ptr<ngx_http_chat_loop_t>   loop;
    std::unique_ptr<chat::pg::Pool>         pg;
    std::unique_ptr<chat::redis::Client>    redis;
    std::unique_ptr<chat::redis::Subscriber> events;
    std::unique_ptr<chat::customer::Service> customer;
    std::unique_ptr<ngx_http_chat_executor_t> executor;
    std::unique_ptr<chat::agent::Service>   agent;
    ngx_http_chat_bus_sink_t                sink;
    ngx_http_chat_faq_shelf_t               shelf;
    std::unique_ptr<chat::bus::Bus>         bus;
    std::unique_ptr<chat::ops::Service>     ops;
    std::unique_ptr<chat::faq_sync::FaqSync> faq;
    std::unique_ptr<chat::Timer>            faq_timer;
    std::unique_ptr<chat::Timer>            sweep_timer;
    std::unique_ptr<chat::retention::Service> retention;
    std::unique_ptr<chat::Timer>            retention_timer;
    std::unique_ptr<chat::Timer>            erasure_timer;
    ngx_http_chat_periodic_t                search;
    ngx_http_chat_periodic_t                unmatched;
    std::int64_t                            retention_s;
    std::int64_t                            erased_after;
    ngx_http_chat_zone_t                   *zone;
    ngx_msec_t                              grace;
    ngx_http_chat_worker_t                  view;
    /* last: destroyed first, before the pool and loop it uses */
    std::unique_ptr<chat::webhook::Sender>  webhooks;
};

static std::unique_ptr<ngx_http_chat_worker_state_t>  ngx_http_chat_state;


ngx_http_chat_worker_t *
ngx_http_chat_worker(void)
{
    return ngx_http_chat_state ? &ngx_http_chat_state->view : NULL;
}


/*
 * Events raised in this worker: core's bus sends them to Redis (every worker
 * of every node; this worker's sockets hear them when its subscription hears
 * them back, not parsed again), or, without Redis or while it is down, to
 * this worker's own sockets (and, without Redis, the node's other workers via
 * the ring).
 */
void
ngx_http_chat_publish(const std::vector<chat::events::Event> &events) noexcept
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (w && w->bus) {
        w->bus->publish(events);
        return;
    }

    for (const auto &e : events) {
        if (!e.json.empty()) {
            ngx_http_chat_dispatch(e);
        }
    }
}


/* the same, the events taken: the bus keeps them without a copy */
void
ngx_http_chat_publish(std::vector<chat::events::Event> &&events) noexcept
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (w && w->bus) {
        w->bus->publish(std::move(events));
        return;
    }

    ngx_http_chat_publish(static_cast<const std::vector<chat::events::Event> &>(
                              events));
}


/*
 * Conversations changed as a side effect of a write (assigned when an agent
 * came online or a slot freed, requeued by the sweep): the bus reads each
 * once and publishes its events, so waiting customers hear it at once.
 */
void
ngx_http_chat_publish_side_effects(const std::vector<std::string> &ids)
    noexcept
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (w && w->bus) {
        w->bus->publish_side_effects(ids);
    }
}


/*
 * Keeps the worker's FAQ current (chat::faq_sync: the zone's copy first,
 * then Postgres's version), so an admin's change reaches every worker of
 * every node without a restart; here only the timer and the log.
 */
static void
ngx_http_chat_sync_faq(ngx_http_chat_worker_state_t *st)
{
    st->faq->run([st](chat::faq_sync::Step step) {
        if (step.error) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chat: loading the FAQ failed: %s",
                          step.error->message.c_str());
        }

        st->faq_timer->arm(step.next_ms);
    });
}


/*
 * The presence sweep: agents silent longer than chat_agent_grace go offline
 * and their chats back to the front of the queue. Every worker runs it; an
 * advisory lock in chat_sweep() lets one node at a time do the work.
 */
static void
ngx_http_chat_sweep(ngx_http_chat_worker_state_t *st)
{
    st->agent->sweep(st->grace, [st](chat::Result<std::string> res) {
        if (res.ok()) {
            ngx_http_chat_publish_side_effects(
                chat::events::side_effects(res.value()));
        }

        if (!res.ok() && res.error().code != chat::Errc::unavailable) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "chat: agent sweep failed: %s",
                          res.error().message.c_str());
        }

        st->sweep_timer->arm(5000);
    });
}


/*
 * chat_retention: one batch of old closed conversations deleted
 * (chat_retention_sweep, sql/functions/97_retention.sql: one node at a time,
 * small batches, short locks), the next one soon while batches come back
 * full. Every worker runs it; the SQL's advisory lock sorts them out.
 */
static void
ngx_http_chat_retention_sweep(ngx_http_chat_worker_state_t *st)
{
    st->retention->sweep(st->retention_s, chat::limits::kRetentionBatch,
        [st](chat::Result<chat::retention::Sweep> res) {
            std::optional<chat::retention::Sweep>  last;

            if (res.ok()) {
                last = res.value();

                if (last->conversations || last->customers) {
                    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                                  "chat: retention deleted %L conversations, "
                                  "%L customers, %L unmatched question rows",
                                  (long long) last->conversations,
                                  (long long) last->customers,
                                  (long long) last->unmatched);
                }

            } else if (res.error().code != chat::Errc::unavailable) {
                ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                              "chat: retention failed: %s",
                              res.error().message.c_str());
            }

            st->retention_timer->arm(
                chat::retention::next_sweep_ms(st->retention_s, last));
        });
}


/*
 * The sessions whose conversations retention or `chatctl erase` deleted:
 * their cached copies go, so a cached GET /conversation never serves a
 * deleted conversation, and the sockets of those conversations close (4410).
 * Redis tells every worker at once (chatctl publishes forget and end
 * messages, bus::Bus::heard); this poll is what also works without Redis,
 * catches a message that was missed, and is how retention's deletions reach
 * the sockets.
 */
static void
ngx_http_chat_erasures(ngx_http_chat_worker_state_t *st)
{
    st->retention->erased_since(st->erased_after,
        [st](chat::Result<chat::retention::Erased> res) {
            ngx_msec_t  next = 2000;

            if (res.ok()) {
                for (const auto &k : res.value().sessions) {
                    ngx_http_chat_cache_remove(st->zone, k);
                }

                ngx_http_chat_ws_end(res.value().conversations);

                st->erased_after = res.value().last;

                if (res.value().sessions.size()
                    >= chat::retention::kForgetMax)
                {
                    next = 1;
                }

            } else if (res.error().code != chat::Errc::unavailable) {
                /* e.g. a new module before `chatctl migrate`: not every 2 s */
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "chat: reading erased sessions failed "
                              "(next try in 30 s): %s",
                              res.error().message.c_str());
                next = 30000;
            }

            st->erasure_timer->arm(next);
        });
}


/*
 * A periodic SQL job asked, and asked again when its step says: at once, in
 * a second, or in 30 s after a warning (chat::periodic::Job::step).
 */
static void
ngx_http_chat_periodic_run(ngx_http_chat_periodic_t *p)
{
    p->job->run([p](chat::periodic::Step step) {
        if (step.warning) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0, "chat: %s",
                          step.warning->c_str());
        }

        p->timer->arm(static_cast<std::uint64_t>(step.next_ms));
    });
}


static void
ngx_http_chat_periodic_start(ngx_http_chat_worker_state_t *st,
    ngx_http_chat_periodic_t *p, std::unique_ptr<chat::periodic::Job> job)
{
    p->job = std::move(job);
    p->timer = st->loop->timer([p] {
        ngx_http_chat_periodic_run(p);
    });
    p->timer->arm(chat::periodic::kEveryMs);
}


ngx_int_t
ngx_http_chat_init_process(ngx_cycle_t *cycle)
{
    ngx_http_chat_main_conf_t  *cmcf;

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_cycle_get_module_main_conf(cycle, ngx_http_chat_module));

    if (cmcf == NULL) {
        return NGX_OK;
    }

    try {
        auto st = std::make_unique<ngx_http_chat_worker_state_t>();

        st->loop = std::make_unique<ngx_http_chat_loop_t>(cycle->log);

        if (cmcf->pg_conninfo.len) {
            chat::pg::PoolConfig  pc;

            pc.conninfo = std::string(ngx_http_chat_sv(cmcf->pg_conninfo));
            pc.size = (int) cmcf->pg_pool_size;
            pc.prepared_statements = cmcf->pg_prepared;
            /* a query the pool gave up on stops on the server a second
               later (a report over a huge range holds no backend) */
            pc.statement_timeout_ms = pc.query_timeout_ms + 1000;

            st->pg = std::make_unique<chat::pg::Pool>(*st->loop, std::move(pc));
            st->pg->start();

            chat::customer::Settings  cs;

            cs.message_max = cmcf->message_max;
            cs.history = (int) cmcf->history;

            st->customer = std::make_unique<chat::customer::Service>(
                               *st->loop, *st->pg,
                               std::string(ngx_http_chat_sv(cmcf->secret)),
                               cs);

            ngx_str_t  pool_name = ngx_string("default");

            st->executor = std::make_unique<ngx_http_chat_executor_t>(
                               ngx_thread_pool_get(cycle, &pool_name),
                               cycle->log, *st->loop, cmcf->login_queue);

            chat::agent::Settings  as;

            as.message_max = cmcf->message_max;
            as.login_max_failures = (int) cmcf->login_failures;
            as.login_max_address_failures = (int) cmcf->login_address_failures;
            as.login_window_s = (int) ((cmcf->login_window + 999) / 1000);
            as.login_queue = (int) cmcf->login_queue;
            as.login_address_queue = (int) cmcf->login_address_queue;

            st->agent = std::make_unique<chat::agent::Service>(
                            *st->loop, *st->pg, *st->executor,
                            std::string(ngx_http_chat_sv(cmcf->secret)), as);

            auto  *raw = st.get();

            st->zone = cmcf->zone;
            st->grace = cmcf->agent_grace;

            st->shelf.zone = cmcf->zone;
            st->faq = std::make_unique<chat::faq_sync::FaqSync>(
                          *st->customer, *st->pg, st->shelf);

            st->faq_timer = st->loop->timer([raw] {
                ngx_http_chat_sync_faq(raw);
            });
            ngx_http_chat_sync_faq(raw);

            st->sweep_timer = st->loop->timer([raw] {
                ngx_http_chat_sweep(raw);
            });
            st->sweep_timer->arm(5000);

            st->retention = std::make_unique<chat::retention::Service>(
                                *st->loop, *st->pg);
            st->erased_after = 0;
            st->erasure_timer = st->loop->timer([raw] {
                ngx_http_chat_erasures(raw);
            });
            st->erasure_timer->arm(2000);

            /*
             * the search index's pending list merged by a query no post
             * waits on (sql/functions/98_search_index.sql): else the post
             * that finds it full merges it inside its batch
             */
            ngx_http_chat_periodic_start(raw, &st->search,
                std::make_unique<chat::search_index::Flusher>(*st->loop,
                                                              *st->pg));

            /*
             * the questions the bot fell back on, appended by the posts to
             * unmatched_pending, folded into the reports' counts by a query
             * no post waits on (sql/functions/92_feedback.sql)
             */
            ngx_http_chat_periodic_start(raw, &st->unmatched,
                std::make_unique<chat::unmatched::Folder>(*st->loop,
                                                          *st->pg));

            st->retention_s = cmcf->retention;

            if (st->retention_s > 0) {
                st->retention_timer = st->loop->timer([raw] {
                    ngx_http_chat_retention_sweep(raw);
                });
                st->retention_timer->arm(
                    chat::retention::next_sweep_ms(st->retention_s,
                                                   std::nullopt));
            }

            chat::webhook::SenderConfig  wc;

            wc.backoff_ms = cmcf->webhook_backoff;
            wc.allow_private = cmcf->webhook_private != 0;
            wc.chat_secret = std::string(ngx_http_chat_sv(cmcf->secret));
            wc.ca_file = std::string(ngx_http_chat_sv(cmcf->webhook_ca));
            wc.tick_ms = std::min<std::uint64_t>(1000,
                             std::max<std::uint64_t>(50, wc.backoff_ms / 2));

            st->webhooks = std::make_unique<chat::webhook::Sender>(
                *st->loop, *st->pg, wc, [](const std::string &m) {
                    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                                  "chat: %s", m.c_str());
                });
            st->webhooks->start();
        }

        if (cmcf->redis_ip.len) {
            chat::redis::Config  rc;

            rc.endpoint.ip = std::string(ngx_http_chat_sv(cmcf->redis_ip));
            rc.endpoint.port = (int) cmcf->redis_port;

            /* every worker of every node hears every event once */
            auto  *raw = st.get();

            st->events = std::make_unique<chat::redis::Subscriber>(
                *st->loop, rc, chat::bus::channels(),
                std::vector<std::string>{},
                [raw](std::string_view channel, std::string_view payload) {
                    if (raw->bus) {
                        raw->bus->heard(channel, payload);
                    }
                },
                [raw](bool up) {
                    /* no echo of this worker's events while it is down */
                    if (raw->bus) {
                        raw->bus->subscribed(up);
                    }
                });
            st->events->start();

            st->redis = std::make_unique<chat::redis::Client>(*st->loop,
                                                              std::move(rc));
            st->redis->start();
        }

        if (st->redis == NULL) {
            ngx_http_chat_ring_start(cmcf->zone, cycle->log);
        }

        st->sink.zone = cmcf->zone;
        st->bus = std::make_unique<chat::bus::Bus>(
                      st->sink, st->pg.get(), st->redis.get(),
                      [](const chat::Error &e) {
                          ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                                        "chat: %s", e.message.c_str());
                      },
                      cmcf->redis_batch ? st->loop.get() : NULL);
        if (st->events) {
            /* not confirmed yet: this worker's sockets hear its events at once */
            st->bus->subscribed(st->events->connected());
        }

        st->ops = std::make_unique<chat::ops::Service>(
                      *st->loop, st->pg.get(), st->redis.get());

        st->view.loop = st->loop.get();
        st->view.pg = st->pg.get();
        st->view.redis = st->redis.get();
        st->view.customer = st->customer.get();
        st->view.agent = st->agent.get();
        st->view.bus = st->bus.get();
        st->view.ops = st->ops.get();

        ngx_http_chat_state = std::move(st);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "chat: worker init failed: %s", e.what());
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_chat_exit_process(ngx_cycle_t *cycle)
{
    try {
        ngx_http_chat_ring_stop();
        ngx_http_chat_state.reset();

    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "chat: exception while shutting the worker down");
    }
}
