/*
 * The agent and admin endpoints of API.md: their routes, the agent's
 * credentials (cookie chat_agent or Bearer), CSRF, and the call of each use
 * case. Every rule is core's (chat::agent::Service).
 */

#include "ngx_http_chat.h"

#include "chat/agent.h"


typedef enum {
    ngx_http_chat_op_login = 1,
    ngx_http_chat_op_logout,
    ngx_http_chat_op_me,
    ngx_http_chat_op_presence,
    ngx_http_chat_op_list,
    ngx_http_chat_op_get,
    ngx_http_chat_op_post,
    ngx_http_chat_op_claim,
    ngx_http_chat_op_transfer,
    ngx_http_chat_op_close,
    ngx_http_chat_op_read,
    ngx_http_chat_op_admin_agents,
    ngx_http_chat_op_admin_agent_create,
    ngx_http_chat_op_admin_agent_update,
    ngx_http_chat_op_admin_agent_delete,
    ngx_http_chat_op_admin_faq,
    ngx_http_chat_op_admin_faq_create,
    ngx_http_chat_op_admin_faq_update,
    ngx_http_chat_op_admin_faq_delete
} ngx_http_chat_op_e;


static void ngx_http_chat_agent_body(ngx_http_request_t *r, std::string body);


static chat::agent::Service *
ngx_http_chat_agent_service(void)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    return w ? w->agent : NULL;
}


/*
 * The handler of every agent and admin route (ctx->op says which, ctx->id
 * holds its {id}): every route reads its (possibly empty) body, then
 * authenticates.
 */
static ngx_int_t
ngx_http_chat_agent_route(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_http_chat_agent_service() == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    return ngx_http_chat_read_body(r, ngx_http_chat_agent_body);
}


#define NGX_HTTP_CHAT_READ  (NGX_HTTP_GET|NGX_HTTP_HEAD)

ngx_http_chat_route_t  ngx_http_chat_agent_routes[] = {
    { NGX_HTTP_POST, "v1/agent/login", ngx_http_chat_agent_route,
      ngx_http_chat_op_login },
    { NGX_HTTP_POST, "v1/agent/logout", ngx_http_chat_agent_route,
      ngx_http_chat_op_logout },
    { NGX_HTTP_CHAT_READ, "v1/agent/me", ngx_http_chat_agent_route,
      ngx_http_chat_op_me },
    { NGX_HTTP_POST, "v1/agent/presence", ngx_http_chat_agent_route,
      ngx_http_chat_op_presence },
    { NGX_HTTP_CHAT_READ, "v1/agent/conversations",
      ngx_http_chat_agent_route, ngx_http_chat_op_list },
    { NGX_HTTP_CHAT_READ, "v1/agent/conversations/{id}",
      ngx_http_chat_agent_route, ngx_http_chat_op_get },
    { NGX_HTTP_POST, "v1/agent/conversations/{id}/messages",
      ngx_http_chat_agent_route, ngx_http_chat_op_post },
    { NGX_HTTP_POST, "v1/agent/conversations/{id}/claim",
      ngx_http_chat_agent_route, ngx_http_chat_op_claim },
    { NGX_HTTP_POST, "v1/agent/conversations/{id}/transfer",
      ngx_http_chat_agent_route, ngx_http_chat_op_transfer },
    { NGX_HTTP_POST, "v1/agent/conversations/{id}/close",
      ngx_http_chat_agent_route, ngx_http_chat_op_close },
    { NGX_HTTP_POST, "v1/agent/conversations/{id}/read",
      ngx_http_chat_agent_route, ngx_http_chat_op_read },
    { NGX_HTTP_CHAT_READ, "v1/admin/agents", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_agents },
    { NGX_HTTP_POST, "v1/admin/agents", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_agent_create },
    { NGX_HTTP_PATCH, "v1/admin/agents/{id}", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_agent_update },
    { NGX_HTTP_DELETE, "v1/admin/agents/{id}", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_agent_delete },
    { NGX_HTTP_CHAT_READ, "v1/admin/faq", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_faq },
    { NGX_HTTP_POST, "v1/admin/faq", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_faq_create },
    { NGX_HTTP_PATCH, "v1/admin/faq/{id}", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_faq_update },
    { NGX_HTTP_DELETE, "v1/admin/faq/{id}", ngx_http_chat_agent_route,
      ngx_http_chat_op_admin_faq_delete },
    { 0, NULL, NULL, 0 }
};


