/*
 * Over 500 lines on purpose: the crash-safe linking and recovery must sit
 * next to the slab, index and LRU code whose pointer writes they bracket.
 *
 * The shared-memory conversation cache: one slab block per conversation in
 * a hash index (a bucket array in the slab, chained through the blocks)
 * keyed by a hash of the session id, with an LRU queue for eviction.
 * What a block's packed message list looks like, which messages a write
 * keeps and which a read serves, is decided by core (chat/cache_entry.h);
 * this file owns the slab, the lock, the index, the queue and their recovery.
 *
 * Crash safety: a worker may die while holding the slab mutex (nginx's
 * master then force-unlocks it).  So a new block is written completely
 * before it becomes reachable, and the few pointer writes that link and
 * unlink blocks are bracketed by sh->cache_linking; the next locker that
 * finds the bracket open empties the (possibly half-linked) index and
 * frees what the LRU queue's forward links still reach.  A block's bytes
 * are checked by core before they are believed.
 *
 * Blocks above half a page (most conversations: ~450 bytes a message) take
 * their pages from chat::pages (chat/page_runs.h says why not the slab's
 * own page runs), which gets them from the slab in extents of a megabyte
 * and keeps them; its changes are bracketed by cache_linking too, and a
 * crash among them resets it, all its pages free (the cache emptied).
 */

#include <limits>
#include <optional>
#include <span>

#include "ngx_http_chat_cache.h"
#include "chat/cache_entry.h"


#define NGX_HTTP_CHAT_CACHE_MAGIC     0x63686174   /* "chat" */

/* evictions tried for one allocation before giving the entry up */
#define NGX_HTTP_CHAT_CACHE_EVICT     16

/*
 * The pages chat::pages takes from the slab at a time (fewer only for the
 * last ones), and the part of the zone it leaves to the slab for the rest
 * (the FAQ, the events ring, the blocks of half a page or less).
 */
#define NGX_HTTP_CHAT_CACHE_EXTENT    256
#define NGX_HTTP_CHAT_CACHE_RESERVE   32          /* a 32nd of the pages */

/*
 * Answers up to this size are allocated from r->pool; larger ones, above
 * what a pool hands out from its blocks (a malloc() and a free() each), get
 * a buffer of the worker's that goes back to it when the request is freed.
 */
#define NGX_HTTP_CHAT_CACHE_POOLED    2048
#define NGX_HTTP_CHAT_CACHE_BUF_MIN   16384
#define NGX_HTTP_CHAT_CACHE_BUF_MAX   65536       /* larger ones are not kept */
#define NGX_HTTP_CHAT_CACHE_BUFS      32          /* kept at most */


typedef struct {
    ngx_str_node_t              sn;         /* hash of the key, the key */
    void                       *hnext;      /* next in its index bucket */
    ngx_queue_t                 queue;      /* LRU, most recent first */

    /* written last, cleared on free: a block is valid only with it set */
    uint32_t                    magic;

    size_t                      size;       /* of the whole block */
    size_t                      conv_len;
    size_t                      msgs_len;

    int64_t                     version;
    int64_t                     last_seq;   /* the conversation's last seq */
    int64_t                     first;      /* first cached seq, if any */
    uint32_t                    nmessages;  /* contiguous from first */

    /*
     * Set under the lock by the first read that checked the list whole
     * (chat::cache::check_list): a block never changes once it is reachable
     * (a write links a new one), so later reads check only the ends they
     * copy between (chat::cache::render_checked_read).
     */
    uint32_t                    checked;

    u_char                      data[1];    /* key, conversation, messages */
} ngx_http_chat_cache_node_t;


/* a worker's buffer for answers, reused from request to request */
typedef struct ngx_http_chat_cache_buf_s  ngx_http_chat_cache_buf_t;

struct ngx_http_chat_cache_buf_s {
    ngx_http_chat_cache_buf_t  *next;       /* in the free list */
    size_t                      size;       /* of data */
    u_char                      data[1];
};


/* the worker's free buffers (one thread: no lock) */
static ngx_http_chat_cache_buf_t  *ngx_http_chat_cache_bufs;
static ngx_uint_t                  ngx_http_chat_cache_nbufs;


/* locks the zone for a scope; logs what crash recovery did after unlock */
class ngx_http_chat_cache_lock_t {
public:
    explicit ngx_http_chat_cache_lock_t(ngx_http_chat_zone_t *zone) noexcept;
    ~ngx_http_chat_cache_lock_t();

    ngx_http_chat_cache_lock_t(const ngx_http_chat_cache_lock_t &) = delete;
    ngx_http_chat_cache_lock_t &operator=(
        const ngx_http_chat_cache_lock_t &) = delete;

private:
    ngx_http_chat_zone_t       *zone_;
    ngx_uint_t                  recovered_;
};


static ngx_uint_t ngx_http_chat_cache_recover(ngx_http_chat_zone_t *zone);
static void ngx_http_chat_cache_index_init(ngx_http_chat_zone_t *zone);
static ngx_http_chat_cache_node_t *ngx_http_chat_cache_lookup(
    ngx_http_chat_shctx_t *sh, std::string_view key, uint32_t hash);
