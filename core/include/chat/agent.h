// The agent and admin use cases of API.md ("Agent endpoints", admin table, "Assignment"):
// login, token checks, presence, the views, claim/transfer/close/read, the grace sweep,
// and the admin API for agents and the FAQ. Implemented by job: agent_login.cpp,
// agent_conversations.cpp, agent_admin.cpp, and agent.cpp (plumbing, cursors, standing).
//
// Like customer::Service, each use case validates its input here, runs one SQL function
// of sql/functions/ (one transaction) through the pg::Pool, and completes with an
// Outcome (outcome.h) built from one parse of its answer: the HTTP answer, the agent
// cookie, and the events and side effects of a write. The lifecycle and assignment rules live in SQL, where they are decided
// under row and advisory locks (correct on any number of workers and nodes). Password
// hashing and verification run on the Executor, never on the event loop.
//
// Every entry point is noexcept and completes `done` exactly once, on the loop, never
// inside the call. The Service must outlive its pending operations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/event_loop.h"
#include "chat/executor.h"
#include "chat/limits.h"
#include "chat/outcome.h"
#include "chat/result.h"

namespace chat::pg {
class Pool;
}

namespace chat::agent {

struct Settings {
    std::size_t message_max = limits::kMessageMaxDefault;  // characters per agent message
    std::int64_t token_ttl_ms = limits::kAgentCookieMaxAgeS * 1000;  // agent token lifetime
    int login_max_failures = limits::kLoginFailuresDefault;  // per (username, address) ...
    int login_max_address_failures = limits::kLoginAddressFailuresDefault;  // ... and per address,
    int login_window_s = static_cast<int>(limits::kLoginWindowMsDefault / 1000);  // ... in this window
    int login_queue = limits::kLoginQueueDefault;            // logins in progress (per Service) ...
    int login_address_queue = limits::kLoginAddressQueueDefault;  // ... and from one address
};

// The authenticated agent of a request (from authenticate()).
struct Principal {
    std::string agent_id;
    std::string role;                // one of limits::kRoles
    std::int64_t token_version = 0;
    std::int64_t login_ms = 0;       // when its token was issued (wall clock, ms): the login
    std::string site{limits::kSiteDefault};  // the token's (chat_site), granted to the agent
    std::string agent_json;          // the Agent object, as of this request
    std::string departments{};       // ids of the departments they are a member of, comma-joined
                                     // (whose queue events their sockets hear)
};

// An agent's standing now (Service::standing), to re-check an open socket's Principal.
struct Standing {
    std::string agent_id;
    std::string role;
    std::int64_t token_version = 0;
    bool deleted = false;
    std::vector<std::string> sites{std::string(limits::kSiteDefault)};  // granted
    std::string departments{};       // as Principal::departments, now
};

// What an open socket does when its agent's standing is read again: keep going; take
// the new, larger role (a promotion); or close (4401) because the token was revoked
// (logout, password change), the agent was deleted, lost a role or the socket's site.
// `now` is null when the agent no longer exists.
enum class Recheck { keep, promote, revoke };
Recheck recheck(const Principal& p, const Standing* now) noexcept;

// Service::write_access's answer.
struct WriteAccess {
    bool allowed = false;
    std::string status;              // the conversation's
    std::string assigned_agent_id;   // empty when nobody has it
};

// The agent cookie's name (limits.h), as the module's handlers spell it.
inline constexpr std::string_view kAgentCookie = limits::kAgentCookie;

// Writes complete with the events of the SQL function's answer (shapes in
// sql/functions/50_assignment.sql, 60_agent_views.sql): one per message, the
// conversation's, agent.presence.changed when it names an "agent", and the
// "assigned"/"requeued" conversations as side effects. Reads carry none.
// A 429 of login carries retry_after_s and the API's error object as its body.
using Done = OutcomeDone;

// Logins in progress (from the limit check in Postgres to the answer), bounded in total
// and per address, so that a flood is refused at once instead of queueing for the KDF
// ahead of everyone else's logins: a flood from one address holds at most per_address
// places. Loop thread only. The map holds only addresses with a login in progress, so
// it never has more than `total` entries. A Ticket may outlive its gate (a pending query
// destroyed after the Service at worker exit): it then gives back nothing.
class LoginGate {
    struct Counts;

public:
    LoginGate(int total, int per_address);

