// The customer use cases of API.md ("Customer endpoints"): open a session, post a
// message (with the FAQ bot's reply), escalate, read, mark read, list the FAQ.
//
// Each takes parsed request parts from the module, validates them, runs one SQL
// function (one transaction, one round trip) and completes with an Outcome (outcome.h):
// the HTTP answer, the session cookie, the cache effect and the events. The rules of the lifecycle live in
// sql/functions/30_session.sql and 40_messages.sql; the rules of input live here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/event_loop.h"
#include "chat/events.h"
#include "chat/faq.h"
#include "chat/limits.h"
#include "chat/outcome.h"
#include "chat/result.h"
#include "chat/snapshot.h"
#include "chat/verified_sessions.h"

namespace chat::pg {
class Pool;
}

namespace chat::customer {

struct Settings {
    std::size_t message_max = limits::kMessageMaxDefault;  // characters (code points) per message
    int history = static_cast<int>(limits::kHistoryDefault);  // messages returned by POST /session
    std::int64_t session_ttl_ms = limits::kSessionCookieMaxAgeS * 1000;
};

// The session cookie's name (limits.h), as the module's handlers spell it.
inline constexpr std::string_view kSessionCookie = limits::kSessionCookie;

using Done = OutcomeDone;

// The customer's replay on a WebSocket: the events of every message after a seq, then
// conversation.updated, and the conversation's last_seq (more pages while below it).
struct Replay {
    std::vector<events::Event> events;
    std::int64_t last_seq = 0;
};

// One site's FAQ: the matcher plus the public JSON list.
struct SiteFaq {
    faq::Matcher matcher{{}};
    std::string public_json = "[]";         // [FaqEntry] by display_order, active only
};

// The FAQ as one worker knows it: every site's (chat_site), each answered from its own.
struct FaqSet {
    std::int64_t version = 0;
    std::map<std::string, SiteFaq, std::less<>> sites;
    // A site's FAQ; an empty one for a site without entries.
    const SiteFaq& site(std::string_view name) const noexcept;
};

// Builds a FaqSet from a list of active entries, each with its "site" (chat_faq_current's
// "faq"; an entry without one is the default site's), in display order within a site.
Result<std::shared_ptr<const FaqSet>> load_faq(std::string_view json, std::int64_t version) noexcept;

// A FaqSet from chat_faq_current()'s answer {"version": N, "faq": [...]}, with the list
// as load_faq() reads it (what a worker shares with the node's other workers).
struct LoadedFaq {
    std::shared_ptr<const FaqSet> set;
    std::string list_json;
};
Result<LoadedFaq> load_faq_current(std::string_view answer) noexcept;

class Service {
public:
    Service(EventLoop& loop, pg::Pool& pg, std::string secret, Settings settings);

    void set_faq(std::shared_ptr<const FaqSet> faq) noexcept { faq_ = std::move(faq); }
    const FaqSet* faq() const noexcept { return faq_.get(); }
    const Settings& settings() const noexcept { return settings_; }

    // The session id of a valid, unexpired session token of `site` (the request's
    // chat_site); else unauthorized (a token of another site included).
    Result<std::string> authenticate(std::string_view token, std::string_view site) const noexcept;
    // The same, without copying the id: a view valid until the next authenticate() or
    // authenticate_view() (the hot path of every customer request copies it once, into
    // the request).
    Result<std::string_view> authenticate_view(std::string_view token, std::string_view site) const noexcept;

    // A fresh token (new expiry) for a known session id, bound to its site; remembered as
    // verified (chat/verified_sessions.h).
    std::string renew_session(const std::string& sid, std::string_view site);
    // The tokens this Service knows to be valid without an HMAC (what tests look into).
    const token::VerifiedSessions& verified_sessions() const noexcept { return verified_; }