static void
ngx_http_chat_agent_dispatch(ngx_http_request_t *r,
    const chat::agent::Principal &p, const std::string &id,
    const std::string &body)
{
    chat::agent::Service  *svc = ngx_http_chat_agent_service();
    ngx_http_chat_ctx_t   *ctx = ngx_http_chat_ctx(r);
    std::string_view       args = ngx_http_chat_sv(r->args);
    chat::agent::Done      done;

    if (ngx_http_chat_outcome_park(r, &done) != NGX_OK) {
        ngx_http_chat_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    switch (ctx->op) {
    case ngx_http_chat_op_logout:
        return svc->logout(p, std::move(done));
    case ngx_http_chat_op_me:
        return svc->me(p, std::move(done));
    case ngx_http_chat_op_presence:
        return svc->presence(p, body, std::move(done));
    case ngx_http_chat_op_list:
        return svc->conversations(p, args, std::move(done));
    case ngx_http_chat_op_get:
        return svc->conversation(p, id, args, std::move(done));
    case ngx_http_chat_op_post:
        return svc->post(p, id, body, std::move(done));
    case ngx_http_chat_op_claim:
        return svc->claim(p, id, std::move(done));
    case ngx_http_chat_op_transfer:
        return svc->transfer(p, id, body, std::move(done));
    case ngx_http_chat_op_close:
        return svc->close(p, id, std::move(done));
    case ngx_http_chat_op_read:
        return svc->read(p, id, body, std::move(done));
    case ngx_http_chat_op_admin_agents:
        return svc->admin_agents(p, args, std::move(done));
    case ngx_http_chat_op_admin_agent_create:
        return svc->admin_create_agent(p, body, std::move(done));
    case ngx_http_chat_op_admin_agent_update:
        return svc->admin_update_agent(p, id, body,
                                       std::move(done));
    case ngx_http_chat_op_admin_agent_delete:
        return svc->admin_delete_agent(p, id, std::move(done));
    case ngx_http_chat_op_admin_faq:
        return svc->admin_faq(p, std::move(done));
    case ngx_http_chat_op_admin_faq_create:
        return svc->admin_create_faq(p, body, std::move(done));
    case ngx_http_chat_op_admin_faq_update:
        return svc->admin_update_faq(p, id, body,
                                     std::move(done));
    case ngx_http_chat_op_admin_faq_delete:
        return svc->admin_delete_faq(p, id, std::move(done));
    }

    /* not reached: every op has a case (the parked entry goes with r->pool) */
    ngx_http_chat_finish(r, ngx_http_chat_send_error(r,
                         chat::Errc::not_found, "no such endpoint"));
}


static void
ngx_http_chat_agent_body(ngx_http_request_t *r, std::string body)
{
    chat::agent::Service         *svc = ngx_http_chat_agent_service();
    ngx_http_chat_ctx_t          *ctx = ngx_http_chat_ctx(r);
    ngx_http_chat_credentials_t   cr;

    if (ctx->op == ngx_http_chat_op_login) {
        chat::agent::Done  done;

        if (ngx_http_chat_outcome_park(r, &done) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        svc->login(body, ngx_http_chat_sv(r->connection->addr_text),
                   std::move(done));
        return;
    }

    cr = ngx_http_chat_credentials(r, chat::agent::kAgentCookie,
                                   ngx_http_chat_token_header_or_cookie);

    if (cr.token.empty()) {
        ngx_http_finalize_request(r, ngx_http_chat_send_error(r,
                                  chat::Errc::unauthorized,
                                  "missing agent token"));
        return;
    }

    if (cr.from_cookie && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        && !ngx_http_chat_csrf_ok(r))
    {
        ngx_http_finalize_request(r, ngx_http_chat_send_error(r,
                   chat::Errc::forbidden,
                   "cookie-authenticated writes need the X-Chat-Csrf header"));
        return;
    }

    ngx_http_chat_park_t  pid = ngx_http_chat_park(r);

    if (pid == 0) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    std::string  id(ngx_http_chat_sv(ctx->id));

    svc->authenticate(cr.token,
        [pid, id, body = std::move(body)]
        (chat::Result<chat::agent::Principal> p) {
            ngx_http_request_t  *r = ngx_http_chat_unpark(pid);

            if (r == NULL) {
                return;                 /* the request is gone */
            }

            if (!p.ok()) {
                ngx_http_chat_finish(r, ngx_http_chat_outcome_send(r,
                                                                 p.error()));
                return;
            }

            ngx_http_chat_agent_dispatch(r, p.value(), id, body);
        });
}
