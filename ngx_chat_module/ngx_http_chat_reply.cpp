/*
 * Sending answers: JSON bodies, API.md's error shape (also for the errors
 * nginx itself answers in an API location, such as 413 before the handler
 * runs), and suspending requests answered later (NGX_DONE) and finishing
 * them.
 */

#include "ngx_http_chat.h"

#include "chat/http_rules.h"


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * The status line and headers of an answer whose body is len bytes; the
 * rc of ngx_http_send_header().  The body follows (ngx_http_chat_send_body)
 * unless the rc says otherwise or r->header_only (HEAD, an empty body).
 */
static ngx_int_t
ngx_http_chat_send_header(ngx_http_request_t *r, ngx_uint_t status,
    size_t len, const char *content_type)
{
    ngx_http_chat_main_conf_t  *cmcf;

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_chat_module));

    ngx_http_chat_ctx_t  *ctx = ngx_http_chat_ctx(r);

    if (ctx) {
        ctx->own_response = 1;
    }

    ngx_http_chat_count(cmcf, requests);

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_http_chat_count(cmcf, errors);
    }

    r->headers_out.status = status;
    r->headers_out.content_type_len = ngx_strlen(content_type);
    r->headers_out.content_type.len = r->headers_out.content_type_len;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    if (len == 0) {
        r->header_only = 1;
    }

    return ngx_http_send_header(r);
}


/* the body of the answer, the buffer b (in r->pool) as the whole of it */
static ngx_int_t
ngx_http_chat_send_body(ngx_http_request_t *r, ngx_buf_t *b)
{
    ngx_chain_t  out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_chat_send(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view body, const char *content_type) noexcept
{
    ngx_int_t   rc;
    ngx_buf_t  *b;

    rc = ngx_http_chat_send_header(r, status, body.size(), content_type);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, body.size());
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, body.data(), body.size());

    return ngx_http_chat_send_body(r, b);
}


ngx_int_t
ngx_http_chat_send_pooled_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t json) noexcept
{
    ngx_int_t   rc;
    ngx_buf_t  *b;

    rc = ngx_http_chat_send_header(r, status, json.len, "application/json");

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = static_cast<ngx_buf_t *>(ngx_pcalloc(r->pool, sizeof(ngx_buf_t)));
    if (b == NULL) {
        return NGX_ERROR;
    }

    /* the pool's memory outlives the request's output: no copy needed */
    b->pos = json.data;
    b->last = json.data + json.len;
    b->start = b->pos;
    b->end = b->last;
    b->temporary = 1;

    return ngx_http_chat_send_body(r, b);
}


ngx_int_t
ngx_http_chat_send_json(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view json) noexcept
{
    return ngx_http_chat_send(r, status, json, "application/json");
}