    // POST /session. `token` may be empty or invalid (or of another site): then a new
    // session of `site` starts.
    void open_session(std::string_view token, std::string_view body, std::string_view site, Done done) noexcept;
    // GET /conversation?after=&limit= (limit already clamped by parse_window).
    void conversation(const std::string& sid, std::int64_t after, std::int64_t limit, Done done) noexcept;
    // POST /messages; the bot answers from the FAQ of `site` (the session's). `sid` by value:
    // it becomes the post's batch item (no copy).
    void post_message(std::string sid, std::string_view body, std::string_view site, Done done) noexcept;
    // POST /escalate (body: a JSON object or empty, with an optional "department_id");
    // `site` is the session's, for its events.
    void escalate(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept;
    // POST /read
    void mark_read(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept;
    // POST /identify {"name"?, "email"?}: 200 {"conversation"}, the session's customer named
    // (422 naming the field for a bad one; at least one of them); agents see it at once.
    void identify(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept;
    // POST /rating {"score": 1..5, "comment"?}: 200 {"conversation"}, once, after close (409
    // before or again; 422 naming the field); agents hear the conversation.updated.
    void rate(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept;
    // POST /feedback {"message_id", "helpful"}: 204, once per bot answer of the session's
    // conversations (404 for any other message, 409 again). Nothing else changes: on
    // "helpful": false the widget offers a person itself (README, "Bot feedback").
    void feedback(const std::string& sid, std::string_view body, Done done) noexcept;
    // GET /faq of a site: from the worker's FAQ set, no round trip (faq_list_now) once it
    // is loaded; a worker that has not loaded it yet (just started, its first sync still
    // on the way) loads it first, as a post does, and answers 503 only when Postgres cannot.
    void faq_list(std::string_view site, Done done) noexcept;
    Result<Outcome> faq_list_now(std::string_view site) const noexcept;
    // GET /departments of a site: 200 {"departments": [{"id", "name", "open"}]} by name
    // (chat_departments_public: open = inside its hours and a member online). Public.
    void departments(std::string_view site, Done done) noexcept;
    // A WebSocket's replay: up to `limit` messages after `after` (Replay), for that socket only.
    void replay(const std::string& sid, std::int64_t after, std::int64_t limit,
                std::function<void(Result<Replay>)> done) noexcept;

    // POST /session served from the cache: a renewed token and the cached conversation,
    // unless that conversation is closed (nullopt: ask Postgres, a new one starts).
    std::optional<Outcome> resume_session(const std::string& sid, std::string_view site,
                                          std::string_view conversation_json,
                                          std::span<const CachedMessage> messages);
    // The session cookie carrying `token`.
    static Cookie session_cookie(std::string token);

    // The answer for a read the cache could serve (same shape as conversation()).
    static std::string render_conversation(std::string_view conversation_json,
                                           std::span<const CachedMessage> messages);
    // The answer of POST /session restored from the cache.
    std::string render_session(std::string_view token, std::string_view site, std::string_view conversation_json,
                               std::span<const CachedMessage> messages) const;

private:
    // A worker that just started has no FAQ until its first sync: the sessions and
    // messages it serves meanwhile wait for one read of it (chat_faq_current), so the
    // bot never answers with the fallback or lists no FAQ for want of it.
    void with_faq(std::function<void()> next) noexcept;
    void open_session_now(std::string_view token, std::string_view body, std::string_view site, Done done) noexcept;
    void post_message_now(std::string sid, std::string_view body, std::string_view site, Done done) noexcept;
    // The FAQ of a site (empty until the first sync).
    const SiteFaq& faq_of(std::string_view site) const noexcept;
    void run(std::string sql, std::vector<std::optional<std::string>> params,
             std::function<Result<Outcome>(std::string_view json)> make, Done done) noexcept;
    std::string new_session_id();

    EventLoop& loop_;
    pg::Pool& pg_;
    const std::string secret_;  // never changes: VerifiedSessions relies on it
    Settings settings_;
    std::shared_ptr<const FaqSet> faq_;
    // The tokens authenticate() verified lately (a cache of its answers, hence mutable).
    mutable token::VerifiedSessions verified_;
    // The claims authenticate_view() decoded last, for a token the memo did not keep.
    mutable token::SessionClaims decoded_;
};

// Parses after= and limit= of a query string: after in 0..limits::kSeqMax
// (default 0), limit in 1..200 (default 50). Errc::validation on anything else.
struct Window {
    std::int64_t after = 0;
    std::int64_t limit = limits::kCustomerPageDefault;
};
Result<Window> parse_window(std::string_view query) noexcept;

// True for the 8-4-4-4-12 hex form of a UUID.
bool is_uuid(std::string_view s) noexcept;

}  // namespace chat::customer
