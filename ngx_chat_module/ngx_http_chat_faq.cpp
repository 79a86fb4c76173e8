/*
 * The FAQ in the chat zone: one JSON blob and its version, shared by every
 * worker, so a worker (re)starting after the first one needs no round trip
 * and every worker matches against the same set.
 */

#include "ngx_http_chat.h"


bool
ngx_http_chat_faq_get(ngx_http_chat_zone_t *zone, std::string *json,
    int64_t *version) noexcept
{
    bool                    found;
    ngx_http_chat_shctx_t  *sh;

    if (zone == NULL || zone->sh == NULL) {
        return false;
    }

    sh = zone->sh;
    found = false;

    try {
        ngx_shmtx_lock(&zone->shpool->mutex);

        if (sh->faq_blob && sh->faq_len) {
            json->assign(reinterpret_cast<const char *>(sh->faq_blob),
                         sh->faq_len);
            *version = sh->faq_version;
            found = true;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

    } catch (...) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return false;
    }

    return found;
}


/* replaces the blob when version is newer; the old one is freed */
void
ngx_http_chat_faq_put(ngx_http_chat_zone_t *zone, std::string_view json,
    int64_t version) noexcept
{
    u_char                 *blob;
    ngx_http_chat_shctx_t  *sh;

    if (zone == NULL || zone->sh == NULL || json.empty()) {
        return;
    }

    sh = zone->sh;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (sh->faq_blob == NULL || version > sh->faq_version) {
        blob = static_cast<u_char *>(ngx_slab_alloc_locked(zone->shpool,
                                                           json.size()));
        if (blob) {
            ngx_memcpy(blob, json.data(), json.size());

            if (sh->faq_blob) {
                ngx_slab_free_locked(zone->shpool, sh->faq_blob);
            }

            sh->faq_blob = blob;
            sh->faq_len = json.size();
            sh->faq_version = version;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}