/* a header of the answer about to be sent, its value copied to r->pool */
ngx_int_t
ngx_http_chat_add_header(ngx_http_request_t *r, const char *key,
    std::string_view value) noexcept
{
    u_char           *p;
    ngx_table_elt_t  *h;

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    p = static_cast<u_char *>(ngx_pnalloc(r->pool, value.size()));

    if (h == NULL || p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = p;
    h->value.len = ngx_cpymem(p, value.data(), value.size()) - p;

    return NGX_OK;
}


ngx_int_t
ngx_http_chat_retry_after(ngx_http_request_t *r, uint64_t seconds) noexcept
{
    try {
        return ngx_http_chat_add_header(r, "Retry-After",
                                        chat::http::retry_after(seconds));

    } catch (...) {
        return NGX_ERROR;
    }
}


ngx_int_t
ngx_http_chat_send_error(ngx_http_request_t *r, chat::Errc code,
    std::string_view message) noexcept
{
    try {
        std::string  body = chat::http::error_body(code, message);
        auto         retry = chat::http::error_retry_after_s(code);

        if (retry && ngx_http_chat_retry_after(r, *retry) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_chat_send_json(r, chat::errc_http_status(code), body);

    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/*
 * Parked requests: a request answered from a completion (Postgres, Redis,
 * the thread pool) is registered here under a never-reused id, and the
 * completion captures that id, never the pointer. A cleanup on r->pool
 * removes the entry whenever nginx frees the request without us (a client
 * abort, worker_shutdown_timeout closing every connection, a WebSocket
 * closing), so a completion that comes later finds nothing and touches
 * nothing. The entry lives in the cleanup's own storage: one allocation,
 * made before the work starts, and the rbtree finds it by id.
 *
 * A worker shutting down (reload) exits as soon as no non-cancelable timer
 * is left, even with requests still waiting for Postgres or Redis. While any
 * request is parked, a timer keeps the worker until they are answered (or
 * freed by worker_shutdown_timeout).
 */
typedef struct {
    ngx_rbtree_node_t    node;          /* key: the id */
    ngx_http_request_t  *request;       /* NULL once unparked */
} ngx_http_chat_parked_t;

static ngx_rbtree_t          ngx_http_chat_parked_tree;
static ngx_rbtree_node_t     ngx_http_chat_parked_sentinel;
static ngx_uint_t            ngx_http_chat_parked_n;
static ngx_http_chat_park_t  ngx_http_chat_park_last;
static ngx_event_t           ngx_http_chat_park_ev;


static void
ngx_http_chat_park_handler(ngx_event_t *ev)
{
    if (ngx_http_chat_parked_n) {
        ngx_add_timer(ev, 1000);
    }
}


static void
ngx_http_chat_park_remove(ngx_http_chat_parked_t *p)
{
    ngx_rbtree_delete(&ngx_http_chat_parked_tree, &p->node);
    p->request = NULL;
    ngx_http_chat_parked_n--;
}


/* r->pool is being destroyed: the request is gone */
static void
ngx_http_chat_park_cleanup(void *data)
{
    ngx_http_chat_parked_t  *p = static_cast<ngx_http_chat_parked_t *>(data);

    if (p->request) {
        ngx_http_chat_park_remove(p);
    }
}


ngx_http_chat_park_t
ngx_http_chat_park(ngx_http_request_t *r) noexcept
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_chat_parked_t  *p;

    if (ngx_http_chat_parked_tree.root == NULL) {
        ngx_rbtree_init(&ngx_http_chat_parked_tree,
                        &ngx_http_chat_parked_sentinel,
                        ngx_rbtree_insert_value);
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_chat_parked_t));
    if (cln == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "chat: parking the request failed");
        return 0;
    }

    p = static_cast<ngx_http_chat_parked_t *>(cln->data);
    p->node.key = ++ngx_http_chat_park_last;
    p->request = r;

    cln->handler = ngx_http_chat_park_cleanup;
    cln->data = p;

    ngx_rbtree_insert(&ngx_http_chat_parked_tree, &p->node);
    ngx_http_chat_parked_n++;

    if (!ngx_http_chat_park_ev.timer_set) {
        ngx_http_chat_park_ev.handler = ngx_http_chat_park_handler;
        ngx_http_chat_park_ev.log = ngx_cycle->log;
        ngx_http_chat_park_ev.data = &ngx_http_chat_parked_n;
        ngx_add_timer(&ngx_http_chat_park_ev, 1000);
    }

    return p->node.key;
}


/* the entry of id, or NULL when it is not (or no longer) parked */
static ngx_http_chat_parked_t *
ngx_http_chat_park_find(ngx_http_chat_park_t id)
{
    ngx_rbtree_node_t  *node, *sentinel;

    if (id == 0 || ngx_http_chat_parked_tree.root == NULL) {
        return NULL;
    }

    node = ngx_http_chat_parked_tree.root;
    sentinel = ngx_http_chat_parked_tree.sentinel;

    while (node != sentinel) {
        if (id == node->key) {
            return reinterpret_cast<ngx_http_chat_parked_t *>(node);
        }

        node = (id < node->key) ? node->left : node->right;
    }

    return NULL;
}


ngx_http_request_t *
ngx_http_chat_parked(ngx_http_chat_park_t id) noexcept
{
    ngx_http_chat_parked_t  *p = ngx_http_chat_park_find(id);

    return p ? p->request : NULL;
}


ngx_http_request_t *
ngx_http_chat_unpark(ngx_http_chat_park_t id) noexcept
{
    ngx_http_request_t      *r;
    ngx_http_chat_parked_t  *p = ngx_http_chat_park_find(id);

    if (p == NULL) {
        return NULL;
    }

    r = p->request;
    ngx_http_chat_park_remove(p);

    return r;
}


/* finalizes a request answered from a completion */
void
ngx_http_chat_finish(ngx_http_request_t *r, ngx_int_t rc) noexcept
{
    ngx_connection_t  *c = r->connection;   /* r may be freed below */

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * nginx answers some errors itself before or around our handler (413 from
 * client_max_body_size, 400 on a broken request, 500 on failures). In a
 * chat_api location those answers get API.md's JSON shape too
 * (chat::http::status_error picks the code).
 */
static ngx_int_t
ngx_http_chat_header_filter(ngx_http_request_t *r)
{
    ngx_buf_t                 *b;
    ngx_http_chat_ctx_t       *ctx;
    ngx_http_chat_loc_conf_t  *lcf;

    lcf = static_cast<ngx_http_chat_loc_conf_t *>(
              ngx_http_get_module_loc_conf(r, ngx_http_chat_module));

    if (lcf == NULL || lcf->api != 1 || r != r->main
        || r->headers_out.status < NGX_HTTP_BAD_REQUEST)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = static_cast<ngx_http_chat_ctx_t *>(
              ngx_http_get_module_ctx(r, ngx_http_chat_module));

    if (ctx && ctx->own_response) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_chat_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    try {
        auto         e = chat::http::status_error(
                             (int) r->headers_out.status);
        std::string  body = chat::http::error_body(e.code, e.message);

        b = ngx_create_temp_buf(r->pool, body.size());
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->last = ngx_cpymem(b->pos, body.data(), body.size());
        b->last_buf = 1;
        b->last_in_chain = 1;

    } catch (...) {
        return NGX_ERROR;
    }

    ctx->error_body = b;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_chat_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t           out, *cl;
    ngx_http_chat_ctx_t  *ctx;

    ctx = static_cast<ngx_http_chat_ctx_t *>(
              ngx_http_get_module_ctx(r, ngx_http_chat_module));

    if (ctx == NULL || ctx->error_body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* swallow nginx's HTML page; send ours once */
    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        return NGX_OK;
    }

    ctx->error_sent = 1;

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_chat_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_chat_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_chat_body_filter;

    return NGX_OK;
}
