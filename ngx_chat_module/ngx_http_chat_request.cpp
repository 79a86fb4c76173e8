/*
 * Request plumbing shared by every endpoint: reading the body without
 * blocking, the per-request context, and reading what core's HTTP rules
 * (chat/http_rules.h) decide on: the credentials (Bearer, cookie, and
 * ?token= on the WebSocket upgrades only), the CSRF check, and the cookies.
 */

#include "ngx_http_chat.h"

#include <optional>

#if (NGX_HTTP_REALIP)
extern "C" {
extern ngx_module_t  ngx_http_realip_module;
}
#endif


static void ngx_http_chat_body_read(ngx_http_request_t *r);


/*
 * Reads the request body, then calls handler(r, body) once and finalizes r
 * with the rc it returns (NGX_DONE when it suspended r). Returns what the
 * content handler should return (NGX_DONE while reading).
 */
ngx_int_t
ngx_http_chat_read_body(ngx_http_request_t *r, ngx_http_chat_body_pt handler)
{
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *hclcf;
    ngx_http_chat_ctx_t       *ctx;

    hclcf = static_cast<ngx_http_core_loc_conf_t *>(
                ngx_http_get_module_loc_conf(r, ngx_http_core_module));

    /* answer an oversized body in the API's shape before reading it */
    if (hclcf->client_max_body_size
        && r->headers_in.content_length_n > hclcf->client_max_body_size)
    {
        r->keepalive = 0;
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_chat_send_error(r, chat::Errc::too_large,
                                        "request body is too large");
    }

    ctx = ngx_http_chat_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body_handler = handler;

    /* small API bodies: keep them in memory, never in a temp file */
    r->request_body_in_single_buf = 1;
    r->request_body_no_buffering = 0;

    rc = ngx_http_read_client_request_body(r, ngx_http_chat_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            r->keepalive = 0;
            return ngx_http_chat_send_error(r, chat::Errc::too_large,
                                            "request body is too large");
        }

        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_chat_body_read(ngx_http_request_t *r)
{
    ssize_t                    n;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_chat_ctx_t       *ctx;

    ctx = static_cast<ngx_http_chat_ctx_t *>(
              ngx_http_get_module_ctx(r, ngx_http_chat_module));

    try {
        std::string  body;

        if (r->request_body) {
            for (cl = r->request_body->bufs; cl; cl = cl->next) {
                b = cl->buf;

                if (b->in_file) {
                    /* a body larger than client_body_buffer_size */
                    size_t  len = b->file_last - b->file_pos;
                    size_t  old = body.size();

                    body.resize(old + len);
                    n = ngx_read_file(b->file, (u_char *) &body[old], len,
                                      b->file_pos);
                    if (n != (ssize_t) len) {
                        ngx_http_finalize_request(r,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
                        return;
                    }

                    continue;
                }

                body.append(reinterpret_cast<const char *>(b->pos),
                            b->last - b->pos);
            }
        }

        ngx_http_finalize_request(r, ctx->body_handler(r, std::move(body)));

    } catch (const std::exception &e) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chat: reading the body failed: %s", e.what());
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* the module's per-request context, created on first use */
ngx_http_chat_ctx_t *
ngx_http_chat_ctx(ngx_http_request_t *r)
{
    ngx_http_chat_ctx_t  *ctx;

    ctx = static_cast<ngx_http_chat_ctx_t *>(
              ngx_http_get_module_ctx(r, ngx_http_chat_module));

    if (ctx == NULL) {
        ctx = static_cast<ngx_http_chat_ctx_t *>(
                  ngx_pcalloc(r->pool, sizeof(ngx_http_chat_ctx_t)));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_chat_module);
    }

    return ctx;
}


static ngx_int_t
ngx_http_chat_ctx_copy(ngx_http_request_t *r, ngx_str_t *to,
    std::string_view s)
{
    to->data = static_cast<u_char *>(ngx_pnalloc(r->pool, s.size() + 1));
    if (to->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->data, s.data(), s.size());
    to->data[s.size()] = '\0';
    to->len = s.size();

    return NGX_OK;
}


ngx_int_t
ngx_http_chat_ctx_set_principal(ngx_http_request_t *r, std::string_view id)
{
    ngx_http_chat_ctx_t  *ctx = ngx_http_chat_ctx(r);

    return ctx ? ngx_http_chat_ctx_copy(r, &ctx->principal, id) : NGX_ERROR;
}


ngx_int_t
ngx_http_chat_ctx_set_id(ngx_http_request_t *r, std::string_view id)
{
    ngx_http_chat_ctx_t  *ctx = ngx_http_chat_ctx(r);

    if (ctx && id.empty()) {
        /* most routes have no {id}: nothing to copy */
        ngx_str_set(&ctx->id, "");
        return NGX_OK;
    }

    return ctx ? ngx_http_chat_ctx_copy(r, &ctx->id, id) : NGX_ERROR;
}


/* the value of a request header, case-insensitive; empty when absent */
std::string_view
ngx_http_chat_header(ngx_http_request_t *r, std::string_view name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = static_cast<ngx_table_elt_t *>(part->elts);

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = static_cast<ngx_table_elt_t *>(part->elts);
            i = 0;
        }

        if (h[i].key.len == name.size()
            && ngx_strncasecmp(h[i].key.data, (u_char *) name.data(),
                               name.size()) == 0)
        {
            return ngx_http_chat_sv(h[i].value);
        }
    }

    return {};
}


