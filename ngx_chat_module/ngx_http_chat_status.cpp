/*
 * The chat_status content handler: zone use, backend connection states and
 * counters, as JSON (a location whose name ends in "metrics": Prometheus text).
 */

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"

#include "chat/json.h"
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


/* one flat list of (name, value, help) feeds both output formats */
struct ngx_http_chat_metric_t {
    const char   *name;
    double        value;
    const char   *help;
};


/* read from Postgres when the status is asked for; -1 while it is down */
typedef struct {
    int64_t   queue_length;
    int64_t   agents_online;
} ngx_http_chat_live_t;


static std::vector<ngx_http_chat_metric_t>
ngx_http_chat_collect(ngx_http_chat_main_conf_t *cmcf,
    const ngx_http_chat_live_t &live)
{
    std::vector<ngx_http_chat_metric_t>  m;
    ngx_http_chat_cache_stats_t          cs;

    ngx_http_chat_cache_stats(cmcf->zone, &cs);

    m.push_back({"cached_conversations", (double) cs.entries,
                 "conversations in the shared-memory cache"});
    m.push_back({"cache_evictions_total", (double) cs.evictions,
                 "cache entries evicted to make room"});
    m.push_back({"open_sockets", (double) ngx_http_chat_ws_count(),
                 "WebSockets open in this worker"});

    if (live.queue_length >= 0) {
        m.push_back({"queue_length", (double) live.queue_length,
                     "conversations waiting for an agent"});
        m.push_back({"agents_online", (double) live.agents_online,
                     "agents online"});
    }

    ngx_http_chat_worker_t    *w = ngx_http_chat_worker();
    ngx_http_chat_counters_t  *c = ngx_http_chat_counters(cmcf);

    if (cmcf->zone) {
        ngx_http_chat_zone_use_t  u;

        ngx_http_chat_zone_use(cmcf->zone, &u);

        m.push_back({"zone_size_bytes", (double) u.size,
                     "size of the chat shared-memory zone"});
        m.push_back({"zone_used_bytes", (double) u.used,
                     "bytes of the zone in use"});
        m.push_back({"zone_free_pages", (double) u.free_pages,
                     "free slab pages in the zone"});
    }

    if (c) {
        m.push_back({"requests_total", (double) c->requests,
                     "API answers sent, all workers"});
        m.push_back({"errors_total", (double) c->errors,
                     "API answers with status 5xx, all workers"});
        m.push_back({"cache_hits_total", (double) c->cache_hits,
                     "reads served from the shared-memory cache"});
        m.push_back({"cache_misses_total", (double) c->cache_misses,
                     "reads that went to Postgres"});
        m.push_back({"reloads_total", (double) c->reloads,
                     "configuration reloads since the zone was created"});
        m.push_back({"ring_dropped_total", (double) c->ring_dropped,
                     "events workers missed in the no-Redis event ring"});
    }

    if (w && w->pg) {
        chat::pg::PoolStats  s = w->pg->stats();

        m.push_back({"postgres_up", w->pg->healthy() ? 1.0 : 0.0,
                     "1 if this worker has a Postgres connection"});
        m.push_back({"postgres_pool_size", (double) s.size,
                     "connections per worker"});
        m.push_back({"postgres_connected", (double) s.connected,
                     "connections of this worker that are up"});
        m.push_back({"postgres_busy", (double) s.busy,
                     "connections of this worker running a query"});
        m.push_back({"postgres_queued", (double) s.queued,
                     "queries of this worker waiting for a connection"});
        m.push_back({"postgres_queries_total", (double) s.queries,
                     "queries sent by this worker"});
        m.push_back({"postgres_errors_total", (double) s.errors,
                     "failed queries of this worker"});
        m.push_back({"postgres_reconnects_total", (double) s.reconnects,
                     "reconnections of this worker"});
    }

    if (w && w->redis) {
        chat::redis::ClientStats  s = w->redis->stats();

        m.push_back({"redis_up", s.connected ? 1.0 : 0.0,
                     "1 if this worker is connected to Redis"});
        m.push_back({"redis_commands_total", (double) s.commands,
                     "Redis commands sent by this worker"});
        m.push_back({"redis_errors_total", (double) s.errors,
                     "failed Redis commands of this worker"});
        m.push_back({"redis_reconnects_total", (double) s.reconnects,
                     "Redis reconnections of this worker"});
    }

    return m;
}


