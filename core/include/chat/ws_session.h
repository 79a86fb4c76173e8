// One WebSocket of API.md (/v1/ws for a customer, /v1/agent/ws for an agent), its rules
// without its transport: who it is, what it may hear, what its client's frames do.
//
// The host (the nginx module) owns the socket: the handshake, frame I/O, the outbound
// queue, pings and timeouts. It implements Transport and hands the session the bytes it
// reads and the events its worker hears; the session decides everything else:
//
//  - authentication: a customer's session token is checked at the handshake, so a
//    customer session starts authenticated; an agent session verifies its token first
//    (start()) and asks the transport to start reading only once it stands. Until then
//    nothing the client sent is read, and on_bytes()/on_message() ignore anything;
//  - budgets: every client frame spends from a frame budget first (empty: closed 1008
//    "too many frames"); typing frames also from a small typing budget (excess dropped);
//  - visibility: a customer hears the events of its own conversation only, each
//    message.created once (even when two arrive out of seq order); an agent hears what
//    events::visible_to_agent says for its role. Nobody hears the echo of its own side's
//    typing and read (Event::sender);
//  - replay: a customer session first replays every message after ?after=SEQ, page by
//    page; live events that arrive meanwhile wait in a bounded queue (full: closed 1011
//    "overloaded; reconnect", the client resumes with after=) and follow the replay;
//  - commands: a typing frame becomes an event, a read frame the read use case; the host
//    carries out either's Outcome where it carries out a REST request's (Backend::apply);
//    an agent only into conversations it may write to, asked once and cached for a moment;
//  - standing: StandingCheck (ws_standing.h) re-reads agents' standing; on_standing()
//    keeps, promotes or closes (4401) the session;
//  - erasure: on_ended() closes a customer session whose conversation was deleted (4410)
//    and drops an agent session's cached write access to it; a customer session whose
//    replay finds no conversation at all (an erased session's token) closes with 4410 too.
//
// Lifetime. The host holds the session in a shared_ptr and destroys it when it frees
// the socket. Every asynchronous completion holds a weak_ptr, so one that arrives for a
// session that is gone does nothing, and one for a session whose transport is closing
// does nothing either. The session never frees its transport: the host frees a socket
// only from its own event, never inside a call into the session, so the Transport
// outlives every call the session makes on it. Loops that send check closing().
//
// Every entry point is noexcept: an exception inside closes the socket (1011).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "chat/agent.h"
#include "chat/events.h"
#include "chat/token_bucket.h"
#include "chat/ws.h"
#include "chat/ws_backend.h"

namespace chat::ws {

// API.md: a socket whose agent's token or role no longer stands (or never stood).
inline constexpr CloseCode kRevoked = static_cast<CloseCode>(4401);
// A customer socket whose conversation was deleted (chat_retention, `chatctl erase`; README
// "Retention and erasure"): the session ended, there is nothing left to resume (like HTTP 410).
inline constexpr CloseCode kErased = static_cast<CloseCode>(4410);

// What the session needs from its socket. Called on the loop only.
class Transport {
public:
    virtual ~Transport() = default;
    // Queues one whole frame for the client; nothing once closing. May start closing
    // (a client too slow to read its queue).
    virtual void send(std::string frame) = 0;
    // Sends a close frame; from then on closing() is true. A second close does nothing.
    virtual void close(CloseCode code, std::string_view reason) = 0;
    virtual bool closing() const = 0;
    // The session is authenticated: read the client's bytes from now on (on_bytes).
    virtual void start_reading() = 0;
};

struct SessionLimits {
    Limits frames;                      // the parser's caps on frames and messages
    std::size_t pending_max = 1000;     // live events held during the replay
    std::int64_t replay_page = 200;     // messages per replay page
    std::uint64_t grant_ttl_ms = 2000;  // an agent's write access, cached
    std::size_t grants_max = 16;        // conversations cached per socket
    std::uint32_t frames_rate = 20;     // client frames per second ...
    std::uint32_t frames_burst = 60;    // ... and at once
    std::uint32_t typing_rate = 3;      // typing frames per second ...
    std::uint32_t typing_burst = 3;     // ... and at once
};

class Session : public std::enable_shared_from_this<Session> {
    struct Private {};

public:
    // A customer socket whose session token was verified (`sid`), replaying from `after`.
    static std::shared_ptr<Session> customer(Transport& t, Backend& b, std::string sid, std::int64_t after,
                                             SessionLimits limits = {});
    // An agent socket; start(token) verifies its token.
    static std::shared_ptr<Session> agent(Transport& t, Backend& b, SessionLimits limits = {});

