// The admin API of webhooks (list, create, delete) on the admin's site; the fields' rules are
// chat::webhook::check_fields, the SQL is sql/functions/97_webhooks.sql.
#include <span>
#include <string>

#include "agent_util.h"
#include "chat/agent.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/webhook.h"

namespace chat::agent {

using detail::Effects;
using detail::pick;

void Service::admin_webhooks(const Principal& p, Done done) noexcept {
    try {
        if (p.role != "admin") return fail(done, Errc::forbidden, "admin role required");
        run("SELECT chat_admin_webhooks($1)::text", {p.site},
            [](std::string_view text, bool) { return pick(text, {"webhooks"}, 200, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_create_webhook(const Principal& p, std::string_view body, Done done) noexcept {
    try {
        if (p.role != "admin") return fail(done, Errc::forbidden, "admin role required");
        auto parsed = input::parse_body(body);
        if (!parsed.ok()) return fail(done, parsed.error().code, parsed.error().message);
        auto fields = webhook::check_fields(parsed.value());
        if (!fields.ok()) return fail(done, fields.error().code, fields.error().message);
        // stored encrypted under a key derived from chat_secret (chat::webhook::seal_secret)
        std::string nonce(12, '\0');
        loop_.random_bytes(std::as_writable_bytes(std::span(nonce.data(), nonce.size())));
        std::string sealed = webhook::seal_secret(secret_, *fields.value().find_string("secret"), nonce);
        if (sealed.empty()) return fail(done, Errc::internal, "encrypting the webhook's secret failed");
        fields.value().set("secret", json::Value(std::move(sealed)));
        run("SELECT chat_admin_webhook_create($1::jsonb, $2, $3)::text",
            {json::to_string(fields.value()), p.site, std::to_string(limits::kWebhooksPerSite)},
            [](std::string_view text, bool) { return pick(text, {"webhook"}, 201, Effects::none); },
            std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

void Service::admin_delete_webhook(const Principal& p, std::string_view id, Done done) noexcept {
    try {
        if (p.role != "admin") return fail(done, Errc::forbidden, "admin role required");
        if (!input::is_uuid(id)) return fail(done, Errc::not_found, "webhook not found");
        run("SELECT chat_admin_webhook_delete($1::uuid, $2)::text", {std::string(id), p.site},
            [](std::string_view text, bool) { return pick(text, {}, 204, Effects::none); }, std::move(done));
    } catch (const std::exception& e) {
        fail(done, Errc::internal, e.what());
    }
}

}  // namespace chat::agent