    // A place in the gate, given back when destroyed.
    class Ticket {
    public:
        Ticket(Ticket&&) noexcept = default;
        Ticket& operator=(Ticket&& o) noexcept;
        ~Ticket();

    private:
        friend class LoginGate;
        Ticket(std::weak_ptr<Counts> counts, std::string key) noexcept
            : counts_(std::move(counts)), key_(std::move(key)) {}
        std::weak_ptr<Counts> counts_;
        std::string key_;
    };

    // A place for a login from `address_key`, or nullopt when the gate is full.
    std::optional<Ticket> enter(std::string_view address_key);
    int in_progress() const noexcept;

private:
    struct Counts {
        int total;
        int per_address;
        int in_progress = 0;
        std::unordered_map<std::string, int> by_address;
        void leave(const std::string& key) noexcept;
    };
    std::shared_ptr<Counts> counts_;
};

class Service {
public:
    Service(EventLoop& loop, pg::Pool& pg, Executor& executor, std::string secret, Settings settings);

    const Settings& settings() const noexcept { return settings_; }

    // A valid agent token of `site` (the request's chat_site) whose version is current,
    // whose agent is not deleted and is still granted the site; also the agent's
    // heartbeat. Errc::unauthorized otherwise (a token of another site included).
    void authenticate(std::string_view token, std::string_view site,
                      std::function<void(Result<Principal>)> done) noexcept;

    // POST /agent/login {"username", "password", "code"?}: 200 {"token", "agent"}. Unknown user and
    // wrong password get the same 401 after the same work (a dummy hash is verified).
    // An agent with TOTP enabled and the right password: without "code" 401 totp_required,
    // with a wrong or used one 401 unauthorized (both count as failures, as a wrong
    // password does); a "code" that is not 6 digits is 422 (400 if not a string).
    // Answered 429 with retry_after_s, at once and without hashing:
    //  - after login_max_failures failures of (username, address), or
    //    login_max_address_failures of the address with any username, within
    //    login_window_s (counted in Postgres, the attempt reserved before hashing, so
    //    concurrent guesses cannot exceed the limits; a successful login never counts);
    //  - while login_queue logins are in progress here, or login_address_queue of them
    //    from this address, or the executor's queue is full (retry_after_s 1).
    // The address is the client's; IPv6 addresses count per /64 (chat::address_key).
    // An agent not granted `site` (the request's) gets the 401 of a wrong password, after
    // the same work; the token is bound to the site.
    void login(std::string_view body, std::string_view client_address, std::string_view site, Done done) noexcept;
    // POST /agent/logout: 204, the cookie cleared; every earlier token is revoked.
    void logout(const Principal& p, Done done) noexcept;
    // GET /agent/me: 200 {"agent"}
    void me(const Principal& p, Done done) noexcept;
    // POST /agent/presence {"presence"}: 200 {"agent"}; online runs assignment.
    void presence(const Principal& p, std::string_view body, Done done) noexcept;
    // GET /agent/agents: 200 {"agents": [Agent]}, every agent of the principal's site not
    // deleted (any role may ask: the dashboard's transfer picker lists the colleagues online).
    void colleagues(const Principal& p, Done done) noexcept;

    // The second factor (agent_totp.cpp; API.md "Agent second factor (TOTP, RFC 6238)"):
    // POST /agent/totp/setup: 200 {"secret" (base32), "otpauth_url"}: a new random secret,
    // stored sealed (secret_box.h, a key derived from chat_secret) until enabled; 409 while
    // enabled. POST /agent/totp/enable {"code"}: 200 {"agent"} with totp_enabled true once
    // the code matches the secret set up (totp.h: ±1 step, each step once); /disable
    // {"code"}: 200 {"agent"}, the secret forgotten. A code that is not 6 digits: 422; a
    // wrong or used one: 403; nothing set up, or already in the asked state: 409. Setup and
    // enable with a token whose login is older than limits::kTotpFreshLoginS: 403
    // reauth_required (Principal::login_ms).
    void totp_setup(const Principal& p, Done done) noexcept;
    // A code checked on enable or disable counts like a login of the agent's username from
    // `client_address`: a wrong or used one is a failure toward chat_login_limit, and past
    // the limit the answer is the login's 429 (Retry-After), without checking the code.
    void totp_enable(const Principal& p, std::string_view body, std::string_view client_address,
                     Done done) noexcept;
    void totp_disable(const Principal& p, std::string_view body, std::string_view client_address,
                      Done done) noexcept;

