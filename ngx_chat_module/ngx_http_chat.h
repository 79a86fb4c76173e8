/*
 * Shared declarations of the chat module's glue: nginx headers, configuration,
 * the per-worker state and the functions the glue files call on each other.
 */

#ifndef NGX_HTTP_CHAT_H_INCLUDED_
#define NGX_HTTP_CHAT_H_INCLUDED_

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>
}

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/http_rules.h"
#include "chat/outcome.h"
#include "chat/page_runs.h"
#include "chat/rate_buckets.h"
#include "chat/result.h"


/*
 * Counters kept in the shared zone, a set per worker number summed when read
 * (ngx_http_chat_counters_sum): a cache line that both workers write on
 * every request moves between their cores at each write.
 */
typedef struct {
    ngx_atomic_t                requests;
    ngx_atomic_t                errors;          /* answers with status >= 500 */
    ngx_atomic_t                cache_hits;
    ngx_atomic_t                cache_misses;
    ngx_atomic_t                reloads;
    ngx_atomic_t                ring_dropped;    /* events a lagging worker
                                                    missed (no Redis) */
} ngx_http_chat_counters_t;

/* worker numbers beyond share a set (atomic adds: still exact) */
#define NGX_HTTP_CHAT_COUNTER_SETS  32

/* two lines: Intel's adjacent-line prefetcher fetches them in pairs */
typedef union {
    ngx_http_chat_counters_t    c;
    u_char                      lines[128];
} ngx_http_chat_counter_set_t;

/* token buckets (chat::rate, in the zone): sets of chat::rate::kWays */
#define NGX_HTTP_CHAT_RATE_SLOTS  4096

/* a rate: chat_rate, chat_session_rate */
typedef struct {
    ngx_uint_t                  rate;            /* millionths of a token
                                                    per millisecond */
    ngx_uint_t                  burst;
} ngx_http_chat_limit_t;

/* one event in the no-Redis ring (ngx_http_chat_ring.cpp) */
#define NGX_HTTP_CHAT_RING_SIZE  1024

typedef struct {
    uint64_t                    seq;
    ngx_pid_t                   pid;             /* the worker that raised it */
    size_t                      len;
    u_char                     *data;            /* encoded event, slab */
} ngx_http_chat_ring_t;

/* the head of the shared zone; everything else lives in the slab pool */
typedef struct {
    ngx_http_chat_counter_set_t *counters;       /* COUNTER_SETS, a page */
    chat::rate::Bucket         *buckets;         /* per session: chat_rate */
    chat::rate::Bucket         *session_buckets; /* per address:
                                                    chat_session_rate */

    /* ngx_http_chat_cache.cpp, under shpool->mutex; zero is a valid start */
    void                      **cache_buckets;     /* hash index, chained */
    ngx_uint_t                  cache_mask;        /* buckets - 1 */
    void                       *cache_bucket0;     /* the one bucket if the
                                                      index found no room */
    ngx_queue_t                 cache_lru;         /* most recent first */
    ngx_uint_t                  cache_entries;
    ngx_uint_t                  cache_evictions;
    ngx_uint_t                  cache_alloc_failures;
    void                       *cache_pending;     /* written, not linked */
    void                       *cache_victim;      /* being unlinked */
    ngx_uint_t                  cache_linking;     /* tree/LRU mid-change */

    /*
     * the pages of blocks above half a page (chat/page_runs.h): one tag a
     * page of the zone, the pages taken from the slab in extents; NULL: no
     * room for the tags, every block from the slab
     */
    chat::pages::Head           cache_pages;
    chat::pages::Tag           *cache_tags;
    ngx_uint_t                  cache_ntags;

    /* ngx_http_chat_faq.cpp, under shpool->mutex */
    u_char                     *faq_blob;          /* chat_faq_json() text */
    size_t                      faq_len;
    int64_t                     faq_version;

    /* ngx_http_chat_ring.cpp, under shpool->mutex (head also read alone) */
    ngx_http_chat_ring_t        ring[NGX_HTTP_CHAT_RING_SIZE];
    volatile uint64_t           ring_head;
} ngx_http_chat_shctx_t;

