/*
 * Rate limits: token buckets in the chat zone (`chat_rate` per session,
 * `chat_session_rate` per client address), the 429 answer with Retry-After,
 * and the directives' parser.
 *
 * A table is NGX_HTTP_CHAT_RATE_SLOTS buckets in sets of
 * NGX_HTTP_CHAT_RATE_WAYS, keyed by a 64-bit hash of the key (crc32 picks the
 * set, crc32 and murmur2 together are the tag). Bounded, no allocation, one
 * short critical section under the zone's lock.
 *
 * The invariant: a bucket in use is never reset. A key finds its own bucket
 * in its set; else it takes an empty one, or one that has refilled to its
 * burst (its owner has been idle long enough that a fresh bucket is exactly
 * what it would have: evicting it gives nobody anything). Only when every
 * bucket of the set is in use does the key share one of them, chosen by its
 * hash so that it is always the same one: colliding keys then draw from one
 * bucket, which may slow them down but never hands anyone a fresh burst.
 */

#include "ngx_http_chat.h"


#define NGX_HTTP_CHAT_MICRO  1000000

#define NGX_HTTP_CHAT_RATE_SETS                                              \
    (NGX_HTTP_CHAT_RATE_SLOTS / NGX_HTTP_CHAT_RATE_WAYS)


/* the tokens of b now, refilled since b->last, capped at burst */
static uint64_t
ngx_http_chat_rate_tokens(ngx_http_chat_bucket_t *b,
    const ngx_http_chat_limit_t *limit, uint64_t burst, ngx_msec_t now)
{
    uint64_t    tokens;
    ngx_msec_t  elapsed;

    elapsed = now - b->last;

    if (elapsed > burst / limit->rate) {
        return burst;                   /* and no overflow below */
    }

    tokens = b->tokens + (uint64_t) elapsed * limit->rate;

    return tokens > burst ? burst : tokens;
}


/*
 * Takes one token from the bucket of key in table. Returns 0 when allowed,
 * else the milliseconds until a token is available.
 */
ngx_msec_t
ngx_http_chat_rate_take(ngx_http_chat_main_conf_t *cmcf,
    ngx_http_chat_bucket_t *table, const ngx_http_chat_limit_t *limit,
    std::string_view key)
{
    uint32_t                 crc;
    uint64_t                 hash, tokens, burst;
    ngx_uint_t               i;
    ngx_msec_t               now, wait;
    ngx_slab_pool_t         *shpool;
    ngx_http_chat_bucket_t  *set, *b, *free;

    if (cmcf->zone == NULL || cmcf->zone->sh == NULL || table == NULL
        || limit->rate == 0)
    {
        return 0;
    }

    shpool = cmcf->zone->shpool;
    crc = ngx_crc32_short((u_char *) key.data(), key.size());
    hash = ((uint64_t) crc << 32)
           | ngx_murmur_hash2((u_char *) key.data(), key.size());

    if (hash == 0) {
        hash = 1;                       /* 0 marks an empty bucket */
    }

    burst = (uint64_t) limit->burst * NGX_HTTP_CHAT_MICRO;
    now = ngx_current_msec;
    wait = 0;

    set = &table[(crc % NGX_HTTP_CHAT_RATE_SETS) * NGX_HTTP_CHAT_RATE_WAYS];
    b = NULL;
    free = NULL;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < NGX_HTTP_CHAT_RATE_WAYS; i++) {
        if (set[i].key == hash) {
            b = &set[i];
            break;
        }

        if (free == NULL
            && (set[i].key == 0
                || ngx_http_chat_rate_tokens(&set[i], limit, burst, now)
                   == burst))
        {
            free = &set[i];
        }
    }

    if (b == NULL && free != NULL) {
        /* empty, or idle long enough to be full: nothing is lost */
        b = free;
        b->key = hash;
        b->tokens = (uint32_t) burst;
        b->last = now;
    }

    if (b == NULL) {
        /* every bucket of the set is in use: share one, never reset it */
        b = &set[(hash >> 8) % NGX_HTTP_CHAT_RATE_WAYS];
    }

    tokens = ngx_http_chat_rate_tokens(b, limit, burst, now);
    b->last = now;

    if (tokens >= NGX_HTTP_CHAT_MICRO) {
        tokens -= NGX_HTTP_CHAT_MICRO;

    } else {
        wait = (NGX_HTTP_CHAT_MICRO - tokens + limit->rate - 1) / limit->rate;
    }

    b->tokens = (uint32_t) tokens;

    ngx_shmtx_unlock(&shpool->mutex);

    if (wait) {
        ngx_http_chat_count(cmcf, rate_limited);
    }

    return wait;
}


ngx_int_t
ngx_http_chat_send_rate_limited(ngx_http_request_t *r, ngx_msec_t retry,
    std::string_view message)
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

    return ngx_http_chat_send_error(r, chat::Errc::rate_limited, message);
}


/*
 * chat_rate 1r/s [burst=30]; chat_session_rate 30r/m [burst=60]: parsed into
 * the ngx_http_chat_limit_t at cmd->offset of the conf.
 */
char *
ngx_http_chat_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_limit_t  *limit = reinterpret_cast<ngx_http_chat_limit_t *>(
                                        static_cast<u_char *>(conf)
                                        + cmd->offset);

    u_char     *p;
    size_t      len;
    ngx_int_t   n, scale;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (limit->rate != NGX_CONF_UNSET_UINT) {
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
    if (n <= 0 || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\"", &value[1]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    /* millionths of a token per millisecond */
    limit->rate = (ngx_uint_t) n * 1000 / scale;

    if (limit->rate == 0) {
        limit->rate = 1;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n <= 0 || n > 4000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\", expected 1..4000",
                                   &value[i]);
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            limit->burst = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}
