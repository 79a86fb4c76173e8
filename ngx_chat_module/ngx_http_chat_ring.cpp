/*
 * Events between the workers of one node without Redis: a bounded ring of
 * the latest events in the chat zone. A worker appends what it raises; every
 * worker polls the ring every 50 ms (one atomic read when nothing is new) and
 * delivers what others appended to its own sockets. A worker that falls more
 * than a ring behind skips ahead: its clients resume with after=.
 */

#include "ngx_http_chat.h"

#include "chat/events.h"


#define NGX_HTTP_CHAT_RING_POLL  50


static uint64_t     ngx_http_chat_ring_seen;   /* last seq this worker read */
static ngx_event_t  ngx_http_chat_ring_ev;


void
ngx_http_chat_ring_put(ngx_http_chat_zone_t *zone,
    const chat::events::Event &e) noexcept
{
    u_char                  *data;
    uint64_t                 seq;
    std::string              wire;
    ngx_http_chat_ring_t    *slot;
    ngx_http_chat_shctx_t   *sh;

    if (zone == NULL || zone->sh == NULL) {
        return;
    }

    try {
        wire = chat::events::encode(e);

    } catch (...) {
        return;
    }

    sh = zone->sh;

    ngx_shmtx_lock(&zone->shpool->mutex);

    data = static_cast<u_char *>(ngx_slab_alloc_locked(zone->shpool,
                                                       wire.size()));
    if (data) {
        ngx_memcpy(data, wire.data(), wire.size());

        seq = sh->ring_head + 1;
        slot = &sh->ring[seq % NGX_HTTP_CHAT_RING_SIZE];

        if (slot->data) {
            ngx_slab_free_locked(zone->shpool, slot->data);
        }

        slot->data = data;
        slot->len = wire.size();
        slot->pid = ngx_pid;
        slot->seq = seq;
        sh->ring_head = seq;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

}


static void
ngx_http_chat_ring_poll(ngx_event_t *ev)
{
    uint64_t                 head, seq;
    std::vector<std::string> batch;
    ngx_http_chat_ring_t    *slot;
    ngx_http_chat_zone_t    *zone;
    ngx_http_chat_shctx_t   *sh;

    zone = static_cast<ngx_http_chat_zone_t *>(ev->data);
    sh = zone->sh;

    head = sh->ring_head;

    if (head != ngx_http_chat_ring_seen) {
        try {
            ngx_shmtx_lock(&zone->shpool->mutex);

            head = sh->ring_head;
            seq = ngx_http_chat_ring_seen;

            if (head - seq > NGX_HTTP_CHAT_RING_SIZE) {
                seq = head - NGX_HTTP_CHAT_RING_SIZE;
            }

            for (seq++; seq <= head; seq++) {
                slot = &sh->ring[seq % NGX_HTTP_CHAT_RING_SIZE];

                if (slot->seq == seq && slot->pid != ngx_pid && slot->data) {
                    batch.emplace_back((char *) slot->data, slot->len);
                }
            }

            ngx_shmtx_unlock(&zone->shpool->mutex);

        } catch (...) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
        }

        ngx_http_chat_ring_seen = head;

        for (const auto &wire : batch) {
            auto e = chat::events::parse(wire);

            if (e.ok()) {
                ngx_http_chat_dispatch(e.value());
            }
        }
    }

    ngx_add_timer(ev, NGX_HTTP_CHAT_RING_POLL);
}


void
ngx_http_chat_ring_start(ngx_http_chat_zone_t *zone, ngx_log_t *log) noexcept
{
    if (zone == NULL || zone->sh == NULL) {
        return;
    }

    /* only what is appended from now on */
    ngx_http_chat_ring_seen = zone->sh->ring_head;

    ngx_http_chat_ring_ev.handler = ngx_http_chat_ring_poll;
    ngx_http_chat_ring_ev.data = zone;
    ngx_http_chat_ring_ev.log = log;
    ngx_http_chat_ring_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_chat_ring_ev, NGX_HTTP_CHAT_RING_POLL);
}


void
ngx_http_chat_ring_stop(void) noexcept
{
    if (ngx_http_chat_ring_ev.timer_set) {
        ngx_del_timer(&ngx_http_chat_ring_ev);
    }
}
