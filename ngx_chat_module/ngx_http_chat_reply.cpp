/*
 * Sending answers: JSON bodies, API.md's error shape, and finishing requests
 * that were parked with NGX_DONE while core worked asynchronously.
 */

#include "ngx_http_chat.h"

#include "chat/json.h"


ngx_int_t
ngx_http_chat_send(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view body, const char *content_type) noexcept
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ngx_http_chat_main_conf_t  *cmcf;

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_chat_module));

    ngx_http_chat_count(cmcf, requests);

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_http_chat_count(cmcf, errors);
    }

    r->headers_out.status = status;
    r->headers_out.content_type_len = ngx_strlen(content_type);
    r->headers_out.content_type.len = r->headers_out.content_type_len;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = body.size();

    if (body.empty()) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, body.size());
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, body.data(), body.size());
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_chat_send_json(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view json) noexcept
{
    return ngx_http_chat_send(r, status, json, "application/json");
}


ngx_int_t
ngx_http_chat_send_error(ngx_http_request_t *r, chat::Errc code,
    std::string_view message) noexcept
{
    ngx_uint_t  status = chat::errc_http_status(code);

    try {
        std::string        body;
        chat::json::Writer w(body);

        w.begin_object();
        w.key("error");
        w.begin_object();
        w.key("code");
        w.string(chat::errc_name(code));
        w.key("message");
        w.string(message);
        w.end_object();
        w.end_object();

        if (code == chat::Errc::unavailable) {
            ngx_table_elt_t  *h = static_cast<ngx_table_elt_t *>(
                                      ngx_list_push(&r->headers_out.headers));
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->hash = 1;
            ngx_str_set(&h->key, "Retry-After");
            ngx_str_set(&h->value, "1");
        }

        return ngx_http_chat_send_json(r, status, body);

    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


void
ngx_http_chat_finish(ngx_http_request_t *r, ngx_int_t rc) noexcept
{
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(r->connection);
}