static void ngx_http_chat_cache_replace(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_node_t *cn, ngx_http_chat_cache_node_t *old);
static void ngx_http_chat_cache_touch(ngx_http_chat_shctx_t *sh,
    ngx_http_chat_cache_node_t *cn);
static ngx_uint_t ngx_http_chat_cache_longest_free(ngx_slab_pool_t *shpool);
static ngx_uint_t ngx_http_chat_cache_evict(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_node_t *keep);
static std::optional<chat::cache::Entry> ngx_http_chat_cache_entry(
    ngx_http_chat_cache_node_t *cn);
static ngx_uint_t ngx_http_chat_cache_paged(ngx_http_chat_zone_t *zone,
    void *block);
static void *ngx_http_chat_cache_block_alloc(ngx_http_chat_zone_t *zone,
    size_t size);
static ngx_int_t ngx_http_chat_cache_grow(ngx_http_chat_zone_t *zone,
    ngx_uint_t pages);
static void ngx_http_chat_cache_block_free(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_node_t *cn);
static u_char *ngx_http_chat_cache_alloc(ngx_pool_t *pool, size_t size);
static void ngx_http_chat_cache_buf_release(void *data);


/*
 * The index's key of a key: core's word-at-a-time hash (chat/cache_entry.h
 * says why it need not be keyed), 32 bits.
 */
static inline uint32_t
ngx_http_chat_cache_hash(std::string_view key)
{
    return (uint32_t) chat::cache::key_hash(key);
}


static inline u_char *
ngx_http_chat_cache_msgs(ngx_http_chat_cache_node_t *cn)
{
    return cn->data + cn->sn.str.len + cn->conv_len;
}


/*
 * The pages a block of size bytes takes: whole ones above half a page, else
 * (a chunk) a part of one.
 */
static inline ngx_uint_t
ngx_http_chat_cache_pages(size_t size)
{
    return size > ngx_pagesize / 2 ? (size + ngx_pagesize - 1) / ngx_pagesize
                                   : 1;
}


/* chat::pages' table: a tag a page of the zone, empty when it has none */
static inline std::span<chat::pages::Tag>
ngx_http_chat_cache_tags(ngx_http_chat_shctx_t *sh)
{
    return std::span(sh->cache_tags, sh->cache_ntags);
}


/* the page of the zone that p (at or after the zone's first page) is on */
static inline size_t
ngx_http_chat_cache_page(ngx_http_chat_zone_t *zone, void *p)
{
    return ((u_char *) p - zone->shpool->start) >> ngx_pagesize_shift;
}


