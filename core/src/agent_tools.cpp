// The agent tools of API.md ("Agent tools"): a conversation's priority, tags and department
// (PATCH), private notes, and the canned replies an agent picks from; with their input rules.
#include <algorithm>
#include <string>
#include <vector>

#include "agent_util.h"
#include "chat/agent.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/pg_pool.h"

namespace chat::agent {

using detail::Effects;
using detail::pick;
using input::parse_body;

namespace {

// PATCH's body as the SQL function takes it: {"priority"?, "tags"?, "department_id"?}, each
// checked, tags lowercased and deduplicated (first occurrence kept). 422 naming the field.
Result<json::Value> check_patch(const json::Value& in) {
    json::Value patch{json::Object{}};
    if (const json::Value* v = in.find("priority")) {
        const std::string* s = v->as_string();
        if (!s || !limits::one_of(limits::kPriorities, *s))
            return make_error(Errc::validation, "priority must be " + limits::names_text(limits::kPriorities));
        patch.set("priority", json::Value(*s));
    }
    if (const json::Value* v = in.find("tags")) {
        const json::Array* list = v->as_array();
        auto bad = [] {
            return make_error(Errc::validation, "tags must be a list of at most " + std::to_string(limits::kTagsMax) +
                                                    " tags, each " + limits::range_text(limits::kTagBytes) +
                                                    " characters of a-z 0-9 _ - starting with a letter or digit");
        };
        if (!list) return bad();
        std::vector<std::string> tags;
        for (const json::Value& e : *list) {
            const std::string* s = e.as_string();
            std::optional<std::string> t = s ? input::normal_tag(*s) : std::nullopt;
            if (!t) return bad();
            if (std::find(tags.begin(), tags.end(), *t) == tags.end()) tags.push_back(std::move(*t));
            if (tags.size() > limits::kTagsMax) return bad();
        }
        json::Value out{json::Array{}};
        for (std::string& t : tags) out.push_back(json::Value(std::move(t)));
        patch.set("tags", std::move(out));
    }
    if (const json::Value* v = in.find("department_id")) {
        if (v->is_null()) {
            patch.set("department_id", json::Value());
        } else {
            const std::string* s = v->as_string();
            if (!s || !input::is_uuid(*s))
                return make_error(Errc::validation, "department_id must be a department's id or null");
            patch.set("department_id", json::Value(*s));
        }
    }
    if (patch.as_object()->empty())
        return make_error(Errc::bad_request, "one of priority, tags or department_id is required");
    return patch;
}

}  // namespace

void Service::update_conversation(const Principal& p, std::string_view id, std::string_view body,
                                  Done done) noexcept {
    try {
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        auto patch = check_patch(parsed.value());
        if (!patch.ok()) return fail(done, patch.error().code, patch.error().message);
        run("SELECT chat_agent_conversation_update($1::uuid, $2, $3::uuid, $4::jsonb, $5)::text",
            {p.agent_id, p.role, std::string(id), json::to_string(patch.value()), p.site},
            [site = p.site](std::string_view text, bool) -> Result<Outcome> {
                auto v = detail::parse_answer(text);
                if (!v.ok()) return v.error();
                auto a = detail::pick_parsed(v.value(), {"conversation"}, 200, Effects::publish, site);
                if (!a.ok()) return a;
                // the customer's cached copy (every node) is older now: tags, priority and
                // department may change while the chat is automated or closed too
                const std::string* sid = v.value().find_string("session_id");
                const json::Value* c = v.value().find("conversation");
                if (sid && c) a.value().conversation_changed(*sid, c->find_int("version").value_or(0));
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::note(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "conversation not found");
        auto in = detail::parse_text_write(body, settings_.message_max);
        if (!in.ok()) return fail(done, in.error().code, in.error().message);
        run("SELECT chat_agent_note($1::uuid, $2, $3::uuid, $4::uuid, $5, $6)::text",
            {p.agent_id, p.role, std::string(id), std::move(in.value().client_id), std::move(in.value().text),
             p.site},
            [site = p.site](std::string_view text, bool) -> Result<Outcome> {
                auto v = detail::parse_answer(text);
                if (!v.ok()) return v.error();
                auto a = detail::pick_parsed(v.value(), {"note"}, 201, Effects::none);
                if (!a.ok()) return a;
                // a retry answers the same note; agents heard it the first time
                if (v.value().find("replayed") && v.value().find("replayed")->as_bool().value_or(false)) return a;
                if (events::Event e = events::note_created(v.value(), site); !e.json.empty())
                    a.value().events.push_back(std::move(e));
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::canned(const Principal& p, Done done) noexcept {
    try {
        run("SELECT chat_canned_list($1)::text", {p.site},
            [](std::string_view text, bool) { return pick(text, {"canned"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

}  // namespace chat::agent
