// The agent's views of conversations and the writes into one: post, claim, transfer,
// close, read; and the grace sweep.
#include <string>

#include "agent_util.h"
#include "chat/agent.h"
#include "chat/customer.h"
#include "chat/events.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/pg_pool.h"
#include "chat/utf8.h"

namespace chat::agent {

using detail::Effects;
using detail::fail_with;
using detail::parse_int;
using detail::parse_query;
using detail::pick;
using input::blank;
using input::parse_body;

// ---------------------------------------------------------------------------
// Views and conversation writes

void Service::conversations(const Principal& p, std::string_view query, Done done) noexcept {
    try {
        auto q = parse_query(query);
        std::string view(limits::kAgentViewDefault);
        if (auto it = q.find("view"); it != q.end()) view = it->second;
        if (!limits::one_of(limits::kAgentViews, view))
            return fail(done, Errc::validation, "view must be " + limits::names_text(limits::kAgentViews));
        std::int64_t limit = limits::kAgentPageDefault;
        if (auto it = q.find("limit"); it != q.end()) {
            auto n = parse_int(it->second);
            if (!n || !limits::kAgentPage.contains(*n))
                return fail(done, Errc::validation, "limit must be between " + limits::between_text(limits::kAgentPage));
            limit = *n;
        }
        std::optional<std::string> cur_us, cur_id;
        if (auto it = q.find("cursor"); it != q.end() && !it->second.empty()) {
            auto c = decode_cursor(it->second);
            if (!c.ok()) return fail(done, c.error().code, c.error().message);
            cur_us = std::to_string(c.value().first);
            cur_id = c.value().second;
        }
        // filters (API.md "Agent tools"): each checked here, 422 naming it
        std::optional<std::string> tag, department, priority, search;
        if (auto it = q.find("tag"); it != q.end()) {
            tag = input::normal_tag(it->second);
            if (!tag) return fail(done, Errc::validation, "tag must match " + std::string(limits::kTagPattern));
        }
        if (auto it = q.find("department_id"); it != q.end()) {
            if (!input::is_uuid(it->second))
                return fail(done, Errc::validation, "department_id must be a department's id");
            department = it->second;
        }
        if (auto it = q.find("priority"); it != q.end()) {
            if (!limits::one_of(limits::kPriorities, it->second))
                return fail(done, Errc::validation, "priority must be " + limits::names_text(limits::kPriorities));
            priority = it->second;
        }
        if (auto it = q.find("q"); it != q.end()) {
            const auto n = static_cast<std::int64_t>(chat::utf8_length(it->second));
            if (!chat::valid_utf8(it->second) || blank(it->second) || !limits::kSearchQueryChars.contains(n) ||
                input::has_control(it->second))
                return fail(done, Errc::validation,
                            "q must be " + limits::range_text(limits::kSearchQueryChars) + " characters of text");
            search = it->second;
        }
        run("SELECT chat_agent_conversations($1::uuid, $2, $3, $4, $5, $6::uuid, $7, $8, $9::uuid, $10, $11)::text",
            {p.agent_id, p.role, view, std::to_string(limit), cur_us, cur_id, p.site, tag, department, priority,
             search},
            [](std::string_view text, bool) -> Result<Outcome> {
                json::Limits lim;
                lim.max_bytes = 64u << 20;
                auto v = json::parse(text, lim);
                if (!v.ok()) return make_error(Errc::internal, "unexpected database answer");
                Outcome a;
                json::Writer w(a.body);
                w.begin_object().key("conversations");
                if (const json::Value* c = v.value().find("conversations")) w.value(*c);
                else w.begin_array().end_array();
                w.key("next_cursor");
                const json::Value* next = v.value().find("next");
                const std::string* id = next ? next->find_string("id") : nullptr;
                auto us = next ? next->find_int("us") : std::nullopt;
                if (id && us) w.string(encode_cursor(*us, *id));
                else w.null();
                w.end_object();
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::conversation(const Principal& p, std::string_view id, std::string_view query, Done done) noexcept {
    try {
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto w = customer::parse_window(query);
        if (!w.ok()) return fail(done, w.error().code, w.error().message);
        run("SELECT chat_agent_conversation($1::uuid, $2, $3::uuid, $4, $5, $6)::text",
            {p.agent_id, p.role, std::string(id), std::to_string(w.value().after), std::to_string(w.value().limit),
             p.site},
            [](std::string_view text, bool) {
                return pick(text, {"conversation", "messages", "notes", "history"}, 200, Effects::none);
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::post(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto in = detail::parse_text_write(body, settings_.message_max);
        if (!in.ok()) return fail(done, in.error().code, in.error().message);
        run("SELECT chat_agent_post($1::uuid, $2, $3::uuid, $4::uuid, $5, $6)::text",
            {p.agent_id, p.role, std::string(id), std::move(in.value().client_id), std::move(in.value().text),
             p.site},
            [site = p.site](std::string_view text, bool) {
                return pick(text, {"conversation", "messages"}, 201, Effects::publish, site);
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

// claim and close: the agent, their role, the conversation and the site in; conversation and
// messages out.
void Service::lifecycle(const char* sql, const Principal& p, std::string_view id, Done done) noexcept {
    try {
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        run(sql, {p.agent_id, p.role, std::string(id), p.site},
            [site = p.site](std::string_view text, bool) {
                return pick(text, {"conversation", "messages"}, 200, Effects::publish, site);
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::claim(const Principal& p, std::string_view id, Done done) noexcept {
    lifecycle("SELECT chat_agent_claim($1::uuid, $2, $3::uuid, $4)::text", p, id, std::move(done));
}

void Service::transfer(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value* t = parsed.value().find("agent_id");
        if (!t) return fail(done, Errc::bad_request, "agent_id is required");
        const std::string* s = t->as_string();
        if (!s || !input::is_uuid(*s)) return fail(done, Errc::validation, "agent_id must be a UUID");
        run("SELECT chat_agent_transfer($1::uuid, $2, $3::uuid, $4::uuid, $5)::text",
            {p.agent_id, p.role, std::string(id), *s, p.site},
            [site = p.site](std::string_view text, bool) {
                return pick(text, {"conversation", "messages"}, 200, Effects::publish, site);
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::close(const Principal& p, std::string_view id, Done done) noexcept {
    lifecycle("SELECT chat_agent_close($1::uuid, $2, $3::uuid, $4)::text", p, id, std::move(done));
}

void Service::read(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value* up = parsed.value().find("up_to_seq");
        std::optional<std::int64_t> n = up ? up->as_int() : std::nullopt;
        if (!n || *n < 0 || *n > limits::kSeqMax)
            return fail(done, Errc::validation, "up_to_seq must be a non-negative integer");
        run("SELECT chat_agent_read($1::uuid, $2, $3::uuid, $4, $5)::text",
            {p.agent_id, p.role, std::string(id), std::to_string(*n), p.site},
            [site = p.site, n = *n](std::string_view text, bool) -> Result<Outcome> {
                auto v = detail::parse_answer(text);
                if (!v.ok()) return v.error();
                Outcome a;
                a.status = 204;
                a.events = events::from_read(v.value(), events::Sender::agent, n, site);  // none when nothing was marked
                // read_at changed in the customer's messages: its cached copy (every node) is older
                // now; it is cached while the bot answers or once closed, and a supervisor may read then
                const std::string* sid = v.value().find_string("session_id");
                const json::Value* c = v.value().find("conversation");
                if (sid && c && v.value().find_int("marked").value_or(0) > 0)
                    a.conversation_changed(*sid, c->find_int("version").value_or(0));
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::sweep(std::uint64_t grace_ms, std::function<void(Result<std::string>)> done) noexcept {
    try {
        query("SELECT chat_sweep($1)::text", {std::to_string(static_cast<double>(grace_ms) / 1000.0)},
              [done](Result<std::optional<std::string>> r) {
                  if (!r.ok()) return done(r.error());
                  done(std::move(r.value()).value_or(std::string()));
              });
    } catch (const std::exception& e) {
        fail_with(loop_, done, e.what());
    }
}

}  // namespace chat::agent
