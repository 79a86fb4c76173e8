/*
 * The chat_api content handler: routes /v1/... under the location to the
 * endpoint handlers (one table of every part's routes) and the health
 * probes.
 */

#include "ngx_http_chat.h"

#include "chat/json.h"
#include "chat/ops.h"


static ngx_int_t ngx_http_chat_health(ngx_http_request_t *r);
static ngx_int_t ngx_http_chat_health_db(ngx_http_request_t *r);
static ngx_int_t ngx_http_chat_health_redis(ngx_http_request_t *r);


static ngx_http_chat_route_t  ngx_http_chat_ops_routes[] = {
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/health", ngx_http_chat_health, 0 },
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/health/db", ngx_http_chat_health_db,
      0 },
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/health/redis",
      ngx_http_chat_health_redis, 0 },
    { 0, NULL, NULL, 0 }
};


static ngx_http_chat_route_t  *ngx_http_chat_routes[] = {
    ngx_http_chat_ops_routes,
    ngx_http_chat_customer_routes,
    ngx_http_chat_agent_routes,
    NULL
};


static const std::string_view  ngx_http_chat_status_ok = "{\"status\":\"ok\"}";


/* the part of the URI below the location: "/chat/api/v1/x" -> "v1/x" */
static std::string_view
ngx_http_chat_api_path(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *hclcf;

    hclcf = static_cast<ngx_http_core_loc_conf_t *>(
                ngx_http_get_module_loc_conf(r, ngx_http_core_module));

    std::string_view uri = ngx_http_chat_sv(r->uri);
    std::string_view loc = ngx_http_chat_sv(hclcf->name);

    if (uri.substr(0, loc.size()) == loc) {
        uri.remove_prefix(loc.size());
    }

    while (!uri.empty() && uri.front() == '/') {
        uri.remove_prefix(1);
    }

    while (!uri.empty() && uri.back() == '/') {
        uri.remove_suffix(1);
    }

    return uri;
}


/*
 * Whether path matches a route's pattern, segment by segment; a "{id}"
 * segment matches any non-empty one, returned in *id.
 */
static bool
ngx_http_chat_route_match(std::string_view pattern, std::string_view path,
    std::string_view *id)
{
    for ( ;; ) {
        auto ps = pattern.find('/');
        auto s = path.find('/');

        std::string_view  want = pattern.substr(0, ps);
        std::string_view  seg = path.substr(0, s);

        if (want == "{id}") {
            if (seg.empty()) {
                return false;
            }

            *id = seg;

        } else if (want != seg) {
            return false;
        }

        if (ps == std::string_view::npos || s == std::string_view::npos) {
            return ps == s;
        }

        pattern.remove_prefix(ps + 1);
        path.remove_prefix(s + 1);
    }
}


static ngx_int_t
ngx_http_chat_api_route(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_uint_t              path_known;
    ngx_http_chat_ctx_t    *ctx;
    ngx_http_chat_route_t  *rt, **table;

    std::string_view  path = ngx_http_chat_api_path(r);
    std::string_view  id;

    if (path == "v1/ws" || path == "v1/agent/ws") {
        return ngx_http_chat_ws_handler(r, path == "v1/agent/ws");
    }

    path_known = 0;

    for (table = ngx_http_chat_routes; *table; table++) {
        for (rt = *table; rt->path; rt++) {
            if (!ngx_http_chat_route_match(rt->path, path, &id)) {
                continue;
            }

            if (!(r->method & rt->methods)) {
                path_known = 1;
                continue;
            }

            ctx = ngx_http_chat_ctx(r);
            if (ctx == NULL || ngx_http_chat_ctx_set_id(r, id) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->op = rt->op;

            return rt->handler(r);
        }
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (path_known) {
        return ngx_http_chat_send_error(r, chat::Errc::method_not_allowed,
                                        "method not allowed");
    }

    return ngx_http_chat_send_error(r, chat::Errc::not_found,
                                    "no such endpoint");
}


/*
 * The content handler: the one door from nginx into the chat's handlers, so
 * no exception (std::bad_alloc from a string, a map) ever crosses into nginx.
 */
ngx_int_t
ngx_http_chat_api_handler(ngx_http_request_t *r)
{
    try {
        return ngx_http_chat_api_route(r);

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chat: handling the request failed: %s", e.what());
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_http_chat_health(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_chat_send_json(r, NGX_HTTP_OK, ngx_http_chat_status_ok);
}


/*
 * The common part of the backend probes: park the request, start the probe,
 * answer {"status":"ok"} or 503 unavailable with the probe's reason.
 */
typedef std::function<void(bool ok, std::string why)>  ngx_http_chat_probe_done_t;

static ngx_int_t
ngx_http_chat_health_probe(ngx_http_request_t *r,
    const std::function<void(ngx_http_chat_probe_done_t)> &start)
{
    ngx_http_chat_park_t  id = ngx_http_chat_park(r);

    if (id == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    try {
        start([id](bool ok, std::string why) {
            ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
                return ok ? ngx_http_chat_send_json(r, NGX_HTTP_OK,
                                                    ngx_http_chat_status_ok)
                          : ngx_http_chat_send_error(r,
                                                     chat::Errc::unavailable,
                                                     why);
            });
        });

    } catch (const std::exception &e) {
        (void) ngx_http_chat_unpark(id);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chat: health probe failed: %s", e.what());
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/* a real round trip through the worker's async Postgres pool (chat::ops) */
static ngx_int_t
ngx_http_chat_health_db(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_chat_worker_t  *w;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    w = ngx_http_chat_worker();

    if (w == NULL || w->pg == NULL) {
        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    return ngx_http_chat_health_probe(r, [w](ngx_http_chat_probe_done_t done) {
        w->ops->probe_postgres([done](chat::Result<void> res) {
            done(res.ok(), res.ok() ? "" : res.error().message);
        });
    });
}


/* a real round trip through the worker's async Redis client (chat::ops) */
static ngx_int_t
ngx_http_chat_health_redis(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_chat_worker_t  *w;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    w = ngx_http_chat_worker();

    if (w == NULL || w->redis == NULL) {
        return ngx_http_chat_send_json(r, NGX_HTTP_OK,
                                       "{\"status\":\"disabled\"}");
    }

    return ngx_http_chat_health_probe(r, [w](ngx_http_chat_probe_done_t done) {
        w->ops->probe_redis([done](chat::Result<void> res) {
            done(res.ok(), res.ok() ? "" : res.error().message);
        });
    });
}