typedef struct {
    ngx_shm_zone_t             *shm_zone;
    ngx_http_chat_shctx_t      *sh;
    ngx_slab_pool_t            *shpool;
    size_t                      size;
} ngx_http_chat_zone_t;

typedef struct {
    ngx_http_chat_zone_t       *zone;

    ngx_str_t                   pg_conninfo;     /* resolved: hostaddr set */
    ngx_uint_t                  pg_pool_size;
    ngx_uint_t                  pg_prepared;    /* statements per connection */

    ngx_str_t                   redis_ip;        /* empty: no Redis */
    ngx_uint_t                  redis_port;
    ngx_flag_t                  redis_batch;     /* a loop turn's events in one
                                                    PUBLISH (batch=on) */

    ngx_str_t                   secret;          /* HMAC key bytes */

    ngx_uint_t                  message_max;     /* characters per message */
    ngx_uint_t                  history;         /* messages per conversation
                                                    in the cache and answers */
    ngx_msec_t                  agent_grace;     /* offline after silence */
    ngx_int_t                   retention;       /* chat_retention, seconds;
                                                    0: off */
    size_t                      ws_max_message;  /* WebSocket frame/message */
    ngx_thread_pool_t          *thread_pool;     /* password hashing */

    ngx_http_chat_limit_t       rate;            /* chat_rate */

    /* chat_login_limit */
    ngx_uint_t                  login_failures;  /* per username and address */
    ngx_uint_t                  login_address_failures;
    ngx_msec_t                  login_window;
    ngx_uint_t                  login_queue;     /* logins in progress, worker */
    ngx_uint_t                  login_address_queue;

    ngx_msec_t                  webhook_backoff; /* first retry's delay */
    ngx_flag_t                  webhook_private; /* private addresses ok */
    ngx_str_t                   webhook_ca;      /* extra trusted CAs (PEM),
                                                    full path */
} ngx_http_chat_main_conf_t;

#define NGX_HTTP_CHAT_COOKIE_SECURE_OFF   0
#define NGX_HTTP_CHAT_COOKIE_SECURE_ON    1
#define NGX_HTTP_CHAT_COOKIE_SECURE_AUTO  2

typedef struct {
    ngx_flag_t                  api;
    ngx_flag_t                  status;
    ngx_http_chat_limit_t       session_rate;    /* chat_session_rate (http,
                                                    server) */
    ngx_uint_t                  cookie_secure;   /* chat_cookie_secure */
    ngx_array_t                *allowed_origins; /* of ngx_str_t, normalized */
    ngx_str_t                   site;            /* chat_site (server, location) */
} ngx_http_chat_loc_conf_t;


extern ngx_module_t  ngx_http_chat_module;

/* ngx_http_chat_module.cpp: the request's chat_site */
std::string_view ngx_http_chat_site(ngx_http_request_t *r);


/* ngx_http_chat_zone.cpp */
char *ngx_http_chat_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_http_chat_counters_t *ngx_http_chat_zone_counters(
    ngx_http_chat_zone_t *zone);
ngx_http_chat_counters_t *ngx_http_chat_counters(ngx_http_chat_main_conf_t *cmcf);
bool ngx_http_chat_counters_sum(ngx_http_chat_main_conf_t *cmcf,
    ngx_http_chat_counters_t *sum);
#define ngx_http_chat_count(cmcf, name)                                      \
    do {                                                                     \
        ngx_http_chat_counters_t *c_ = ngx_http_chat_counters(cmcf);         \
        if (c_) {                                                            \
            (void) ngx_atomic_fetch_add(&c_->name, 1);                       \
        }                                                                    \
    } while (0)

/* ngx_http_chat_reply.cpp: every answer goes through these */
ngx_int_t ngx_http_chat_send(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view body, const char *content_type) noexcept;
ngx_int_t ngx_http_chat_send_json(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view json) noexcept;
/* a JSON body already in r->pool memory, sent as it is, with no copy */
ngx_int_t ngx_http_chat_send_pooled_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t json) noexcept;
ngx_int_t ngx_http_chat_send_error(ngx_http_request_t *r, chat::Errc code,
    std::string_view message) noexcept;
