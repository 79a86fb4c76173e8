// The realtime events of API.md ("Events"): built from a write's answer, parsed
// back from Redis, and the routing facts a worker needs to pick the sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/limits.h"
#include "chat/result.h"

namespace chat::json {
class Value;
}

namespace chat::events {

// Every event type of API.md ("Events"); wire_name() is how it is spelled on the wire.
enum class Type {
    message_created,         // "message.created"
    conversation_updated,    // "conversation.updated"
    agent_assigned,          // "agent.assigned"
    chat_closed,             // "chat.closed"
    agent_presence_changed,  // "agent.presence.changed"
    typing,                  // "typing" (ephemeral, raised by a client frame)
    read,                    // "read" (likewise)
    note_created,            // "note.created" (agents only: never a customer's socket)
};
std::string_view wire_name(Type t) noexcept;
// The type spelled `name` on the wire; nullopt for a name that is none of them.
std::optional<Type> type_named(std::string_view name) noexcept;

// Who raised a typing or read event (its data's "sender_type"); none for the others.
enum class Sender { none, customer, agent };
std::string_view wire_name(Sender s) noexcept;

struct Event {
    Type type = Type::message_created;
    Sender sender = Sender::none;   // typing and read only
    std::string conversation_id;    // empty for agent.presence.changed
    std::int64_t seq = 0;           // message.created only
    std::string assigned_agent_id;  // the conversation's agent, empty when queued/none
    std::string status;             // the conversation's status when the event was raised
                                    // ("automated" | "agent" | "closed"), empty if unknown
    std::string site{limits::kSiteDefault};  // the conversation's site (chat_site): only
                                    // agent sockets of that site hear it
    std::string department_id;      // the conversation's department, empty for none (the default
                                    // queue): a queued one is heard only by its members
    std::string agent_sites;        // agent.presence.changed: the agent's sites, comma-joined
                                    // (from its Agent object): only those sites' sockets hear it
    std::string json;               // the event as sent to clients (to agents: json_for_agents)
    // API.md: a Conversation's unread_count is the viewer's. The Conversation of a
    // conversation.updated or chat.closed is in `json` as the customer sees it; when the agent
    // side's count differs, it is here and agents hear the event with it (json_for_agents).
    // -1: agents hear `json` as it is (no Conversation, or the same count).
    std::int64_t agent_unread = -1;
    // Set for customer writes: the session whose cached conversation the event
    // changes, and the conversation's version after it, so every node can drop
    // an older cached copy. Travels only between nodes, never to clients.
    std::string cache_key;
    std::int64_t version = 0;
};

// Tags every event of a customer's conversation with its cache key and the version after the
// write (Event::cache_key), so every node drops an older cached copy.
inline void tag_cached(std::vector<Event>& events, std::string_view key, std::int64_t version) {
    for (Event& e : events) {
        e.cache_key = key;
        e.version = version;
    }
}

// The Redis payload of an event: its JSON behind an envelope with the routing
// facts clients never see ("e3\n<cache key>\n<version>\n<assigned agent>\n<status>\n<site>\n";
// "e4\n...<site>\n<department>\n" for a conversation of a department; "e5\n...<site>\n<department
// or nothing>\n<agent_unread>\n" for a Conversation whose agent side's unread_count differs from
// the customer's; so nodes not yet upgraded still read every other event). parse() also reads the
// older "e2" (no site: the default site's) and "e1" (no status) envelopes of nodes not yet upgraded.
std::string encode(const Event& e);

// A batch: the events one worker published in one loop turn on one channel, in one Redis
// message (chat_redis ... batch=on), so that a post's three events, or a batch answer's
// forty, cost one PUBLISH and one message heard by each worker instead of one each:
// "b1\n" then, per event, its payload (encode()) behind its length in exactly eight decimal
// digits and a line break ("00000123\n<payload>"). At most kBatchEventsMax events; the
// publisher closes a batch once it holds kBatchBytes (one event may take it past that, up to
// kBatchPayloadMax). Nodes from before batches cannot read one (parse() refuses "b1"):
// publishing them is switched on only once every node runs a version that reads them.
inline constexpr std::size_t kBatchEventsMax = 256;
inline constexpr std::size_t kBatchBytes = 256 * 1024;
inline constexpr std::size_t kBatchPayloadMax = 99'999'999;  // eight digits
// Whether `payload` is a batch (its tag: split_batch() checks the rest).
bool is_batch(std::string_view payload) noexcept;
// Appends the payload of `e` (encode(e)) to `batch`, starting the batch when it is empty.
void append_to_batch(std::string& batch, const Event& e);
// The payloads of a batch, in order, as views into it; Errc::bad_request when it is not one
// or its framing is broken anywhere (then none is read: never part of a batch). A payload
// still goes through parse() (or peek()) like one heard on its own.
Result<std::vector<std::string_view>> split_batch(std::string_view payload) noexcept;

// The event as an agent socket hears it: `json`, or with the agent side's unread_count in its
// Conversation (agent_unread) written into `scratch` and returned from there. Written where an
// agent socket hears it, so the write path and workers without agent sockets never pay for it.
// The one place of the viewer's unread_count in events.
std::string_view json_for_agents(const Event& e, std::string& scratch) noexcept;

// Whether an agent socket may hear the event (a presence change: when the agent it is about
// is granted the socket's site): exactly what GET /agent/conversations/{id}
// would show that agent (chat_agent_can_see, sql/functions/20_access.sql). Supervisors and admins hear
// everything; an agent hears events without a conversation (presence), the queue
// (status agent, nobody assigned) and conversations assigned to them (open, or closed
// ones they handled). Bot-only conversations, other agents' chats and events whose
// conversation status is unknown are not theirs. Nobody hears a conversation of another
// site than the socket's (`site`, its token's), whatever the role. The queue of a
// department is heard by role agent only when `departments` (the ids of theirs,
// comma-joined) holds it (chat_agent_serves).
bool visible_to_agent(const Event& e, std::string_view agent_id, std::string_view role,
                      std::string_view site = limits::kSiteDefault,
                      std::string_view departments = {}) noexcept;

// The events of a write whose answer is {"conversation": C, "messages": [M...], ...}:
// one message.created per message (ascending), then conversation.updated, plus
// chat.closed when C is closed and agent.assigned when the messages say an agent joined.
// Their site is the answer's "site" when it has one (chat_conversation_event_json), else
// `site` (the request's: a use case only ever writes conversations of its site). C shows the
// caller's unread_count; the answer's "unread" ({"customer": n, "agent": m}, chat_unread_json)
// gives each side its own in the events (Event::agent_unread).
std::vector<Event> from_answer(std::string_view answer_json, std::string_view site = limits::kSiteDefault) noexcept;
// The same from an answer already parsed (a use case parses the database answer once).
std::vector<Event> from_parsed(const json::Value& answer, std::string_view site = limits::kSiteDefault) noexcept;
// The same again, when the caller has already written the answer's conversation and messages
// (json::to_string of each, in order: a write's cache snapshot): their JSON is reused in
// the events instead of being written once more. Same events, byte for byte.
struct Rendered {
    std::string_view conversation;
    std::span<const std::string_view> messages;
};
std::vector<Event> from_parsed(const json::Value& answer, std::string_view site, const Rendered& rendered) noexcept;
// The same events of a write known from typed columns (the customer post batch's answer,
// rendered by conversation_json): the facts from_parsed reads from the answer, and the JSON
// of the conversation, of its messages and of its assigned agent (empty: none) already
// written. Same events, byte for byte, as from_parsed of the equivalent answer.
struct Written {
    std::string_view conversation_id, status, assigned_agent_id, department_id;
    std::string_view conversation_json, assigned_agent_json;  // the customer's Conversation
    std::int64_t customer_unread = 0;  // its unread_count
    std::int64_t agent_unread = -1;    // the agent side's (-1: unknown, agents hear the customer's)
    struct Message {
        std::int64_t seq = 0;
        std::string_view json;
        bool agent_joined = false;  // its metadata's "event" is "assigned"
    };
    std::span<const Message> messages;
};
std::vector<Event> from_written(const Written& w, std::string_view site) noexcept;

// The events of a read receipt whose answer is {"conversation": C, "marked": n, "unread"}
// (chat_customer_read, chat_agent_read) by `who`, up to `up_to_seq`: nothing when it marked
// nothing; else the read event (API.md), and for an agent's read conversation.updated (the
// agent side's unread_count changed). Never chat.closed: only the close says that.
std::vector<Event> from_read(const json::Value& answer, Sender who, std::int64_t up_to_seq,
                             std::string_view site = limits::kSiteDefault) noexcept;

// Conversations a write changed besides its own (the "assigned" and "requeued" lists of
// sql/functions/50_assignment.sql's answers): their events need a read of each (chat_conversation_event_json).
std::vector<std::string> side_effects(std::string_view answer_json) noexcept;
std::vector<std::string> side_effects_parsed(const json::Value& answer) noexcept;

// agent.presence.changed from {"agent": A, ...}; empty json when there is no agent.
Event presence(std::string_view answer_json) noexcept;
Event presence_parsed(const json::Value& answer) noexcept;

// note.created from {"conversation": C, "note": N} (sql/functions/55_notes.sql): routed as
// C's events (site, department, agent, status), heard by agents only. Empty json when the
// answer has no note.
Event note_created(const json::Value& answer, std::string_view site = limits::kSiteDefault) noexcept;

// Whether customers may ever hear events of this type (a note is for agents only).
bool customer_may_hear(Type t) noexcept;

// An event as published (encode()'s payload); Errc::bad_request if it is not one
// (including a type this node does not know).
Result<Event> parse(std::string_view json) noexcept;

// What a worker needs of a published event before deciding to parse it: its envelope's cache
// key and version, and the conversation it is about ("" for a presence change), read from the
// layout encode() writes ({"type":"<type>","conversation_id":"<id>",...}) without parsing the
// JSON. Every worker hears every event, and most are about conversations none of its sockets
// follow: those need only the cache's forget. nullopt when the payload is not laid out that way
// (parse() then decides); the envelope is checked as parse() checks it, the JSON is not (a
// payload peek() reads may still be refused by parse()). Views into `payload`.
struct Peek {
    std::string_view cache_key;
    std::int64_t version = 0;
    std::string_view conversation_id;
};
std::optional<Peek> peek(std::string_view payload) noexcept;

// Ephemeral events raised by client frames.
// `status` is the conversation's, for routing (see visible_to_agent).
// `site` is the conversation's (the socket's or request's chat_site).
Event typing(std::string_view conversation_id, std::string_view assigned_agent_id, Sender sender, bool on,
             std::string_view status = {}, std::string_view site = limits::kSiteDefault);
Event read(std::string_view conversation_id, std::string_view assigned_agent_id, Sender sender,
           std::int64_t up_to_seq, std::string_view status = {}, std::string_view site = limits::kSiteDefault);

}  // namespace chat::events
