// GET /agent/reports: who may read a site's reports (supervisors and admins) and the
// answer, JSON or the by-day CSV. The query's rules are chat::reports (reports.cpp); the
// numbers are chat_agent_reports' (sql/functions/96_reports.sql).
#include <string>

#include "agent_util.h"
#include "chat/agent.h"
#include "chat/json.h"
#include "chat/pg_pool.h"
#include "chat/reports.h"

namespace chat::agent {

namespace {

// A report Postgres did not finish in time (the pool's query timeout, or the server's
// statement_timeout a second later, pg_pool.h): 503 with what the supervisor can do about
// it, rather than the database's words. Other errors pass as they are.
Done explain_timeout(Done done) {
    return [done = std::move(done)](Result<Outcome>&& r) {
        if (r.ok()) return done(std::move(r));
        Error e = r.error();
        if (e.code == Errc::unavailable &&
            (e.message.starts_with("database query timed out") || e.message.starts_with("57014:")))
            e.message = "the report took too long: choose a shorter range or one department";
        done(std::move(e));
    };
}

}  // namespace

void Service::reports(const Principal& p, std::string_view query, Done done) noexcept {
    try {
        if (p.role != "supervisor" && p.role != "admin")
            return fail(done, Errc::forbidden, "supervisor or admin role required");
        auto q = reports::parse_query(query);
        if (!q.ok()) return fail(done, q.error().code, q.error().message);
        const bool csv = q.value().csv;
        run("SELECT chat_agent_reports($1, $2::timestamptz, $3::timestamptz, $4::uuid)::text",
            {p.site, reports::rfc3339(q.value().from_ms), reports::rfc3339(q.value().to_ms), q.value().department_id},
            [csv](std::string_view text, bool) -> Result<Outcome> {
                Outcome a;
                if (!csv) {
                    a.body = std::string(text);
                    return a;
                }
                json::Limits lim;
                lim.max_bytes = 64U << 20;
                auto v = json::parse(text, lim);
                if (!v.ok()) return make_error(Errc::internal, "unexpected database answer: " + v.error().message);
                auto body = reports::by_day_csv(v.value());
                if (!body.ok()) return body.error();
                a.body = std::move(body.value());
                a.content_type = "text/csv; charset=utf-8";
                return a;
            },
            explain_timeout(std::move(done)));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

}  // namespace chat::agent