ngx_int_t ngx_http_chat_retry_after(ngx_http_request_t *r, uint64_t seconds)
    noexcept;
ngx_int_t ngx_http_chat_add_header(ngx_http_request_t *r, const char *key,
    std::string_view value) noexcept;
ngx_int_t ngx_http_chat_filter_init(ngx_conf_t *cf);
/*
 * Requests answered later, from a completion (Postgres, Redis, the thread
 * pool), all wait the same way: ngx_http_chat_suspend(r, start) counts r
 * (r->main->count++), parks it under a never-reused handle and calls
 * start(id), which starts the work. The completion captures the handle,
 * never r: ngx_http_chat_resume(id, answer) finishes the request exactly
 * once (answer(r) -> rc, finalized); a second call, or one for a request
 * nginx freed meanwhile (client abort, worker_shutdown_timeout), does
 * nothing. ngx_http_chat_parked(id) looks without finishing: r, or NULL.
 *
 * suspend returns what the handler returns: NGX_DONE (a body handler's
 * reader finalizes with it), or 500 when parking failed (nothing counted).
 * A start that throws finishes the request with 500.
 *
 * ngx_http_chat_park() is the registry under it, also for a request that
 * keeps its own count (a WebSocket).
 */
typedef ngx_rbtree_key_t  ngx_http_chat_park_t;

ngx_http_chat_park_t ngx_http_chat_park(ngx_http_request_t *r) noexcept;
ngx_http_request_t *ngx_http_chat_parked(ngx_http_chat_park_t id) noexcept;
ngx_http_request_t *ngx_http_chat_unpark(ngx_http_chat_park_t id) noexcept;
void ngx_http_chat_finish(ngx_http_request_t *r, ngx_int_t rc) noexcept;

template <typename F>
void
ngx_http_chat_resume(ngx_http_chat_park_t id, F &&answer) noexcept
{
    ngx_http_request_t  *r = ngx_http_chat_unpark(id);

    if (r != NULL) {
        ngx_http_chat_finish(r, answer(r));
    }
}

template <typename F>
ngx_int_t
ngx_http_chat_suspend(ngx_http_request_t *r, F &&start) noexcept
{
    ngx_http_chat_park_t  id = ngx_http_chat_park(r);

    if (id == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    try {
        start(id);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chat: starting the request's work failed: %s",
                      e.what());
        ngx_http_chat_resume(id, [](ngx_http_request_t *) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        });
    }

    return NGX_DONE;
}

/*
 * ngx_http_chat_outcome.cpp: every use case's chat::Outcome is carried out
 * here. ngx_http_chat_outcome_done() is the completion of a request
 * suspended for a use case: the effects first (cache, events, side effects:
 * a committed write is heard even when the request is gone), then the
 * answer if the request is still there. _send() answers at once. _effects()
 * applies the effects alone: also those of a WebSocket frame's outcome.
 */
chat::OutcomeDone ngx_http_chat_outcome_done(ngx_http_request_t *r,
    ngx_http_chat_park_t id) noexcept;
void ngx_http_chat_outcome_effects(ngx_http_chat_main_conf_t *cmcf,
    chat::Outcome &o) noexcept;
ngx_int_t ngx_http_chat_outcome_send(ngx_http_request_t *r,
    const chat::Result<chat::Outcome> &res) noexcept;

/* ngx_http_chat_faq.cpp */
bool ngx_http_chat_faq_get(ngx_http_chat_zone_t *zone, std::string *json,
    int64_t *version) noexcept;
void ngx_http_chat_faq_put(ngx_http_chat_zone_t *zone, std::string_view json,
    int64_t version) noexcept;

/* ngx_http_chat_request.cpp */

/* a body handler returns the request's rc; the reader finalizes with it */
typedef ngx_int_t (*ngx_http_chat_body_pt)(ngx_http_request_t *r,
    std::string body);

typedef struct ngx_http_chat_route_s  ngx_http_chat_route_t;

