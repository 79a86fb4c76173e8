// chat::ops::Service: the health probes' round trips and the live counts of /chat/status.
#include "chat/ops.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "chat/pg_pool.h"
#include "chat/redis_client.h"

namespace chat::ops {

namespace {

// A count(*) column; -1 if it is not one.
std::int64_t count_of(std::optional<std::string_view> text) {
    std::int64_t n = -1;
    if (!text) return -1;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size() || n < 0) return -1;
    return n;
}

}  // namespace

void Service::probe_postgres(std::function<void(Result<void>)> done) noexcept {
    try {
        if (!pg_) {
            loop_.post([done] { done(make_error(Errc::unavailable, "chat_postgres is not configured")); });
            return;
        }
        pg_->query("SELECT 1", {}, [done](Result<pg::QueryResult> res) {
            if (res.ok()) done(Result<void>());
            else done(make_error(Errc::unavailable, res.error().message));
        });
    } catch (const std::exception& e) {
        loop_.post([done, why = std::string(e.what())] { done(make_error(Errc::unavailable, why)); });
    }
}

void Service::probe_redis(std::function<void(Result<void>)> done) noexcept {
    try {
        if (!redis_) {
            loop_.post([done] { done(make_error(Errc::unavailable, "chat_redis is not configured")); });
            return;
        }
        redis_->command({"PING"}, [done](Result<redis::Reply> res) {
            if (!res.ok()) done(make_error(Errc::unavailable, res.error().message));
            else if (res.value().type == redis::Reply::Type::error)
                done(make_error(Errc::unavailable, res.value().str));
            else done(Result<void>());
        });
    } catch (const std::exception& e) {
        loop_.post([done, why = std::string(e.what())] { done(make_error(Errc::unavailable, why)); });
    }
}

void Service::counts(std::function<void(Counts)> done) noexcept {
    try {
        if (!pg_) {
            loop_.post([done] { done(Counts{}); });
            return;
        }
        // The totals (site NULL), then one row per site. The per-site queues are counts of
        // the queue index (conversations_dept_queue_idx leads with site).
        pg_->query(
            "SELECT NULL::text, (SELECT count(*) FROM conversations WHERE status = 'agent' AND assigned_agent_id IS NULL),"
            " (SELECT count(*) FROM agents WHERE presence = 'online' AND deleted_at IS NULL),"
            " (SELECT coalesce(sum(chat_webhook_backlog(w)), 0) FROM webhooks w),"
            " (SELECT count(*) FROM webhooks WHERE last_error_at > coalesce(last_delivered_at, '-infinity'))"
            " UNION ALL (SELECT site, coalesce(q.n, 0), coalesce(o.n, 0), NULL, NULL"
            " FROM (SELECT site, count(*) AS n FROM conversations"
            "        WHERE status = 'agent' AND assigned_agent_id IS NULL GROUP BY site) q"
            " FULL JOIN (SELECT s AS site, count(*) AS n FROM agents, unnest(sites) s"
            "             WHERE presence = 'online' AND deleted_at IS NULL GROUP BY s) o USING (site)"
            " ORDER BY site LIMIT $1)",
            {std::to_string(kStatusSitesMax)}, [done](Result<pg::QueryResult> res) {
                Counts c;
                try {
                    if (res.ok()) {
                        const pg::QueryResult& r = res.value();
                        for (int i = 0; i < r.rows(); i++) {
                            const auto site = r.text(i, 0);
                            if (!site) {
                                c.queue_length = count_of(r.text(i, 1));
                                c.agents_online = count_of(r.text(i, 2));
                                c.webhooks_backlog = count_of(r.text(i, 3));
                                c.webhooks_failing = count_of(r.text(i, 4));
                            } else if (c.sites.size() < kStatusSitesMax) {
                                c.sites.push_back(SiteCounts{std::string(*site), count_of(r.text(i, 1)),
                                                             count_of(r.text(i, 2))});
                            }
                        }
                    }
                    std::sort(c.sites.begin(), c.sites.end(),
                              [](const SiteCounts& a, const SiteCounts& b) { return a.site < b.site; });
                } catch (const std::exception&) {
                    c = Counts{};
                }
                done(std::move(c));
            });
    } catch (const std::exception&) {
        loop_.post([done] { done(Counts{}); });
    }
}

}  // namespace chat::ops