static std::string
ngx_http_chat_status_json(ngx_http_chat_main_conf_t *cmcf,
    const ngx_http_chat_live_t &live)
{
    std::string                   out;
    chat::json::Writer            j(out);
    ngx_http_chat_cache_stats_t   cs;

    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    ngx_http_chat_cache_stats(cmcf->zone, &cs);

    j.begin_object();

    j.key("worker_pid");
    j.number((std::int64_t) ngx_pid);

    j.key("cache");
    j.begin_object();
    j.key("conversations");
    j.number((std::int64_t) cs.entries);
    j.key("evictions");
    j.number((std::int64_t) cs.evictions);
    j.key("alloc_failures");
    j.number((std::int64_t) cs.alloc_failures);
    j.end_object();

    j.key("queue_length");
    if (live.queue_length >= 0) {
        j.number(live.queue_length);
    } else {
        j.null();
    }

    j.key("agents_online");
    if (live.agents_online >= 0) {
        j.number(live.agents_online);
    } else {
        j.null();
    }

    if (cmcf->zone) {
        ngx_http_chat_zone_use_t  u;

        ngx_http_chat_zone_use(cmcf->zone, &u);

        j.key("zone");
        j.begin_object();
        j.key("name");
        j.string(ngx_http_chat_sv(cmcf->zone->shm_zone->shm.name));
        j.key("size");
        j.number((std::int64_t) u.size);
        j.key("used");
        j.number((std::int64_t) u.used);
        j.key("pages");
        j.number((std::int64_t) u.pages);
        j.key("free_pages");
        j.number((std::int64_t) u.free_pages);
        j.end_object();
    }

    j.key("sockets");
    j.begin_object();
    j.key("open");
    j.number((std::int64_t) ngx_http_chat_ws_count());
    j.end_object();

    j.key("postgres");
    j.begin_object();

    if (w && w->pg) {
        chat::pg::PoolStats  s = w->pg->stats();

        j.key("state");
        j.string(w->pg->healthy() ? "up" : "down");
        j.key("pool_size");
        j.number((std::int64_t) s.size);
        j.key("connected");
        j.number((std::int64_t) s.connected);
        j.key("connecting");
        j.number((std::int64_t) s.connecting);
        j.key("busy");
        j.number((std::int64_t) s.busy);
        j.key("queued");
        j.number((std::int64_t) s.queued);
        j.key("queries");
        j.number((std::int64_t) s.queries);
        j.key("errors");
        j.number((std::int64_t) s.errors);
        j.key("reconnects");
        j.number((std::int64_t) s.reconnects);
        j.key("timeouts");
        j.number((std::int64_t) s.timeouts);

    } else {
        j.key("state");
        j.string("disabled");
    }

    j.end_object();

    j.key("redis");
    j.begin_object();

    if (w && w->redis) {
        chat::redis::ClientStats  s = w->redis->stats();

        j.key("state");
        j.string(s.connected ? "up" : "down");
        j.key("commands");
        j.number((std::int64_t) s.commands);
        j.key("errors");
        j.number((std::int64_t) s.errors);
        j.key("reconnects");
        j.number((std::int64_t) s.reconnects);
        j.key("pending");
        j.number((std::int64_t) s.pending);

    } else {
        j.key("state");
        j.string("disabled");
    }

    j.end_object();

    if (ngx_http_chat_counters_t *c = ngx_http_chat_counters(cmcf)) {
        j.key("counters");
        j.begin_object();
        j.key("requests");
        j.number((std::int64_t) c->requests);
        j.key("errors");
        j.number((std::int64_t) c->errors);
        j.key("cache_hits");
        j.number((std::int64_t) c->cache_hits);
        j.key("cache_misses");
        j.number((std::int64_t) c->cache_misses);
        j.key("reloads");
        j.number((std::int64_t) c->reloads);
        j.key("ring_dropped");
        j.number((std::int64_t) c->ring_dropped);
        j.end_object();
    }

    j.end_object();

    return out;
}


static std::string
ngx_http_chat_status_prometheus(ngx_http_chat_main_conf_t *cmcf,
    const ngx_http_chat_live_t &live)
{
    std::string  out;
    char         line[64];

    for (const auto &m : ngx_http_chat_collect(cmcf, live)) {
        bool  counter = std::string_view(m.name).ends_with("_total");

        out += "# HELP nginx_chat_";
        out += m.name;
        out += ' ';
        out += m.help;
        out += "\n# TYPE nginx_chat_";
        out += m.name;
        out += counter ? " counter\n" : " gauge\n";
        out += "nginx_chat_";
        out += m.name;
        ngx_snprintf(reinterpret_cast<u_char *>(line), sizeof(line),
                     " %.0f\n%Z", m.value);
        out += line;
    }

    return out;
}


static ngx_int_t
ngx_http_chat_status_send(ngx_http_request_t *r,
    ngx_http_chat_main_conf_t *cmcf, ngx_http_chat_live_t live)
{
    try {
        if (ngx_http_chat_sv(r->uri).ends_with("metrics")) {
            return ngx_http_chat_send(r, NGX_HTTP_OK,
                                      ngx_http_chat_status_prometheus(cmcf,
                                                                      live),
                                      "text/plain; version=0.0.4");
        }

        return ngx_http_chat_send_json(r, NGX_HTTP_OK,
                                       ngx_http_chat_status_json(cmcf, live));

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
        return ngx_http_chat_status_send(r, cmcf, {-1, -1});
    }

    /* the queue and the agents online are Postgres's to say */
    ngx_http_chat_park_t  id = ngx_http_chat_park(r);

    if (id == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    try {

        w->pg->query("SELECT (SELECT count(*) FROM conversations WHERE status = "
                     "'agent' AND assigned_agent_id IS NULL), (SELECT count(*) "
                     "FROM agents WHERE presence = 'online' AND deleted_at IS "
                     "NULL)", {},
            [id, cmcf](chat::Result<chat::pg::QueryResult> res) {
                ngx_http_chat_live_t  live = {-1, -1};

                if (res.ok() && res.value().rows() == 1) {
                    live.queue_length = ngx_atoi(
                        (u_char *) res.value().get(0, 0).data(),
                        res.value().get(0, 0).size());
                    live.agents_online = ngx_atoi(
                        (u_char *) res.value().get(0, 1).data(),
                        res.value().get(0, 1).size());
                }

                ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
                    return ngx_http_chat_status_send(r, cmcf, live);
                });
            });

    } catch (const std::exception &e) {
        (void) ngx_http_chat_unpark(id);
        return ngx_http_chat_status_send(r, cmcf, {-1, -1});
    }

    r->main->count++;

    return NGX_DONE;
}
