// The admin API: agents, the FAQ, departments and canned replies (list, create, update,
// delete), each with its input rules from limits.h (a department's in chat::department).
#include <string>

#include "agent_util.h"
#include "chat/agent.h"
#include "chat/department.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/password.h"
#include "chat/pg_pool.h"
#include "chat/utf8.h"

namespace chat::agent {

namespace {

using detail::Effects;
using detail::parse_query;
using detail::pick;
using input::blank;
using input::has_control;
using input::parse_body;

struct Validated {
    Error error{Errc::ok, {}};
    bool ok() const { return error.code == Errc::ok; }
};

// The fields of an agent create/patch, validated. `password` is returned separately.
Validated check_agent_fields(const json::Value& in, bool create, json::Value& patch, std::string& password) {
    auto err = [](Errc c, std::string m) { return Validated{Error{c, std::move(m)}}; };
    if (create) {
        const json::Value* u = in.find("username");
        if (!u || u->is_null()) return err(Errc::bad_request, "username is required");
        const std::string* s = u->as_string();
        if (!s || !limits::kUsernameBytes.contains(static_cast<std::int64_t>(s->size())) || has_control(*s) || blank(*s))
            return err(Errc::validation, "username must be " + limits::range_text(limits::kUsernameBytes) +
                                            " bytes without control characters");
        for (unsigned char c : *s)
            if (c == ' ') return err(Errc::validation, "username must not contain spaces");
        patch.set("username", json::Value(*s));
    }
    if (const json::Value* d = in.find("display_name"); d && !(d->is_null() && !create)) {
        const std::string* s = d->as_string();
        if (!s || blank(*s) || !limits::kDisplayNameBytes.contains(static_cast<std::int64_t>(s->size())) || has_control(*s))
            return err(Errc::validation, "display_name must be " + limits::range_text(limits::kDisplayNameBytes) + " bytes of text");
        patch.set("display_name", json::Value(*s));
    } else if (create) {
        return err(Errc::bad_request, "display_name is required");
    }
    if (const json::Value* r = in.find("role"); r && !r->is_null()) {
        const std::string* s = r->as_string();
        if (!s || !limits::one_of(limits::kRoles, *s))
            return err(Errc::validation, "role must be " + limits::names_text(limits::kRoles));
        patch.set("role", json::Value(*s));
    } else if (create) {
        patch.set("role", json::Value(std::string(limits::kRoleDefault)));
    }
    if (const json::Value* m = in.find("max_active_chats"); m && !m->is_null()) {
        auto n = m->as_int();
        if (!n || !limits::kMaxActiveChats.contains(*n))
            return err(Errc::validation, "max_active_chats must be an integer in " + limits::range_text(limits::kMaxActiveChats));
        patch.set("max_active_chats", json::Value(*n));
    } else if (create) {
        patch.set("max_active_chats", json::Value(limits::kMaxActiveChatsDefault));
    }
    if (const json::Value* sv = in.find("sites")) {
        // The sites the agent is granted (chat_site names): on create, instead of the
        // admin's site; on a patch, replacing the list.
        const json::Array* list = sv->as_array();
        auto bad = [&] {
            return err(Errc::validation, "sites must be a list of 1 to " + std::to_string(limits::kAgentSitesMax) +
                                             " site names (" + limits::range_text(limits::kSiteBytes) +
                                             " of a-z 0-9 . _ - starting with a letter or digit)");
        };
        if (!list || list->empty() || list->size() > limits::kAgentSitesMax) return bad();
        json::Value sites{json::Array{}};
        for (const json::Value& e : *list) {
            const std::string* s = e.as_string();
            if (!s || !limits::site_name_ok(*s)) return bad();
            sites.push_back(json::Value(*s));
        }
        patch.set("sites", std::move(sites));
    }
    if (const json::Value* pw = in.find("password"); pw && !pw->is_null()) {
        const std::string* s = pw->as_string();
        if (!s) return err(Errc::validation, "password must be a string");
        if (chat::utf8_length(*s) < limits::kPasswordMinChars)
            return err(Errc::validation, "password must have at least " + std::to_string(limits::kPasswordMinChars) + " characters");
        if (s->size() > limits::kPasswordMaxBytes) return err(Errc::validation, "password is too long");
        password = *s;
    } else if (create) {
        return err(Errc::bad_request, "password is required");
    }
    return {};
}

Validated check_faq_fields(const json::Value& in, bool create, json::Value& patch) {
    auto err = [](Errc c, std::string m) { return Validated{Error{c, std::move(m)}}; };
    auto text = [&](std::string_view name, std::int64_t max) -> Validated {
        const json::Value* f = in.find(name);
        if (!f || f->is_null()) {
            if (create) return err(Errc::bad_request, std::string(name) + " is required");
            return {};
        }
        const std::string* s = f->as_string();
        if (!s || blank(*s) || static_cast<std::int64_t>(chat::utf8_length(*s)) > max)
            return err(Errc::validation, std::string(name) + " must be non-empty text of at most " +
                                             std::to_string(max) + " characters");
        patch.set(std::string(name), json::Value(*s));
        return {};
    };
    if (auto v = text("question", limits::kFaqQuestionChars.max); !v.ok()) return v;
    if (auto v = text("answer", limits::kFaqAnswerChars.max); !v.ok()) return v;
    if (const json::Value* o = in.find("display_order"); o && !o->is_null()) {
        auto n = o->as_int();
        if (!n || !limits::kFaqDisplayOrder.contains(*n))
            return err(Errc::validation, "display_order must be an integer in " + limits::range_text(limits::kFaqDisplayOrder));
        patch.set("display_order", json::Value(*n));
    }
    if (const json::Value* k = in.find("keywords"); k && !k->is_null()) {
        const json::Array* arr = k->as_array();
        if (!arr || arr->size() > limits::kFaqKeywordsMax)
            return err(Errc::validation, "keywords must be an array of at most " + std::to_string(limits::kFaqKeywordsMax) + " strings");
        json::Value list{json::Array{}};
        for (const json::Value& e : *arr) {
            const std::string* s = e.as_string();
            if (!s || blank(*s) || !limits::kFaqKeywordChars.contains(static_cast<std::int64_t>(chat::utf8_length(*s))))
                return err(Errc::validation, "each keyword must be non-empty text of at most " +
                                           std::to_string(limits::kFaqKeywordChars.max) + " characters");
            list.push_back(json::Value(*s));
        }
        patch.set("keywords", std::move(list));
    }
    if (!create) {
        if (const json::Value* a = in.find("is_active"); a && !a->is_null()) {
            auto b = a->as_bool();
            if (!b) return err(Errc::validation, "is_active must be a boolean");
            patch.set("is_active", json::Value(*b));
        }
    }
    return {};
}

// A canned reply's fields (all required on create): {"shortcut", "title", "text"}.
Validated check_canned_fields(const json::Value& in, bool create, json::Value& patch) {
    auto err = [](Errc c, std::string m) { return Validated{Error{c, std::move(m)}}; };
    if (const json::Value* v = in.find("shortcut"); v && !v->is_null()) {
        const std::string* s = v->as_string();
        if (!s || !input::valid_slug(*s))
            return err(Errc::validation, "shortcut must match " + std::string(limits::kCannedShortcutPattern));
        patch.set("shortcut", json::Value(*s));
    } else if (create) {
        return err(Errc::bad_request, "shortcut is required");
    }
    auto text = [&](std::string_view name, limits::Range chars) -> Validated {
        const json::Value* f = in.find(name);
        if (!f || f->is_null()) {
            if (create) return err(Errc::bad_request, std::string(name) + " is required");
            return {};
        }
        const std::string* s = f->as_string();
        if (!s || blank(*s) || !chars.contains(static_cast<std::int64_t>(chat::utf8_length(*s))))
            return err(Errc::validation, std::string(name) + " must be non-empty text of at most " +
                                             std::to_string(chars.max) + " characters");
        patch.set(std::string(name), json::Value(*s));
        return {};
    };
    if (auto v = text("title", limits::kCannedTitleChars); !v.ok()) return v;
    if (auto v = text("text", limits::kCannedTextChars); !v.ok()) return v;
    return {};
}

}  // namespace

// ---------------------------------------------------------------------------
// Admin

#define CHAT_REQUIRE_ADMIN(p, done) \
    if ((p).role != "admin") return fail(done, Errc::forbidden, "admin role required")

void Service::admin_agents(const Principal& p, std::string_view query, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto q = parse_query(query);
        bool with_deleted = false;
        if (auto it = q.find("deleted"); it != q.end()) {
            if (it->second != "0" && it->second != "1") return fail(done, Errc::validation, "deleted must be 0 or 1");
            with_deleted = it->second == "1";
        }
        run("SELECT chat_admin_agents($1, $2)::text", {std::string(with_deleted ? "true" : "false"), p.site},
            [](std::string_view text, bool) { return pick(text, {"agents"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_create_agent(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value fields{json::Object{}};
        std::string pw;
        if (auto v = check_agent_fields(parsed.value(), true, fields, pw); !v.ok())
            return fail(done, v.error.code, v.error.message);

        struct State {
            std::string password, hash;
            std::byte salt[password::kSaltBytes];
        };
        auto st = std::make_shared<State>();
        st->password = std::move(pw);
        loop_.random_bytes(st->salt);  // the loop's CSPRNG, read on the loop thread
        // granted the body's "sites", else the admin's site
        json::Value sites{json::Array{}};
        if (const json::Value* s = fields.find("sites")) sites = *s;
        else sites.push_back(json::Value(p.site));
        auto params = std::vector<std::optional<std::string>>{
            *fields.find_string("username"), *fields.find_string("display_name"), std::nullopt,
            *fields.find_string("role"), std::to_string(fields.find_int("max_active_chats").value_or(limits::kMaxActiveChatsDefault)),
            json::to_string(sites), p.agent_id};
        executor_.run(
            [st] {
                try {
                    st->hash = password::hash(st->password, st->salt);
                } catch (...) {
                    st->hash.clear();
                }
            },
            [this, st, params = std::move(params), done]() mutable {
                if (st->hash.empty()) return fail(done, Errc::internal, "hashing the password failed");
                params[2] = st->hash;
                run("SELECT chat_admin_agent_create($1, $2, $3, $4, $5, chat_admin_new_sites($6::jsonb, $7::uuid))::text",
                    std::move(params),
                    [](std::string_view text, bool) { return pick(text, {"agent"}, 201); }, done);
            });
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_update_agent(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "agent not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value patch{json::Object{}};
        std::string pw;
        if (auto v = check_agent_fields(parsed.value(), false, patch, pw); !v.ok())
            return fail(done, v.error.code, v.error.message);
        std::vector<std::optional<std::string>> params{std::string(id), json::to_string(patch), std::nullopt, p.site,
                                                       p.agent_id};
        auto finish = [this, done](std::vector<std::optional<std::string>> params) {
            run("SELECT chat_admin_agent_update($1::uuid, $2::jsonb, $3, $4, $5::uuid)::text", std::move(params),
                [](std::string_view text, bool) { return pick(text, {"agent"}); }, done);
        };
        if (pw.empty()) return finish(std::move(params));

        struct State {
            std::string password, hash;
            std::byte salt[password::kSaltBytes];
        };
        auto st = std::make_shared<State>();
        st->password = std::move(pw);
        loop_.random_bytes(st->salt);
        executor_.run(
            [st] {
                try {
                    st->hash = password::hash(st->password, st->salt);
                } catch (...) {
                    st->hash.clear();
                }
            },
            [this, st, params = std::move(params), finish, done]() mutable {
                if (st->hash.empty()) return fail(done, Errc::internal, "hashing the password failed");
                params[2] = st->hash;
                finish(std::move(params));
            });
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_delete_agent(const Principal& p, std::string_view id, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "agent not found");
        // lowercase compare: Postgres prints UUIDs in lowercase, clients may not
        std::string lower(id);
        for (char& c : lower)
            if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (lower == p.agent_id) return fail(done, Errc::invalid_state, "an admin cannot delete themselves");
        run("SELECT chat_admin_agent_delete($1::uuid, $2)::text", {std::string(id), p.site},
            [](std::string_view text, bool) { return pick(text, {}, 204); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_faq(const Principal& p, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        run("SELECT chat_admin_faq_list($1)::text", {p.site},
            [](std::string_view text, bool) { return pick(text, {"faq"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_create_faq(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        const json::Value* sv = parsed.value().find("slug");
        if (!sv) return fail(done, Errc::bad_request, "slug is required");
        const std::string* slug = sv->as_string();
        if (!slug || !input::valid_slug(*slug))
            return fail(done, Errc::validation, "slug must match ^[a-z0-9][a-z0-9-]{0,63}$");
        json::Value f{json::Object{}};
        if (auto v = check_faq_fields(parsed.value(), true, f); !v.ok())
            return fail(done, v.error.code, v.error.message);
        std::string keywords = "[]";
        if (const json::Value* k = f.find("keywords")) keywords = json::to_string(*k);
        run("SELECT chat_admin_faq_within(chat_admin_faq_create($1, $2, $3, $4, $5::jsonb, $6), $6, $7, $8)::text",
            {*slug, *f.find_string("question"), *f.find_string("answer"),
             std::to_string(f.find_int("display_order").value_or(0)), keywords, p.site,
             std::to_string(limits::kFaqEntriesPerSite), std::to_string(limits::kFaqSiteBytes)},
            [](std::string_view text, bool) { return pick(text, {"faq"}, 201); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_update_faq(const Principal& p, std::string_view slug, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::valid_slug(slug)) return fail(done, Errc::not_found, "FAQ entry not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value patch{json::Object{}};
        if (auto v = check_faq_fields(parsed.value(), false, patch); !v.ok())
            return fail(done, v.error.code, v.error.message);
        run("SELECT chat_admin_faq_within(chat_admin_faq_update($1, $2::jsonb, $3), $3, $4, $5)::text",
            {std::string(slug), json::to_string(patch), p.site, std::to_string(limits::kFaqEntriesPerSite),
             std::to_string(limits::kFaqSiteBytes)},
            [](std::string_view text, bool) { return pick(text, {"faq"}); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_delete_faq(const Principal& p, std::string_view slug, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::valid_slug(slug)) return fail(done, Errc::not_found, "FAQ entry not found");
        run("SELECT chat_admin_faq_delete($1, $2)::text", {std::string(slug), p.site},
            [](std::string_view text, bool) { return pick(text, {}, 204); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_departments(const Principal& p, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        run("SELECT chat_admin_departments($1)::text", {p.site},
            [](std::string_view text, bool) { return pick(text, {"departments"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

// The department writes answer {"department"} and publish the assignments they caused
// (a new member online, a deleted department's chats in the default queue).
void Service::admin_create_department(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        auto fields = department::check_fields(parsed.value(), true);
        if (!fields.ok()) return fail(done, fields.error().code, fields.error().message);
        run("SELECT chat_admin_department_create($1::jsonb, $2, $3)::text",
            {json::to_string(fields.value()), p.site, std::to_string(limits::kDepartmentsPerSite)},
            [site = p.site](std::string_view text, bool) {
                return pick(text, {"department"}, 201, Effects::publish, site);
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_update_department(const Principal& p, std::string_view id, std::string_view body,
                                      Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "department not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        auto patch = department::check_fields(parsed.value(), false);
        if (!patch.ok()) return fail(done, patch.error().code, patch.error().message);
        run("SELECT chat_admin_department_update($1::uuid, $2::jsonb, $3)::text",
            {std::string(id), json::to_string(patch.value()), p.site},
            [site = p.site](std::string_view text, bool) {
                return pick(text, {"department"}, 200, Effects::publish, site);
            },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_delete_department(const Principal& p, std::string_view id, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "department not found");
        run("SELECT chat_admin_department_delete($1::uuid, $2)::text", {std::string(id), p.site},
            [site = p.site](std::string_view text, bool) { return pick(text, {}, 204, Effects::publish, site); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_canned(const Principal& p, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        run("SELECT chat_canned_list($1)::text", {p.site},
            [](std::string_view text, bool) { return pick(text, {"canned"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_create_canned(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value fields{json::Object{}};
        if (auto v = check_canned_fields(parsed.value(), true, fields); !v.ok())
            return fail(done, v.error.code, v.error.message);
        run("SELECT chat_admin_canned_create($1::jsonb, $2)::text", {json::to_string(fields), p.site},
            [](std::string_view text, bool) { return pick(text, {"canned"}, 201, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_update_canned(const Principal& p, std::string_view id, std::string_view body,
                                  Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "canned reply not found");
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        json::Value patch{json::Object{}};
        if (auto v = check_canned_fields(parsed.value(), false, patch); !v.ok())
            return fail(done, v.error.code, v.error.message);
        run("SELECT chat_admin_canned_update($1::uuid, $2::jsonb, $3)::text",
            {std::string(id), json::to_string(patch), p.site},
            [](std::string_view text, bool) { return pick(text, {"canned"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_delete_canned(const Principal& p, std::string_view id, Done done) noexcept {
    try {
        CHAT_REQUIRE_ADMIN(p, done);
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "canned reply not found");
        run("SELECT chat_admin_canned_delete($1::uuid, $2)::text", {std::string(id), p.site},
            [](std::string_view text, bool) { return pick(text, {}, 204, Effects::none); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

#undef CHAT_REQUIRE_ADMIN

}  // namespace chat::agent