void
ngx_http_chat_cache_apply(ngx_http_chat_zone_t *zone, const chat::Snapshot &s,
    size_t max_messages) noexcept
{
    u_char                                 *p;
    size_t                                  size, cap;
    uint32_t                                hash;
    ngx_uint_t                              n, failed, nomem, evicted;
    ngx_uint_t                              free_pages, longest, heap,
                                            reserve;
    std::string                             list;
    ngx_slab_pool_t                        *shpool;
    ngx_http_chat_shctx_t                  *sh;
    ngx_http_chat_cache_node_t             *cn, *old;
    chat::cache::Merge                      m;
    std::optional<std::size_t>              list_len;
    std::optional<chat::cache::Entry>       cached;
    std::optional<chat::cache::Packed>      packed;

    if (zone == NULL || zone->sh == NULL) {
        return;
    }

    sh = zone->sh;
    shpool = zone->shpool;
    hash = ngx_http_chat_cache_hash(s.key);

    /* the packing allocates, so it is done before taking the lock */

    try {
        packed = chat::cache::pack(s, max_messages);

    } catch (...) {
        /* the entry would go stale: drop it rather than keep it */
        ngx_http_chat_cache_remove(zone, s.key);
        return;
    }

    failed = 0;
    size = 0;
    cap = 0;
    evicted = 0;
    free_pages = 0;
    longest = 0;
    heap = 0;

    {
        ngx_http_chat_cache_lock_t  lock(zone);

        old = ngx_http_chat_cache_lookup(sh, s.key, hash);

        cached = old ? ngx_http_chat_cache_entry(old) : std::nullopt;

        m = chat::cache::merge(cached, s, packed, max_messages);

        if (!m.store) {
            return;
        }

        /* the kept messages and the packed ones, one index before them */

        list_len = chat::cache::stored_size(m, packed);

        size = offsetof(ngx_http_chat_cache_node_t, data) + s.key.size()
               + s.conversation_json.size() + list_len.value_or(0);

        /*
         * Above half a page the slab hands out whole pages; one entry may
         * take at most a quarter of the zone so that it cannot flush the
         * cache, however large the conversation.
         */

        cap = (size_t) (shpool->end - shpool->start) / 4;

        cn = NULL;

        if (list_len && *list_len <= cap && size <= cap
            && m.run.count <= NGX_MAX_UINT32_VALUE)
        {
            /* NULL is expected here and handled: no "no memory" crit */
            nomem = shpool->log_nomem;
            shpool->log_nomem = 0;

            for (n = 0; /* void */; n++) {
                cn = static_cast<ngx_http_chat_cache_node_t *>(
                         ngx_http_chat_cache_block_alloc(zone, size));

                if (cn != NULL || n == NGX_HTTP_CHAT_CACHE_EVICT) {
                    break;
                }

                if (ngx_http_chat_cache_evict(zone, old) == 0) {
                    break;
                }

                evicted++;
            }

            if (cn == NULL && old != NULL) {
                /*
                 * The entry grows in place of its older version, whose
                 * pages may be the very ones it lacks (a fragmented zone,
                 * or the old version in the middle of the free space): the
                 * list is built on the heap (an allocation is no I/O), the
                 * old entry dropped (it would be on a failure too), and
                 * the block tried once more.
                 */
                try {
                    list.resize(*list_len);
                    heap = chat::cache::store(m, cached, packed,
                               std::as_writable_bytes(std::span(list)));
                } catch (...) {
                    heap = 0;
                }

                if (heap) {
                    ngx_http_chat_cache_replace(zone, NULL, old);
                    old = NULL;
                    cached.reset();

                    cn = static_cast<ngx_http_chat_cache_node_t *>(
                             ngx_http_chat_cache_block_alloc(zone, size));
                }
            }

            shpool->log_nomem = nomem;
        }

        if (cn != NULL) {
            /* if we die while copying, the next locker frees the block */
            sh->cache_pending = cn;
            ngx_memory_barrier();

            cn->magic = 0;

            p = ngx_cpymem(cn->data, s.key.data(), s.key.size());
            p = ngx_cpymem(p, s.conversation_json.data(),
                           s.conversation_json.size());

            if (heap) {
                ngx_memcpy(p, list.data(), list.size());

            } else if (!chat::cache::store(m, cached, packed,
                                    std::span(reinterpret_cast<std::byte *>(p),
                                              *list_len)))
            {
                /* the old entry's list changed under us: cannot be */
                sh->cache_pending = NULL;
                ngx_memory_barrier();
                ngx_http_chat_cache_block_free(zone, cn);
                cn = NULL;
            }
        }

        if (cn == NULL) {
            /*
             * why, for the log: a full zone or a fragmented one, counting
             * only the pages the entry could have had: the slab's beyond
             * the RESERVE'th it keeps for small blocks (its longest run
             * may be that reserve), and chat::pages' free ones
             */
            reserve = sh->cache_ntags / NGX_HTTP_CHAT_CACHE_RESERVE;
            free_pages = shpool->pfree > reserve ? shpool->pfree - reserve : 0;
            longest = ngx_min(ngx_http_chat_cache_longest_free(shpool),
                              free_pages);
            free_pages += sh->cache_pages.free_pages;

            if (sh->cache_tags != NULL) {
                longest = ngx_max(longest, (ngx_uint_t)
                              chat::pages::longest_free(sh->cache_pages,
                                  ngx_http_chat_cache_tags(sh)));
            }

            /* a stale entry must not outlive a newer write */
            if (old) {
                ngx_http_chat_cache_replace(zone, NULL, old);
            }

            sh->cache_alloc_failures++;
            failed = 1;

        } else {
            cn->sn.node.key = hash;
            cn->sn.str.len = s.key.size();
            cn->sn.str.data = cn->data;
            cn->size = size;
            cn->conv_len = s.conversation_json.size();
            cn->msgs_len = *list_len;
            cn->version = s.version;
            cn->last_seq = s.last_seq;
            cn->nmessages = (uint32_t) m.run.count;
            cn->checked = 0;
            cn->first = m.run.first;

            ngx_memory_barrier();
            cn->magic = NGX_HTTP_CHAT_CACHE_MAGIC;

            ngx_http_chat_cache_replace(zone, cn, old);
        }
    }

    if (failed) {
        /*
         * Above half a page a block takes whole pages, and they must be
         * adjacent: a zone whose free pages are single ones between live
         * entries ("fragmented") refuses an entry of two pages or more
         * however many are free.  Evicting the least recently used entries
         * frees pages at random places, so it may not help.
         */
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chat cache: could not store a conversation of %uz "
                      "bytes (%ui pages) in zone \"%V\": %s; %ui of %ui "
                      "pages free, the longest free run %ui pages, %ui "
                      "entries evicted for it; it will be read from Postgres",
                      size, ngx_http_chat_cache_pages(size),
                      &zone->shm_zone->shm.name,
                      size > cap ? "larger than a quarter of the zone"
                      : free_pages >= ngx_http_chat_cache_pages(size)
                        ? "free pages too fragmented" : "zone full",
                      free_pages,
                      (ngx_uint_t) ((zone->shpool->end - zone->shpool->start)
                                    / ngx_pagesize),
                      longest, evicted);
    }
}