    // GET /agent/conversations?view=active|queue|closed|all&limit=&cursor= (raw query):
    // 200 {"conversations": [Conversation + "last_message"], "next_cursor"}.
    void conversations(const Principal& p, std::string_view query, Done done) noexcept;
    // GET /agent/conversations/{id}?after=&limit=: 200 {"conversation", "messages", "history"}.
    void conversation(const Principal& p, std::string_view id, std::string_view query, Done done) noexcept;
    // POST .../{id}/messages {"text", "client_id"}: 201 {"conversation", "messages"}.
    void post(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept;
    // POST .../{id}/claim: 200 {"conversation", "messages"}.
    void claim(const Principal& p, std::string_view id, Done done) noexcept;
    // POST .../{id}/transfer {"agent_id"}: 200 {"conversation", "messages"}.
    void transfer(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept;
    // POST .../{id}/close: 200 {"conversation", "messages"}.
    void close(const Principal& p, std::string_view id, Done done) noexcept;
    // POST .../{id}/read {"up_to_seq"}: 204.
    void read(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept;

    // Agent tools (agent_tools.cpp; API.md "Agent tools"), by the assignee or a
    // supervisor/admin (403 otherwise):
    // PATCH .../{id} {any of "priority", "tags", "department_id"}: 200 {"conversation"}; tags
    // lowercased and deduplicated (each limits::tag_ok, at most limits::kTagsMax); a
    // department change of a queued or assigned chat requeues it there (50_assignment.sql).
    void update_conversation(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept;
    // POST .../{id}/notes {"text", "client_id"}: 201 {"note"} and note.created to agents;
    // the same client_id again answers the same note (201, nothing published again).
    void note(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept;
    // GET /agent/canned: 200 {"canned": [Canned]} of p.site, by shortcut (any role).
    void canned(const Principal& p, Done done) noexcept;

    // The background sweep (a cancelable timer in the module calls it): agents without a
    // heartbeat for grace_ms go offline, their chats go back to the front of the queue,
    // and the queue is retried. Completes with chat_sweep's JSON
    // {"ran", "offline", "requeued", "assigned"}; "ran" is false when another node runs it.
    void sweep(std::uint64_t grace_ms, std::function<void(Result<std::string>)> done) noexcept;

    // Open agent sockets re-check their agents with this (one query for all of them):
    // the current role, token version and deletion of each id. An id missing from the
    // answer is an agent that no longer exists.
    void standing(const std::vector<std::string>& agent_ids,
                  std::function<void(Result<std::vector<Standing>>)> done) noexcept;

    // Whether the agent may write (typing, read) into a conversation: the assigned agent,
    // or a supervisor/admin (chat_agent_can_write, sql/functions/20_access.sql), with the conversation's
    // status and agent for routing the event. Errc::not_found for an unknown id.
    void write_access(const Principal& p, std::string_view conversation_id,
                      std::function<void(Result<WriteAccess>)> done) noexcept;

    // GET /agent/reports?from=&to=[&department_id=][&format=csv] (supervisor, admin; an
    // agent 403): 200 the site's report (chat_agent_reports), or its by-day rows as text/csv;
    // 422 naming the field (reports::parse_query).
    void reports(const Principal& p, std::string_view query, Done done) noexcept;

    // Admin API. Each checks p.role == "admin" itself (403 otherwise), and acts on the
    // admin's site (p.site) only: its agents, its FAQ, its departments
    // (sql/functions/80_agent_admin.sql, 90_faq.sql, 85_departments_admin.sql).
    // GET /admin/agents[?deleted=1]: 200 {"agents"} granted p.site
    void admin_agents(const Principal& p, std::string_view query, Done done) noexcept;
    // POST /admin/agents: 201 {"agent"} granted "sites" (as PATCH checks them; default
    // [p.site]); 409 conflict on a taken username; 422 weak password.
    void admin_create_agent(const Principal& p, std::string_view body, Done done) noexcept;
    // PATCH /admin/agents/{id}: 200 {"agent"}; a password change revokes the agent's tokens;
    // "sites" (1..limits::kAgentSitesMax site names, else 422) replaces the grants, changing
    // only sites the admin is granted (else 403); an agent not granted p.site is 404.
    void admin_update_agent(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept;
    // DELETE /admin/agents/{id}: 204; soft delete, open chats back to the queue.
    void admin_delete_agent(const Principal& p, std::string_view id, Done done) noexcept;
    // GET /admin/faq: 200 {"faq": [FaqEntry + keywords, is_active]}
    void admin_faq(const Principal& p, Done done) noexcept;
    // POST /admin/faq: 201 {"faq"}; 409 conflict on a taken slug.
    void admin_create_faq(const Principal& p, std::string_view body, Done done) noexcept;
    // PATCH /admin/faq/{slug}: 200 {"faq"}
    void admin_update_faq(const Principal& p, std::string_view slug, std::string_view body, Done done) noexcept;
    // DELETE /admin/faq/{slug}: 204
    void admin_delete_faq(const Principal& p, std::string_view slug, Done done) noexcept;
    // GET /admin/departments: 200 {"departments": [Department]} of p.site, by name.
    void admin_departments(const Principal& p, Done done) noexcept;
    // POST /admin/departments {"name", "strategy"?, "agent_ids"?, "hours"?} (checked by
    // chat::department): 201 {"department"}; 409 conflict on a name taken on the site
    // (case-insensitively); 422 naming the field, agent_ids included when one is not a live
    // agent granted p.site, hours when Postgres knows no such time zone.
    void admin_create_department(const Principal& p, std::string_view body, Done done) noexcept;
    // PATCH /admin/departments/{id} (any of the fields): 200 {"department"}; another
    // site's id is 404, as an unknown one.
    void admin_update_department(const Principal& p, std::string_view id, std::string_view body,
                                 Done done) noexcept;
    // DELETE /admin/departments/{id}: 204; its queued chats join the default queue.
    void admin_delete_department(const Principal& p, std::string_view id, Done done) noexcept;
    // GET /admin/canned: 200 {"canned": [Canned]} of p.site, by shortcut.
    void admin_canned(const Principal& p, Done done) noexcept;
    // POST /admin/canned {"shortcut", "title", "text"}: 201 {"canned"}; 409 conflict on a
    // shortcut taken on the site; 422 naming the field.
    void admin_create_canned(const Principal& p, std::string_view body, Done done) noexcept;
    // PATCH /admin/canned/{id} (any of the fields): 200 {"canned"}; another site's id is 404.
    void admin_update_canned(const Principal& p, std::string_view id, std::string_view body, Done done) noexcept;
    // DELETE /admin/canned/{id}: 204.
    void admin_delete_canned(const Principal& p, std::string_view id, Done done) noexcept;
    // GET /admin/webhooks: 200 {"webhooks": [Webhook]} of p.site (never a secret).
    void admin_webhooks(const Principal& p, Done done) noexcept;
    // POST /admin/webhooks {"url", "events", "secret"}: 201 {"webhook"}; 409 conflict on a url
    // the site has; 422 naming the field (chat::webhook::check_fields).
    void admin_create_webhook(const Principal& p, std::string_view body, Done done) noexcept;
    // DELETE /admin/webhooks/{id}: 204; another site's id is 404.
    void admin_delete_webhook(const Principal& p, std::string_view id, Done done) noexcept;

private:
    void totp_switch(const Principal& p, std::string_view body, std::string_view client_address, bool enable,
                     Done done) noexcept;
    void lifecycle(const char* sql, const Principal& p, std::string_view id, Done done) noexcept;
    // One SQL function's single text cell (nullopt for NULL), or the error.
    using Text = std::function<void(Result<std::optional<std::string>>)>;
    void query(std::string sql, std::vector<std::optional<std::string>> params, Text done) noexcept;
    using Make = std::function<Result<Outcome>(std::string_view json, bool is_null)>;
    void run(std::string sql, std::vector<std::optional<std::string>> params, Make make, Done done) noexcept;
    void fail(Done& done, Errc code, std::string message) noexcept;

    EventLoop& loop_;
    pg::Pool& pg_;
    Executor& executor_;
    std::string secret_;
    Settings settings_;
    LoginGate login_gate_;
};

// Opaque pagination cursors of GET /agent/conversations: base64url of "<us>|<uuid>".
std::string encode_cursor(std::int64_t us, std::string_view id);
// Errc::validation for anything encode_cursor did not produce.
Result<std::pair<std::int64_t, std::string>> decode_cursor(std::string_view cursor) noexcept;

}  // namespace chat::agent