/* per-request state, pool-allocated: plain data only */
typedef struct {
    ngx_http_chat_body_pt         body_handler;
    const ngx_http_chat_route_t  *route;
    ngx_str_t                     principal;   /* session id */
    ngx_str_t                     id;          /* the route's {id}, if any */
    ngx_buf_t                    *error_body;  /* JSON replacing nginx's
                                                  page */
    unsigned                      own_response:1;
    unsigned                      error_sent:1;
} ngx_http_chat_ctx_t;

typedef chat::http::Credentials  ngx_http_chat_credentials_t;

/*
 * Where a token may come from. "?token=" only on the WebSocket upgrades
 * (browsers cannot set headers there); a URL is logged, cached and can be
 * forged cross-site, so REST endpoints never read it.
 */
typedef enum {
    ngx_http_chat_token_header_or_cookie = 0,
    ngx_http_chat_token_or_url
} ngx_http_chat_token_src_e;

ngx_http_chat_ctx_t *ngx_http_chat_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_chat_ctx_set_principal(ngx_http_request_t *r,
    std::string_view id);
ngx_int_t ngx_http_chat_ctx_set_id(ngx_http_request_t *r,
    std::string_view id);
ngx_int_t ngx_http_chat_read_body(ngx_http_request_t *r,
    ngx_http_chat_body_pt handler);
std::string_view ngx_http_chat_header(ngx_http_request_t *r,
    std::string_view name);
ngx_http_chat_credentials_t ngx_http_chat_credentials(ngx_http_request_t *r,
    std::string_view cookie, ngx_http_chat_token_src_e src);
bool ngx_http_chat_csrf_ok(ngx_http_request_t *r);
ngx_int_t ngx_http_chat_set_cookie(ngx_http_request_t *r,
    std::string_view name, std::string_view value, ngx_int_t max_age);

/*
 * ngx_http_chat_api.cpp: routing. One table for all of /v1/...: each part
 * (ops, customer, agent and admin) lists its routes; a "{id}" segment matches
 * any non-empty segment and goes to ctx->id. A known path with another
 * method is 405, an unknown one 404.
 *
 * A route says who may call it, whether it reads its body, which rate limit
 * it takes, and what runs: a use case (the request is suspended and the use
 * case completes with a chat::Outcome) or a handler that answers itself.
 * The steps, in this order: the service is there (else 503), the customer's
 * token (verified here: HMAC) and CSRF, the rate limit, the body, the
 * agent's token (verified in Postgres) and CSRF, the call.
 */
/* the customer's kinds first, then the agent's: the order is used */
typedef enum {
    ngx_http_chat_auth_none = 0,     /* anyone; no service checked */
    ngx_http_chat_auth_session,      /* customer service, token optional */
    ngx_http_chat_auth_customer,     /* a session token */
    ngx_http_chat_auth_login,        /* agent service, no token */
    ngx_http_chat_auth_agent         /* an agent token */
} ngx_http_chat_auth_e;

#define NGX_HTTP_CHAT_BODY          0x01  /* reads its body, else discards */
#define NGX_HTTP_CHAT_RATE          0x02  /* chat_rate, per session (per
                                             agent on an agent route, once
                                             authenticated) */
#define NGX_HTTP_CHAT_RATE_ADDRESS  0x04  /* chat_session_rate, per address,
                                             for a request without a valid
                                             session token */

namespace chat::agent { struct Principal; }

/* what a route's use case or handler gets */
struct ngx_http_chat_call_t {
    ngx_http_request_t              *r;
    std::string_view                 id;       /* the route's {id} */
    std::string_view                 args;     /* the query string */
    std::string                      body;
    std::string_view                 sid;      /* customer: the session, in
                                                  r->pool */
    const chat::agent::Principal    *agent;    /* agent: who asks */
    std::string_view                 site;     /* the location's chat_site */
};

typedef void (*ngx_http_chat_use_case_pt)(const ngx_http_chat_call_t &c,
    chat::OutcomeDone done);
typedef ngx_int_t (*ngx_http_chat_handler_pt)(ngx_http_chat_call_t &c);