/*
 * The credentials of a request (core's chat::http::credentials decides):
 * "?token=" is read only when src allows it, the WebSocket upgrades.
 */
ngx_http_chat_credentials_t
ngx_http_chat_credentials(ngx_http_request_t *r, std::string_view cookie,
    ngx_http_chat_token_src_e src)
{
    ngx_str_t                        name, value;
    ngx_http_chat_credentials_t      cr;
    std::optional<std::string_view>  auth, cookie_value, url_token;

    if (r->headers_in.authorization) {
        auth = ngx_http_chat_sv(r->headers_in.authorization->value);

        /* a Bearer token wins whatever else came: no cookie to parse */
        cr = chat::http::credentials(auth, std::nullopt, std::nullopt);
        if (!cr.token.empty()) {
            return cr;
        }
    }

    name.data = (u_char *) cookie.data();
    name.len = cookie.size();

    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &name,
                                          &value)
        != NGX_DECLINED)
    {
        cookie_value = ngx_http_chat_sv(value);
    }

    if (src == ngx_http_chat_token_or_url
        && ngx_http_arg(r, (u_char *) "token", 5, &value) == NGX_OK)
    {
        url_token = ngx_http_chat_sv(value);
    }

    return chat::http::credentials(auth, cookie_value, url_token);
}


/* the CSRF rule of cookie-authenticated writes (chat::http::csrf_ok) */
bool
ngx_http_chat_csrf_ok(ngx_http_request_t *r)
{
    std::optional<std::string_view>  host;

    if (r->headers_in.host) {
        host = ngx_http_chat_sv(r->headers_in.host->value);
    }

    return chat::http::csrf_ok(ngx_http_chat_header(r, "X-Chat-Csrf"),
                               ngx_http_chat_header(r, "Origin"), host);
}


/*
 * chat_cookie_secure (chat::http::cookie_secure decides): only the realip
 * module can vouch that the request came from a trusted proxy, its context
 * exists when it took the client address from a set_real_ip_from peer.
 */
ngx_int_t
ngx_http_chat_set_cookie(ngx_http_request_t *r, std::string_view name,
    std::string_view value, ngx_int_t max_age)
{
    bool                       tls = false, trusted = false;
    ngx_http_chat_loc_conf_t  *lcf;

    lcf = static_cast<ngx_http_chat_loc_conf_t *>(
              ngx_http_get_module_loc_conf(r, ngx_http_chat_module));

#if (NGX_HTTP_SSL)
    tls = r->connection->ssl != NULL;
#endif

#if (NGX_HTTP_REALIP)
    trusted = ngx_http_get_module_ctx(r, ngx_http_realip_module) != NULL;
#endif

    try {
        bool  secure = chat::http::cookie_secure(
                           (chat::http::CookieSecure) lcf->cookie_secure, tls,
                           trusted, ngx_http_chat_header(r,
                                                         "X-Forwarded-Proto"));

        return ngx_http_chat_add_header(r, "Set-Cookie",
                   chat::http::set_cookie(name, value, max_age, secure));

    } catch (...) {
        return NGX_ERROR;
    }
}
