// The customer use cases: input rules, the SQL call of each, and the answers. Over 500 lines
// on purpose: one Service whose use cases share its run/parse helpers; no seam worth a file.
#include "chat/customer.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "chat/conversation_json.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/pg_pool.h"
#include "chat/token.h"
#include "chat/utf8.h"

namespace chat::customer {

namespace {

constexpr std::string_view kQueuedText = "All agents are busy. You are in queue.";
// API.md "Offline": escalated into a department outside its hours or with nobody online.
constexpr std::string_view kAwayText = "We're away right now. Leave your email and we'll get back to you.";
// The most customer posts committed in one transaction (chat_customer_post_batch allows 64).
constexpr std::size_t kPostBatchMax = 32;

std::span<const std::byte> key_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

using input::blank;
using input::parse_body;
using namespace json::literals;

// The PG functions answer {"conversation": {...}, "messages": [...], ...}.
struct Parsed {
    json::Value root;
    const json::Value* conversation = nullptr;
    const json::Array* messages = nullptr;
};

Result<Parsed> parse_db_json(std::string_view text) {
    json::Limits lim;
    lim.max_bytes = 64u << 20;
    auto v = json::parse(text, lim);
    if (!v.ok()) return make_error(Errc::internal, "unexpected database answer: " + v.error().message);
    Parsed p{std::move(v.value())};
    p.conversation = p.root.find("conversation");
    if (const json::Value* m = p.root.find("messages")) p.messages = m->as_array();
    if (!p.conversation || !p.conversation->as_object())
        return make_error(Errc::internal, "database answer without a conversation");
    return p;
}

// A batch item that wrote nothing and is posted again alone: Postgres answered it (or the
// whole batch call) with an error, so its transaction or subtransaction rolled back. It gave up
// waiting for its conversation's row lock (lock_timeout in chat_customer_post_batch), lost a
// deadlock, or the batch's set-based write failed: that runs in no subtransaction (a failure
// fails the whole call), and each post then meets its own fate alone, so one failing post never
// fails another. Only a server's error with its SQLSTATE ("XXXXX: ...", internal or conflict);
// never a lost connection (unavailable: its commit may have happened), a rule's error (CH...:
// its own code) or an answer core could not read (written, maybe).
bool post_alone(const Error& e) {
    if (e.code != Errc::internal && e.code != Errc::conflict) return false;
    const std::string_view m = e.message;
    if (m.size() < 7 || m[5] != ':' || m[6] != ' ') return false;
    return std::all_of(m.begin(), m.begin() + 5, [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); });
}

Snapshot make_snapshot(const std::string& sid, const Parsed& p) {
    Snapshot s;
    s.key = sid;
    s.version = p.conversation->find_int("version").value_or(0);
    s.last_seq = p.conversation->find_int("last_seq").value_or(0);
    s.conversation_json = json::to_string(*p.conversation);
    const std::string* status = p.conversation->find_string("status");
    s.cacheable = !status || *status != "agent";
    if (p.messages) {
        for (const json::Value& m : *p.messages)
            s.messages.push_back(CachedMessage{m.find_int("seq").value_or(0), json::to_string(m)});
    }
    return s;
}

// The events of a customer write on its site, tagged so other nodes drop older cached copies.
std::vector<events::Event> written_events(const Parsed& p, const Snapshot& s, std::string_view site) {
    // the snapshot has written the conversation and its messages already: the events reuse them
    std::vector<std::string_view> messages;
    messages.reserve(s.messages.size());
    for (const CachedMessage& m : s.messages) messages.push_back(m.json);
    auto ev = events::from_parsed(p.root, site, events::Rendered{s.conversation_json, messages});
    events::tag_cached(ev, s.key, s.version);
    return ev;
}

// The answer of a write that changes the conversation without a message (identify, rate):
// 200 {"conversation"}; agents see the change at once as conversation.updated (not a second
// chat.closed), and every node drops its older cached copy (Outcome::conversation_changed).
Result<Outcome> conversation_changed(std::string_view text, const std::string& sid, std::string_view site) {
    auto p = parse_db_json(text);
    if (!p.ok()) return p.error();
    Outcome a;
    json::Writer w(a.body);
    w.begin_object().key("conversation").raw(json::to_string(*p.value().conversation)).end_object();
    for (events::Event& e : events::from_parsed(p.value().root, site))
        if (e.type == events::Type::conversation_updated) a.events.push_back(std::move(e));
    a.conversation_changed(sid, p.value().conversation->find_int("version").value_or(0));
    return a;
}

// The bot reply's metadata, written once where the reply is chosen: `stored` as SQL stores it
// (SQL adds only in_reply_to, the customer message's id), and the API's bytes around that id,
// in jsonb's key order (by length, then bytes) as every answer read back from Postgres shows
// them. A set-based answer renders its reply from these (typed_post): the jsonb SQL stored is
// never read again.
struct BotMetadata {
    std::string stored;
    std::string before_id, after_id;
};

struct MetadataMember {
    std::string_view key;
    std::string_view value;  // its JSON
};

BotMetadata bot_metadata(std::span<MetadataMember> members) {
    constexpr std::string_view kReplyTo = "in_reply_to";
    const auto jsonb_before = [](std::string_view a, std::string_view b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    };
    std::sort(members.begin(), members.end(),
              [&](const MetadataMember& a, const MetadataMember& b) { return jsonb_before(a.key, b.key); });
    BotMetadata out;
    std::size_t room = 2;  // {}: then each member's quoted key, colon, value and comma
    for (const MetadataMember& m : members) room += m.key.size() + m.value.size() + 4;
    out.stored.reserve(room);  // written once, not grown member by member
    std::string api;
    api.reserve(96);
    json::Writer stored(out.stored), w(api);
    stored.begin_object();
    w.begin_object();
    std::size_t id_at = std::string::npos;
    const auto reply_to = [&] {
        w.key(kReplyTo).raw("\"\"");
        id_at = api.size() - 1;  // between the quotes
    };
    for (const MetadataMember& m : members) {
        if (id_at == std::string::npos && jsonb_before(kReplyTo, m.key)) reply_to();
        stored.key(m.key).raw(m.value);
        w.key(m.key).raw(m.value);
    }
    if (id_at == std::string::npos) reply_to();
    stored.end_object();
    w.end_object();
    out.after_id.assign(api, id_at);
    api.resize(id_at);
    out.before_id = std::move(api);
    return out;
}

// A string's JSON.
std::string json_string(std::string_view s) {
    std::string out;
    json::Writer(out).string(s);
    return out;
}

// A set-based item of chat_customer_post_batch_v2 answers typed columns after its three (answer,
// sqlstate, message): the conversation (chat_conversation_row), the ids of the customer's message
// and of the bot's reply (NULL when there is none), then the agent side's unread count
// (c_agent_unread: what agents hear in its events). The rest of both messages is the post's own
// input (kind, texts, the reply's metadata) or follows from the conversation (seq, created_at =
// its updated_at: one clock value a run in SQL). Rendered once here (issue 11: no JSON in SQL,
// parsed once): the same snapshot and events as make_snapshot and written_events of the
// equivalent JSON answer, byte for byte (core/tests/conversation_json_test.cpp).
constexpr std::size_t kPostTypedFirst = 3;
constexpr std::size_t kPostMessageId = kPostTypedFirst + conversation_json::kConversationColumns;
constexpr std::size_t kPostReplyId = kPostMessageId + 1;
constexpr std::size_t kPostAgentUnread = kPostReplyId + 1;
constexpr std::size_t kPostColumns = kPostAgentUnread + 1;

// What the post sent (its batch item: sid, client_id, kind, content, the bot's reply, its metadata).
struct PostInput {
    std::string_view kind, content, reply;
};

struct TypedPost {
    Snapshot snapshot;
    std::vector<events::Event> events;
};

Result<TypedPost> typed_post(const pg::BatchRow& row, const std::string& sid, std::string_view site,
                             const BotMetadata& reply, const PostInput& in) {
    using conversation_json::Text;
    if (row.cols() != static_cast<int>(kPostColumns))
        return make_error(Errc::internal, "unexpected database answer: " + std::to_string(row.cols()) + " columns");
    std::array<Text, kPostColumns> cols;
    for (std::size_t i = 0; i < kPostColumns; ++i)
        cols[i] = row.text(static_cast<int>(i));
    auto c = conversation_json::conversation_from(
        std::span<const Text>(cols).subspan(kPostTypedFirst, conversation_json::kConversationColumns));
    if (!c.ok()) return c.error();
    const Text& message_id = cols[kPostMessageId];
    const Text& reply_id = cols[kPostReplyId];
    if (!message_id || message_id->empty() || (reply_id && reply_id->empty()))
        return make_error(Errc::internal, "unexpected database answer: no message id");
    auto conv = conversation_json::render(c.value());
    if (!conv.ok()) return conv.error();
    TypedPost out;
    Snapshot& s = out.snapshot;
    s.key = sid;
    s.version = c.value().version;
    s.last_seq = c.value().last_seq;
    s.conversation_json = std::move(conv.value());
    s.cacheable = c.value().status != "agent";
    // the customer's message, then the bot's reply: the rows chat_customer_post_batch_v2 wrote
    conversation_json::Message m;
    m.id = *message_id;
    m.conversation_id = c.value().id;
    m.seq = c.value().last_seq - (reply_id ? 1 : 0);
    m.sender_type = "customer";
    m.kind = in.kind;
    m.content = in.content;
    m.metadata_as_is = true;  // "{}"
    m.created_at = c.value().updated_at;
    s.messages.reserve(2);  // the customer's message and the bot's reply: one allocation
    auto j = conversation_json::render(m);
    if (!j.ok()) return j.error();
    s.messages.push_back(CachedMessage{m.seq, std::move(j.value())});
    std::string reply_metadata;
    if (reply_id) {
        // the reply's metadata as core wrote it, in_reply_to the customer's message
        reply_metadata.reserve(reply.before_id.size() + message_id->size() + reply.after_id.size());
        reply_metadata.append(reply.before_id).append(*message_id).append(reply.after_id);
        m.id = *reply_id;
        m.seq = c.value().last_seq;
        m.sender_type = "bot";
        m.kind = "text";
        m.content = in.reply;
        m.metadata = reply_metadata;
        auto r = conversation_json::render(m);
        if (!r.ok()) return r.error();
        s.messages.push_back(CachedMessage{m.seq, std::move(r.value())});
    }
    std::array<events::Written::Message, 2> written;
    std::size_t n = 0;
    for (const CachedMessage& cm : s.messages) written[n++] = events::Written::Message{cm.seq, cm.json, false};
    const std::string agent = conversation_json::render_agent(c.value());
    events::Written w;
    w.conversation_id = c.value().id;
    w.status = c.value().status;
    w.assigned_agent_id = c.value().agent_id.value_or(std::string_view());
    w.department_id = c.value().department_id.value_or(std::string_view());
    w.conversation_json = s.conversation_json;
    w.assigned_agent_json = agent;
    w.customer_unread = c.value().unread_count;
    const Text& unread = cols[kPostAgentUnread];
    if (!unread) return make_error(Errc::internal, "unexpected agent unread count");
    auto [ptr, ec] = std::from_chars(unread->data(), unread->data() + unread->size(), w.agent_unread);
    if (ec != std::errc() || ptr != unread->data() + unread->size())
        return make_error(Errc::internal, "unexpected agent unread count");
    w.messages = std::span(written.data(), n);
    out.events = events::from_written(w, site);
    events::tag_cached(out.events, s.key, s.version);
    return out;
}

void write_messages(json::Writer& w, std::span<const CachedMessage> messages) {
    w.begin_array();
    for (const auto& m : messages) w.raw(m.json);
    w.end_array();
}

}  // namespace

