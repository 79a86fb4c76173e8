/*
 * The chat module: directives, module definition, and the per-worker state
 * (event loop adapter, Postgres pool, Redis client, event bus, FAQ sync)
 * created in init_process.
 */

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"
#include "ngx_http_chat_executor.h"
#include "ngx_http_chat_loop.h"

#include <fstream>
#include <memory>
#include <sstream>

#include "chat/agent.h"
#include "chat/bus.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/faq_sync.h"
#include "chat/json.h"
#include "chat/ops.h"
#include "chat/pg_pool.h"
#include "chat/redis_client.h"


static void *ngx_http_chat_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_chat_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_chat_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_chat_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_chat_init_process(ngx_cycle_t *cycle);
static void ngx_http_chat_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_chat_postgres(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_enum_t  ngx_http_chat_cookie_secure[] = {
    { ngx_string("off"), NGX_HTTP_CHAT_COOKIE_SECURE_OFF },
    { ngx_string("on"), NGX_HTTP_CHAT_COOKIE_SECURE_ON },
    { ngx_string("auto"), NGX_HTTP_CHAT_COOKIE_SECURE_AUTO },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_chat_commands[] = {

    { ngx_string("chat_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_chat_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_chat_postgres,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_chat_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_chat_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_rate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_chat_rate,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, rate),
      NULL },

    { ngx_string("chat_login_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_chat_login_limit,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_session_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_chat_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, session_rate),
      NULL },

    { ngx_string("chat_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, cookie_secure),
      &ngx_http_chat_cookie_secure },

    { ngx_string("chat_message_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, message_max),
      NULL },

    { ngx_string("chat_history"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, history),
      NULL },

    { ngx_string("chat_agent_grace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, agent_grace),
      NULL },

    { ngx_string("chat_ws_max_message"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, ws_max_message),
      NULL },

    { ngx_string("chat_allowed_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_chat_allowed_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, allowed_origins),
      NULL },

    { ngx_string("chat_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chat_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chat_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_chat_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_chat_filter_init,             /* postconfiguration */

    ngx_http_chat_create_main_conf,        /* create main configuration */
    ngx_http_chat_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_chat_create_loc_conf,         /* create location configuration */
    ngx_http_chat_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_chat_module = {
    NGX_MODULE_V1,
    &ngx_http_chat_module_ctx,             /* module context */
    ngx_http_chat_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_chat_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_chat_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


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
        try {
            if (ngx_http_chat_cache_version(zone, std::string(key)) < version) {
                ngx_http_chat_cache_remove(zone, std::string(key));
            }

        } catch (...) {
            /* no memory for the key: the entry expires with its TTL */
        }
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
    ngx_http_chat_zone_t                   *zone;
    ngx_msec_t                              grace;
    ngx_http_chat_worker_t                  view;
};

static std::unique_ptr<ngx_http_chat_worker_state_t>  ngx_http_chat_state;


ngx_http_chat_worker_t *
ngx_http_chat_worker(void)
{
    return ngx_http_chat_state ? &ngx_http_chat_state->view : NULL;
}


/*
 * Events raised in this worker: core's bus sends them to Redis (every worker
 * of every node), or, without Redis or while it is down, to this worker's
 * own sockets (and, without Redis, the node's other workers via the ring).
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


static ngx_int_t
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
                      });
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


static void
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


static void *
ngx_http_chat_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_chat_main_conf_t  *cmcf;

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_chat_main_conf_t)));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->zone = NULL;
     *     cmcf->pg_conninfo = { 0, NULL };
     *     cmcf->redis_ip = { 0, NULL };
     *     cmcf->secret = { 0, NULL };
     */

    cmcf->pg_pool_size = NGX_CONF_UNSET_UINT;
    cmcf->redis_port = NGX_CONF_UNSET_UINT;
    cmcf->message_max = NGX_CONF_UNSET_UINT;
    cmcf->history = NGX_CONF_UNSET_UINT;
    cmcf->rate.rate = NGX_CONF_UNSET_UINT;
    cmcf->rate.burst = NGX_CONF_UNSET_UINT;
    cmcf->agent_grace = NGX_CONF_UNSET_MSEC;
    cmcf->ws_max_message = NGX_CONF_UNSET_SIZE;
    cmcf->login_failures = NGX_CONF_UNSET_UINT;
    cmcf->login_address_failures = NGX_CONF_UNSET_UINT;
    cmcf->login_window = NGX_CONF_UNSET_MSEC;
    cmcf->login_queue = NGX_CONF_UNSET_UINT;
    cmcf->login_address_queue = NGX_CONF_UNSET_UINT;

    return cmcf;
}


static char *
ngx_http_chat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_conf_init_uint_value(cmcf->pg_pool_size, 4);
    ngx_conf_init_uint_value(cmcf->redis_port, 6379);
    ngx_conf_init_uint_value(cmcf->message_max, 4000);
    ngx_conf_init_uint_value(cmcf->history, 50);
    ngx_conf_init_uint_value(cmcf->rate.rate, 1000);     /* 1r/s */
    ngx_conf_init_uint_value(cmcf->rate.burst, 30);

    if (cmcf->history < 1 || cmcf->history > 200) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_history must be between 1 and 200");
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (cmcf->message_max < 1 || cmcf->message_max > 100000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_message_max must be between 1 and 100000");
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    ngx_conf_init_msec_value(cmcf->agent_grace, 60000);
    ngx_conf_init_uint_value(cmcf->login_failures, 10);
    ngx_conf_init_uint_value(cmcf->login_address_failures, 50);
    ngx_conf_init_msec_value(cmcf->login_window, 300000);
    ngx_conf_init_uint_value(cmcf->login_queue, 32);
    ngx_conf_init_uint_value(cmcf->login_address_queue, 2);
    ngx_conf_init_size_value(cmcf->ws_max_message, 64 * 1024);

    if (cmcf->ws_max_message < 125 || cmcf->ws_max_message > 16 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_ws_max_message must be between 125 and 16m");
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (cmcf->pg_conninfo.len) {
        /* agents' passwords are hashed on nginx's thread pool */
        ngx_str_t  pool_name = ngx_string("default");

        cmcf->thread_pool = ngx_thread_pool_add(cf, &pool_name);
        if (cmcf->thread_pool == NULL) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }
    }

    if (cmcf->pg_conninfo.len && cmcf->secret.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_postgres needs chat_secret (the key that "
                           "signs session tokens)");
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_chat_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_chat_loc_conf_t  *clcf;

    clcf = static_cast<ngx_http_chat_loc_conf_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_chat_loc_conf_t)));
    if (clcf == NULL) {
        return NULL;
    }

    clcf->api = NGX_CONF_UNSET;
    clcf->status = NGX_CONF_UNSET;
    clcf->session_rate.rate = NGX_CONF_UNSET_UINT;
    clcf->session_rate.burst = NGX_CONF_UNSET_UINT;
    clcf->cookie_secure = NGX_CONF_UNSET_UINT;
    clcf->allowed_origins = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);

    return clcf;
}


static char *
ngx_http_chat_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_chat_loc_conf_t  *prev = static_cast<ngx_http_chat_loc_conf_t *>(parent);
    ngx_http_chat_loc_conf_t  *conf = static_cast<ngx_http_chat_loc_conf_t *>(child);

    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_value(conf->status, prev->status, 0);
    ngx_conf_merge_uint_value(conf->cookie_secure, prev->cookie_secure,
                              NGX_HTTP_CHAT_COOKIE_SECURE_AUTO);

    /* chat_session_rate: 30r/m burst=60 */
    if (conf->session_rate.rate == NGX_CONF_UNSET_UINT) {
        conf->session_rate = prev->session_rate;
    }

    ngx_conf_init_uint_value(conf->session_rate.rate, 500);
    ngx_conf_init_uint_value(conf->session_rate.burst, 60);
    ngx_conf_merge_ptr_value(conf->allowed_origins, prev->allowed_origins,
                             NULL);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_chat_conf_str(ngx_conf_t *cf, std::string_view in, ngx_str_t *out)
{
    out->len = in.size();
    out->data = static_cast<u_char *>(ngx_pnalloc(cf->pool, in.size() + 1));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, in.data(), in.size());
    out->data[in.size()] = '\0';

    return NGX_OK;
}


/* chat_postgres "conninfo" [pool=N]; resolved here, in the master, once */
static char *
ngx_http_chat_postgres(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_int_t   n;
    ngx_str_t  *value;

    if (cmcf->pg_conninfo.len) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "pool=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected pool=N",
                               &value[2]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        n = ngx_atoi(value[2].data + 5, value[2].len - 5);
        if (n == NGX_ERROR || n < 1 || n > 64) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid pool size \"%V\", expected 1..64",
                               &value[2]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        cmcf->pg_pool_size = n;
    }

    try {
        auto resolved = chat::pg::resolve_conninfo(ngx_http_chat_sv(value[1]));

        if (!resolved.ok()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid chat_postgres conninfo: %s",
                               resolved.error().message.c_str());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (ngx_http_chat_conf_str(cf, resolved.value(), &cmcf->pg_conninfo)
            != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_postgres: %s", e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/* chat_redis HOST[:PORT]; a name is resolved here, in the master, once */
static char *
ngx_http_chat_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t  *value;

    if (cmcf->redis_ip.len) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    try {
        auto ep = chat::redis::resolve_endpoint(ngx_http_chat_sv(value[1]));

        if (!ep.ok()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid chat_redis address \"%V\": %s",
                               &value[1], ep.error().message.c_str());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (ngx_http_chat_conf_str(cf, ep.value().ip, &cmcf->redis_ip)
            != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        cmcf->redis_port = ep.value().port;

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_redis: %s", e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/* chat_secret FILE: the HMAC key; its bytes are never logged */
static char *
ngx_http_chat_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t  *value, file;

    if (cmcf->secret.len) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    try {
        std::ifstream       in(reinterpret_cast<const char *>(file.data),
                               std::ios::binary);
        std::ostringstream  buf;

        if (!in) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cannot read chat_secret file \"%V\"", &file);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        buf << in.rdbuf();
        std::string key = buf.str();

        while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
            key.pop_back();
        }

        if (key.size() < 32) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "chat_secret file \"%V\" holds %uz bytes, "
                               "at least 32 are needed", &file, key.size());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (ngx_http_chat_conf_str(cf, key, &cmcf->secret) != NGX_OK) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_secret: %s", e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/*
 * chat_login_limit [failures=N] [address=N] [window=time] [queue=N]
 *                  [address_queue=N];
 */
static char *
ngx_http_chat_login_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_int_t    n;
    ngx_str_t   *value, v;
    ngx_uint_t   i, *field;
    ngx_msec_t   ms;

    if (cmcf->login_failures != NGX_CONF_UNSET_UINT
        || cmcf->login_address_failures != NGX_CONF_UNSET_UINT
        || cmcf->login_window != NGX_CONF_UNSET_MSEC
        || cmcf->login_queue != NGX_CONF_UNSET_UINT
        || cmcf->login_address_queue != NGX_CONF_UNSET_UINT)
    {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            v.data = value[i].data + 7;
            v.len = value[i].len - 7;

            ms = ngx_parse_time(&v, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms < 1000
                || ms > 24 * 3600 * 1000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid window \"%V\", expected 1s..24h",
                                   &value[i]);
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            cmcf->login_window = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {
            field = &cmcf->login_failures;
            v.data = value[i].data + 9;
            v.len = value[i].len - 9;

        } else if (ngx_strncmp(value[i].data, "address=", 8) == 0) {
            field = &cmcf->login_address_failures;
            v.data = value[i].data + 8;
            v.len = value[i].len - 8;

        } else if (ngx_strncmp(value[i].data, "queue=", 6) == 0) {
            field = &cmcf->login_queue;
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;

        } else if (ngx_strncmp(value[i].data, "address_queue=", 14) == 0) {
            field = &cmcf->login_address_queue;
            v.data = value[i].data + 14;
            v.len = value[i].len - 14;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        n = ngx_atoi(v.data, v.len);
        if (n == NGX_ERROR || n < 1 || n > 10000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\", expected 1..10000",
                               &value[i]);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        *field = n;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_chat_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_loc_conf_t  *clcf = static_cast<ngx_http_chat_loc_conf_t *>(conf);

    ngx_http_core_loc_conf_t  *hclcf;

    if (clcf->api != NGX_CONF_UNSET) {
        return (char *) "is duplicate";
    }

    clcf->api = 1;

    hclcf = static_cast<ngx_http_core_loc_conf_t *>(
                ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    hclcf->handler = ngx_http_chat_api_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_chat_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_loc_conf_t  *clcf = static_cast<ngx_http_chat_loc_conf_t *>(conf);

    ngx_http_core_loc_conf_t  *hclcf;

    if (clcf->status != NGX_CONF_UNSET) {
        return (char *) "is duplicate";
    }

    clcf->status = 1;

    hclcf = static_cast<ngx_http_core_loc_conf_t *>(
                ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    hclcf->handler = ngx_http_chat_status_handler;

    return NGX_CONF_OK;
}
