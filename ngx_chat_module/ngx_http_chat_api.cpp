/*
 * The chat_api content handler: routes /v1/... under the location through
 * one table of every part's routes, and takes each request through the same
 * steps (service, credentials, rate limit, body, call).
 */

#include <vector>

#include "ngx_http_chat.h"

#include "chat/address.h"
#include "chat/agent.h"
#include "chat/customer.h"


static const ngx_http_chat_route_t  *ngx_http_chat_routes[] = {
    ngx_http_chat_ops_routes,
    ngx_http_chat_customer_routes,
    ngx_http_chat_agent_routes,
    NULL
};


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
 * Whether path matches a pattern with an "{id}" segment, in one pass over
 * both: "{id}" matches any non-empty segment, returned in *id (a pattern
 * without one is compared whole, by its length first).
 */
static bool
ngx_http_chat_route_match(const char *pattern, std::string_view path,
    std::string_view *id)
{
    size_t  i, start;

    for (i = 0; /* void */; pattern++, i++) {

        if (*pattern == '{' && ngx_strncmp(pattern, "{id}", 4) == 0
            && (pattern[4] == '/' || pattern[4] == '\0'))
        {
            start = i;

            while (i < path.size() && path[i] != '/') {
                i++;
            }

            if (i == start) {
                return false;
            }

            *id = path.substr(start, i - start);

            pattern += 4;

            if (*pattern == '\0') {
                return i == path.size();
            }
        }

        if (*pattern == '\0') {
            return i == path.size();
        }

        if (i == path.size() || path[i] != *pattern) {
            return false;
        }
    }
}


/* a route's pattern length; this for a pattern with an "{id}" */
#define NGX_HTTP_CHAT_ROUTE_ID  ((size_t) -1)

#define NGX_HTTP_CHAT_ROUTE_TABLES                                           \
    (sizeof(ngx_http_chat_routes) / sizeof(ngx_http_chat_routes[0]) - 1)


/*
 * The length of every route's pattern (or NGX_HTTP_CHAT_ROUTE_ID), table
 * by table, measured on the first request of the worker: a path is compared
 * with a pattern only when their lengths are equal.
 */
static const size_t *
ngx_http_chat_route_lens(ngx_uint_t t)
{
    static std::vector<size_t>    lens[NGX_HTTP_CHAT_ROUTE_TABLES];
    const ngx_http_chat_route_t  *rt;

    if (lens[t].empty()) {
        /* measured whole, then kept: a failed allocation leaves it empty */
        std::vector<size_t>  measured;

        for (rt = ngx_http_chat_routes[t]; rt->path; rt++) {
            measured.push_back(ngx_strchr(rt->path, '{')
                               ? NGX_HTTP_CHAT_ROUTE_ID
                               : ngx_strlen(rt->path));
        }

        measured.push_back(0);      /* never empty once measured */
        lens[t] = std::move(measured);
    }

    return lens[t].data();
}


/* an answer before the body is read: the body is discarded */
static ngx_int_t
ngx_http_chat_refuse(ngx_http_request_t *r, chat::Errc code,
    std::string_view message)
{
    ngx_int_t  rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_chat_send_error(r, code, message);
}


/*
 * The route's token, and for a write authenticated by the cookie, the proof
 * that it comes from our pages (CSRF). A customer's token is verified here
 * (HMAC) and its session goes to ctx->principal; an agent's is verified
 * later, in Postgres. POST /v1/session takes a token if there is a valid
 * one, and no CSRF proof. NGX_DECLINED to go on, else the rc of the refusal
 * sent.
 */
