// The API's Conversation and Message objects rendered from typed columns, byte for byte as core writes them from SQL's JSON.
//
// chat_conversation_json and chat_message_json (sql/functions/10_common.sql) build jsonb, whose
// keys come out ordered by length, then bytes; core parses that and writes it compact
// (json::to_string). render() writes the same bytes directly from the row's columns
// (chat_conversation_row, chat_message_row: the customer post batch answers them), so the
// hot write neither builds JSON in Postgres nor parses it in nginx (issue 11). Pinned by
// core/tests/conversation_json_test.cpp against the SQL functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::conversation_json {

using Text = std::optional<std::string_view>;  // nullopt: SQL NULL (JSON null)
using Int = std::optional<std::int64_t>;

// A Message (chat_message_row). Timestamps are milliseconds since the epoch (chat_ms).
struct Message {
    std::string_view id, conversation_id;
    std::int64_t seq = 0;
    std::string_view sender_type;
    Text sender_agent_id;
    std::string_view kind, content;
    std::string_view metadata = "{}";  // the jsonb's text
    // metadata is core's own compact JSON in jsonb's key order (the bot reply's, built where the
    // reply was chosen): written as it is, not read again
    bool metadata_as_is = false;
    std::int64_t created_at = 0;
    Int read_at;
};

// A Conversation as one viewer sees it (chat_conversation_row). The agent, customer and
// department objects are written when their id is set.
struct Conversation {
    std::string_view id, status;
    Text agent_id, agent_name;
    Int queue_position;
    std::string_view context = "{}";  // the jsonb's text
    Text customer_id, customer_name, customer_email;
    Text department_id, department_name;
    std::string_view priority;
    bool offline = false;
    std::string_view tags;  // space-joined (a tag never holds a space)
    Int rating_score;
    Text rating_comment;
    std::int64_t last_seq = 0, unread_count = 0;
    std::int64_t created_at = 0, updated_at = 0;
    Int requested_agent_at, closed_at;
    std::int64_t version = 0;
};

// The values of chat_conversation_row's and chat_message_row's columns, in their order, as
// Postgres's text (nullopt for NULL), read into the types above. They point into `cols`.
// An error (internal) for a column count or a value that is not theirs.
inline constexpr std::size_t kConversationColumns = 23;
inline constexpr std::size_t kMessageColumns = 10;
Result<Conversation> conversation_from(std::span<const Text> cols);
Result<Message> message_from(std::span<const Text> cols);

// The compact JSON; an error (internal) only when context or metadata is not JSON.
Result<std::string> render(const Conversation& c);
Result<std::string> render(const Message& m);

// The assigned_agent object ({"id","display_name"}) of c; empty when there is none.
std::string render_agent(const Conversation& c);

// chat_ts: the instant as YYYY-MM-DDTHH:MM:SS.mmmZ (UTC), appended to out.
void append_timestamp(std::string& out, std::int64_t ms);

}  // namespace chat::conversation_json