bool
ngx_http_chat_cache_read(ngx_http_chat_zone_t *zone, std::string_view key,
    std::int64_t after, std::int64_t limit, std::string *conversation_json,
    std::vector<chat::CachedMessage> *messages) noexcept
{
    size_t                                  conv_len;
    uint32_t                                hash;
    std::string                             raw;
    ngx_http_chat_shctx_t                  *sh;
    ngx_http_chat_cache_node_t             *cn;
    chat::cache::SeqRange                   held;
    std::optional<chat::cache::SeqRange>    want;
    std::optional<chat::cache::Slice>       bytes;
    std::optional<chat::cache::Entry>       entry;

    if (zone == NULL || zone->sh == NULL || conversation_json == NULL) {
        return false;
    }

    sh = zone->sh;
    hash = ngx_http_chat_cache_hash(key);
    conv_len = 0;

    try {
        {
            ngx_http_chat_cache_lock_t  lock(zone);

            cn = ngx_http_chat_cache_lookup(sh, key, hash);

            if (cn != NULL) {
                bytes = chat::cache::Slice{};

                if (messages != NULL) {
                    entry = ngx_http_chat_cache_entry(cn);

                    want = entry ? chat::cache::select(entry->run,
                                                       entry->last_seq,
                                                       after, limit)
                                 : std::nullopt;

                    bytes = want ? chat::cache::slice(entry->list,
                                                      entry->run, *want)
                                 : std::nullopt;

                    if (!entry || (want && !bytes)) {
                        /* inconsistent: never serve it again */
                        ngx_http_chat_cache_replace(zone, NULL, cn);
                        cn = NULL;
                    }
                }

                if (bytes) {
                    /*
                     * one allocation and two memcpy()s under the lock: the
                     * conversation and the whole list (its index with it)
                     */
                    conv_len = cn->conv_len;
                    raw.reserve(conv_len + (entry ? entry->list.size() : 0));
                    raw.append((char *) cn->data + cn->sn.str.len, conv_len);
                    if (entry && want) {
                        raw.append((const char *) entry->list.data(),
                                   entry->list.size());
                        held = entry->run;
                    }

                    ngx_http_chat_cache_touch(sh, cn);
                }
            }
        }

        if (!bytes) {
            return false;
        }

        if (messages != NULL) {
            auto list = chat::cache::unpack(std::as_bytes(
                            std::span(raw).subspan(conv_len)), held,
                            want.value_or(chat::cache::SeqRange{}));

            if (!list.ok()) {
                return false;
            }

            *messages = std::move(list).value();
        }

        conversation_json->assign(raw, 0, conv_len);

    } catch (...) {
        return false;
    }

    return true;
}


bool
ngx_http_chat_cache_answer(ngx_http_chat_zone_t *zone, std::string_view key,
    std::int64_t after, std::int64_t limit, ngx_pool_t *pool,
    ngx_str_t *answer) noexcept
{
    u_char                                 *p;
    uint32_t                                hash;
    std::string_view                        conv;
    ngx_http_chat_cache_node_t             *cn;
    std::optional<std::size_t>              bound, size;
    std::optional<chat::cache::SeqRange>    want;
    std::optional<chat::cache::Entry>       entry;

    if (zone == NULL || zone->sh == NULL) {
        return false;
    }

    hash = ngx_http_chat_cache_hash(key);

    ngx_http_chat_cache_lock_t  lock(zone);

    cn = ngx_http_chat_cache_lookup(zone->sh, key, hash);
    if (cn == NULL) {
        return false;
    }

    entry = ngx_http_chat_cache_entry(cn);

    want = entry ? chat::cache::select(entry->run, entry->last_seq, after,
                                       limit)
                 : std::nullopt;

    conv = std::string_view((char *) cn->data + cn->sn.str.len, cn->conv_len);

    bound = want ? chat::cache::answer_bound(conv.size(), entry->list.size(),
                                             entry->run.count, want->count)
                 : std::nullopt;

    if (!entry || (want && !bound)) {
        /* inconsistent: never serve it again */
        ngx_http_chat_cache_replace(zone, NULL, cn);
        return false;
    }

    if (!want) {
        return false;
    }

    /* an allocation is no I/O: it may sit under the lock */

    p = ngx_http_chat_cache_alloc(pool, *bound);
    if (p == NULL) {
        return false;
    }

    /* the whole list checked once per block, then the copy's ends only */

    if (!cn->checked) {
        if (!chat::cache::check_list(entry->list, entry->run)) {
            /* the list does not hold what it claims: never serve it again */
            ngx_http_chat_cache_replace(zone, NULL, cn);
            return false;
        }

        cn->checked = 1;
    }

    size = chat::cache::render_checked_read(conv, entry->list, entry->run,
                                            *want,
                                            std::span((char *) p, *bound));

    if (!size) {
        /* the list does not hold what it claims: never serve it again */
        ngx_http_chat_cache_replace(zone, NULL, cn);
        return false;
    }

    ngx_http_chat_cache_touch(zone->sh, cn);

    answer->data = p;
    answer->len = *size;

    return true;
}


