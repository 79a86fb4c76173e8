/*
 * Shared declarations of the chat module's glue: nginx headers, configuration,
 * the per-worker state and the functions the glue files call on each other.
 */

#ifndef NGX_HTTP_CHAT_H_INCLUDED_
#define NGX_HTTP_CHAT_H_INCLUDED_

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
}

#include <string>
#include <string_view>

#include "chat/result.h"


/* counters kept in the shared zone, summed over all workers */
typedef struct {
    ngx_atomic_t                requests;
    ngx_atomic_t                errors;          /* answers with status >= 500 */
    ngx_atomic_t                pg_queries;
    ngx_atomic_t                pg_errors;
    ngx_atomic_t                redis_commands;
    ngx_atomic_t                redis_errors;
    ngx_atomic_t                cache_hits;
    ngx_atomic_t                cache_misses;
    ngx_atomic_t                reloads;
} ngx_http_chat_counters_t;

/* the head of the shared zone; everything else lives in the slab pool */
typedef struct {
    ngx_http_chat_counters_t    counters;
} ngx_http_chat_shctx_t;

typedef struct {
    ngx_shm_zone_t             *shm_zone;
    ngx_http_chat_shctx_t      *sh;
    ngx_slab_pool_t            *shpool;
    size_t                      size;
} ngx_http_chat_zone_t;

typedef struct {
    ngx_http_chat_zone_t       *zone;

    ngx_str_t                   pg_conninfo;     /* resolved: hostaddr set */
    ngx_uint_t                  pg_pool_size;

    ngx_str_t                   redis_ip;        /* empty: no Redis */
    ngx_uint_t                  redis_port;

    ngx_str_t                   secret;          /* HMAC key bytes */
} ngx_http_chat_main_conf_t;

typedef struct {
    ngx_flag_t                  api;
    ngx_flag_t                  status;
} ngx_http_chat_loc_conf_t;


extern ngx_module_t  ngx_http_chat_module;


/* ngx_http_chat_zone.cpp */
char *ngx_http_chat_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_http_chat_counters_t *ngx_http_chat_counters(ngx_http_chat_main_conf_t *cmcf);
#define ngx_http_chat_count(cmcf, name)                                      \
    do {                                                                     \
        ngx_http_chat_counters_t *c_ = ngx_http_chat_counters(cmcf);         \
        if (c_) {                                                            \
            (void) ngx_atomic_fetch_add(&c_->name, 1);                       \
        }                                                                    \
    } while (0)

/* ngx_http_chat_reply.cpp: every answer goes through these */
ngx_int_t ngx_http_chat_send(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view body, const char *content_type) noexcept;
ngx_int_t ngx_http_chat_send_json(ngx_http_request_t *r, ngx_uint_t status,
    std::string_view json) noexcept;
ngx_int_t ngx_http_chat_send_error(ngx_http_request_t *r, chat::Errc code,
    std::string_view message) noexcept;
/* for requests finished asynchronously (after NGX_DONE) */
void ngx_http_chat_finish(ngx_http_request_t *r, ngx_int_t rc) noexcept;

/* ngx_http_chat_api.cpp */
ngx_int_t ngx_http_chat_api_handler(ngx_http_request_t *r);

/* ngx_http_chat_status.cpp */
ngx_int_t ngx_http_chat_status_handler(ngx_http_request_t *r);

/* ngx_http_chat_module.cpp: per-worker state, created in init_process */
namespace chat { class EventLoop; }
namespace chat::pg { class Pool; }
namespace chat::redis { class Client; }

struct ngx_http_chat_worker_t {
    chat::EventLoop            *loop;
    chat::pg::Pool             *pg;        /* NULL: no chat_postgres */
    chat::redis::Client        *redis;     /* NULL: no chat_redis */
};

ngx_http_chat_worker_t *ngx_http_chat_worker(void);

inline std::string_view
ngx_http_chat_sv(const ngx_str_t &s)
{
    return std::string_view(reinterpret_cast<const char *>(s.data), s.len);
}

#endif /* NGX_HTTP_CHAT_H_INCLUDED_ */