bool is_uuid(std::string_view s) noexcept { return input::is_uuid(s); }

Result<Window> parse_window(std::string_view query) noexcept {
    Window w;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        auto eq = pair.find('=');
        std::string_view name = pair.substr(0, eq);
        std::string_view val = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        std::int64_t* target = name == "after" ? &w.after : name == "limit" ? &w.limit : nullptr;
        if (!target) continue;
        std::int64_t n = 0;
        auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), n);
        if (val.empty() || ec != std::errc() || ptr != val.data() + val.size())
            return make_error(Errc::validation, std::string(name) + " must be an integer");
        *target = n;
    }
    if (w.after < 0 || w.after > limits::kSeqMax)
        return make_error(Errc::validation, "after must be between 0 and " + std::to_string(limits::kSeqMax));
    if (!limits::kCustomerPage.contains(w.limit))
        return make_error(Errc::validation, "limit must be between " + limits::between_text(limits::kCustomerPage));
    return w;
}

const SiteFaq& FaqSet::site(std::string_view name) const noexcept {
    static const SiteFaq kNone;
    auto it = sites.find(name);
    return it == sites.end() ? kNone : it->second;
}

namespace {

// Every site's FAQ in one text: each site's bounded by kFaqEntriesPerSite and kFaqSiteBytes
// (chat_admin_faq_within), the whole by kFaqLoadBytes, so that no site's FAQ can keep the
// others' from loading (json::parse's defaults, 1 MiB and 10 000 entries, were one site's reach).
json::Limits faq_limits() {
    json::Limits lim;
    lim.max_bytes = limits::kFaqLoadBytes;
    lim.max_members = std::size_t{1} << 20;
    return lim;
}

}  // namespace

