/*
 * The agent and admin endpoints of API.md: routing of /v1/agent/... and
 * /v1/admin/..., the agent's credentials (cookie chat_agent or Bearer), CSRF,
 * and the answers. Every rule is core's (chat::agent::Service).
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


typedef struct {
    ngx_uint_t   op;            /* 0: no such path */
    bool         method_ok;
    std::string  id;            /* {id} or {slug} */
} ngx_http_chat_agent_route_t;


static void ngx_http_chat_agent_body(ngx_http_request_t *r, std::string body);


static chat::agent::Service *
ngx_http_chat_agent_service(void)
{
    ngx_http_chat_worker_t  *w = ngx_http_chat_worker();

    return w ? w->agent : NULL;
}


/* path is below "v1/": "agent/conversations/ID/claim", "admin/faq/SLUG" */
static ngx_http_chat_agent_route_t
ngx_http_chat_agent_route(ngx_uint_t method, std::string_view path)
{
    ngx_http_chat_agent_route_t  rt;
    std::vector<std::string_view>  seg;

    rt.op = 0;
    rt.method_ok = false;

    while (!path.empty()) {
        auto slash = path.find('/');
        seg.push_back(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view()
                                               : path.substr(slash + 1);
    }

    auto is = [&](ngx_uint_t m, ngx_uint_t op) {
        if (rt.op == 0 || !rt.method_ok) {
            rt.op = op;
            rt.method_ok = (method & m) != 0;
        }
    };

    if (seg.size() == 2 && seg[0] == "agent") {
        if (seg[1] == "login") {
            is(NGX_HTTP_POST, ngx_http_chat_op_login);
        } else if (seg[1] == "logout") {
            is(NGX_HTTP_POST, ngx_http_chat_op_logout);
        } else if (seg[1] == "me") {
            is(NGX_HTTP_GET|NGX_HTTP_HEAD, ngx_http_chat_op_me);
        } else if (seg[1] == "presence") {
            is(NGX_HTTP_POST, ngx_http_chat_op_presence);
        } else if (seg[1] == "conversations") {
            is(NGX_HTTP_GET|NGX_HTTP_HEAD, ngx_http_chat_op_list);
        }

    } else if (seg.size() >= 3 && seg.size() <= 4 && seg[0] == "agent"
               && seg[1] == "conversations" && !seg[2].empty())
    {
        rt.id = std::string(seg[2]);

        if (seg.size() == 3) {
            is(NGX_HTTP_GET|NGX_HTTP_HEAD, ngx_http_chat_op_get);
        } else if (seg[3] == "messages") {
            is(NGX_HTTP_POST, ngx_http_chat_op_post);
        } else if (seg[3] == "claim") {
            is(NGX_HTTP_POST, ngx_http_chat_op_claim);
        } else if (seg[3] == "transfer") {
            is(NGX_HTTP_POST, ngx_http_chat_op_transfer);
        } else if (seg[3] == "close") {
            is(NGX_HTTP_POST, ngx_http_chat_op_close);
        } else if (seg[3] == "read") {
            is(NGX_HTTP_POST, ngx_http_chat_op_read);
        }

    } else if (seg.size() == 2 && seg[0] == "admin") {
        if (seg[1] == "agents") {
            is(NGX_HTTP_GET|NGX_HTTP_HEAD, ngx_http_chat_op_admin_agents);
            is(NGX_HTTP_POST, ngx_http_chat_op_admin_agent_create);
        } else if (seg[1] == "faq") {
            is(NGX_HTTP_GET|NGX_HTTP_HEAD, ngx_http_chat_op_admin_faq);
            is(NGX_HTTP_POST, ngx_http_chat_op_admin_faq_create);
        }

    } else if (seg.size() == 3 && seg[0] == "admin" && !seg[2].empty()) {
        rt.id = std::string(seg[2]);

        if (seg[1] == "agents") {
            is(NGX_HTTP_PATCH, ngx_http_chat_op_admin_agent_update);
            is(NGX_HTTP_DELETE, ngx_http_chat_op_admin_agent_delete);
        } else if (seg[1] == "faq") {
            is(NGX_HTTP_PATCH, ngx_http_chat_op_admin_faq_update);
            is(NGX_HTTP_DELETE, ngx_http_chat_op_admin_faq_delete);
        }
    }

    return rt;
}


/* the routes below v1/agent/ and v1/admin/; path is below "v1/" */
ngx_int_t
ngx_http_chat_agent_handler(ngx_http_request_t *r, std::string_view path)
{
    ngx_int_t             rc;
    ngx_http_chat_ctx_t  *ctx;

    ngx_http_chat_agent_route_t  rt = ngx_http_chat_agent_route(r->method,
                                                                path);

    if (rt.op == 0 || !rt.method_ok || ngx_http_chat_agent_service() == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (rt.op == 0) {
            return ngx_http_chat_send_error(r, chat::Errc::not_found,
                                            "no such endpoint");
        }

        if (!rt.method_ok) {
            return ngx_http_chat_send_error(r,
                                            chat::Errc::method_not_allowed,
                                            "method not allowed");
        }

        return ngx_http_chat_send_error(r, chat::Errc::unavailable,
                                        "chat_postgres is not configured");
    }

    ctx = ngx_http_chat_ctx(r);
    if (ctx == NULL
        || ngx_http_chat_ctx_set_principal(r, rt.id) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->op = rt.op;

    /* every route reads its (possibly empty) body, then authenticates */
    return ngx_http_chat_read_body(r, ngx_http_chat_agent_body);
}


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

    std::string  id(ngx_http_chat_sv(ctx->principal));

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
