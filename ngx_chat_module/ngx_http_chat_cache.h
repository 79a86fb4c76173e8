/*
 * The shared-memory conversation cache: hot conversations and their last
 * messages, shared by all workers, bounded, evicted least recently used.
 */

#ifndef NGX_HTTP_CHAT_CACHE_H_INCLUDED_
#define NGX_HTTP_CHAT_CACHE_H_INCLUDED_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ngx_http_chat.h"
#include "chat/snapshot.h"


/*
 * Every function takes the zone's slab mutex for a few memcpy()s only and
 * tolerates zone == NULL (no chat_zone: the cache is simply always empty).
 * The tree and LRU queue live in ngx_http_chat_shctx_t; they are set up
 * lazily on first use, so a zeroed shctx is a valid empty cache.
 */

/*
 * Applies s if it is newer than the cached entry (s.version > version) or no
 * entry exists; at the same version it only merges a tail that reaches
 * further back than the cached one.  With a tail (s.messages ending at
 * s.last_seq) the cached messages contiguous with it are kept in front of
 * it; without one the cached messages survive only if they still end at
 * s.last_seq.  At most max_messages are kept, the newest.  If the entry
 * cannot be stored, the key's old entry is dropped too: a stale entry must
 * never outlive a newer write.
 */
void ngx_http_chat_cache_apply(ngx_http_chat_zone_t *zone,
    const chat::Snapshot &s, size_t max_messages) noexcept;

/*
 * after >= 0: the messages with seq > after, ascending, at most limit;
 * after < 0: the last limit messages.  Succeeds only if the cached list
 * covers the whole answer; messages == NULL asks for the conversation only.
 * On a hit the entry moves to the front of the LRU queue.  The caller
 * counts cache_hits/cache_misses (it knows whether the answer was used).
 */
bool ngx_http_chat_cache_read(ngx_http_chat_zone_t *zone,
    std::string_view key, std::int64_t after, std::int64_t limit,
    std::string *conversation_json,
    std::vector<chat::CachedMessage> *messages) noexcept;

/*
 * The answer to GET /v1/conversation (chat::cache::render_read) for the
 * same read as ngx_http_chat_cache_read(), rendered under the lock straight
 * from the entry into memory that lives as long as pool (a buffer the worker
 * reuses, above a pool block's size): each message is copied once,
 * from shared memory into the answer that is sent.  On a hit the entry moves
 * to the front of the LRU queue; false on a miss (or no memory).
 */
bool ngx_http_chat_cache_answer(ngx_http_chat_zone_t *zone,
    std::string_view key, std::int64_t after, std::int64_t limit,
    ngx_pool_t *pool, ngx_str_t *answer) noexcept;

void ngx_http_chat_cache_remove(ngx_http_chat_zone_t *zone,
    std::string_view key) noexcept;

/*
 * Removes the key's entry if it is older than version (a write heard from
 * another worker or node): one lookup under one lock, no allocation.
 */
void ngx_http_chat_cache_forget(ngx_http_chat_zone_t *zone,
    std::string_view key, std::int64_t version) noexcept;


typedef struct {
    ngx_uint_t                  entries;
    ngx_uint_t                  alloc_failures;
    ngx_uint_t                  evictions;
} ngx_http_chat_cache_stats_t;

void ngx_http_chat_cache_stats(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_stats_t *st) noexcept;


#endif /* NGX_HTTP_CHAT_CACHE_H_INCLUDED_ */