Result<std::shared_ptr<const FaqSet>> load_faq(std::string_view text, std::int64_t version) noexcept {
    try {
        auto v = json::parse(text, faq_limits());
        if (!v.ok()) return v.error();
        const json::Array* arr = v.value().as_array();
        if (!arr) return make_error(Errc::internal, "FAQ list is not an array");
        // Each site's entries and public list, in the order of the list.
        struct Building {
            std::vector<faq::Entry> entries;
            std::string pub;
        };
        std::map<std::string, Building, std::less<>> by_site;
        for (const json::Value& e : *arr) {
            if (e.find("is_active") && !e.find("is_active")->as_bool().value_or(true)) continue;
            const std::string* site = e.find_string("site");
            Building& b = by_site[site ? *site : std::string(limits::kSiteDefault)];
            faq::Entry entry;
            if (const auto* s = e.find_string("slug")) entry.slug = *s;
            if (const auto* s = e.find_string("question")) entry.question = *s;
            if (const auto* s = e.find_string("answer")) entry.answer = *s;
            entry.display_order = static_cast<int>(e.find_int("display_order").value_or(0));
            if (const json::Value* kw = e.find("keywords"); kw && kw->as_array())
                for (const json::Value& k : *kw->as_array())
                    if (const auto* s = k.as_string()) entry.keywords.push_back(*s);
            json::Writer w(b.pub);
            b.pub.push_back(b.entries.empty() ? '[' : ',');
            w.begin_object();
            w.key("slug").string(entry.slug);
            w.key("question").string(entry.question);
            w.key("answer").string(entry.answer);
            w.key("display_order").number(static_cast<std::int64_t>(entry.display_order));
            w.end_object();
            b.entries.push_back(std::move(entry));
        }
        auto set = std::make_shared<FaqSet>();
        set->version = version;
        for (auto& [name, b] : by_site) {
            b.pub.push_back(']');
            set->sites.emplace(name, SiteFaq{faq::Matcher(std::move(b.entries)), std::move(b.pub)});
        }
        return std::shared_ptr<const FaqSet>(std::move(set));
    } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("loading the FAQ failed: ") + e.what());
    }
}

