/*
 * The chat shared-memory zone: `chat_zone NAME size=SIZE`, its init (which
 * reattaches, never wipes, on reload) and the counters every worker bumps.
 */

#include "ngx_http_chat.h"


static ngx_int_t ngx_http_chat_zone_init(ngx_shm_zone_t *shm_zone, void *data);


char *
ngx_http_chat_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ssize_t                size;
    ngx_str_t             *value, name, s;
    ngx_http_chat_zone_t  *zone;

    if (cmcf->zone) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    name = value[1];
    size = 0;

    if (cf->args->nelts != 3
        || ngx_strncmp(value[2].data, "size=", 5) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameters of chat_zone \"%V\", "
                           "expected \"chat_zone NAME size=SIZE\"", &name);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    s.len = value[2].len - 5;
    s.data = value[2].data + 5;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[2]);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (size < 256 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small: %z bytes, "
                           "at least 256k needed", &name, size);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    zone = static_cast<ngx_http_chat_zone_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_chat_zone_t)));
    if (zone == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    zone->size = size;
    zone->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_chat_module);
    if (zone->shm_zone == NULL) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (zone->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    zone->shm_zone->init = ngx_http_chat_zone_init;
    zone->shm_zone->data = zone;

    cmcf->zone = zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_chat_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_chat_zone_t  *ozone = static_cast<ngx_http_chat_zone_t *>(data);
    ngx_http_chat_zone_t  *zone = static_cast<ngx_http_chat_zone_t *>(shm_zone->data);

    size_t  len;

    if (ozone) {
        /* reload: keep the cache and the counters of the previous cycle */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        (void) ngx_atomic_fetch_add(&ngx_http_chat_zone_counters(zone)->reloads,
                                    1);
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = static_cast<ngx_http_chat_shctx_t *>(zone->shpool->data);
        return NGX_OK;
    }

    zone->sh = static_cast<ngx_http_chat_shctx_t *>(
                   ngx_slab_calloc(zone->shpool, sizeof(ngx_http_chat_shctx_t)));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    zone->sh->counters = static_cast<ngx_http_chat_counter_set_t *>(
        ngx_slab_calloc(zone->shpool, sizeof(ngx_http_chat_counter_set_t)
                                      * NGX_HTTP_CHAT_COUNTER_SETS));

    /* all zero: empty buckets */
    zone->sh->buckets = static_cast<chat::rate::Bucket *>(
        ngx_slab_calloc(zone->shpool,
                        sizeof(chat::rate::Bucket) * NGX_HTTP_CHAT_RATE_SLOTS));
    zone->sh->session_buckets = static_cast<chat::rate::Bucket *>(
        ngx_slab_calloc(zone->shpool,
                        sizeof(chat::rate::Bucket) * NGX_HTTP_CHAT_RATE_SLOTS));

    if (zone->sh->counters == NULL || zone->sh->buckets == NULL
        || zone->sh->session_buckets == NULL)
    {
        return NGX_ERROR;
    }

    len = sizeof(" in chat zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = static_cast<u_char *>(
                                ngx_slab_alloc(zone->shpool, len));
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in chat zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


/* this worker's counters in zone (which has its sh) */
ngx_http_chat_counters_t *
ngx_http_chat_zone_counters(ngx_http_chat_zone_t *zone)
{
    return &zone->sh->counters[ngx_worker % NGX_HTTP_CHAT_COUNTER_SETS].c;
}


ngx_http_chat_counters_t *
ngx_http_chat_counters(ngx_http_chat_main_conf_t *cmcf)
{
    if (cmcf == NULL || cmcf->zone == NULL || cmcf->zone->sh == NULL) {
        return NULL;
    }

    return ngx_http_chat_zone_counters(cmcf->zone);
}


/* every worker's counters added up; false without a zone */
bool
ngx_http_chat_counters_sum(ngx_http_chat_main_conf_t *cmcf,
    ngx_http_chat_counters_t *sum)
{
    ngx_uint_t                 i;
    ngx_http_chat_counters_t  *c;

    if (cmcf == NULL || cmcf->zone == NULL || cmcf->zone->sh == NULL) {
        return false;
    }

    ngx_memzero(sum, sizeof(ngx_http_chat_counters_t));

    for (i = 0; i < NGX_HTTP_CHAT_COUNTER_SETS; i++) {
        c = &cmcf->zone->sh->counters[i].c;

        sum->requests = sum->requests + c->requests;
        sum->errors = sum->errors + c->errors;
        sum->cache_hits = sum->cache_hits + c->cache_hits;
        sum->cache_misses = sum->cache_misses + c->cache_misses;
        sum->reloads = sum->reloads + c->reloads;
        sum->ring_dropped = sum->ring_dropped + c->ring_dropped;
    }

    return true;
}
