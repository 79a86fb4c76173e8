/*
 * The operator's endpoints: the health probes of the API (/v1/health...),
 * and the chat_status content handler, which samples zone use, the cache,
 * backend connection states and counters, and has core render them
 * (chat::metrics: one list for both formats) as JSON, or as Prometheus text
 * for a location whose name ends in "metrics".
 */

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"

#include "chat/metrics.h"
#include "chat/ops.h"
#include "chat/pg_pool.h"
#include "chat/redis_client.h"


static ngx_int_t ngx_http_chat_health(ngx_http_chat_call_t &c);
static ngx_int_t ngx_http_chat_health_db(ngx_http_chat_call_t &c);
static ngx_int_t ngx_http_chat_health_redis(ngx_http_chat_call_t &c);


static const std::string_view  ngx_http_chat_status_ok = "{\"status\":\"ok\"}";


const ngx_http_chat_route_t  ngx_http_chat_ops_routes[] = {
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/health", ngx_http_chat_auth_none, 0,
      NULL, ngx_http_chat_health },
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/health/db", ngx_http_chat_auth_none, 0,
      NULL, ngx_http_chat_health_db },
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/health/redis", ngx_http_chat_auth_none,
      0, NULL, ngx_http_chat_health_redis },
    { 0, NULL, ngx_http_chat_auth_none, 0, NULL, NULL }
};


static ngx_int_t
ngx_http_chat_health(ngx_http_chat_call_t &c)
{
    return ngx_http_chat_send_json(c.r, NGX_HTTP_OK, ngx_http_chat_status_ok);
}


/*
 * The common part of the backend probes: suspend the request, start the
 * probe, answer {"status":"ok"} or 503 unavailable with the probe's reason.
 */
template <typename Probe>
static ngx_int_t
ngx_http_chat_health_probe(ngx_http_request_t *r, Probe probe)
{
    return ngx_http_chat_suspend(r, [&](ngx_http_chat_park_t id) {
        probe([id](chat::Result<void> res) {
            ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
                return res.ok() ? ngx_http_chat_send_json(r, NGX_HTTP_OK,
                                                    ngx_http_chat_status_ok)
                                : ngx_http_chat_send_error(r,
                                      chat::Errc::unavailable,
                                      res.error().message);
            });
        });
    });
}


/* a real round trip through the worker's async Postgres pool (chat::ops) */
static ngx_int_t
ngx_http_chat_health_db(ngx_http_chat_call_t &c)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (w == NULL || w->pg == NULL) {
        return ngx_http_chat_send_error(c.r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    return ngx_http_chat_health_probe(c.r, [w](auto done) {
        w->ops->probe_postgres(std::move(done));
    });
}


/* a real round trip through the worker's async Redis client (chat::ops) */
static ngx_int_t
ngx_http_chat_health_redis(ngx_http_chat_call_t &c)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (w == NULL || w->redis == NULL) {
        return ngx_http_chat_send_json(c.r, NGX_HTTP_OK,
                                       "{\"status\":\"disabled\"}");
    }

    return ngx_http_chat_health_probe(c.r, [w](auto done) {
        w->ops->probe_redis(std::move(done));
    });
}


typedef struct {
    size_t       size;
    size_t       used;
    ngx_uint_t   pages;
    ngx_uint_t   free_pages;
} ngx_http_chat_zone_use_t;


static void
ngx_http_chat_zone_use(ngx_http_chat_zone_t *zone, ngx_http_chat_zone_use_t *u)
{
    ngx_slab_pool_t  *shpool = zone->shpool;

    ngx_memzero(u, sizeof(ngx_http_chat_zone_use_t));

    u->size = zone->size;

    if (shpool == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);
    /* the cache's free pages are free for its next entries */
    u->free_pages = shpool->pfree
                    + (zone->sh ? zone->sh->cache_pages.free_pages : 0);
    ngx_shmtx_unlock(&shpool->mutex);

    u->pages = (shpool->end - shpool->start) / ngx_pagesize;
    u->used = (u->pages - u->free_pages) * ngx_pagesize;
}


/* what the list of metrics reads, sampled once for this answer */
static chat::metrics::Sources
ngx_http_chat_status_sample(ngx_http_chat_main_conf_t *cmcf,
    const chat::ops::Counts &counts)
{
    chat::metrics::Sources        src;
    ngx_http_chat_cache_stats_t   cs;

    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    ngx_http_chat_cache_stats(cmcf->zone, &cs);

    src.worker_pid = ngx_pid;
    src.cache.entries = cs.entries;
    src.cache.evictions = cs.evictions;
    src.cache.alloc_failures = cs.alloc_failures;
    src.counts = counts;
    src.sockets_open = ngx_http_chat_ws_count();

    if (cmcf->zone) {
        ngx_http_chat_zone_use_t  u;

        ngx_http_chat_zone_use(cmcf->zone, &u);

        src.zone = chat::metrics::Sources::Zone{
            std::string(ngx_http_chat_sv(cmcf->zone->shm_zone->shm.name)),
            u.size, u.used, u.pages, u.free_pages};
    }

    if (w && w->pg) {
        src.postgres = chat::metrics::Sources::Postgres{w->pg->healthy(),
                                                        w->pg->stats()};
    }

    if (w && w->redis) {
        src.redis = w->redis->stats();
    }

    ngx_http_chat_counters_t  c;

    if (ngx_http_chat_counters_sum(cmcf, &c)) {
        src.counters = chat::metrics::Sources::Counters{
            c.requests, c.errors, c.cache_hits, c.cache_misses,
            c.reloads, c.ring_dropped};
    }

    return src;
}


static ngx_int_t
ngx_http_chat_status_send(ngx_http_request_t *r,
    ngx_http_chat_main_conf_t *cmcf, const chat::ops::Counts &counts)
{
    try {
        chat::metrics::Sources  src = ngx_http_chat_status_sample(cmcf,
                                                                  counts);

        if (ngx_http_chat_sv(r->uri).ends_with("metrics")) {
            return ngx_http_chat_send(r, NGX_HTTP_OK,
                                      chat::metrics::render_prometheus(src),
                                      "text/plain; version=0.0.4");
        }

        return ngx_http_chat_send_json(r, NGX_HTTP_OK,
                                       chat::metrics::render_json(src));

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chat: status failed: %s", e.what());
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


ngx_int_t
ngx_http_chat_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_chat_main_conf_t  *cmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_chat_send_error(r, chat::Errc::method_not_allowed,
                                        "method not allowed");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_chat_module));

    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (w == NULL || w->pg == NULL) {
        return ngx_http_chat_status_send(r, cmcf, chat::ops::Counts{});
    }

    /* the queue and the agents online are Postgres's to say */
    return ngx_http_chat_suspend(r, [&](ngx_http_chat_park_t id) {
        w->ops->counts([id, cmcf](chat::ops::Counts counts) {
            ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
                return ngx_http_chat_status_send(r, cmcf, counts);
            });
        });
    });
}
