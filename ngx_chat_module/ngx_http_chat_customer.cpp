/*
 * The customer endpoints of API.md: session, conversation, messages,
 * escalate, read, identify, rating, feedback, faq, departments: their routes, each with its use case, and the reads
 * the cache answers without a round trip. Every rule of the chat is core's
 * (chat::customer::Service).
 */

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"

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


/* POST /v1/session */

static ngx_int_t
ngx_http_chat_session(ngx_http_chat_call_t &c)
{
    ngx_http_request_t           *r = c.r;
    std::string_view              body = c.body;
    chat::customer::Service      *svc = ngx_http_chat_service();
    ngx_http_chat_main_conf_t    *cmcf = ngx_http_chat_cmcf(r);
    ngx_http_chat_credentials_t   cr;

    cr = ngx_http_chat_credentials(r, chat::customer::kSessionCookie,
                                   ngx_http_chat_token_header_or_cookie);

    bool  no_context = true;

    if (!c.sid.empty()) {
        auto                      in = chat::json::parse(body);
        const chat::json::Value  *context = in.ok()
                                            ? in.value().find("context") : NULL;

        no_context = body.find_first_not_of(" \t\r\n") == std::string::npos
                     || (in.ok() && (context == NULL || context->is_null()));

        /*
         * A valid token is never limited, but a context it brings is a write
         * (an UPDATE of its conversation): it takes from the session's
         * chat_rate like every customer write. Past it the session is
         * restored as without a context, and nothing is written (a restore
         * with a new page_url on every request was a write the limit never
         * saw).
         */
        if (context && context->as_object()
            && ngx_http_chat_rate_take(cmcf,
                   cmcf->zone && cmcf->zone->sh ? cmcf->zone->sh->buckets
                                                : NULL,
                   &cmcf->rate, c.sid)
               != 0)
        {
            body = {};
            no_context = true;
        }
    }

    /*
     * Refresh resilience without a round trip: a valid token, no new
     * context, and an open conversation in the cache.
     */
    if (cmcf->zone && !cr.token.empty()) {
        std::string                          conv;
        std::vector<chat::CachedMessage>     msgs;

        if (!c.sid.empty() && no_context
            && ngx_http_chat_cache_read(cmcf->zone, c.sid, -1, cmcf->history,
                                        &conv, &msgs))
        {
            auto resumed = svc->resume_session(std::string(c.sid), c.site,
                                               conv, msgs);

            if (resumed) {
                ngx_http_chat_count(cmcf, cache_hits);
                return ngx_http_chat_outcome_send(r, std::move(*resumed));
            }
        }

        ngx_http_chat_count(cmcf, cache_misses);
    }

    return ngx_http_chat_suspend(r, [&](ngx_http_chat_park_t id) {
        svc->open_session(cr.token, body, c.site,
                          ngx_http_chat_outcome_done(r, id));
    });
}


/* GET /v1/conversation?after=&limit= */

static ngx_int_t
ngx_http_chat_conversation(ngx_http_chat_call_t &c)
{
    ngx_http_request_t         *r = c.r;
    ngx_http_chat_main_conf_t  *cmcf = ngx_http_chat_cmcf(r);

    auto win = chat::customer::parse_window(c.args);
    if (!win.ok()) {
        return ngx_http_chat_send_error(r, win.error().code,
                                        win.error().message);
    }

    std::string_view  sid = c.sid;

    if (cmcf->zone) {
        ngx_str_t  answer;

        /* rendered from shared memory into r->pool, sent without a copy */
        if (ngx_http_chat_cache_answer(cmcf->zone, sid, win.value().after,
                                       win.value().limit, r->pool, &answer))
        {
            ngx_http_chat_count(cmcf, cache_hits);
            return ngx_http_chat_send_pooled_json(r, NGX_HTTP_OK, answer);
        }

        ngx_http_chat_count(cmcf, cache_misses);
    }

    return ngx_http_chat_suspend(r, [&](ngx_http_chat_park_t id) {
        ngx_http_chat_service()->conversation(std::string(sid),
                                              win.value().after,
                                              win.value().limit,
                                              ngx_http_chat_outcome_done(r,
                                                                         id));
    });
}


