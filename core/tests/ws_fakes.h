// Fakes of a WebSocket session's transport and backend, and builders of its inputs, for
// the unit tests of chat::ws::Session and chat::ws::StandingCheck (no nginx, no database).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "chat/events.h"
#include "chat/outcome.h"
#include "chat/ws.h"
#include "chat/ws_session.h"

namespace chat_test {

using chat::Result;
using chat::events::Event;
using chat::events::Sender;
using chat::ws::CloseCode;
using chat::ws::Message;
using chat::ws::Opcode;
using chat::ws::Session;

inline constexpr const char* kConv = "11111111-1111-1111-1111-111111111111";
inline constexpr const char* kOther = "22222222-2222-2222-2222-222222222222";

// Records what the session asked of its socket.
struct FakeTransport : chat::ws::Transport {
    std::vector<std::string> frames;
    bool is_closing = false;
    bool reading = false;
    int closes = 0;
    CloseCode code = CloseCode::normal;
    std::string reason;

    void send(std::string frame) override {
        if (!is_closing) frames.push_back(std::move(frame));
    }
    void close(CloseCode c, std::string_view r) override {
        if (is_closing) return;
        is_closing = true;
        closes++;
        code = c;
        reason = std::string(r);
    }
    bool closing() const override { return is_closing; }
    void start_reading() override { reading = true; }

    // The payloads of the frames sent (server frames: unmasked, FIN set).
    std::vector<std::string> texts() const {
        std::vector<std::string> out;
        for (const std::string& f : frames) {
            auto len = static_cast<unsigned char>(f[1]);
            std::size_t off = len < 126 ? 2 : len == 126 ? 4 : 10;
            out.push_back(f.substr(off));
        }
        return out;
    }
};

// Holds every call so that a test completes them when and how it wants.
struct FakeBackend : chat::ws::Backend {
    struct ReplayCall {
        std::string sid;
        std::int64_t after, limit;
        std::function<void(Result<chat::customer::Replay>)> done;
    };
    struct AccessCall {
        std::string conv;
        std::function<void(Result<chat::agent::WriteAccess>)> done;
    };
    struct ReadCall {
        std::string who, conv, body;
        chat::OutcomeDone done;
    };
    std::vector<std::pair<std::string, std::function<void(Result<chat::agent::Principal>)>>> auths;
    std::vector<ReplayCall> replays;
    std::vector<AccessCall> accesses;
    std::vector<ReadCall> reads;
    std::vector<std::pair<std::vector<std::string>, std::function<void(Result<std::vector<chat::agent::Standing>>)>>>
        standings;
    std::vector<chat::Outcome> applied;  // what the session handed the host to carry out
    std::vector<Event> published;        // their events, in order

    void authenticate(std::string_view token, std::string_view /*site*/,
                      std::function<void(Result<chat::agent::Principal>)> done) override {
        auths.emplace_back(std::string(token), std::move(done));
    }
    void replay(const std::string& sid, std::int64_t after, std::int64_t limit,
                std::function<void(Result<chat::customer::Replay>)> done) override {
        replays.push_back({sid, after, limit, std::move(done)});
    }
    void write_access(const chat::agent::Principal&, std::string_view conv,
                      std::function<void(Result<chat::agent::WriteAccess>)> done) override {
        accesses.push_back({std::string(conv), std::move(done)});
    }
    void agent_read(const chat::agent::Principal& p, std::string_view conv, std::string_view body,
                    chat::OutcomeDone done) override {
        reads.push_back({p.agent_id, std::string(conv), std::string(body), std::move(done)});
    }
    void customer_read(const std::string& sid, std::string_view body, std::string_view /*site*/, chat::OutcomeDone done) override {
        reads.push_back({sid, "", std::string(body), std::move(done)});
    }
    void standing(const std::vector<std::string>& ids,
                  std::function<void(Result<std::vector<chat::agent::Standing>>)> done) override {
        standings.emplace_back(ids, std::move(done));
    }
    void apply(chat::Outcome o) override {
        published.insert(published.end(), o.events.begin(), o.events.end());
        applied.push_back(std::move(o));
    }
};

// The events of a conversation answer: messages `from`..`to`, then conversation.updated.
inline std::vector<Event> conversation(const char* id, const char* status, const char* agent, int from, int to) {
    std::string a = std::string(R"({"conversation":{"id":")") + id + R"(","status":")" + status +
                    R"(","assigned_agent":)" + (agent[0] ? std::string(R"({"id":")") + agent + R"("})" : "null") +
                    R"(},"messages":[)";
    for (int s = from; s <= to; s++) {
        if (s > from) a += ",";
        a += R"({"seq":)" + std::to_string(s) + R"(,"sender_type":"customer","content":"m"})";
    }
    a += "]}";
    return chat::events::from_answer(a);
}

inline chat::customer::Replay page(std::vector<Event> events, std::int64_t last_seq) {
    chat::customer::Replay r;
    r.events = std::move(events);
    r.last_seq = last_seq;
    return r;
}

inline Message text(std::string payload) { return Message{Opcode::text, std::move(payload)}; }

inline chat::agent::Principal principal(const char* id, const char* role) {
    chat::agent::Principal p;
    p.agent_id = id;
    p.role = role;
    p.token_version = 1;
    return p;
}

}  // namespace chat_test
