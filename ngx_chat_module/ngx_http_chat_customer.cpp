/*
 * The customer endpoints of API.md: session, conversation, messages,
 * escalate, read, faq. Credentials, CSRF, rate limit and the cache are
 * handled here; every rule of the chat is core's (chat::customer::Service).
 */

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"

#include "chat/address.h"
#include "chat/customer.h"
#include "chat/json.h"


static ngx_http_chat_main_conf_t *
ngx_http_chat_cmcf(ngx_http_request_t *r)
{
    return static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_chat_module));
}


static chat::customer::Service *
ngx_http_chat_service(void)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    return w ? w->customer : NULL;
}


static std::string
ngx_http_chat_principal(ngx_http_request_t *r)
{
    ngx_http_chat_ctx_t  *ctx = ngx_http_chat_ctx(r);

    return ctx ? std::string(ngx_http_chat_sv(ctx->principal)) : std::string();
}


/*
 * Authenticates the customer: the session id goes to the request context.
 * Writes authenticated by the cookie must pass the CSRF rule. Returns NGX_OK,
 * or the rc of the error answer already sent.
 */
static ngx_int_t
ngx_http_chat_customer_auth(ngx_http_request_t *r, bool write,
    ngx_uint_t *sent)
{
    chat::customer::Service      *svc = ngx_http_chat_service();
    ngx_http_chat_credentials_t   cr;

    *sent = 1;

    if (svc == NULL) {
        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    cr = ngx_http_chat_credentials(r, chat::customer::kSessionCookie,
                                   ngx_http_chat_token_header_or_cookie);

    if (cr.token.empty()) {
        return ngx_http_chat_send_error(r, chat::Errc::unauthorized,
                                        "missing session token");
    }

    auto sid = svc->authenticate(cr.token);

    if (!sid.ok()) {
        return ngx_http_chat_send_error(r, chat::Errc::unauthorized,
                                        "invalid or expired session token");
    }

    if (write && cr.from_cookie && !ngx_http_chat_csrf_ok(r)) {
        return ngx_http_chat_send_error(r, chat::Errc::forbidden,
                   "cookie-authenticated writes need the X-Chat-Csrf header");
    }

    if (ngx_http_chat_ctx_set_principal(r, sid.value()) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *sent = 0;

    return NGX_OK;
}


/* a use case that reads a body: authenticate, then read, then run */
static ngx_int_t
ngx_http_chat_customer_write(ngx_http_request_t *r,
    ngx_http_chat_body_pt run, bool rate_limited)
{
    ngx_int_t    rc;
    ngx_uint_t   sent;
    ngx_msec_t   retry;

    rc = ngx_http_chat_customer_auth(r, true, &sent);
    if (sent) {
        return rc;
    }

    if (rate_limited) {
        ngx_http_chat_main_conf_t  *cmcf = ngx_http_chat_cmcf(r);

        retry = ngx_http_chat_rate_take(cmcf,
                    cmcf->zone && cmcf->zone->sh ? cmcf->zone->sh->buckets
                                                 : NULL,
                    &cmcf->rate, ngx_http_chat_principal(r));
        if (retry) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_chat_send_rate_limited(r, retry,
                                               "too many messages, slow down");
        }
    }

    return ngx_http_chat_read_body(r, run);
}


/* POST /v1/session */

static void
ngx_http_chat_session_body(ngx_http_request_t *r, std::string body)
{
    chat::customer::Service      *svc = ngx_http_chat_service();
    ngx_http_chat_main_conf_t    *cmcf = ngx_http_chat_cmcf(r);
    ngx_http_chat_credentials_t   cr;

    if (svc == NULL) {
        ngx_http_finalize_request(r, ngx_http_chat_send_error(r,
                                      chat::Errc::unavailable,
                                      "chat_postgres is not configured"));
        return;
    }

    cr = ngx_http_chat_credentials(r, chat::customer::kSessionCookie,
                                   ngx_http_chat_token_header_or_cookie);

    /*
     * Refresh resilience without a round trip: a valid token, no new
     * context, and an open conversation in the cache.
     */
    if (cmcf->zone && !cr.token.empty()) {
        auto sid = svc->authenticate(cr.token);
        auto in = chat::json::parse(body);
        bool no_context = body.find_first_not_of(" \t\r\n") == std::string::npos
                          || (in.ok() && (in.value().find("context") == NULL
                                  || in.value().find("context")->is_null()));

        std::string                          conv;
        std::vector<chat::CachedMessage>     msgs;

        if (sid.ok() && no_context
            && ngx_http_chat_cache_read(cmcf->zone, sid.value(), -1,
                                        cmcf->history, &conv, &msgs))
        {
            auto resumed = svc->resume_session(sid.value(), conv, msgs);

            if (resumed) {
                ngx_http_chat_count(cmcf, cache_hits);
                ngx_http_finalize_request(r,
                    ngx_http_chat_outcome_send(r, std::move(*resumed)));
                return;
            }
        }

        ngx_http_chat_count(cmcf, cache_misses);
    }

    chat::customer::Done  done;

    if (ngx_http_chat_outcome_park(r, &done) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    svc->open_session(cr.token, body, std::move(done));
}


/*
 * A new session (no valid token) inserts a conversation: limited per client
 * address by chat_session_rate, answered at once, before the body is read.
 */
static ngx_msec_t
ngx_http_chat_session_rate_take(ngx_http_request_t *r,
    chat::customer::Service *svc)
{
    ngx_http_chat_loc_conf_t     *lcf;
    ngx_http_chat_main_conf_t    *cmcf = ngx_http_chat_cmcf(r);
    ngx_http_chat_credentials_t   cr;

    cr = ngx_http_chat_credentials(r, chat::customer::kSessionCookie,
                                   ngx_http_chat_token_header_or_cookie);

    if (!cr.token.empty() && svc->authenticate(cr.token).ok()) {
        return 0;
    }

    lcf = static_cast<ngx_http_chat_loc_conf_t *>(
              ngx_http_get_module_loc_conf(r, ngx_http_chat_module));

    /* IPv6 per /64: one subscriber holds a whole one */
    std::string  key = chat::address_key(
                           ngx_http_chat_sv(r->connection->addr_text));

    return ngx_http_chat_rate_take(cmcf,
               cmcf->zone && cmcf->zone->sh ? cmcf->zone->sh->session_buckets
                                            : NULL,
               &lcf->session_rate, key);
}


static ngx_int_t
ngx_http_chat_session(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_msec_t                retry;
    chat::customer::Service  *svc = ngx_http_chat_service();

    if (svc == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    retry = ngx_http_chat_session_rate_take(r, svc);

    if (retry) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_chat_send_rate_limited(r, retry,
                             "too many new sessions from this address");
    }

    return ngx_http_chat_read_body(r, ngx_http_chat_session_body);
}


/* GET /v1/conversation?after=&limit= */

static ngx_int_t
ngx_http_chat_conversation(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_uint_t                  sent;
    ngx_http_chat_main_conf_t  *cmcf = ngx_http_chat_cmcf(r);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_chat_customer_auth(r, false, &sent);
    if (sent) {
        return rc;
    }

    auto win = chat::customer::parse_window(ngx_http_chat_sv(r->args));
    if (!win.ok()) {
        return ngx_http_chat_send_error(r, win.error().code,
                                        win.error().message);
    }

    std::string sid = ngx_http_chat_principal(r);

    if (cmcf->zone) {
        std::string                       conv;
        std::vector<chat::CachedMessage>  msgs;

        if (ngx_http_chat_cache_read(cmcf->zone, sid, win.value().after,
                                     win.value().limit, &conv, &msgs))
        {
            ngx_http_chat_count(cmcf, cache_hits);
            return ngx_http_chat_send_json(r, NGX_HTTP_OK,
                       chat::customer::Service::render_conversation(conv,
                                                                    msgs));
        }

        ngx_http_chat_count(cmcf, cache_misses);
    }

    chat::customer::Done  done;

    if (ngx_http_chat_outcome_park(r, &done) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    ngx_http_chat_service()->conversation(sid, win.value().after,
                                          win.value().limit, std::move(done));

    return NGX_DONE;
}


/* POST /v1/messages */

static void
ngx_http_chat_messages_body(ngx_http_request_t *r, std::string body)
{
    chat::customer::Done  done;

    if (ngx_http_chat_outcome_park(r, &done) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_chat_service()->post_message(ngx_http_chat_principal(r), body,
                                          std::move(done));
}


static ngx_int_t
ngx_http_chat_messages(ngx_http_request_t *r)
{
    return ngx_http_chat_customer_write(r, ngx_http_chat_messages_body, true);
}


/* POST /v1/escalate */

static void
ngx_http_chat_escalate_body(ngx_http_request_t *r, std::string body)
{
    chat::customer::Done  done;

    if (ngx_http_chat_outcome_park(r, &done) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_chat_service()->escalate(ngx_http_chat_principal(r), body,
                                      std::move(done));
}


static ngx_int_t
ngx_http_chat_escalate(ngx_http_request_t *r)
{
    return ngx_http_chat_customer_write(r, ngx_http_chat_escalate_body, true);
}


/* POST /v1/read */

static void
ngx_http_chat_read_body_done(ngx_http_request_t *r, std::string body)
{
    chat::customer::Done  done;

    if (ngx_http_chat_outcome_park(r, &done) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_chat_service()->mark_read(ngx_http_chat_principal(r), body,
                                       std::move(done));
}


static ngx_int_t
ngx_http_chat_read(ngx_http_request_t *r)
{
    return ngx_http_chat_customer_write(r, ngx_http_chat_read_body_done,
                                        false);
}


/* GET /v1/faq: from the worker's FAQ set, no round trip */

static ngx_int_t
ngx_http_chat_faq(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    chat::customer::Service  *svc = ngx_http_chat_service();

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (svc == NULL || svc->faq() == NULL) {
        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "the FAQ is not loaded yet");
    }

    return ngx_http_chat_outcome_send(r, svc->faq_list());
}


ngx_http_chat_route_t  ngx_http_chat_customer_routes[] = {
    { NGX_HTTP_POST, "v1/session", ngx_http_chat_session, 0 },
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/conversation",
      ngx_http_chat_conversation, 0 },
    { NGX_HTTP_POST, "v1/messages", ngx_http_chat_messages, 0 },
    { NGX_HTTP_POST, "v1/escalate", ngx_http_chat_escalate, 0 },
    { NGX_HTTP_POST, "v1/read", ngx_http_chat_read, 0 },
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/faq", ngx_http_chat_faq, 0 },
    { 0, NULL, NULL, 0 }
};