Result<LoadedFaq> load_faq_current(std::string_view answer) noexcept {
    try {
        auto v = json::parse(answer, faq_limits());
        const json::Value* list = v.ok() ? v.value().find("faq") : nullptr;
        if (!list) return make_error(Errc::internal, "the FAQ answer has no list");
        LoadedFaq out;
        out.list_json = json::to_string(*list);
        auto set = load_faq(out.list_json, v.value().find_int("version").value_or(0));
        if (!set.ok()) return set.error();
        out.set = std::move(set.value());
        return out;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("loading the FAQ failed: ") + e.what());
    }
}

Service::Service(EventLoop& loop, pg::Pool& pg, std::string secret, Settings settings)
    : loop_(loop), pg_(pg), secret_(std::move(secret)), settings_(settings) {}

Result<std::string_view> Service::authenticate_view(std::string_view token, std::string_view site) const noexcept {
    try {
        const std::int64_t now = loop_.wall_ms();
        // Every request of a session carries the same token: its HMAC is checked once
        // per worker, and the expiry on every request (chat/verified_sessions.h says why
        // that is as strict as verifying). The site is checked on every request.
        const token::SessionClaims* known = verified_.find(token, now);
        if (!known) {
            auto claims = token::decode_session(key_bytes(secret_), token, now);
            if (!claims.ok()) return claims.error();
            verified_.remember(token, claims.value());
            decoded_ = std::move(claims.value());
            known = &decoded_;
        }
        if (known->site != site) return make_error(Errc::unauthorized, "session token of another site");
        return std::string_view(known->sid);
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

Result<std::string> Service::authenticate(std::string_view token, std::string_view site) const noexcept {
    try {
        auto sid = authenticate_view(token, site);
        if (!sid.ok()) return sid.error();
        return std::string(sid.value());
    } catch (...) {
        return Error{Errc::internal, {}};
    }
}

const SiteFaq& Service::faq_of(std::string_view site) const noexcept {
    static const SiteFaq kNone;
    return faq_ ? faq_->site(site) : kNone;
}

std::string Service::new_session_id() {
    std::byte raw[16];
    loop_.random_bytes(raw);
    static constexpr char hex[] = "0123456789abcdef";
    std::string sid;
    for (std::byte b : raw) {
        sid += hex[static_cast<unsigned>(b) >> 4];
        sid += hex[static_cast<unsigned>(b) & 15];
    }
    return sid;
}

void Service::run(std::string sql, std::vector<std::optional<std::string>> params,
                  std::function<Result<Outcome>(std::string_view json)> make, Done done) noexcept {
    try {
        pg_.query(std::move(sql), std::move(params), [make = std::move(make), done](Result<pg::QueryResult> r) {
            if (!r.ok()) return done(r.error());
            if (r.value().rows() < 1) return done(make_error(Errc::internal, "empty database answer"));
            Result<Outcome> a = make_error(Errc::internal, "answer failed");
            try {
                a = make(r.value().text(0, 0).value_or(""));
            } catch (const std::exception& e) {
                a = make_error(Errc::internal, e.what());
            }
            done(std::move(a));
        });
    } catch (const std::exception& e) {
        loop_.post([done, msg = std::string(e.what())] { done(make_error(Errc::internal, msg)); });
    }
}

std::string Service::render_conversation(std::string_view conversation_json, std::span<const CachedMessage> messages) {
    std::size_t size = 40 + conversation_json.size();  // the keys and brackets around them
    for (const auto& m : messages) size += m.json.size() + 1;
    std::string out = body_room(size);  // the last answer's buffer, given back once sent
    json::Writer w(out);
    w.begin_object();
    w.key("conversation"_key).raw(conversation_json);
    w.key("messages"_key);
    write_messages(w, messages);
    w.end_object();
    return out;
}

std::string Service::render_session(std::string_view token, std::string_view site, std::string_view conversation_json,
                                    std::span<const CachedMessage> messages) const {
    std::string out;
    json::Writer w(out);
    w.begin_object();
    w.key("token"_key).string(token);
    w.key("conversation"_key).raw(conversation_json);
    w.key("messages"_key);
    write_messages(w, messages);
    w.key("faq"_key).raw(faq_of(site).public_json);
    // what the client must know to stay within the rules (the widget caps its input here)
    w.key("limits").begin_object().key("message_max").number(static_cast<std::int64_t>(settings_.message_max));
    w.end_object();
    w.end_object();
    return out;
}

std::string Service::renew_session(const std::string& sid, std::string_view site) {
    token::SessionClaims claims{sid, loop_.wall_ms() + settings_.session_ttl_ms, std::string(site)};
    std::string fresh = token::encode_session(key_bytes(secret_), claims);
    // signed here with this Service's key: it verifies to these very claims (the codec
    // round-trips, token_test, for a session id and a site decode_session accepts: chat_site
    // is checked when the configuration is read), so the session's next request skips the HMAC
    if (!fresh.empty() && !sid.empty() && limits::site_name_ok(site)) verified_.remember(fresh, claims);
    return fresh;
}

void Service::with_faq(std::function<void()> next) noexcept {
    try {
        pg_.query("SELECT chat_faq_current()::text", {}, [this, next](Result<pg::QueryResult> r) {
            const auto text = !faq_ && r.ok() && r.value().rows() == 1 ? r.value().text(0, 0) : std::nullopt;
            if (text) {
                auto loaded = load_faq_current(*text);
                if (loaded.ok()) faq_ = std::move(loaded.value().set);
            }
            next();  // without it (Postgres down, a bad set) the use case answers as it would have
        });
    } catch (const std::exception&) {
        loop_.post(std::move(next));
    }
}

void Service::open_session(std::string_view token, std::string_view body, std::string_view site, Done done) noexcept {
    if (faq_) return open_session_now(token, body, site, std::move(done));
    with_faq([this, token = std::string(token), body = std::string(body), site = std::string(site),
              done = std::move(done)]() mutable { open_session_now(token, body, site, std::move(done)); });
}

void Service::post_message(std::string sid, std::string_view body, std::string_view site, Done done) noexcept {
    if (faq_) return post_message_now(std::move(sid), body, site, std::move(done));
    with_faq([this, sid = std::move(sid), body = std::string(body), site = std::string(site),
              done = std::move(done)]() mutable {
        post_message_now(std::move(sid), body, site, std::move(done));
    });
}

void Service::open_session_now(std::string_view token, std::string_view body, std::string_view site,
                               Done done) noexcept {
    try {
        auto parsed = parse_body(body);
        if (!parsed.ok()) return loop_.post([done, e = parsed.error()] { done(e); });

        // Only the context fields API.md names are kept, as bounded strings.
        json::Value context{json::Object{}};
        if (const json::Value* c = parsed.value().find("context"); c && !c->is_null()) {
            if (!c->as_object())
                return loop_.post([done] { done(make_error(Errc::validation, "context must be an object")); });
            for (std::string_view field : {"product_id", "product_name", "page_url"}) {
                const json::Value* f = c->find(field);
                if (!f || f->is_null()) continue;
                const std::string* s = f->as_string();
                // a NUL ("\u0000") is no text Postgres keeps: jsonb refuses its escape (22P05),
                // which was a 500 and an [error] line for every such request
                if (!s || s->size() > limits::kContextFieldMaxBytes || s->find('\0') != std::string::npos)
                    return loop_.post([done, f = std::string(field)] {
                        done(make_error(Errc::validation, "context." + f + " must be a string of at most " +
                                                              std::to_string(limits::kContextFieldMaxBytes) +
                                                              " bytes, without NUL"));
                    });
                context.set(std::string(field), json::Value(*s));
            }
        }

        std::string sid;
        if (!token.empty()) {
            if (auto a = authenticate(token, site); a.ok()) sid = std::move(a.value());
        }
        if (sid.empty()) sid = new_session_id();
        std::string fresh = renew_session(sid, site);
        if (fresh.empty())
            return loop_.post([done] { done(make_error(Errc::internal, "signing the session failed")); });

        run("SELECT chat_open_session($1, $2::jsonb, $3, $4, $5)::text",
            {sid, json::to_string(context), faq::greeting(), std::to_string(settings_.history), std::string(site)},
            [this, sid, fresh, site = std::string(site)](std::string_view text) -> Result<Outcome> {
                auto p = parse_db_json(text);
                if (!p.ok()) return p.error();
                Outcome a;
                Snapshot s = make_snapshot(sid, p.value());
                a.body = render_session(fresh, site, s.conversation_json, s.messages);
                a.cookie = session_cookie(fresh);
                a.cache_snapshot(std::move(s));
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
    }
}

void Service::conversation(const std::string& sid, std::int64_t after, std::int64_t limit, Done done) noexcept {
    run(
        "SELECT chat_customer_conversation($1, $2, $3)::text", {sid, std::to_string(after), std::to_string(limit)},
        [sid](std::string_view text) -> Result<Outcome> {
            auto p = parse_db_json(text);
            if (!p.ok()) return p.error();
            Outcome a;
            Snapshot s = make_snapshot(sid, p.value());
            a.body = render_conversation(s.conversation_json, s.messages);
            // only a run that reaches last_seq is a tail the cache may keep
            if (s.messages.empty() || s.messages.back().seq != s.last_seq) s.messages.clear();
            a.cache_snapshot(std::move(s));
            return a;
        },
        std::move(done));
}

void Service::post_message_now(std::string sid, std::string_view body, std::string_view site,
                               Done done) noexcept {
    try {
        auto fail = [this, &done](Errc code, std::string msg) {
            loop_.post([done, code, msg = std::move(msg)] { done(make_error(code, msg)); });
        };
        auto parsed = parse_body(body);
        if (!parsed.ok()) return loop_.post([done, e = parsed.error()] { done(e); });
        json::Value& in = parsed.value();  // its strings are taken (moved out), not copied

        auto client_id = input::take_client_id(in);
        if (!client_id.ok()) return fail(client_id.error().code, client_id.error().message);

        json::Value* text = in.find("text");
        const json::Value* faq_slug = in.find("faq");
        if ((text && faq_slug) || (!text && !faq_slug))
            return fail(Errc::bad_request, "expected exactly one of \"text\" or \"faq\"");

        std::string kind, content, bot;
        BotMetadata bot_meta;
        if (faq_slug) {
            const std::string* slug = faq_slug->as_string();
            if (!slug) return fail(Errc::validation, "faq must be a string");
            const faq::Entry* e = faq_of(site).matcher.by_slug(*slug);
            if (!e) return fail(Errc::validation, "unknown FAQ entry \"" + *slug + "\"");
            kind = "quick_reply";
            content = e->question;
            bot = e->answer;
            const std::string slug_json = json_string(e->slug);
            std::array<MetadataMember, 1> meta{{{"faq", slug_json}}};
            bot_meta = bot_metadata(meta);
        } else {
            auto s = input::take_message_text(*text, settings_.message_max);
            if (!s.ok()) return fail(s.error().code, s.error().message);
            kind = "text";
            content = std::move(s.value());
            std::optional<faq::Matcher::Match> m = faq_of(site).matcher.match(content);
            if (m) {
                bot = m->entry->answer;
                const std::string slug_json = json_string(m->entry->slug);
                std::string score;
                json::Writer(score).number(m->score);
                std::array<MetadataMember, 2> meta{{{"faq", slug_json}, {"score", score}}};
                bot_meta = bot_metadata(meta);
            } else {
                bot = faq::fallback_reply();
                std::array<MetadataMember, 2> meta{{{"fallback", "true"}, {"offer_agent", "true"}}};
                bot_meta = bot_metadata(meta);
            }
        }

        // Posts that queue up while the pool is busy commit together (group commit), each
        // answered with its own result after that commit (BatchKind, chat_customer_post_batch).
        static const auto post_batch = std::make_shared<const pg::BatchKind>(
            pg::BatchKind{"SELECT * FROM chat_customer_post_batch_v2($1::text[], $2::uuid[], $3::text[], $4::text[], "
                          "$5::text[], $6::jsonb[])",
                          kPostBatchMax});
        // sid and site are captured once, by the callback below, and lent to make and make_typed
        auto make = [](const std::string& sid, std::string_view site, std::string_view text) -> Result<Outcome> {
            auto p = parse_db_json(text);
            if (!p.ok()) return p.error();
            Outcome a;
            a.status = 201;
            Snapshot s = make_snapshot(sid, p.value());
            a.body = render_conversation(s.conversation_json, s.messages);
            if (!p.value().root.find("replayed") || !p.value().root.find("replayed")->as_bool().value_or(false))
                a.events = written_events(p.value(), s, site);
            // new messages end at last_seq: they extend the cached tail
            if (s.messages.empty() || s.messages.back().seq != s.last_seq) s.messages.clear();
            a.cache_snapshot(std::move(s));
            return a;
        };
        // written set-based: typed columns, rendered once (typed_post); a replay, a closed
        // conversation or an item posted alone: chat_customer_post's JSON (make)
        auto make_typed = [](const std::string& sid, std::string_view site, const BotMetadata& reply,
                             const std::vector<pg::Param>& item, const pg::BatchRow& row) -> Result<Outcome> {
            const auto param = [&](std::size_t i) { return item[i] ? std::string_view(*item[i]) : std::string_view(); };
            auto t = typed_post(row, sid, site, reply, PostInput{param(2), param(3), param(4)});
            if (!t.ok()) return t.error();
            Outcome a;
            a.status = 201;
            Snapshot& s = t.value().snapshot;
            a.body = render_conversation(s.conversation_json, s.messages);
            a.events = std::move(t.value().events);
            if (s.messages.empty() || s.messages.back().seq != s.last_seq) s.messages.clear();
            a.cache_snapshot(std::move(s));
            return a;
        };
        std::vector<pg::Param> item;
        item.reserve(6);
        item.emplace_back(std::move(sid));
        item.emplace_back(std::move(client_id.value()));
        item.emplace_back(std::move(kind));
        item.emplace_back(std::move(content));
        item.emplace_back(std::move(bot));
        item.emplace_back(std::move(bot_meta.stored));
        // the pool hands the item back with its answer (no copy kept here): its sid (item[0]) for
        // the answer, its input for make_typed, all of it should it be posted on its own
        pg_.query_batched(post_batch, std::move(item),
                          [this, make, make_typed, site = std::string(site), done, reply = std::move(bot_meta)](
                              Result<pg::BatchRow> r, std::vector<pg::Param> item) mutable {
                              if (!r.ok() && post_alone(r.error())) {
                                  // e.g. its row was locked for over 50 ms while the batch held
                                  // others: posted again on its own, holding that one lock (no cycle)
                                  std::string alone_sid = item.front().value_or(std::string());
                                  return run("SELECT chat_customer_post($1, $2::uuid, $3, $4, $5, $6::jsonb)::text",
                                             std::move(item),
                                             [make, sid = std::move(alone_sid), site = std::move(site)](std::string_view text) {
                                                 return make(sid, site, text);
                                             },
                                             std::move(done));
                              }
                              if (!r.ok()) return done(r.error());
                              const std::string& sid = *item.front();
                              Result<Outcome> a = make_error(Errc::internal, "answer failed");
                              try {
                                  a = r.value().is_null(0) ? make_typed(sid, site, reply, item, r.value())
                                                           : make(sid, site, r.value().answer());
                              } catch (const std::exception& e) {
                                  a = make_error(Errc::internal, e.what());
                              }
                              done(std::move(a));
                          });
    } catch (const std::exception& e) {
        loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
    }
}

void Service::escalate(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept {
    // A JSON object or nothing, with an optional "department_id" (a UUID; whether it names a
    // department of the site is chat_escalate's to say, 422 too).
    auto parsed = parse_body(body);
    if (!parsed.ok()) return loop_.post([done, e = parsed.error()] { done(e); });
    std::optional<std::string> department;
    if (const json::Value* d = parsed.value().find("department_id"); d && !d->is_null()) {
        const std::string* s = d->as_string();
        if (!s || !is_uuid(*s))
            return loop_.post([done] { done(make_error(Errc::validation, "department_id must be a UUID")); });
        department = *s;
    }
    run("SELECT chat_escalate($1, $2, $3::uuid, $4)::text",
        {sid, std::string(kQueuedText), std::move(department), std::string(kAwayText)},
        [sid, site = std::string(site)](std::string_view text) -> Result<Outcome> {
            auto p = parse_db_json(text);
            if (!p.ok()) return p.error();
            Outcome a;
            Snapshot s = make_snapshot(sid, p.value());
            a.body = render_conversation(s.conversation_json, s.messages);
            a.events = written_events(p.value(), s, site);
            a.side_effects = events::side_effects_parsed(p.value().root);
            if (s.messages.empty() || s.messages.back().seq != s.last_seq) s.messages.clear();
            a.cache_snapshot(std::move(s));
            return a;
        },
        std::move(done));
}

void Service::mark_read(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept {
    try {
        auto parsed = parse_body(body);
        if (!parsed.ok()) return loop_.post([done, e = parsed.error()] { done(e); });
        const json::Value* up = parsed.value().find("up_to_seq");
        std::optional<std::int64_t> n = up ? up->as_int() : std::nullopt;
        if (!n || *n < 0 || *n > limits::kSeqMax)
            return loop_.post(
                [done] { done(make_error(Errc::validation, "up_to_seq must be a non-negative integer")); });

        run("SELECT chat_customer_read($1, $2)::text", {sid, std::to_string(*n)},
            [sid, n = *n, site = std::string(site)](std::string_view text) -> Result<Outcome> {
                auto v = json::parse(text);
                Outcome a;
                if (v.ok()) a.events = events::from_read(v.value(), events::Sender::customer, n, site);
                a.status = 204;
                // read_at changed inside cached messages: let the next read refill, on every node
                // (the read receipt carries the key and the new version, as a write's events do)
                if (!v.ok() || v.value().find_int("marked").value_or(0) > 0) a.cache_drop(sid);
                if (const json::Value* c = v.ok() ? v.value().find("conversation") : nullptr)
                    events::tag_cached(a.events, sid, c->find_int("version").value_or(0));
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
    }
}

void Service::identify(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept {
    try {
        auto fail = [&](Errc code, std::string msg) {
            loop_.post([done, code, msg = std::move(msg)] { done(make_error(code, msg)); });
        };
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(parsed.error().code, parsed.error().message);
        std::optional<std::string> name, email;
        if (const json::Value* v = parsed.value().find("name"); v && !v->is_null()) {
            const std::string* s = v->as_string();
            if (!s || blank(*s) || input::has_control(*s) ||
                !limits::kCustomerNameBytes.contains(static_cast<std::int64_t>(s->size())))
                return fail(Errc::validation,
                            "name must be " + limits::range_text(limits::kCustomerNameBytes) + " bytes of text");
            name = *s;
        }
        if (const json::Value* v = parsed.value().find("email"); v && !v->is_null()) {
            const std::string* s = v->as_string();
            if (!s || !input::valid_email(*s)) return fail(Errc::validation, "email must be a valid email address");
            email = *s;
        }
        if (!name && !email) return fail(Errc::validation, "name or email is required");

        run("SELECT chat_customer_identify($1, $2, $3)::text", {sid, name, email},
            [sid, site = std::string(site)](std::string_view text) {
                return conversation_changed(text, sid, site);  // its customer
            },
            std::move(done));
    } catch (const std::exception& e) {
        loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
    }
}

void Service::rate(const std::string& sid, std::string_view body, std::string_view site, Done done) noexcept {
    try {
        auto fail = [&](Errc code, std::string msg) {
            loop_.post([done, code, msg = std::move(msg)] { done(make_error(code, msg)); });
        };
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(parsed.error().code, parsed.error().message);
        const json::Value* sc = parsed.value().find("score");
        std::optional<std::int64_t> score = sc ? sc->as_int() : std::nullopt;
        if (!score || !limits::kRatingScore.contains(*score))
            return fail(Errc::validation, "score must be an integer " + limits::range_text(limits::kRatingScore));
        std::optional<std::string> comment;
        if (const json::Value* v = parsed.value().find("comment"); v && !v->is_null()) {
            const std::string* s = v->as_string();
            const auto chars = s ? static_cast<std::int64_t>(chat::utf8_length(*s)) : 0;
            if (!s || chars > limits::kRatingCommentChars.max)
                return fail(Errc::validation, "comment must be a string of at most " +
                                                  std::to_string(limits::kRatingCommentChars.max) + " characters");
            if (!blank(*s)) comment = *s;  // an empty comment is no comment
        }

        run("SELECT chat_customer_rate($1, $2, $3)::text", {sid, std::to_string(*score), comment},
            [sid, site = std::string(site)](std::string_view text) {
                return conversation_changed(text, sid, site);  // its rating
            },
            std::move(done));
    } catch (const std::exception& e) {
        loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
    }
}

void Service::feedback(const std::string& sid, std::string_view body, Done done) noexcept {
    try {
        auto fail = [&](Errc code, std::string msg) {
            loop_.post([done, code, msg = std::move(msg)] { done(make_error(code, msg)); });
        };
        auto parsed = parse_body(body);
        if (!parsed.ok()) return fail(parsed.error().code, parsed.error().message);
        const std::string* id = parsed.value().find_string("message_id");
        if (!id || !is_uuid(*id)) return fail(Errc::validation, "message_id must be a UUID");
        const json::Value* h = parsed.value().find("helpful");
        std::optional<bool> helpful = h ? h->as_bool() : std::nullopt;
        if (!helpful) return fail(Errc::validation, "helpful must be true or false");

        run("SELECT chat_customer_feedback($1, $2::uuid, $3)::text",
            {sid, *id, std::string(*helpful ? "true" : "false")},
            [](std::string_view) -> Result<Outcome> {
                Outcome a;
                a.status = 204;
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
    }
}

void Service::faq_list(std::string_view site, Done done) noexcept {
    try {
        if (faq_) return loop_.post([this, site = std::string(site), done] { done(faq_list_now(site)); });
        with_faq([this, site = std::string(site), done = std::move(done)] {
            if (!faq_) return done(make_error(Errc::unavailable, "the FAQ is not loaded yet"));
            done(faq_list_now(site));
        });
    } catch (const std::exception& e) {
        loop_.post([done, m = std::string(e.what())] { done(make_error(Errc::internal, m)); });
    }
}

Result<Outcome> Service::faq_list_now(std::string_view site) const noexcept {
    try {
        Outcome a;
        json::Writer w(a.body);
        w.begin_object().key("faq").raw(faq_of(site).public_json).end_object();
        return a;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, e.what());
    }
}

void Service::departments(std::string_view site, Done done) noexcept {
    try {
        run("SELECT chat_departments_public($1)::text", {std::string(site)},
            [](std::string_view json) -> Result<Outcome> {
                Outcome a;
                a.body = std::string(json);
                return a;
            },
            std::move(done));
    } catch (const std::exception& e) {
        loop_.post([done, msg = std::string(e.what())] { done(make_error(Errc::internal, msg)); });
    }
}

Cookie Service::session_cookie(std::string token) {
    return Cookie{std::string(limits::kSessionCookie), std::move(token), limits::kSessionCookieMaxAgeS, false};
}

std::optional<Outcome> Service::resume_session(const std::string& sid, std::string_view site,
                                               std::string_view conversation_json,
                                               std::span<const CachedMessage> messages) {
    auto c = json::parse(conversation_json);
    const std::string* status = c.ok() ? c.value().find_string("status") : nullptr;
    if (!status || *status == "closed") return std::nullopt;  // a new conversation starts in Postgres
    Outcome a;
    std::string token = renew_session(sid, site);
    a.body = render_session(token, site, conversation_json, messages);
    a.cookie = session_cookie(std::move(token));
    return a;
}

void Service::replay(const std::string& sid, std::int64_t after, std::int64_t limit,
                     std::function<void(Result<Replay>)> done) noexcept {
    try {
        pg_.query("SELECT chat_customer_conversation($1, $2, $3)::text",
                  {sid, std::to_string(after), std::to_string(limit)}, [done](Result<pg::QueryResult> r) {
                      if (!r.ok()) return done(r.error());
                      if (r.value().rows() < 1) return done(make_error(Errc::internal, "empty database answer"));
                      Result<Replay> out = make_error(Errc::internal, "answer failed");
                      try {
                          auto p = parse_db_json(r.value().text(0, 0).value_or(""));
                          if (!p.ok()) {
                              out = p.error();
                          } else {
                              Replay rp;
                              rp.events = events::from_parsed(p.value().root);
                              rp.last_seq = p.value().conversation->find_int("last_seq").value_or(0);
                              out = std::move(rp);
                          }
                      } catch (const std::exception& e) {
                          out = make_error(Errc::internal, e.what());
                      }
                      done(std::move(out));
                  });
    } catch (const std::exception& e) {
        loop_.post([done, msg = std::string(e.what())] { done(make_error(Errc::internal, msg)); });
    }
}

}  // namespace chat::customer
