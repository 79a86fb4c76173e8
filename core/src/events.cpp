// Building and parsing the realtime events of API.md.
#include "chat/events.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "chat/input.h"
#include "chat/json.h"

namespace chat::events {

using namespace json::literals;

namespace {

std::string assigned_of(const json::Value* conversation) {
    if (!conversation) return {};
    const json::Value* a = conversation->find("assigned_agent");
    if (!a) return {};
    const std::string* id = a->find_string("id");
    return id ? *id : std::string();
}

std::string status_of(const json::Value* conversation) {
    const std::string* s = conversation ? conversation->find_string("status") : nullptr;
    return s ? *s : std::string();
}

// An Agent object's "sites" (each a valid site name), comma-joined; the default site when
// it names none (an Agent of a node from before sites).
std::string sites_of(const json::Value* agent) {
    std::string out;
    if (const json::Value* l = agent ? agent->find("sites") : nullptr; l && l->as_array()) {
        for (const json::Value& x : *l->as_array()) {
            const std::string* name = x.as_string();
            if (!name || !limits::site_name_ok(*name)) continue;
            if (!out.empty()) out += ',';
            out += *name;
        }
    }
    return out.empty() ? std::string(limits::kSiteDefault) : out;
}

std::string department_of(const json::Value* conversation) {
    const json::Value* d = conversation ? conversation->find("department") : nullptr;
    const std::string* id = d ? d->find_string("id") : nullptr;
    return id ? *id : std::string();
}

// Whether `id` is one of the comma-joined `list`.
bool listed(std::string_view list, std::string_view id) {
    while (!list.empty()) {
        auto comma = list.find(',');
        if (list.substr(0, comma) == id) return true;
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    return false;
}

// An event of `type` written into e, a fresh Event; `data_json`, when set, is
// json::to_string(*data), written already by the caller. A write's events are written in place in
// their vector: an Event is a dozen strings, and moving one costs as much as a few of them.
void fill(Event& e, Type type, std::string_view conversation_id, std::int64_t seq, std::string_view assigned,
          const json::Value* data, std::string_view status = {}, std::string_view data_json = {}) {
    e.type = type;
    e.conversation_id = conversation_id;
    e.seq = seq;
    e.assigned_agent_id = assigned;
    e.status = status;
    // the envelope's keys and values around the data: one allocation, not one per doubling
    e.json.reserve(96 + e.conversation_id.size() + data_json.size());
    json::Writer w(e.json);
    w.begin_object();
    w.key("type"_key).string(wire_name(e.type));
    if (!e.conversation_id.empty()) w.key("conversation_id"_key).string(e.conversation_id);
    if (e.type == Type::message_created) w.key("seq"_key).number(e.seq);
    w.key("data"_key);
    if (!data_json.empty()) w.raw(data_json);
    else if (data) w.value(*data);
    else w.null();
    w.end_object();
}

Event make(Type type, std::string_view conversation_id, std::int64_t seq, std::string_view assigned,
           const json::Value* data, std::string_view status = {}, std::string_view data_json = {}) {
    Event e;
    fill(e, type, conversation_id, seq, assigned, data, status, data_json);
    return e;
}

// The database answers of conversations can be large (a page of messages).
Result<json::Value> parse_answer(std::string_view answer_json) {
    json::Limits lim;
    lim.max_bytes = 64u << 20;
    return json::parse(answer_json, lim);
}

bool carries_conversation(Type t) noexcept { return t == Type::conversation_updated || t == Type::chat_closed; }

// `event_json` (a conversation.updated or chat.closed) with its Conversation's unread_count set
// to n. Its key is the last "unread_count" key of the text: jsonb writes a Conversation's keys
// by length, then bytes (chat_conversation_json; core keeps that order: conversation_json.h),
// so of its members only context, free-form, comes before it, and none after it holds one
// (assigned_agent, queue_position, requested_agent_at); and the bytes `"unread_count":` are
// never inside a JSON string (its quotes would be escaped). A text without it (never expected)
// is parsed and written again.
std::string with_unread(std::string_view event_json, std::int64_t n) {
    static constexpr std::string_view kKey = "\"unread_count\":";
    std::size_t at = std::string_view::npos;
    for (std::size_t from = 0; from < event_json.size();) {
        const void* hit = memmem(event_json.data() + from, event_json.size() - from, kKey.data(), kKey.size());
        if (!hit) break;
        at = static_cast<std::size_t>(static_cast<const char*>(hit) - event_json.data());
        from = at + kKey.size();
    }
    if (at != std::string_view::npos) {
        const std::size_t begin = at + kKey.size();
        std::size_t end = begin;
        if (end < event_json.size() && event_json[end] == '-') end++;
        while (end < event_json.size() && event_json[end] >= '0' && event_json[end] <= '9') end++;
        if (end > begin) {
            std::string out;
            out.reserve(event_json.size() + 20);
            out.append(event_json.substr(0, begin)).append(std::to_string(n)).append(event_json.substr(end));
            return out;
        }
    }
    auto v = parse_answer(event_json);
    json::Object* root = v.ok() ? v.value().as_object() : nullptr;
    if (!root) return std::string(event_json);
    for (json::Member& m : *root)
        if (m.key == "data") m.value.set("unread_count", json::Value(n));
    return json::to_string(v.value());
}

// The unread counts of the answer's "unread" (chat_unread_json): each side's own.
struct Unread {
    std::optional<std::int64_t> customer, agent;
};

Unread unread_of(const json::Value& answer) {
    Unread u;
    if (const json::Value* x = answer.find("unread")) {
        u.customer = x->find_int("customer");
        u.agent = x->find_int("agent");
    }
    return u;
}

// A conversation.updated or chat.closed written from a Conversation showing `shown` as its
// unread_count: the customer's copy in json, the agent side's count in agent_unread.
void own_counts(Event& e, std::optional<std::int64_t> shown, const Unread& u) {
    if (u.customer && shown && *u.customer != *shown) e.json = with_unread(e.json, *u.customer);
    const std::optional<std::int64_t> customers = u.customer ? u.customer : shown;
    if (u.agent && customers && *u.agent != *customers) e.agent_unread = *u.agent;
}

Sender sender_named(std::string_view name) noexcept {
    if (name == "customer") return Sender::customer;
    if (name == "agent") return Sender::agent;
    return Sender::none;
}

}  // namespace

std::string_view wire_name(Type t) noexcept {
    switch (t) {
    case Type::message_created: return "message.created";
    case Type::conversation_updated: return "conversation.updated";
    case Type::agent_assigned: return "agent.assigned";
    case Type::chat_closed: return "chat.closed";
    case Type::agent_presence_changed: return "agent.presence.changed";
    case Type::typing: return "typing";
    case Type::read: return "read";
    case Type::note_created: return "note.created";
    }
    return "";
}

std::optional<Type> type_named(std::string_view name) noexcept {
    for (Type t : {Type::message_created, Type::conversation_updated, Type::agent_assigned, Type::chat_closed,
                   Type::agent_presence_changed, Type::typing, Type::read, Type::note_created})
        if (wire_name(t) == name) return t;
    return std::nullopt;
}

std::string_view wire_name(Sender s) noexcept {
    switch (s) {
    case Sender::customer: return "customer";
    case Sender::agent: return "agent";
    case Sender::none: break;
    }
    return "";
}

std::vector<Event> from_answer(std::string_view answer_json, std::string_view site) noexcept {
    try {
        auto v = parse_answer(answer_json);
        if (!v.ok()) return {};
        return from_parsed(v.value(), site);
    } catch (...) {
        return {};
    }
}

std::vector<Event> from_parsed(const json::Value& answer, std::string_view site) noexcept {
    return from_parsed(answer, site, Rendered{});
}

std::vector<Event> from_parsed(const json::Value& answer, std::string_view site, const Rendered& rendered) noexcept {
    std::vector<Event> out;
    try {
        const std::string* own = answer.find_string("site");
        const std::string_view conv_site = own ? std::string_view(*own) : site;
        const json::Value* c = answer.find("conversation");
        if (!c || !c->as_object()) return out;
        std::string conv_id = c->find_string("id") ? *c->find_string("id") : std::string();
        std::string assigned = assigned_of(c);
        std::string status = status_of(c);
        std::string department = department_of(c);
        bool joined = false;
        if (const json::Value* ms = answer.find("messages"); ms && ms->as_array()) {
            std::size_t i = 0;
            for (const json::Value& m : *ms->as_array()) {
                const std::string_view m_json = i < rendered.messages.size() ? rendered.messages[i] : std::string_view();
                i++;
                out.push_back(
                    make(Type::message_created, conv_id, m.find_int("seq").value_or(0), assigned, &m, status, m_json));
                if (const json::Value* md = m.find("metadata"))
                    if (const std::string* ev = md->find_string("event"); ev && *ev == "assigned") joined = true;
            }
        }
        out.push_back(make(Type::conversation_updated, conv_id, 0, assigned, c, status, rendered.conversation));
        if (joined && c->find("assigned_agent")) {
            json::Value data{json::Object{}};
            data.set("agent", *c->find("assigned_agent"));
            out.push_back(make(Type::agent_assigned, conv_id, 0, assigned, &data, status));
        }
        if (status == "closed")
            out.push_back(make(Type::chat_closed, conv_id, 0, assigned, c, status, rendered.conversation));
        const Unread unread = unread_of(answer);
        const std::optional<std::int64_t> shown = c->find_int("unread_count");
        for (Event& e : out) {
            e.site = conv_site;
            e.department_id = department;
            if (carries_conversation(e.type)) own_counts(e, shown, unread);
        }
    } catch (...) {
        out.clear();
    }
    return out;
}

std::vector<Event> from_written(const Written& w, std::string_view site) noexcept {
    std::vector<Event> out;
    try {
        const std::string_view assigned = w.assigned_agent_id, status = w.status;
        const bool joined = std::any_of(w.messages.begin(), w.messages.end(),
                                        [](const Written::Message& m) { return m.agent_joined; });
        // exactly the events below, never moved while growing: a post's three Events (~870 bytes)
        // stay below malloc's large requests, where room for five (~1 450) made it merge its fastbins
        out.reserve(w.messages.size() + 1 + (joined ? 1 : 0) + (status == "closed" ? 1 : 0));
        for (const Written::Message& m : w.messages)
            fill(out.emplace_back(), Type::message_created, w.conversation_id, m.seq, assigned, nullptr, status, m.json);
        fill(out.emplace_back(), Type::conversation_updated, w.conversation_id, 0, assigned, nullptr, status,
             w.conversation_json);
        if (joined) {
            std::string data = "{\"agent\":";
            data.append(w.assigned_agent_json.empty() ? std::string_view("null") : w.assigned_agent_json).append("}");
            fill(out.emplace_back(), Type::agent_assigned, w.conversation_id, 0, assigned, nullptr, status, data);
        }
        if (status == "closed")
            fill(out.emplace_back(), Type::chat_closed, w.conversation_id, 0, assigned, nullptr, status,
                 w.conversation_json);
        for (Event& e : out) {
            e.site = site;
            e.department_id = w.department_id;
            if (carries_conversation(e.type) && w.agent_unread >= 0 && w.agent_unread != w.customer_unread)
                e.agent_unread = w.agent_unread;
        }
    } catch (...) {
        out.clear();
    }
    return out;
}

std::vector<Event> from_read(const json::Value& answer, Sender who, std::int64_t up_to_seq,
                             std::string_view site) noexcept {
    std::vector<Event> out;
    try {
        if (answer.find_int("marked").value_or(0) <= 0) return out;  // nothing changed: nothing to tell
        const json::Value* c = answer.find("conversation");
        const std::string* id = c ? c->find_string("id") : nullptr;
        if (!id) return out;
        if (who == Sender::agent)  // the agent side's unread_count: agents' lists show it
            for (Event& e : from_parsed(answer, site))
                if (e.type == Type::conversation_updated) out.push_back(std::move(e));
        Event r = read(*id, assigned_of(c), who, up_to_seq, status_of(c), site);
        r.department_id = department_of(c);
        out.push_back(std::move(r));
    } catch (...) {
        out.clear();
    }
    return out;
}

std::vector<std::string> side_effects(std::string_view answer_json) noexcept {
    try {
        auto v = parse_answer(answer_json);
        if (!v.ok()) return {};
        return side_effects_parsed(v.value());
    } catch (...) {
        return {};
    }
}

std::vector<std::string> side_effects_parsed(const json::Value& answer) noexcept {
    std::vector<std::string> ids;
    try {
        std::string own;
        if (const json::Value* c = answer.find("conversation"))
            if (const std::string* id = c->find_string("id")) own = *id;
        for (std::string_view list : {"assigned", "requeued"}) {
            const json::Value* l = answer.find(list);
            if (!l || !l->as_array()) continue;
            for (const json::Value& x : *l->as_array()) {
                const std::string* id = x.as_string() ? x.as_string() : x.find_string("conversation_id");
                if (id && *id != own && std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(*id);
            }
        }
    } catch (...) {
        ids.clear();
    }
    return ids;
}

Event presence(std::string_view answer_json) noexcept {
    try {
        auto v = json::parse(answer_json);
        if (!v.ok()) return {};
        return presence_parsed(v.value());
    } catch (...) {
        return {};
    }
}

Event presence_parsed(const json::Value& answer) noexcept {
    try {
        const json::Value* a = answer.find("agent");
        if (!a || !a->as_object()) return {};
        Event e = make(Type::agent_presence_changed, "", 0, "", a);
        e.agent_sites = sites_of(a);
        return e;
    } catch (...) {
        return {};
    }
}

Event note_created(const json::Value& answer, std::string_view site) noexcept {
    try {
        const json::Value* c = answer.find("conversation");
        const json::Value* n = answer.find("note");
        if (!c || !c->as_object() || !n || !n->as_object()) return {};
        const std::string* own = answer.find_string("site");
        Event e = make(Type::note_created, c->find_string("id") ? *c->find_string("id") : std::string(), 0,
                       assigned_of(c), n, status_of(c));
        e.site = own ? *own : std::string(site);
        e.department_id = department_of(c);
        return e;
    } catch (...) {
        return {};
    }
}

bool customer_may_hear(Type t) noexcept { return t != Type::note_created; }

namespace {

// The bytes an envelope adds to an event's JSON, at most (its fields, line breaks and numbers).
std::size_t envelope_room(const Event& e) {
    return 64 + e.cache_key.size() + e.assigned_agent_id.size() + e.status.size() + e.site.size() +
           e.department_id.size();
}

// encode(e), appended to `out`.
void append_encoded(std::string& out, const Event& e) {
    const bool own_count = e.agent_unread >= 0;
    char version[24], count[24];  // any int64
    const std::string_view v(version, static_cast<std::size_t>(
                                          std::to_chars(version, version + sizeof version, e.version).ptr - version));
    const std::string_view n(count, own_count ? static_cast<std::size_t>(
                                                    std::to_chars(count, count + sizeof count, e.agent_unread).ptr - count)
                                              : 0);
    out.append(own_count ? "e5" : e.department_id.empty() ? "e3" : "e4").append(1, '\n');
    out.append(e.cache_key).append(1, '\n').append(v).append(1, '\n');
    out.append(e.assigned_agent_id).append(1, '\n').append(e.status).append(1, '\n').append(e.site).append(1, '\n');
    if (own_count) out.append(e.department_id).append(1, '\n').append(n).append(1, '\n');
    else if (!e.department_id.empty()) out.append(e.department_id).append(1, '\n');
    out.append(e.json);
}

constexpr std::string_view kBatchTag = "b1\n";
constexpr std::size_t kBatchLengthDigits = 8;

}  // namespace

std::string encode(const Event& e) {
    std::string out;
    out.reserve(envelope_room(e) + e.json.size());
    append_encoded(out, e);
    return out;
}

bool is_batch(std::string_view payload) noexcept { return payload.starts_with(kBatchTag); }

void append_to_batch(std::string& batch, const Event& e) {
    if (batch.empty()) batch.append(kBatchTag);
    const std::size_t at = batch.size();
    batch.append(kBatchLengthDigits, '0').append(1, '\n');
    append_encoded(batch, e);
    std::size_t n = batch.size() - at - kBatchLengthDigits - 1;
    if (n > kBatchPayloadMax) {
        batch.resize(at);
        throw std::length_error("an event too large for a batch");
    }
    for (std::size_t i = kBatchLengthDigits; i-- > 0; n /= 10) batch[at + i] = static_cast<char>('0' + n % 10);
}

Result<std::vector<std::string_view>> split_batch(std::string_view payload) noexcept {
    try {
        if (!is_batch(payload)) return make_error(Errc::bad_request, "not an event batch");
        payload.remove_prefix(kBatchTag.size());
        std::vector<std::string_view> parts;
        parts.reserve(8);  // a post's three events and more at once, not 1, 2, 4 (every worker hears each)
        while (!payload.empty()) {
            if (parts.size() == kBatchEventsMax) return make_error(Errc::bad_request, "too many events in a batch");
            if (payload.size() <= kBatchLengthDigits || payload[kBatchLengthDigits] != '\n')
                return make_error(Errc::bad_request, "broken event batch");
            std::size_t n = 0;
            for (std::size_t i = 0; i < kBatchLengthDigits; i++) {
                const char ch = payload[i];
                if (ch < '0' || ch > '9') return make_error(Errc::bad_request, "broken event batch");
                n = n * 10 + static_cast<std::size_t>(ch - '0');
            }
            payload.remove_prefix(kBatchLengthDigits + 1);
            if (n > payload.size()) return make_error(Errc::bad_request, "broken event batch");
            parts.push_back(payload.substr(0, n));
            payload.remove_prefix(n);
        }
        if (parts.empty()) return make_error(Errc::bad_request, "empty event batch");
        return parts;
    } catch (...) {
        return make_error(Errc::internal, "splitting an event batch failed");
    }
}

std::string_view json_for_agents(const Event& e, std::string& scratch) noexcept {
    if (e.agent_unread < 0 || !carries_conversation(e.type)) return e.json;
    try {
        scratch = with_unread(e.json, e.agent_unread);
        return scratch;
    } catch (...) {
        return e.json;
    }
}

bool visible_to_agent(const Event& e, std::string_view agent_id, std::string_view role,
                      std::string_view site, std::string_view departments) noexcept {
    if (e.conversation_id.empty())  // agent.presence.changed: the agent's colleagues, on a site of theirs
        return listed(e.agent_sites, site);
    if (e.site != site) return false;            // another site's conversation
    if (role == "supervisor" || role == "admin") return true;
    // assigned to them: open, or closed and handled by them (an agent is only ever
    // assigned conversations in status agent, and a closed one keeps its agent)
    if (!e.assigned_agent_id.empty()) return !agent_id.empty() && e.assigned_agent_id == agent_id;
    if (e.status != "agent") return false;  // the queue; never a bot-only chat, never an unknown one
    return e.department_id.empty() || listed(departments, e.department_id);  // a queue they serve
}

namespace {

// The envelope: "e3\n<cache key>\n<version>\n<assigned agent>\n<status>\n<site>\n<json>"
// ("e4": <department> after <site>; "e5": <department or nothing>, then the agent side's
// unread_count; "e2": without <site>, the default site's; "e1": without <status> either).
// Fields are views into the payload; `json` is what follows.
struct Envelope {
    int nfields = 0;  // 0: no envelope (a bare event)
    std::string_view fields[7];
    std::int64_t version = 0;
    std::int64_t agent_unread = -1;  // "e5"'s count; -1: none, or not a count
    std::string_view json;
};

// The envelope of `text`, or why it is broken. The site and department are checked by
// envelope_fields_broken() (parse() checks them after the JSON, as it always did).
Result<Envelope> read_envelope(std::string_view text) {
    Envelope env;
    env.nfields = text.starts_with("e5\n")   ? 7
                  : text.starts_with("e4\n") ? 6
                  : text.starts_with("e3\n") ? 5
                  : text.starts_with("e2\n") ? 4
                  : text.starts_with("e1\n") ? 3
                                             : 0;
    if (env.nfields > 0) {
        text.remove_prefix(3);
        for (int i = 0; i < env.nfields; i++) {
            auto nl = text.find('\n');
            if (nl == std::string_view::npos) return make_error(Errc::bad_request, "broken event envelope");
            env.fields[i] = text.substr(0, nl);
            text.remove_prefix(nl + 1);
        }
    }
    if (env.fields[1].size() > 18) return make_error(Errc::bad_request, "broken event version");
    for (char ch : env.fields[1]) {
        if (ch < '0' || ch > '9') return make_error(Errc::bad_request, "broken event version");
        env.version = env.version * 10 + (ch - '0');
    }
    if (const std::string_view n = env.fields[6];
        env.nfields == 7 && !n.empty() && n.size() <= 18 &&
        std::all_of(n.begin(), n.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        env.agent_unread = 0;
        for (char ch : n) env.agent_unread = env.agent_unread * 10 + (ch - '0');
    }
    env.json = text;
    return env;
}

// The envelope's site, department and count, where it has them, are what parse() accepts.
const char* envelope_fields_broken(const Envelope& env) {
    if (env.nfields >= 5 && !limits::site_name_ok(env.fields[4])) return "broken event site";
    if (env.nfields >= 6 && !(env.nfields == 7 && env.fields[5].empty()) && !input::is_uuid(env.fields[5]))
        return "broken event department";  // "e5" says "none" with nothing
    if (env.nfields == 7 && env.agent_unread < 0) return "broken event unread count";
    return nullptr;
}

// The JSON string that starts `text` when it holds neither an escape nor a control
// character (so its bytes are its value), and `text` moved past it; nullopt otherwise.
// Every worker peeks at every event it hears: eight bytes at a time (SWAR) past blocks that hold
// none of '"', '\\' and the control characters. The test flags the first such byte of a block
// exactly (a borrow flags bytes above one only, never one below): the byte loop starts there and
// decides on it, as it would have reached it byte by byte.
std::optional<std::string_view> plain_string(std::string_view& text) {
    if (!text.starts_with('"')) return std::nullopt;
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const auto zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };  // a byte of v is 0
    std::size_t i = 1;
    for (; text.size() - i >= 8; i += 8) {
        std::uint64_t x;
        std::memcpy(&x, text.data() + i, 8);
        const std::uint64_t found = ((x - ones * 0x20) & ~x & highs) | zero(x ^ (ones * '"')) | zero(x ^ (ones * '\\'));
        if (found == 0) continue;
        if constexpr (std::endian::native == std::endian::little)
            i += static_cast<std::size_t>(std::countr_zero(found)) / 8;
        break;
    }
    for (; i < text.size(); i++) {
        const auto ch = static_cast<unsigned char>(text[i]);
        if (ch == '"') {
            const std::string_view s = text.substr(1, i - 1);
            text.remove_prefix(i + 1);
            return s;
        }
        if (ch == '\\' || ch < 0x20) return std::nullopt;
    }
    return std::nullopt;
}

std::optional<Peek> peek_envelope(std::string_view payload) {
    auto env = read_envelope(payload);
    if (!env.ok() || env.value().nfields == 0 || envelope_fields_broken(env.value())) return std::nullopt;
    std::string_view text = env.value().json;
    if (!text.starts_with(R"({"type":)")) return std::nullopt;
    text.remove_prefix(8);
    const auto type_name = plain_string(text);
    if (!type_name) return std::nullopt;
    const std::optional<Type> type = type_named(*type_name);
    if (!type) return std::nullopt;
    Peek p;
    p.cache_key = env.value().fields[0];
    p.version = env.value().version;
    if (*type == Type::agent_presence_changed && text.starts_with(R"(,"data":)")) return p;
    if (!text.starts_with(R"(,"conversation_id":)")) return std::nullopt;
    text.remove_prefix(19);
    const auto id = plain_string(text);
    if (!id || id->empty() || !text.starts_with(',')) return std::nullopt;
    p.conversation_id = *id;
    return p;
}

}  // namespace

std::optional<Peek> peek(std::string_view payload) noexcept {
    try {
        return peek_envelope(payload);
    } catch (...) {
        return std::nullopt;  // out of memory for an error's text: parse() decides
    }
}

Result<Event> parse(std::string_view text) noexcept {
    try {
        const std::string_view payload = text;
        auto env = read_envelope(text);
        if (!env.ok()) return env.error();
        const Envelope& en = env.value();
        const bool envelope = en.nfields > 0;
        text = en.json;
        // Checked whole, but built only where read below: a message's text, a conversation's
        // tags and context are checked and skipped (every worker parses every event).
        static constexpr std::string_view kRead[] = {
            "type",           "conversation_id", "seq",         "data/sites",       "data/agent", "data/assigned_agent_id",
            "data/sender_type", "data/assigned_agent", "data/status", "data/department"};
        auto v = json::parse_members(text, kRead);
        if (!v.ok()) return make_error(Errc::bad_request, "event is not JSON");
        const std::string* type = v.value().find_string("type");
        if (!type) return make_error(Errc::bad_request, "event without a type");
        std::optional<Type> t = type_named(*type);
        if (!t) return make_error(Errc::bad_request, "event of an unknown type");
        Event e;
        e.type = *t;
        if (const std::string* c = v.value().find_string("conversation_id")) e.conversation_id = *c;
        e.seq = v.value().find_int("seq").value_or(0);
        if (const json::Value* d = v.value().find("data")) {
            if (e.type == Type::agent_presence_changed) {
                e.agent_sites = sites_of(d);
            } else if (e.type == Type::agent_assigned) {
                if (const json::Value* ag = d->find("agent"))
                    if (const std::string* id = ag->find_string("id")) e.assigned_agent_id = *id;
            } else if (e.type == Type::typing || e.type == Type::read) {
                if (const std::string* id = d->find_string("assigned_agent_id")) e.assigned_agent_id = *id;
                if (const std::string* who = d->find_string("sender_type")) e.sender = sender_named(*who);
            } else {
                e.assigned_agent_id = assigned_of(d);
                if (e.type == Type::conversation_updated || e.type == Type::chat_closed) {
                    e.status = status_of(d);
                    e.department_id = department_of(d);
                }
            }
        }
        e.json = std::string(text);
        if (envelope) {
            if (const char* broken = envelope_fields_broken(en)) return make_error(Errc::bad_request, broken);
            e.cache_key = std::string(en.fields[0]);
            e.version = en.version;
            e.assigned_agent_id = std::string(en.fields[2]);  // the sender knew it; message data does not say
            if (en.nfields >= 4) e.status = std::string(en.fields[3]);
            if (en.nfields >= 5) e.site = std::string(en.fields[4]);
            if (en.nfields >= 6) e.department_id = std::string(en.fields[5]);  // "e5": may be empty
            if (en.nfields == 7) e.agent_unread = en.agent_unread;
        }
        // What peek() reads of it is what it says: a payload naming its conversation twice
        // (peek reads the first "conversation_id", the JSON reader keeps the last) is refused,
        // so that no worker decides from a peek to skip an event its sockets should hear.
        if (auto p = peek_envelope(payload); p && p->conversation_id != e.conversation_id)
            return make_error(Errc::bad_request, "event naming two conversations");
        return e;
    } catch (...) {
        return make_error(Errc::internal, "parsing an event failed");
    }
}

Event typing(std::string_view conversation_id, std::string_view assigned_agent_id, Sender sender, bool on,
             std::string_view status, std::string_view site) {
    json::Value data{json::Object{}};
    data.set("sender_type", json::Value(wire_name(sender)));
    data.set("typing", json::Value(on));
    if (!assigned_agent_id.empty()) data.set("assigned_agent_id", json::Value(assigned_agent_id));
    Event e = make(Type::typing, conversation_id, 0, assigned_agent_id, &data, status);
    e.sender = sender;
    e.site = std::string(site);
    return e;
}

Event read(std::string_view conversation_id, std::string_view assigned_agent_id, Sender sender,
           std::int64_t up_to_seq, std::string_view status, std::string_view site) {
    json::Value data{json::Object{}};
    data.set("sender_type", json::Value(wire_name(sender)));
    data.set("up_to_seq", json::Value(up_to_seq));
    if (!assigned_agent_id.empty()) data.set("assigned_agent_id", json::Value(assigned_agent_id));
    Event e = make(Type::read, conversation_id, 0, assigned_agent_id, &data, status);
    e.sender = sender;
    e.site = std::string(site);
    return e;
}

}  // namespace chat::events