void
ngx_http_chat_cache_forget(ngx_http_chat_zone_t *zone, std::string_view key,
    std::int64_t version) noexcept
{
    uint32_t                     hash;
    ngx_http_chat_cache_node_t  *cn;

    if (zone == NULL || zone->sh == NULL) {
        return;
    }

    hash = ngx_http_chat_cache_hash(key);

    ngx_http_chat_cache_lock_t  lock(zone);

    cn = ngx_http_chat_cache_lookup(zone->sh, key, hash);

    if (cn && cn->version < version) {
        ngx_http_chat_cache_replace(zone, NULL, cn);
    }
}


void
ngx_http_chat_cache_remove(ngx_http_chat_zone_t *zone,
    std::string_view key) noexcept
{
    /* every version is older than the largest one */
    ngx_http_chat_cache_forget(zone, key,
                               std::numeric_limits<std::int64_t>::max());
}


void
ngx_http_chat_cache_stats(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_stats_t *st) noexcept
{
    ngx_memzero(st, sizeof(ngx_http_chat_cache_stats_t));

    if (zone == NULL || zone->sh == NULL) {
        return;
    }

    ngx_http_chat_cache_lock_t  lock(zone);

    st->entries = zone->sh->cache_entries;
    st->alloc_failures = zone->sh->cache_alloc_failures;
    st->evictions = zone->sh->cache_evictions;
}


ngx_http_chat_cache_lock_t::ngx_http_chat_cache_lock_t(
    ngx_http_chat_zone_t *zone) noexcept
    : zone_(zone)
{
    ngx_shmtx_lock(&zone_->shpool->mutex);

    recovered_ = ngx_http_chat_cache_recover(zone_);
}


ngx_http_chat_cache_lock_t::~ngx_http_chat_cache_lock_t()
{
    ngx_shmtx_unlock(&zone_->shpool->mutex);

    /* logging is I/O: never under the lock */

    if (recovered_) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "chat cache: a worker died while changing zone \"%V\", "
                      "%ui blocks freed", &zone_->shm_zone->shm.name,
                      recovered_ - 1);
    }
}


/*
 * Called with the lock held.  Returns 0 if all was well, else 1 + the number
 * of blocks freed.  A zeroed shctx (fresh zone) is initialized here, so the
 * zone init need not know about the cache.
 */

static ngx_uint_t
ngx_http_chat_cache_recover(ngx_http_chat_zone_t *zone)
{
    size_t                       max;
    ngx_uint_t                   n, pending_seen, victim_seen;
    ngx_queue_t                 *q, *next;
    ngx_slab_pool_t             *shpool;
    ngx_http_chat_shctx_t       *sh;
    ngx_http_chat_cache_node_t  *cn, *pending, *victim;

    sh = zone->sh;
    shpool = zone->shpool;

    if (sh->cache_buckets == NULL) {
        ngx_http_chat_cache_index_init(zone);
        ngx_queue_init(&sh->cache_lru);
        return 0;
    }

    pending = static_cast<ngx_http_chat_cache_node_t *>(sh->cache_pending);
    victim = static_cast<ngx_http_chat_cache_node_t *>(sh->cache_victim);

    if (!sh->cache_linking) {
        if (pending == NULL) {
            return 0;
        }

        /* died while copying into a block that nothing points to yet */
        ngx_http_chat_cache_block_free(zone, pending);
        sh->cache_pending = NULL;
        sh->cache_victim = NULL;
        return 2;
    }

    /*
     * Died inside the index's or the queue's linking: a bucket's chain may
     * be half-linked, but every queue "next" link still points at a live,
     * complete block (blocks are freed only after being unlinked), so the
     * forward walk is safe; the walk is bounded in case it is not.
     */

    n = 0;
    pending_seen = 0;
    victim_seen = 0;
    max = (size_t) (shpool->end - shpool->start)
          / sizeof(ngx_http_chat_cache_node_t) + 1;

    q = sh->cache_lru.next;

    while (q != NULL && q != &sh->cache_lru && max--) {
        cn = ngx_queue_data(q, ngx_http_chat_cache_node_t, queue);

        if (cn->magic != NGX_HTTP_CHAT_CACHE_MAGIC) {
            break;
        }

        next = q->next;

        pending_seen |= (cn == pending);
        victim_seen |= (cn == victim);

        cn->magic = 0;

        /* chat::pages' blocks all go at once below */
        if (!ngx_http_chat_cache_paged(zone, cn)) {
            ngx_slab_free_locked(shpool, cn);
        }

        n++;

        q = next;
    }

    if (pending && !pending_seen) {
        pending->magic = 0;

        if (!ngx_http_chat_cache_paged(zone, pending)) {
            ngx_slab_free_locked(shpool, pending);
        }

        n++;
    }

    if (victim && !victim_seen) {
        victim->magic = 0;

        if (!ngx_http_chat_cache_paged(zone, victim)) {
            ngx_slab_free_locked(shpool, victim);
        }

        n++;
    }

    /*
     * the death may have been inside chat::pages' change too: nothing is
     * in use any more, so every page it holds is free again
     */
    if (sh->cache_tags != NULL) {
        chat::pages::reset(sh->cache_pages, ngx_http_chat_cache_tags(sh));
    }

    ngx_memzero(sh->cache_buckets, (sh->cache_mask + 1) * sizeof(void *));
    ngx_queue_init(&sh->cache_lru);

    sh->cache_entries = 0;
    sh->cache_pending = NULL;
    sh->cache_victim = NULL;
    sh->cache_linking = 0;

    return n + 1;
}