/*
 * GET /v1/faq: from the worker's FAQ set, no round trip; a worker that has
 * not loaded it yet (just started) loads it first
 */

static ngx_int_t
ngx_http_chat_faq(ngx_http_chat_call_t &c)
{
    chat::customer::Service  *svc = ngx_http_chat_service();
    ngx_http_request_t       *r = c.r;

    if (svc == NULL) {
        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "the FAQ is not loaded yet");
    }

    if (svc->faq() != NULL) {
        return ngx_http_chat_outcome_send(r, svc->faq_list_now(c.site));
    }

    return ngx_http_chat_suspend(r, [&](ngx_http_chat_park_t id) {
        svc->faq_list(c.site, ngx_http_chat_outcome_done(r, id));
    });
}


const ngx_http_chat_route_t  ngx_http_chat_customer_routes[] = {

    /* a new session is limited per address, before its body is read */
    { NGX_HTTP_POST, "v1/session", ngx_http_chat_auth_session,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE_ADDRESS,
      NULL, ngx_http_chat_session },

    /* GET /v1/conversation?after=&limit= */
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/conversation",
      ngx_http_chat_auth_customer, 0, NULL, ngx_http_chat_conversation },

    { NGX_HTTP_POST, "v1/messages", ngx_http_chat_auth_customer,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](const ngx_http_chat_call_t &c, chat::OutcomeDone done) {
          ngx_http_chat_service()->post_message(std::string(c.sid), c.body,
              c.site, std::move(done));
      }, NULL },

    { NGX_HTTP_POST, "v1/escalate", ngx_http_chat_auth_customer,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](const ngx_http_chat_call_t &c, chat::OutcomeDone done) {
          ngx_http_chat_service()->escalate(std::string(c.sid), c.body,
              c.site, std::move(done));
      }, NULL },

    { NGX_HTTP_POST, "v1/read", ngx_http_chat_auth_customer,
      NGX_HTTP_CHAT_BODY,
      [](const ngx_http_chat_call_t &c, chat::OutcomeDone done) {
          ngx_http_chat_service()->mark_read(std::string(c.sid), c.body,
              c.site, std::move(done));
      }, NULL },

    { NGX_HTTP_POST, "v1/identify", ngx_http_chat_auth_customer,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](const ngx_http_chat_call_t &c, chat::OutcomeDone done) {
          ngx_http_chat_service()->identify(std::string(c.sid), c.body,
              c.site, std::move(done));
      }, NULL },

    { NGX_HTTP_POST, "v1/rating", ngx_http_chat_auth_customer,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](const ngx_http_chat_call_t &c, chat::OutcomeDone done) {
          ngx_http_chat_service()->rate(std::string(c.sid), c.body, c.site,
                                        std::move(done));
      }, NULL },

    { NGX_HTTP_POST, "v1/feedback", ngx_http_chat_auth_customer,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](const ngx_http_chat_call_t &c, chat::OutcomeDone done) {
          ngx_http_chat_service()->feedback(std::string(c.sid), c.body, std::move(done));
      }, NULL },

    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/faq", ngx_http_chat_auth_none, 0,
      NULL, ngx_http_chat_faq },

    /*
     * public, but a round trip: a session's requests count against its
     * chat_rate, anyone else's against chat_session_rate per address
     */
    { NGX_HTTP_GET|NGX_HTTP_HEAD, "v1/departments", ngx_http_chat_auth_session,
      NGX_HTTP_CHAT_RATE|NGX_HTTP_CHAT_RATE_ADDRESS,
      [](const ngx_http_chat_call_t &c, chat::OutcomeDone done) {
          ngx_http_chat_service()->departments(c.site, std::move(done));
      }, NULL },

    { 0, NULL, ngx_http_chat_auth_none, 0, NULL, NULL }
};
