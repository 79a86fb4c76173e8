/*
 * Rate limits: token buckets in the chat zone (`chat_rate` per session,
 * `chat_session_rate` per client address) and the directives' parser. The
 * buckets' rules (refill, which bucket a key takes, never resetting one in
 * use) are core's, chat::rate; here they get the zone's table, its lock and
 * nginx's clock.
 */

#include "ngx_http_chat.h"


/*
 * Takes one token from the bucket of key in table. Returns 0 when allowed,
 * else the milliseconds until a token is available.
 */
ngx_msec_t
ngx_http_chat_rate_take(ngx_http_chat_main_conf_t *cmcf,
    chat::rate::Bucket *table, const ngx_http_chat_limit_t *limit,
    std::string_view key)
{
    uint64_t          hash, wait;
    ngx_slab_pool_t  *shpool;

    if (cmcf->zone == NULL || cmcf->zone->sh == NULL || table == NULL
        || limit->rate == 0)
    {
        return 0;
    }

    /* crc32 picks the set, crc32 and murmur2 together are the tag */
    hash = ((uint64_t) ngx_crc32_short((u_char *) key.data(), key.size())
            << 32)
           | ngx_murmur_hash2((u_char *) key.data(), key.size());

    shpool = cmcf->zone->shpool;

    ngx_shmtx_lock(&shpool->mutex);

    wait = chat::rate::take({table, NGX_HTTP_CHAT_RATE_SLOTS}, hash,
                            {limit->rate, limit->burst}, ngx_current_msec);

    ngx_shmtx_unlock(&shpool->mutex);

    return (ngx_msec_t) wait;
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