/*
 * The hash index: a power-of-two array of bucket heads allocated once from
 * the slab, half a bucket per page of the zone (a conversation's block takes
 * a page or more), each bucket a chain through the blocks' hnext.  It
 * replaced an rbtree: under load a lookup among 10 000+ blocks touched ~15
 * page-aligned nodes in a 256 MB zone, each a cache and TLB miss
 * (ngx_str_rbtree_lookup was 8.5 % of the workers' CPU, README "Session 17,
 * wt-nginxcpu"); a bucket is one miss and its chain mostly one block.
 */

static void
ngx_http_chat_cache_index_init(ngx_http_chat_zone_t *zone)
{
    ngx_uint_t              n, pages;
    ngx_http_chat_shctx_t  *sh;

    sh = zone->sh;
    pages = (ngx_uint_t) (zone->shpool->end - zone->shpool->start)
            / ngx_pagesize;

    for (n = 64; n < pages / 2; n <<= 1) { /* void */ }

    sh->cache_buckets = static_cast<void **>(
        ngx_slab_calloc_locked(zone->shpool, n * sizeof(void *)));

    if (sh->cache_buckets == NULL) {
        /* a zone too small for it: one chain, still correct */
        sh->cache_bucket0 = NULL;
        sh->cache_buckets = &sh->cache_bucket0;
        n = 1;
    }

    sh->cache_mask = n - 1;

    /* a tag a page for chat::pages: 16 bytes a page, 0.4 % of the zone */

    sh->cache_tags = static_cast<chat::pages::Tag *>(
        ngx_slab_alloc_locked(zone->shpool, pages * sizeof(chat::pages::Tag)));

    if (sh->cache_tags == NULL) {
        /* a zone too small for them: every block from the slab */
        sh->cache_ntags = 0;
        return;
    }

    sh->cache_ntags = pages;
    chat::pages::init(sh->cache_pages, ngx_http_chat_cache_tags(sh));
}


static ngx_http_chat_cache_node_t *
ngx_http_chat_cache_lookup(ngx_http_chat_shctx_t *sh, std::string_view key,
    uint32_t hash)
{
    ngx_http_chat_cache_node_t  *cn;

    for (cn = static_cast<ngx_http_chat_cache_node_t *>(
                  sh->cache_buckets[hash & sh->cache_mask]);
         cn;
         cn = static_cast<ngx_http_chat_cache_node_t *>(cn->hnext))
    {
        if (cn->sn.node.key == hash && cn->sn.str.len == key.size()
            && ngx_memcmp(cn->sn.str.data, key.data(), key.size()) == 0)
        {
            return cn->magic == NGX_HTTP_CHAT_CACHE_MAGIC ? cn : NULL;
        }
    }

    return NULL;
}


/*
 * Links cn (if any) in place of old (if any) and frees old.  The pointer
 * writes are bracketed by cache_linking so that a crash among them is seen
 * by the next locker; pending/victim are cleared inside the bracket, which
 * at worst leaks a block on a crash, never frees one twice.
 */

static void
ngx_http_chat_cache_replace(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_node_t *cn, ngx_http_chat_cache_node_t *old)
{
    void                  **bucket, **link;
    ngx_http_chat_shctx_t  *sh;

    sh = zone->sh;

    sh->cache_victim = old;
    ngx_memory_barrier();
    sh->cache_linking = 1;
    ngx_memory_barrier();

    if (cn) {
        /* first in its bucket: found before an old block of the same key */
        bucket = &sh->cache_buckets[cn->sn.node.key & sh->cache_mask];
        cn->hnext = *bucket;
        *bucket = cn;
        ngx_queue_insert_head(&sh->cache_lru, &cn->queue);
        sh->cache_entries++;
    }

    if (old) {
        ngx_queue_remove(&old->queue);

        for (link = &sh->cache_buckets[old->sn.node.key & sh->cache_mask];
             *link;
             link = &static_cast<ngx_http_chat_cache_node_t *>(*link)->hnext)
        {
            if (*link == old) {
                *link = old->hnext;
                break;
            }
        }

        sh->cache_entries--;
    }

    ngx_memory_barrier();
    sh->cache_pending = NULL;
    sh->cache_victim = NULL;
    ngx_memory_barrier();
    sh->cache_linking = 0;
    ngx_memory_barrier();

    if (old) {
        ngx_http_chat_cache_block_free(zone, old);
    }
}


static void
ngx_http_chat_cache_touch(ngx_http_chat_shctx_t *sh,
    ngx_http_chat_cache_node_t *cn)
{
    if (ngx_queue_head(&sh->cache_lru) == &cn->queue) {
        return;     /* the most recent already: no shared line written */
    }

    sh->cache_linking = 1;
    ngx_memory_barrier();

    ngx_queue_remove(&cn->queue);
    ngx_queue_insert_head(&sh->cache_lru, &cn->queue);

    ngx_memory_barrier();
    sh->cache_linking = 0;
}


