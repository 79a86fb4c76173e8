/*
 * Events between the workers of one node without Redis: a bounded ring of
 * the latest events in the chat zone. A worker appends what it raises; every
 * worker polls the ring every 50 ms (one atomic read when nothing is new) and
 * delivers what others appended to its own sockets. A worker that falls more
 * than a ring behind skips ahead: the events it missed are counted
 * (counters.ring_dropped in /chat/status), and its sockets are closed with a
 * code clients treat as "reconnect", so customers resume with after= and
 * dashboards refetch. An event that finds no room in the zone is counted too
 * (nobody can tell which sockets would have wanted it; polling recovers it).
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

    if (data == NULL) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_chat_zone_counters(zone)->ring_dropped, 1);
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chat: no room in the zone for an event of %uz bytes; "
                      "other workers miss it", wire.size());
    }
}


static void
ngx_http_chat_ring_poll(ngx_event_t *ev)
{
    uint64_t                 head, seq, missed = 0;
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
                missed = head - seq - NGX_HTTP_CHAT_RING_SIZE;
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

        if (missed) {
            (void) ngx_atomic_fetch_add(
                &ngx_http_chat_zone_counters(zone)->ring_dropped, missed);
            ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                          "chat: this worker fell %uL events behind the "
                          "event ring; its sockets reconnect", missed);

            /* whatever they missed, they get it back with after= */
            ngx_http_chat_ws_resume_all("missed events; reconnect");
        }

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
