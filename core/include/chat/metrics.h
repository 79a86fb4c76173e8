// What /chat/status (JSON) and /chat/metrics (Prometheus text) show: one list of metrics,
// each with its place in the JSON, its Prometheus name, its help, its kind and how it is
// read, so the two formats cannot drift apart. The host fills Sources; core renders.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "chat/ops.h"
#include "chat/pg_pool.h"
#include "chat/redis_client.h"

namespace chat::metrics {

// Everything the list reads, sampled once per request by the host.
struct Sources {
    std::int64_t worker_pid = 0;
    struct Cache {
        std::uint64_t entries = 0, evictions = 0, alloc_failures = 0;
    } cache;
    ops::Counts counts;  // -1: Postgres could not say
    struct Zone {
        std::string name;
        std::uint64_t size = 0, used = 0, pages = 0, free_pages = 0;
    };
    std::optional<Zone> zone;  // no chat_zone: none
    std::uint64_t sockets_open = 0;
    struct Postgres {
        bool up = false;
        pg::PoolStats stats;
    };
    std::optional<Postgres> postgres;           // no chat_postgres: none
    std::optional<redis::ClientStats> redis;    // no chat_redis: none
    struct Counters {
        std::uint64_t requests = 0, errors = 0, cache_hits = 0, cache_misses = 0, reloads = 0, ring_dropped = 0;
    };
    std::optional<Counters> counters;  // no chat_zone: none
};

enum class Kind {
    counter,  // only grows; its Prometheus name ends in _total
    gauge,
    up,       // a connection: JSON "up"/"down" ("disabled" when absent), Prometheus 1/0
    label,    // text, JSON only
};

// A reading: absent (not configured: left out; "disabled" for Kind::up), unknown (JSON
// null, left out of Prometheus), a number, or text (Kind::label).
struct Absent {};
struct Unknown {};
using Reading = std::variant<Absent, Unknown, std::int64_t, std::string>;

struct Metric {
    std::string_view path;  // JSON: "queue_length", or "object.key"
    std::string_view name;  // Prometheus, after "nginx_chat_"; empty for Kind::label
    std::string_view help;
    Kind kind;
    Reading (*read)(const Sources&);
};

// The list, in the order both formats show it. The keys of one JSON object are
// consecutive.
std::span<const Metric> list() noexcept;

// Both end with the per-site counts (Sources::counts.sites): in JSON "sites": {"<site>":
// {"queue_length", "agents_online"}} (null while Postgres cannot say), in Prometheus
// nginx_chat_site_queue_length{site="<site>"} and nginx_chat_site_agents_online{...}.
std::string render_json(const Sources& s, std::span<const Metric> metrics = list());
std::string render_prometheus(const Sources& s, std::span<const Metric> metrics = list());

}  // namespace chat::metrics