static ngx_int_t
ngx_http_chat_route_token(ngx_http_request_t *r, ngx_http_chat_auth_e auth,
    std::string_view *token)
{
    bool                          agent, optional;
    ngx_http_chat_credentials_t   cr;

    agent = (auth == ngx_http_chat_auth_agent);
    optional = (auth == ngx_http_chat_auth_session);

    cr = ngx_http_chat_credentials(r, agent ? chat::agent::kAgentCookie
                                            : chat::customer::kSessionCookie,
                                   ngx_http_chat_token_header_or_cookie);

    if (cr.token.empty()) {
        return optional ? NGX_DECLINED
                        : ngx_http_chat_refuse(r, chat::Errc::unauthorized,
                                               agent ? "missing agent token"
                                                     : "missing session token");
    }

    if (!agent) {
        /* a view into the worker's memo: copied into the request at once */
        auto sid = ngx_http_chat_worker()->customer->authenticate_view(
                       cr.token, ngx_http_chat_site(r));

        if (!sid.ok()) {
            return optional ? NGX_DECLINED
                            : ngx_http_chat_refuse(r, chat::Errc::unauthorized,
                                  "invalid or expired session token");
        }

        if (ngx_http_chat_ctx_set_principal(r, sid.value()) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (!optional && cr.from_cookie
        && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        && !ngx_http_chat_csrf_ok(r))
    {
        return ngx_http_chat_refuse(r, chat::Errc::forbidden,
                   "cookie-authenticated writes need the X-Chat-Csrf header");
    }

    *token = cr.token;

    return NGX_DECLINED;
}


/*
 * The route's rate limit: chat_rate per session, or chat_session_rate per
 * client address (IPv6 per /64: one subscriber holds a whole one) for a
 * request without a valid token (one that would start a new session, or a
 * public read), refused before its body is read. A route with both flags
 * takes the session's bucket when it has a token, else the address's. An
 * agent route's chat_rate is per agent, taken once the token is verified
 * (ngx_http_chat_route_agent_rate). NGX_DECLINED to go on, else the rc of
 * the 429 sent.
 */
static ngx_int_t
ngx_http_chat_route_rate(ngx_http_request_t *r, const ngx_http_chat_route_t *rt)
{
    ngx_int_t                     rc;
    ngx_msec_t                    retry;
    const char                   *message;
    ngx_http_chat_shctx_t        *sh;
    ngx_http_chat_loc_conf_t     *lcf;
    ngx_http_chat_main_conf_t    *cmcf;

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_chat_module));
    lcf = static_cast<ngx_http_chat_loc_conf_t *>(
              ngx_http_get_module_loc_conf(r, ngx_http_chat_module));
    sh = cmcf->zone ? cmcf->zone->sh : NULL;

    if (rt->auth == ngx_http_chat_auth_agent) {
        return NGX_DECLINED;        /* per agent, after authentication */
    }

    if ((rt->flags & NGX_HTTP_CHAT_RATE)
        && (ngx_http_chat_ctx(r)->principal.len
            || !(rt->flags & NGX_HTTP_CHAT_RATE_ADDRESS)))
    {
        retry = ngx_http_chat_rate_take(cmcf, sh ? sh->buckets : NULL,
                    &cmcf->rate,
                    ngx_http_chat_sv(ngx_http_chat_ctx(r)->principal));
        message = (rt->flags & NGX_HTTP_CHAT_RATE_ADDRESS)
                  ? "too many requests, slow down"
                  : "too many messages, slow down";

    } else if (rt->flags & NGX_HTTP_CHAT_RATE_ADDRESS) {
        if (ngx_http_chat_ctx(r)->principal.len) {
            return NGX_DECLINED;            /* a valid token: no new session */
        }

        retry = ngx_http_chat_rate_take(cmcf,
                    sh ? sh->session_buckets : NULL, &lcf->session_rate,
                    chat::address_key(
                        ngx_http_chat_sv(r->connection->addr_text)));
        message = (rt->flags & NGX_HTTP_CHAT_RATE)
                  ? "too many requests from this address"
                  : "too many new sessions from this address";

    } else {
        return NGX_DECLINED;
    }

    if (retry == 0) {
        return NGX_DECLINED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_chat_retry_after(r, chat::rate::retry_after_s(retry))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_chat_send_error(r, chat::Errc::rate_limited, message);
}


/*
 * An agent route's chat_rate (an expensive read, GET /agent/reports; the
 * TOTP code checks of /agent/totp/enable and /disable): one bucket per
 * agent, in the table of the sessions' buckets under a key no session id
 * can take. 0 to go on, else the milliseconds until a token.
 */
static ngx_msec_t
ngx_http_chat_route_agent_rate(ngx_http_request_t *r,
    const ngx_http_chat_route_t *rt, std::string_view agent_id)
{
    ngx_http_chat_main_conf_t  *cmcf;

    if (!(rt->flags & NGX_HTTP_CHAT_RATE)) {
        return 0;
    }

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_chat_module));

    std::string  key("agent:");
    key.append(agent_id);

    return ngx_http_chat_rate_take(cmcf,
               cmcf->zone && cmcf->zone->sh ? cmcf->zone->sh->buckets : NULL,
               &cmcf->rate, key);
}


/* suspends r and runs the route's use case, which finishes it */
static ngx_int_t
ngx_http_chat_route_run(const ngx_http_chat_route_t *rt,
    const ngx_http_chat_call_t &c)
{
    return ngx_http_chat_suspend(c.r, [&](ngx_http_chat_park_t id) {
        rt->use_case(c, ngx_http_chat_outcome_done(c.r, id));
    });
}


/*
 * An agent route: the token is verified in Postgres, with r suspended once
 * for both the check and the use case.
 */