struct ngx_http_chat_route_s {
    ngx_uint_t                  methods;   /* NGX_HTTP_GET|NGX_HTTP_POST|... */
    const char                 *path;      /* below the location:
                                              "v1/admin/faq/{id}" */
    ngx_http_chat_auth_e        auth;
    ngx_uint_t                  flags;     /* NGX_HTTP_CHAT_BODY|... */
    ngx_http_chat_use_case_pt   use_case;  /* either this ... */
    ngx_http_chat_handler_pt    handler;   /* ... or this */
};

ngx_int_t ngx_http_chat_api_handler(ngx_http_request_t *r);

/* ngx_http_chat_status.cpp, _customer.cpp, _agent.cpp */
extern const ngx_http_chat_route_t  ngx_http_chat_ops_routes[];
extern const ngx_http_chat_route_t  ngx_http_chat_customer_routes[];
extern const ngx_http_chat_route_t  ngx_http_chat_agent_routes[];

/* ngx_http_chat_ws.cpp: WebSockets and the worker's events */
namespace chat::events { struct Event; }
ngx_int_t ngx_http_chat_ws_handler(ngx_http_request_t *r, bool agent);
ngx_uint_t ngx_http_chat_ws_count(void);
void ngx_http_chat_dispatch(const chat::events::Event &e) noexcept;
bool ngx_http_chat_ws_listens(std::string_view conversation_id) noexcept;
void ngx_http_chat_ws_resume_all(std::string_view reason) noexcept;
void ngx_http_chat_ws_end(std::span<const std::string> conversation_ids)
    noexcept;
char *ngx_http_chat_allowed_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_chat_ring.cpp: events between workers without Redis */
void ngx_http_chat_ring_put(ngx_http_chat_zone_t *zone,
    const chat::events::Event &e) noexcept;
void ngx_http_chat_ring_start(ngx_http_chat_zone_t *zone, ngx_log_t *log)
    noexcept;
void ngx_http_chat_ring_stop(void) noexcept;

/* ngx_http_chat_rate.cpp: token buckets in the zone */
ngx_msec_t ngx_http_chat_rate_take(ngx_http_chat_main_conf_t *cmcf,
    chat::rate::Bucket *table, const ngx_http_chat_limit_t *limit,
    std::string_view key);
char *ngx_http_chat_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_http_chat_status.cpp */
ngx_int_t ngx_http_chat_status_handler(ngx_http_request_t *r);

/* ngx_http_chat_worker.cpp: per-worker state, created in init_process, and
 * the worker's core event bus */
ngx_int_t ngx_http_chat_init_process(ngx_cycle_t *cycle);
void ngx_http_chat_exit_process(ngx_cycle_t *cycle);
void ngx_http_chat_publish(const std::vector<chat::events::Event> &events)
    noexcept;
void ngx_http_chat_publish(std::vector<chat::events::Event> &&events)
    noexcept;
void ngx_http_chat_publish_side_effects(const std::vector<std::string> &ids)
    noexcept;

namespace chat { class EventLoop; }
namespace chat::pg { class Pool; }
namespace chat::redis { class Client; }
namespace chat::customer { class Service; }
namespace chat::agent { class Service; }
namespace chat::bus { class Bus; }
namespace chat::ops { class Service; }

struct ngx_http_chat_worker_t {
    chat::EventLoop            *loop;
    chat::customer::Service    *customer;  /* NULL: no chat_postgres */
    chat::agent::Service       *agent;     /* NULL: no chat_postgres */
    chat::pg::Pool             *pg;        /* NULL: no chat_postgres */
    chat::redis::Client        *redis;     /* NULL: no chat_redis */
    chat::bus::Bus             *bus;
    chat::ops::Service         *ops;
};

ngx_http_chat_worker_t *ngx_http_chat_worker(void);

inline std::string_view
ngx_http_chat_sv(const ngx_str_t &s)
{
    return std::string_view(reinterpret_cast<const char *>(s.data), s.len);
}

#endif /* NGX_HTTP_CHAT_H_INCLUDED_ */
