// The one list behind /chat/status and /chat/metrics: both formats show the same metrics.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "chat/json.h"
#include "chat/metrics.h"

namespace {

using chat::metrics::Kind;
using chat::metrics::Sources;

Sources full() {
    Sources s;
    s.worker_pid = 4242;
    s.cache = {3, 1, 2};
    s.counts = {5, 2, {}};
    s.counts.webhooks_backlog = 12;
    s.counts.webhooks_failing = 1;
    s.zone = Sources::Zone{"chat", 10485760, 81920, 2550, 2530};
    s.sockets_open = 7;
    chat::pg::PoolStats ps;
    ps.size = 4;
    ps.connected = 3;
    ps.connecting = 1;
    ps.busy = 1;
    ps.queued = 0;
    ps.queries = 100;
    ps.errors = 2;
    ps.reconnects = 1;
    ps.timeouts = 0;
    ps.batches = 6;
    ps.batched_items = 30;
    ps.prepared = 57;
    ps.prepares = 61;
    s.postgres = Sources::Postgres{true, ps};
    chat::redis::ClientStats rs;
    rs.connected = false;
    rs.commands = 50;
    rs.errors = 1;
    rs.reconnects = 2;
    rs.pending = 0;
    s.redis = rs;
    s.counters = Sources::Counters{1000, 3, 40, 60, 2, 5};
    return s;
}

TEST(Metrics, TheJsonHasEveryFieldOfStatusInItsPlace) {
    EXPECT_EQ(chat::metrics::render_json(full()),
              R"({"worker_pid":4242,)"
              R"("cache":{"conversations":3,"evictions":1,"alloc_failures":2},)"
              R"("queue_length":5,"agents_online":2,"webhooks":{"backlog":12,"failing":1},)"
              R"("zone":{"name":"chat","size":10485760,"used":81920,"pages":2550,"free_pages":2530},)"
              R"("sockets":{"open":7},)"
              R"("postgres":{"state":"up","pool_size":4,"connected":3,"connecting":1,"busy":1,"queued":0,)"
              R"("queries":100,"errors":2,"reconnects":1,"timeouts":0,"batches":6,"batched_items":30,)"
              R"("prepared":57,"prepares":61},)"
              R"("redis":{"state":"down","commands":50,"errors":1,"reconnects":2,"pending":0},)"
              R"("counters":{"requests":1000,"errors":3,"cache_hits":40,"cache_misses":60,"reloads":2,)"
              R"("ring_dropped":5},"sites":{}})");
}

TEST(Metrics, WhatIsNotConfiguredIsDisabledOrLeftOutAndUnknownCountsAreNull) {
    Sources s;  // no zone, no Postgres, no Redis; Postgres could not count
    s.worker_pid = 1;
    EXPECT_EQ(chat::metrics::render_json(s),
              R"({"worker_pid":1,"cache":{"conversations":0,"evictions":0,"alloc_failures":0},)"
              R"("queue_length":null,"agents_online":null,"webhooks":{"backlog":null,"failing":null},)"
              R"("sockets":{"open":0},)"
              R"("postgres":{"state":"disabled"},"redis":{"state":"disabled"},"sites":null})");
    std::string prom = chat::metrics::render_prometheus(s);
    EXPECT_EQ(prom.find("queue_length"), std::string::npos);
    EXPECT_EQ(prom.find("postgres_"), std::string::npos);
    EXPECT_EQ(prom.find("redis_"), std::string::npos);
    EXPECT_EQ(prom.find("zone_"), std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_open_sockets 0\n"), std::string::npos);
}

TEST(Metrics, PrometheusShowsEveryNumberOfTheJson) {
    Sources s = full();
    std::string prom = chat::metrics::render_prometheus(s);
    std::set<std::string> names;
    std::regex sample(R"((?:^|\n)nginx_chat_(\w+) (-?\d+))");
    for (std::sregex_iterator it(prom.begin(), prom.end(), sample), end; it != end; ++it) names.insert((*it)[1]);

    for (const auto& metric : chat::metrics::list()) {
        if (metric.kind == Kind::label) {
            EXPECT_TRUE(metric.name.empty()) << metric.path;
            continue;
        }
        EXPECT_TRUE(names.count(std::string(metric.name))) << metric.name << " missing";
    }
    // one sample per numeric metric, nothing else
    EXPECT_EQ(names.size(), chat::metrics::list().size() - 1);

    EXPECT_NE(prom.find("# HELP nginx_chat_zone_size_bytes size of the chat shared-memory zone\n"
                        "# TYPE nginx_chat_zone_size_bytes gauge\n"
                        "nginx_chat_zone_size_bytes 10485760\n"),
              std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_ring_dropped_total 5\n"), std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_postgres_up 1\n"), std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_redis_up 0\n"), std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_queue_length 5\n"), std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_webhooks_backlog 12\n"), std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_webhooks_failing 1\n"), std::string::npos);
}

TEST(Metrics, NamesAreUniqueCountersEndInTotalAndObjectsAreContiguous) {
    std::set<std::string_view> paths, names, closed;
    std::string_view open;
    for (const auto& m : chat::metrics::list()) {
        EXPECT_TRUE(paths.insert(m.path).second) << m.path;
        EXPECT_FALSE(m.help.empty()) << m.path;
        if (!m.name.empty()) {
            EXPECT_TRUE(names.insert(m.name).second) << m.name;
        }
        EXPECT_EQ(m.kind == Kind::counter, m.name.ends_with("_total")) << m.name;
        auto dot = m.path.find('.');
        std::string_view object = dot == std::string_view::npos ? std::string_view() : m.path.substr(0, dot);
        if (object != open) {  // keys at the top level may come anywhere
            if (!open.empty()) closed.insert(open);
            if (!object.empty()) {
                EXPECT_FALSE(closed.count(object)) << m.path << ": its object's keys are apart";
            }
            open = object;
        }
    }
}

TEST(Metrics, TheCountsAreBrokenDownBySite) {
    Sources s = full();
    s.counts.sites = {{"default", 4, 2}, {"shop-2", 1, 0}};
    const std::string json = chat::metrics::render_json(s);
    EXPECT_NE(json.find(R"("queue_length":5,"agents_online":2,)"), std::string::npos) << "the totals stay";
    EXPECT_TRUE(json.ends_with(R"("sites":{"default":{"queue_length":4,"agents_online":2},)"
                               R"("shop-2":{"queue_length":1,"agents_online":0}}})"))
        << json;
    std::string prom = chat::metrics::render_prometheus(s);
    EXPECT_NE(prom.find("# TYPE nginx_chat_site_queue_length gauge\n"
                        "nginx_chat_site_queue_length{site=\"default\"} 4\n"
                        "nginx_chat_site_queue_length{site=\"shop-2\"} 1\n"),
              std::string::npos)
        << prom;
    EXPECT_NE(prom.find("\nnginx_chat_site_agents_online{site=\"default\"} 2\n"), std::string::npos);
    EXPECT_NE(prom.find("\nnginx_chat_queue_length 5\n"), std::string::npos);
}

TEST(Metrics, TheJsonIsValidWithAZoneNameToEscape) {
    Sources s = full();
    s.zone->name = "we\"ird";
    auto v = chat::json::parse(chat::metrics::render_json(s));
    ASSERT_TRUE(v.ok());
    const chat::json::Value* zone = v.value().find("zone");
    ASSERT_TRUE(zone);
    EXPECT_EQ(*zone->find_string("name"), "we\"ird");
}

}  // namespace
