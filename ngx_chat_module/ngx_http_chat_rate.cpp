/*
 * The per-session rate limit: `chat_rate RATE [burst=N]`, token buckets in
 * the chat zone, and the 429 answer with Retry-After.
 */

#include "ngx_http_chat.h"


#define NGX_HTTP_CHAT_MICRO  1000000


/*
 * Takes one token from the bucket of key. Returns 0 when allowed, else the
 * milliseconds until a token is available.
 */
ngx_msec_t
ngx_http_chat_rate_take(ngx_http_chat_main_conf_t *cmcf, std::string_view key)
{
    uint32_t                 hash;
    uint64_t                 tokens, burst;
    ngx_msec_t               now, elapsed, wait;
    ngx_slab_pool_t         *shpool;
    ngx_http_chat_bucket_t  *b;

    if (cmcf->zone == NULL || cmcf->zone->sh == NULL
        || cmcf->zone->sh->buckets == NULL || cmcf->rate == 0)
    {
        return 0;
    }

    shpool = cmcf->zone->shpool;
    hash = ngx_crc32_short((u_char *) key.data(), key.size());
    burst = (uint64_t) cmcf->burst * NGX_HTTP_CHAT_MICRO;
    now = ngx_current_msec;
    wait = 0;

    ngx_shmtx_lock(&shpool->mutex);

    b = &cmcf->zone->sh->buckets[hash % NGX_HTTP_CHAT_RATE_SLOTS];

    if (b->key != hash || b->last == 0) {
        b->key = hash;
        b->tokens = (uint32_t) burst;
        b->last = now;
    }

    elapsed = now - b->last;
    tokens = b->tokens + (uint64_t) elapsed * cmcf->rate;

    if (tokens > burst) {
        tokens = burst;
    }

    b->last = now;

    if (tokens >= NGX_HTTP_CHAT_MICRO) {
        tokens -= NGX_HTTP_CHAT_MICRO;

    } else {
        wait = (NGX_HTTP_CHAT_MICRO - tokens + cmcf->rate - 1) / cmcf->rate;
    }

    b->tokens = (uint32_t) tokens;

    ngx_shmtx_unlock(&shpool->mutex);

    if (wait) {
        ngx_http_chat_count(cmcf, rate_limited);
    }

    return wait;
}


ngx_int_t
ngx_http_chat_send_rate_limited(ngx_http_request_t *r, ngx_msec_t retry)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    h = static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = static_cast<u_char *>(ngx_pnalloc(r->pool, NGX_TIME_T_LEN));
    if (p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%M", (retry + 999) / 1000) - p;

    return ngx_http_chat_send_error(r, chat::Errc::rate_limited,
                                    "too many messages, slow down");
}


/* chat_rate 1r/s [burst=30] */
char *
ngx_http_chat_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    u_char     *p;
    size_t      len;
    ngx_int_t   n, scale;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (cmcf->rate != NGX_CONF_UNSET_UINT) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    p = value[1].data;
    len = value[1].len;
    scale = 1;

    if (len > 3 && ngx_strncmp(p + len - 3, "r/s", 3) == 0) {
        len -= 3;

    } else if (len > 3 && ngx_strncmp(p + len - 3, "r/m", 3) == 0) {
        len -= 3;
        scale = 60;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\", expected e.g. 1r/s or 30r/m",
                           &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    n = ngx_atoi(p, len);
    if (n <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\"", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    /* millionths of a token per millisecond */
    cmcf->rate = (ngx_uint_t) n * 1000 / scale;

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n <= 0 || n > 4000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\", expected 1..4000",
                                   &value[i]);
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            cmcf->burst = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}