static ngx_int_t
ngx_http_chat_route_agent(ngx_http_request_t *r, std::string body)
{
    ngx_int_t         rc;
    std::string_view  token;

    rc = ngx_http_chat_route_token(r, ngx_http_chat_auth_agent, &token);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_http_chat_suspend(r, [&](ngx_http_chat_park_t id) {
        ngx_http_chat_worker()->agent->authenticate(token,
            ngx_http_chat_site(r),
            [id, body = std::move(body)]
            (chat::Result<chat::agent::Principal> p) mutable {
                ngx_http_request_t  *r = ngx_http_chat_parked(id);

                if (r == NULL) {
                    return;             /* the request is gone */
                }

                if (!p.ok()) {
                    ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
                        return ngx_http_chat_outcome_send(r, p.error());
                    });
                    return;
                }

                ngx_http_chat_ctx_t  *ctx = ngx_http_chat_ctx(r);
                ngx_msec_t            retry = ngx_http_chat_route_agent_rate(
                                                  r, ctx->route,
                                                  p.value().agent_id);

                if (retry) {
                    ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
                        if (ngx_http_chat_retry_after(r,
                                chat::rate::retry_after_s(retry))
                            != NGX_OK)
                        {
                            return (ngx_int_t) NGX_ERROR;
                        }

                        return ngx_http_chat_send_error(r,
                                   chat::Errc::rate_limited,
                                   "too many requests, slow down");
                    });
                    return;
                }

                ctx->route->use_case({r, ngx_http_chat_sv(ctx->id),
                                      ngx_http_chat_sv(r->args),
                                      std::move(body), {},
                                      &p.value(), ngx_http_chat_site(r)},
                                     ngx_http_chat_outcome_done(r, id));
            });
    });
}


/* the route's call, with its body read (or empty) */
static ngx_int_t
ngx_http_chat_route_call(ngx_http_request_t *r, std::string body)
{
    ngx_http_chat_ctx_t          *ctx = ngx_http_chat_ctx(r);
    const ngx_http_chat_route_t  *rt = ctx->route;

    if (rt->auth == ngx_http_chat_auth_agent) {
        return ngx_http_chat_route_agent(r, std::move(body));
    }

    ngx_http_chat_call_t  c{r, ngx_http_chat_sv(ctx->id),
                            ngx_http_chat_sv(r->args), std::move(body),
                            ngx_http_chat_sv(ctx->principal),
                            NULL, ngx_http_chat_site(r)};

    return rt->handler ? rt->handler(c) : ngx_http_chat_route_run(rt, c);
}


/* the steps every route takes, in order, before its call */
static ngx_int_t
ngx_http_chat_route_start(ngx_http_request_t *r,
    const ngx_http_chat_route_t *rt)
{
    ngx_int_t                rc;
    std::string_view         token;
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    if (rt->auth != ngx_http_chat_auth_none
        && (w == NULL
            || (rt->auth >= ngx_http_chat_auth_login
                    ? w->agent == NULL : w->customer == NULL)))
    {
        return ngx_http_chat_refuse(r, chat::Errc::unavailable,
                                    "chat_postgres is not configured");
    }

    if (rt->auth == ngx_http_chat_auth_session
        || rt->auth == ngx_http_chat_auth_customer)
    {
        rc = ngx_http_chat_route_token(r, rt->auth, &token);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    rc = ngx_http_chat_route_rate(r, rt);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (rt->flags & NGX_HTTP_CHAT_BODY) {
        return ngx_http_chat_read_body(r, ngx_http_chat_route_call);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_chat_route_call(r, std::string());
}


static ngx_int_t
ngx_http_chat_api_route(ngx_http_request_t *r)
{
    size_t                        len;
    ngx_uint_t                    t, i, path_known;
    const size_t                 *lens;
    ngx_http_chat_ctx_t          *ctx;
    const ngx_http_chat_route_t  *rt;

    std::string_view  path = ngx_http_chat_api_path(r);
    std::string_view  id;

    if (path == "v1/ws" || path == "v1/agent/ws") {
        return ngx_http_chat_ws_handler(r, path == "v1/agent/ws");
    }

    path_known = 0;

    for (t = 0; ngx_http_chat_routes[t]; t++) {
        lens = ngx_http_chat_route_lens(t);

        for (i = 0, rt = ngx_http_chat_routes[t]; rt->path; i++, rt++) {
            len = lens[i];

            if (len == NGX_HTTP_CHAT_ROUTE_ID
                ? !ngx_http_chat_route_match(rt->path, path, &id)
                : len != path.size()
                  || ngx_memcmp(rt->path, path.data(), len) != 0)
            {
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

            ctx->route = rt;

            return ngx_http_chat_route_start(r, rt);
        }
    }

    if (path_known) {
        return ngx_http_chat_refuse(r, chat::Errc::method_not_allowed,
                                    "method not allowed");
    }

    return ngx_http_chat_refuse(r, chat::Errc::not_found, "no such endpoint");
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