    Session(Private, Transport& t, Backend& b, bool agent, SessionLimits limits);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Once the host registered the socket: a customer starts reading and replaying, an
    // agent's `token` is verified as one of `site` (the request's chat_site; the transport
    // starts reading once it stands).
    void start(std::string_view token = {}, std::string_view site = limits::kSiteDefault) noexcept;
    // Bytes the client sent (after the handshake), at now_ms.
    void on_bytes(std::string_view bytes, std::uint64_t now_ms) noexcept;
    // One client message (as the parser gives them), at now_ms: spends from the frame
    // budget, then pings, close, typing, read.
    void on_message(const Message& m, std::uint64_t now_ms) noexcept;
    // An event this worker heard: delivered, held (replay in progress) or ignored.
    void on_event(const events::Event& e) noexcept;
    // The agent's standing re-read (nullptr: the agent no longer exists).
    void on_standing(const agent::Standing* now) noexcept;
    // These conversations were deleted: a customer session of one of them closes (4410),
    // an agent session forgets its write access to them.
    void on_ended(const std::unordered_set<std::string>& conversation_ids) noexcept;

    bool is_agent() const noexcept { return agent_; }
    bool authenticated() const noexcept { return authenticated_; }
    // Whether its socket is closing (nothing is sent or decided any more).
    bool closing() const { return transport_.closing(); }
    // The session id (customer) or the agent id (once authenticated).
    const std::string& principal() const noexcept { return principal_; }
    // Customers: the conversation it hears, empty until its replay found it.
    const std::string& conversation_id() const noexcept { return conversation_id_; }

private:
    struct Grant {
        std::string conversation_id;
        agent::WriteAccess access;
        std::uint64_t until = 0;
    };
    using Act = std::function<void(const agent::WriteAccess&)>;

    void on_principal(Result<agent::Principal> p);
    void replay();
    void replayed(Result<customer::Replay> res);
    void deliver(const events::Event& e);
    bool own_echo(const events::Event& e) const noexcept;
    void handle(const Message& m, std::uint64_t now_ms);
    void typing(const std::string& conversation_id, bool on, std::uint64_t now_ms);
    void read(const std::string& conversation_id, std::int64_t up_to_seq);
    void with_access(const std::string& conversation_id, std::uint64_t now_ms, Act act);
    void fail() noexcept;

    Transport& transport_;
    Backend& backend_;
    SessionLimits limits_;
    bool agent_;
    bool authenticated_ = false;
    std::string principal_;          // sid or agent id
    agent::Principal who_;           // agents
    std::string conversation_id_;    // customers: what they hear and write into
    std::string assigned_agent_id_;  // customers: routing facts of their typing
    std::string status_;
    std::string department_id_;      // (a queued chat of a department: only its members hear it)
    bool first_delivery(std::int64_t seq) noexcept;

    // Customers: which message.created went out. Two writes of one conversation may be
    // heard out of their commit order (two workers publish them, Redis keeps each
    // publisher's order only), so a message below the highest one sent may still be
    // due: last_seq_ is the highest sent, bit d of seen_ says whether last_seq_ - d was
    // (everything up to ?after= counts as had). A message older than the window (64)
    // counts as had: that far out of order it is a replayed one.
    std::int64_t last_seq_ = 0;
    std::uint64_t seen_ = ~std::uint64_t{0};
    std::string site_{limits::kSiteDefault};  // the socket's chat_site (start())
    bool replaying_ = false;
    std::vector<events::Event> pending_;
    Parser parser_;
    TokenBucket frames_;
    TokenBucket typing_;
    std::vector<Grant> grants_;
};

}  // namespace chat::ws
