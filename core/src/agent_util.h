// The helpers agent.cpp, agent_login.cpp, agent_conversations.cpp, agent_admin.cpp and
// agent_tools.cpp share: query strings, integers, a message's body, the answer of a SQL
// function as an Outcome.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chat/event_loop.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/outcome.h"
#include "chat/result.h"

namespace chat::agent::detail {

std::span<const std::byte> key_bytes(const std::string& s);

// name=value pairs of a query string, percent-decoded ('+' is a space); the last
// occurrence of a name wins. Malformed escapes are kept verbatim (the values are
// validated afterwards anyway).
std::map<std::string, std::string> parse_query(std::string_view q);

// Decimal digits with an optional sign, nothing else.
std::optional<std::int64_t> parse_int(std::string_view s);

// Completes `done` with an internal error from the loop (never inside the call).
template <typename F>
void fail_with(EventLoop& loop, const F& done, std::string message) noexcept {
    try {
        loop.post([done, m = std::move(message)] { done(make_error(Errc::internal, m)); });
    } catch (...) {
        // posting failed (out of memory): nothing sane is left to do
    }
}

// Whether an answer's events are published: a write's are, a read has none.
enum class Effects { none, publish };

// The events and side effects of a write, from its parsed answer (see Done in agent.h);
// `site` is the site of the conversation the write changed (the principal's).
void add_effects(Outcome& a, const json::Value& root, std::string_view site = limits::kSiteDefault);

// An Outcome whose body is picked out of the SQL function's JSON: {"<k>": root[k], ...},
// with the events and side effects of a write (see Done in agent.h) on `site`.
// The same from an answer already parsed (a use case that reads more of it parses once).
Result<Outcome> pick_parsed(const json::Value& root, std::initializer_list<std::string_view> keys, int status = 200,
                            Effects fx = Effects::publish, std::string_view site = limits::kSiteDefault);
// The SQL function's answer parsed (with the size limit of every database answer).
Result<json::Value> parse_answer(std::string_view text);
Result<Outcome> pick(std::string_view text, std::initializer_list<std::string_view> keys, int status = 200,
                     Effects fx = Effects::publish, std::string_view site = limits::kSiteDefault);

// The body of an agent's message or note: {"text", "client_id"?}. No text is 400; the text
// and the client_id as input::take_message_text and input::take_client_id say (422).
struct TextWrite {
    std::string text;
    std::optional<std::string> client_id;
};
Result<TextWrite> parse_text_write(std::string_view body, std::size_t max_chars);

}  // namespace chat::agent::detail
