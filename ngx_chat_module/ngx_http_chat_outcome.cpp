/*
 * Carrying out a use case's chat::Outcome, customer or agent, in one place:
 * the cache effect, the events and side effects, then the answer (cookie,
 * Retry-After, status and body). Core decided all of it; nothing here reads
 * the database answer again.
 */

#include <utility>

#include "ngx_http_chat.h"
#include "ngx_http_chat_cache.h"

#include "chat/outcome.h"


/*
 * The effects of a committed write on this node and beyond: the cache, the
 * events, the side effects. Applied even when the request that asked is
 * gone: the write is committed, and the other side must hear about it.
 * The events are handed on (the answer sent after does not read them).
 * A WebSocket's frames (read, typing) have theirs applied here too
 * (ngx_http_chat_ws.cpp).
 */
void
ngx_http_chat_outcome_effects(ngx_http_chat_main_conf_t *cmcf,
    chat::Outcome &o) noexcept
{
    if (cmcf != NULL && cmcf->zone) {
        switch (o.cache.kind) {
        case chat::CacheEffect::Kind::apply:
            ngx_http_chat_cache_apply(cmcf->zone, o.cache.snapshot,
                                      cmcf->history);
            break;

        case chat::CacheEffect::Kind::drop:
            if (!o.cache.key.empty()) {
                ngx_http_chat_cache_remove(cmcf->zone, o.cache.key);
            }
            break;

        case chat::CacheEffect::Kind::none:
            break;
        }
    }

    ngx_http_chat_publish(std::move(o.events));
    ngx_http_chat_publish_side_effects(o.side_effects);
}


ngx_int_t
ngx_http_chat_outcome_send(ngx_http_request_t *r,
    const chat::Result<chat::Outcome> &res) noexcept
{
    if (!res.ok()) {
        chat::Errc  code = res.error().code;

        if (code == chat::Errc::internal || code == chat::Errc::unavailable) {
            ngx_log_error((code == chat::Errc::internal ? NGX_LOG_ERR
                                                        : NGX_LOG_WARN),
                          r->connection->log, 0, "chat: %s",
                          res.error().message.c_str());
        }

        return ngx_http_chat_send_error(r, code,
                   code == chat::Errc::internal ? "internal error"
                                                : res.error().message);
    }

    const chat::Outcome  &o = res.value();

    /* a refused login (chat_login_limit): 429 with the time left */
    if (o.retry_after_s > 0
        && ngx_http_chat_retry_after(r, (uint64_t) o.retry_after_s) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!o.cookie.empty()
        && ngx_http_chat_set_cookie(r, o.cookie.name, o.cookie.value,
                                    o.cookie.clear
                                        ? 0 : (ngx_int_t) o.cookie.max_age_s)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!o.content_type.empty()) {
        return ngx_http_chat_send(r, o.status, o.body, o.content_type.c_str());
    }

    return ngx_http_chat_send_json(r, o.status, o.body);
}


/*
 * The completion of a request suspended for a use case. It captures the
 * park handle and the configuration, never r: small and trivially copyable,
 * so std::function keeps it inline and making it cannot throw.
 */
chat::OutcomeDone
ngx_http_chat_outcome_done(ngx_http_request_t *r, ngx_http_chat_park_t id)
    noexcept
{
    ngx_http_chat_main_conf_t  *cmcf;

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_http_get_module_main_conf(r, ngx_http_chat_module));

    auto  apply = [id, cmcf](chat::Result<chat::Outcome> res) {
        if (res.ok()) {
            ngx_http_chat_outcome_effects(cmcf, res.value());
        }

        ngx_http_chat_resume(id, [&](ngx_http_request_t *r) {
            return ngx_http_chat_outcome_send(r, res);
        });

        /* the body was copied to r->pool (or nobody waits): the next answer's */
        if (res.ok()) {
            chat::recycle_body(res.value().body);
        }
    };

    static_assert(std::is_nothrow_constructible_v<chat::OutcomeDone,
                                                  decltype(apply)>);

    return chat::OutcomeDone(std::move(apply));
}