/*
 * The longest run of free pages, under the lock: the slab keeps its free
 * runs in the list at shpool->free, each run's first page holding its
 * length in slab (ngx_slab.c, since nginx 1.11 adjacent free runs are
 * joined).  O(runs), walked only when a store failed.
 */

static ngx_uint_t
ngx_http_chat_cache_longest_free(ngx_slab_pool_t *shpool)
{
    ngx_uint_t        longest, max;
    ngx_slab_page_t  *page;

    longest = 0;
    max = (ngx_uint_t) ((shpool->end - shpool->start) / ngx_pagesize);

    for (page = shpool->free.next;
         page != NULL && page != &shpool->free && max--;
         page = page->next)
    {
        longest = ngx_max(longest, (ngx_uint_t) page->slab);
    }

    return longest;
}


/*
 * Whether block is chat::pages': on a page it was given (it never gives
 * one back, and the slab's blocks are never on those).
 */

static ngx_uint_t
ngx_http_chat_cache_paged(ngx_http_chat_zone_t *zone, void *block)
{
    size_t                  page;
    ngx_http_chat_shctx_t  *sh;

    sh = zone->sh;

    if (sh->cache_tags == NULL
        || (u_char *) block < zone->shpool->start)
    {
        return 0;
    }

    page = ngx_http_chat_cache_page(zone, block);

    return page < sh->cache_ntags && sh->cache_tags[page].owned;
}


/*
 * A block of size bytes for an entry, under the lock: above half a page
 * from chat::pages (given another extent of the slab's pages if it has no
 * run that long), else the slab's chunk, or a page of chat::pages when the
 * slab has none (the zone full: the pages evictions free are chat::pages',
 * which never gives them back to the slab).  NULL if there is no room.
 */

static void *
ngx_http_chat_cache_block_alloc(ngx_http_chat_zone_t *zone, size_t size)
{
    void                           *p;
    ngx_uint_t                      pages;
    ngx_http_chat_shctx_t          *sh;
    std::optional<std::uint32_t>    first;

    sh = zone->sh;

    if (size <= ngx_pagesize / 2 || sh->cache_tags == NULL) {
        p = ngx_slab_alloc_locked(zone->shpool, size);

        if (p != NULL || sh->cache_tags == NULL) {
            return p;
        }
    }

    pages = ngx_http_chat_cache_pages(size);

    if (pages > sh->cache_ntags) {
        return NULL;
    }

    std::span<chat::pages::Tag>  tags = ngx_http_chat_cache_tags(sh);

    sh->cache_linking = 1;
    ngx_memory_barrier();

    first = chat::pages::alloc(sh->cache_pages, tags, (std::uint32_t) pages);

    if (!first && ngx_http_chat_cache_grow(zone, pages) == NGX_OK) {
        first = chat::pages::alloc(sh->cache_pages, tags,
                                   (std::uint32_t) pages);
    }

    ngx_memory_barrier();
    sh->cache_linking = 0;

    if (!first) {
        return NULL;
    }

    return zone->shpool->start + ((size_t) *first << ngx_pagesize_shift);
}


/*
 * Gives chat::pages an extent of the slab's pages, at least pages of them,
 * with cache_linking set: NGX_HTTP_CHAT_CACHE_EXTENT, or only what is asked
 * when the slab has no more, always leaving it a RESERVE'th of the zone.
 */

