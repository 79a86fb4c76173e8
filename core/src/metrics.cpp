// The list of metrics behind /chat/status and /chat/metrics, and its two renderings.
#include "chat/metrics.h"

#include "chat/json.h"

namespace chat::metrics {

namespace {

Reading n(std::uint64_t v) { return static_cast<std::int64_t>(v); }

// A reading from an optional source: absent when the source is.
template <class T, class F>
Reading from(const std::optional<T>& src, F f) {
    if (!src) return Absent{};
    return f(*src);
}

Reading count(std::int64_t v) {
    if (v < 0) return Unknown{};
    return v;
}

using S = const Sources&;

const Metric kList[] = {
    {"worker_pid", "worker_pid", "pid of the worker that answered", Kind::gauge,
     [](S s) -> Reading { return s.worker_pid; }},

    {"cache.conversations", "cached_conversations", "conversations in the shared-memory cache", Kind::gauge,
     [](S s) { return n(s.cache.entries); }},
    {"cache.evictions", "cache_evictions_total", "cache entries evicted to make room", Kind::counter,
     [](S s) { return n(s.cache.evictions); }},
    {"cache.alloc_failures", "cache_alloc_failures_total", "conversations the cache found no room for",
     Kind::counter, [](S s) { return n(s.cache.alloc_failures); }},

    {"queue_length", "queue_length", "conversations waiting for an agent", Kind::gauge,
     [](S s) { return count(s.counts.queue_length); }},
    {"agents_online", "agents_online", "agents online", Kind::gauge,
     [](S s) { return count(s.counts.agents_online); }},
    {"webhooks.backlog", "webhooks_backlog", "webhook deliveries pending", Kind::gauge,
     [](S s) { return count(s.counts.webhooks_backlog); }},
    {"webhooks.failing", "webhooks_failing", "webhooks whose last delivery attempt failed", Kind::gauge,
     [](S s) { return count(s.counts.webhooks_failing); }},

    {"zone.name", "", "name of the chat shared-memory zone", Kind::label,
     [](S s) { return from(s.zone, [](const Sources::Zone& z) -> Reading { return z.name; }); }},
    {"zone.size", "zone_size_bytes", "size of the chat shared-memory zone", Kind::gauge,
     [](S s) { return from(s.zone, [](const Sources::Zone& z) { return n(z.size); }); }},
    {"zone.used", "zone_used_bytes", "bytes of the zone in use", Kind::gauge,
     [](S s) { return from(s.zone, [](const Sources::Zone& z) { return n(z.used); }); }},
    {"zone.pages", "zone_pages", "slab pages in the zone", Kind::gauge,
     [](S s) { return from(s.zone, [](const Sources::Zone& z) { return n(z.pages); }); }},
    {"zone.free_pages", "zone_free_pages", "free slab pages in the zone", Kind::gauge,
     [](S s) { return from(s.zone, [](const Sources::Zone& z) { return n(z.free_pages); }); }},

    {"sockets.open", "open_sockets", "WebSockets open in this worker", Kind::gauge,
     [](S s) { return n(s.sockets_open); }},

    {"postgres.state", "postgres_up", "1 if this worker has a Postgres connection", Kind::up,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.up ? 1 : 0); }); }},
    {"postgres.pool_size", "postgres_pool_size", "connections per worker", Kind::gauge,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.size); }); }},
    {"postgres.connected", "postgres_connected", "connections of this worker that are up", Kind::gauge,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.connected); }); }},
    {"postgres.connecting", "postgres_connecting", "connections of this worker being established", Kind::gauge,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.connecting); }); }},
    {"postgres.busy", "postgres_busy", "connections of this worker running a query", Kind::gauge,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.busy); }); }},
    {"postgres.queued", "postgres_queued", "queries of this worker waiting for a connection", Kind::gauge,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.queued); }); }},
    {"postgres.queries", "postgres_queries_total", "queries sent by this worker", Kind::counter,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.queries); }); }},
    {"postgres.errors", "postgres_errors_total", "failed queries of this worker", Kind::counter,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.errors); }); }},
    {"postgres.reconnects", "postgres_reconnects_total", "reconnections of this worker", Kind::counter,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.reconnects); }); }},
    {"postgres.timeouts", "postgres_timeouts_total", "query and queue timeouts of this worker", Kind::counter,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.timeouts); }); }},
    {"postgres.batches", "postgres_batches_total", "group-commit queries of this worker (several posts, one commit)",
     Kind::counter,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.batches); }); }},
    {"postgres.batched_items", "postgres_batched_items_total", "requests those group-commit queries carried",
     Kind::counter,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.batched_items); }); }},
    {"postgres.prepared", "postgres_prepared", "statements prepared on this worker's connections", Kind::gauge,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.prepared); }); }},
    {"postgres.prepares", "postgres_prepares_total", "PREPAREs this worker sent (a statement's first use on a connection)",
     Kind::counter,
     [](S s) { return from(s.postgres, [](const Sources::Postgres& p) { return n(p.stats.prepares); }); }},

    {"redis.state", "redis_up", "1 if this worker is connected to Redis", Kind::up,
     [](S s) { return from(s.redis, [](const redis::ClientStats& r) { return n(r.connected ? 1 : 0); }); }},
    {"redis.commands", "redis_commands_total", "Redis commands sent by this worker", Kind::counter,
     [](S s) { return from(s.redis, [](const redis::ClientStats& r) { return n(r.commands); }); }},
    {"redis.errors", "redis_errors_total", "failed Redis commands of this worker", Kind::counter,
     [](S s) { return from(s.redis, [](const redis::ClientStats& r) { return n(r.errors); }); }},
    {"redis.reconnects", "redis_reconnects_total", "Redis reconnections of this worker", Kind::counter,
     [](S s) { return from(s.redis, [](const redis::ClientStats& r) { return n(r.reconnects); }); }},
    {"redis.pending", "redis_pending", "Redis commands of this worker awaiting a reply", Kind::gauge,
     [](S s) { return from(s.redis, [](const redis::ClientStats& r) { return n(r.pending); }); }},

    {"counters.requests", "requests_total", "API answers sent, all workers", Kind::counter,
     [](S s) { return from(s.counters, [](const Sources::Counters& c) { return n(c.requests); }); }},
    {"counters.errors", "errors_total", "API answers with status 5xx, all workers", Kind::counter,
     [](S s) { return from(s.counters, [](const Sources::Counters& c) { return n(c.errors); }); }},
    {"counters.cache_hits", "cache_hits_total", "reads served from the shared-memory cache", Kind::counter,
     [](S s) { return from(s.counters, [](const Sources::Counters& c) { return n(c.cache_hits); }); }},
    {"counters.cache_misses", "cache_misses_total", "reads that went to Postgres", Kind::counter,
     [](S s) { return from(s.counters, [](const Sources::Counters& c) { return n(c.cache_misses); }); }},
    {"counters.reloads", "reloads_total", "configuration reloads since the zone was created", Kind::counter,
     [](S s) { return from(s.counters, [](const Sources::Counters& c) { return n(c.reloads); }); }},
    {"counters.ring_dropped", "ring_dropped_total", "events workers missed in the no-Redis event ring",
     Kind::counter, [](S s) { return from(s.counters, [](const Sources::Counters& c) { return n(c.ring_dropped); }); }},
};

