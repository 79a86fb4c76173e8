/*
 * The chat_status content handler: samples zone use, the cache, backend
 * connection states and counters, and has core render them (chat::metrics:
 * one list for both formats) as JSON, or as Prometheus text for a location
 * whose name ends in "metrics".
 */

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"

#include "chat/metrics.h"
#include "chat/ops.h"
#include "chat/pg_pool.h"
#include "chat/redis_client.h"


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
    u->free_pages = shpool->pfree;
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

    if (ngx_http_chat_counters_t *c = ngx_http_chat_counters(cmcf)) {
        src.counters = chat::metrics::Sources::Counters{
            c->requests, c->errors, c->cache_hits, c->cache_misses,
            c->reloads, c->ring_dropped};
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
    ngx_http_chat_park_t  id = ngx_http_chat_suspend(r);

    if (id == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->ops->counts([id, cmcf](chat::ops::Counts counts) {
        ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
            return ngx_http_chat_status_send(r, cmcf, counts);
        });
    });

    return NGX_DONE;
}