static ngx_int_t
ngx_http_chat_cache_grow(ngx_http_chat_zone_t *zone, ngx_uint_t pages)
{
    u_char                 *p;
    ngx_uint_t              n, reserve, nomem;
    ngx_slab_pool_t        *shpool;
    ngx_http_chat_shctx_t  *sh;

    sh = zone->sh;
    shpool = zone->shpool;
    reserve = sh->cache_ntags / NGX_HTTP_CHAT_CACHE_RESERVE;

    n = ngx_max(pages, NGX_HTTP_CHAT_CACHE_EXTENT);

    if (shpool->pfree < n + reserve) {
        n = pages;
    }

    if (shpool->pfree < n + reserve) {
        return NGX_DECLINED;
    }

    /* NULL is expected here and handled: no "no memory" crit */
    nomem = shpool->log_nomem;
    shpool->log_nomem = 0;

    p = static_cast<u_char *>(ngx_slab_alloc_locked(shpool,
                                                    n << ngx_pagesize_shift));

    if (p == NULL && n > pages) {
        /* the free pages are there, not that many in one run */
        n = pages;
        p = static_cast<u_char *>(ngx_slab_alloc_locked(shpool,
                                                    n << ngx_pagesize_shift));
    }

    shpool->log_nomem = nomem;

    if (p == NULL) {
        return NGX_DECLINED;
    }

    if (!chat::pages::add(sh->cache_pages, ngx_http_chat_cache_tags(sh),
                          (std::uint32_t) ngx_http_chat_cache_page(zone, p),
                          (std::uint32_t) n))
    {
        /* cannot be: the slab handed out pages chat::pages holds */
        ngx_slab_free_locked(shpool, p);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Frees an entry's block (unlinked, or never linked), under the lock.  That
 * chat::pages refuses one of its blocks cannot be (a table a crash left
 * half-changed is reset by the recovery of the bracket around the change);
 * were it so, its pages would stay taken: a leak, never a page used twice.
 */

static void
ngx_http_chat_cache_block_free(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_node_t *cn)
{
    size_t                  page;
    ngx_http_chat_shctx_t  *sh;

    sh = zone->sh;

    cn->magic = 0;

    if (!ngx_http_chat_cache_paged(zone, cn)) {
        ngx_slab_free_locked(zone->shpool, cn);
        return;
    }

    page = ngx_http_chat_cache_page(zone, cn);

    sh->cache_linking = 1;
    ngx_memory_barrier();

    (void) chat::pages::free(sh->cache_pages, ngx_http_chat_cache_tags(sh),
                             (std::uint32_t) page);

    ngx_memory_barrier();
    sh->cache_linking = 0;
}


/* evicts the least recently used entry other than keep; 0 if none */

static ngx_uint_t
ngx_http_chat_cache_evict(ngx_http_chat_zone_t *zone,
    ngx_http_chat_cache_node_t *keep)
{
    ngx_queue_t                 *q;
    ngx_http_chat_shctx_t       *sh;
    ngx_http_chat_cache_node_t  *cn;

    sh = zone->sh;

    q = ngx_queue_last(&sh->cache_lru);

    if (q != ngx_queue_sentinel(&sh->cache_lru)
        && ngx_queue_data(q, ngx_http_chat_cache_node_t, queue) == keep)
    {
        q = ngx_queue_prev(q);
    }

    if (q == ngx_queue_sentinel(&sh->cache_lru)) {
        return 0;
    }

    cn = ngx_queue_data(q, ngx_http_chat_cache_node_t, queue);

    ngx_http_chat_cache_replace(zone, NULL, cn);
    sh->cache_evictions++;

    return 1;
}


/*
 * What a block says of its messages, for core to check and decide on; NULL
 * (nullopt) if the block's own header does not add up.
 */

static std::optional<chat::cache::Entry>
ngx_http_chat_cache_entry(ngx_http_chat_cache_node_t *cn)
{
    if (cn->magic != NGX_HTTP_CHAT_CACHE_MAGIC
        || cn->size != offsetof(ngx_http_chat_cache_node_t, data)
                       + cn->sn.str.len + cn->conv_len + cn->msgs_len)
    {
        return std::nullopt;
    }

    return chat::cache::Entry{
        cn->version, cn->last_seq,
        chat::cache::SeqRange{cn->first, (int64_t) cn->nmessages},
        std::span<const std::byte>(
            reinterpret_cast<const std::byte *>(ngx_http_chat_cache_msgs(cn)),
            cn->msgs_len)};
}


/*
 * size bytes that live as long as pool: small answers from the pool itself,
 * larger ones in a buffer of the worker's, returned to it by a cleanup of
 * pool (the request's, destroyed only once its output is sent or dropped).
 */

static u_char *
ngx_http_chat_cache_alloc(ngx_pool_t *pool, size_t size)
{
    size_t                      cap;
    ngx_pool_cleanup_t         *cln;
    ngx_http_chat_cache_buf_t  *b;

    if (size <= NGX_HTTP_CHAT_CACHE_POOLED) {
        return static_cast<u_char *>(ngx_pnalloc(pool, size));
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    b = ngx_http_chat_cache_bufs;

    if (b != NULL && b->size >= size) {
        ngx_http_chat_cache_bufs = b->next;
        ngx_http_chat_cache_nbufs--;

    } else {
        cap = ngx_max(size, (size_t) NGX_HTTP_CHAT_CACHE_BUF_MIN);

        if (cap > NGX_MAX_SIZE_T_VALUE - sizeof(ngx_http_chat_cache_buf_t)) {
            return NULL;
        }

        b = static_cast<ngx_http_chat_cache_buf_t *>(
                ngx_alloc(offsetof(ngx_http_chat_cache_buf_t, data) + cap,
                          pool->log));
        if (b == NULL) {
            return NULL;
        }

        b->size = cap;
    }

    b->next = NULL;

    cln->handler = ngx_http_chat_cache_buf_release;
    cln->data = b;

    return b->data;
}


/* a pool cleanup: the buffer goes back to the worker, or is freed */

static void
ngx_http_chat_cache_buf_release(void *data)
{
    ngx_http_chat_cache_buf_t  *b;

    b = static_cast<ngx_http_chat_cache_buf_t *>(data);

    if (ngx_http_chat_cache_nbufs >= NGX_HTTP_CHAT_CACHE_BUFS
        || b->size > NGX_HTTP_CHAT_CACHE_BUF_MAX)
    {
        ngx_free(b);
        return;
    }

    b->next = ngx_http_chat_cache_bufs;
    ngx_http_chat_cache_bufs = b;
    ngx_http_chat_cache_nbufs++;
}