// "zone.size" -> {"zone", "size"}; "queue_length" -> {"", "queue_length"}
std::pair<std::string_view, std::string_view> split(std::string_view path) {
    auto dot = path.find('.');
    if (dot == std::string_view::npos) return {{}, path};
    return {path.substr(0, dot), path.substr(dot + 1)};
}

}  // namespace

std::span<const Metric> list() noexcept { return kList; }

std::string render_json(const Sources& s, std::span<const Metric> metrics) {
    std::string out;
    json::Writer j(out);
    std::string_view open;  // the object being written, "" at the top level
    j.begin_object();
    for (const Metric& m : metrics) {
        Reading r = m.read(s);
        if (std::holds_alternative<Absent>(r) && m.kind != Kind::up) continue;
        auto [object, key] = split(m.path);
        if (object != open) {
            if (!open.empty()) j.end_object();
            if (!object.empty()) j.key(object).begin_object();
            open = object;
        }
        j.key(key);
        if (m.kind == Kind::up) {
            const auto* v = std::get_if<std::int64_t>(&r);
            j.string(!v ? "disabled" : *v ? "up" : "down");
        } else if (const auto* v = std::get_if<std::int64_t>(&r)) {
            j.number(*v);
        } else if (const auto* t = std::get_if<std::string>(&r)) {
            j.string(*t);
        } else {
            j.null();
        }
    }
    if (!open.empty()) j.end_object();
    j.key("sites");
    if (s.counts.queue_length < 0) {
        j.null();
    } else {
        j.begin_object();
        for (const ops::SiteCounts& site : s.counts.sites) {
            j.key(site.site).begin_object();
            j.key("queue_length").number(site.queue_length).key("agents_online").number(site.agents_online);
            j.end_object();
        }
        j.end_object();
    }
    j.end_object();
    return out;
}

std::string render_prometheus(const Sources& s, std::span<const Metric> metrics) {
    std::string out;
    for (const Metric& m : metrics) {
        if (m.name.empty()) continue;
        Reading r = m.read(s);
        const auto* v = std::get_if<std::int64_t>(&r);
        if (!v) continue;
        out.append("# HELP nginx_chat_").append(m.name).append(" ").append(m.help);
        out.append("\n# TYPE nginx_chat_").append(m.name).append(m.kind == Kind::counter ? " counter\n" : " gauge\n");
        out.append("nginx_chat_").append(m.name).append(" ").append(std::to_string(*v)).append("\n");
    }
    // per site: one labelled series each (site names are [a-z0-9._-]: nothing to escape)
    if (s.counts.queue_length >= 0 && !s.counts.sites.empty()) {
        struct PerSite {
            std::string_view name, help;
            std::int64_t ops::SiteCounts::*field;
        };
        for (PerSite m : {PerSite{"site_queue_length", "conversations waiting for an agent, per site",
                                  &ops::SiteCounts::queue_length},
                          PerSite{"site_agents_online", "agents online, per site granted",
                                  &ops::SiteCounts::agents_online}}) {
            out.append("# HELP nginx_chat_").append(m.name).append(" ").append(m.help);
            out.append("\n# TYPE nginx_chat_").append(m.name).append(" gauge\n");
            for (const ops::SiteCounts& site : s.counts.sites) {
                out.append("nginx_chat_").append(m.name).append("{site=\"");
                for (char c : site.site)  // a name outside the pattern could only come from bad data
                    if (c != '"' && c != '\\' && c != '\n') out += c;
                out.append("\"} ").append(std::to_string(site.*m.field)).append("\n");
            }
        }
    }
    return out;
}

}  // namespace chat::metrics
