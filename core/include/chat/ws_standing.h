// The periodic re-check of the agents with open sockets (API.md: a socket whose agent's
// token was revoked, or whose agent was deleted or lost a role, is closed with 4401; a
// promoted agent hears more at once), one query for all of a worker's agent sockets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "chat/ws_backend.h"

namespace chat::ws {

class Session;

class StandingCheck {
public:
    // A round every `every_ms` at most; a round whose answer is lost for `lost_ms` no
    // longer holds the next one back.
    explicit StandingCheck(std::uint64_t every_ms = 2000, std::uint64_t lost_ms = 30000);

    // Whether a round may start at now_ms.
    bool due(std::uint64_t now_ms) const noexcept;
    // Starts a round over `sessions` (the worker's open ones): the standing of the agents
    // of those that are authenticated, asked once, applies to exactly those sessions
    // (Session::on_standing), if they are still there when it comes. A session
    // authenticated after the question waits for the next round (the answer may predate
    // its token). Does nothing when no session is an authenticated agent's.
    void start(std::span<const std::shared_ptr<Session>> sessions, Backend& backend, std::uint64_t now_ms) noexcept;

private:
    struct State {
        bool running = false;
        std::optional<std::uint64_t> last;  // when the last round started
    };
    std::uint64_t every_ms_;
    std::uint64_t lost_ms_;
    std::shared_ptr<State> state_;  // completions hold a weak_ptr
};

}  // namespace chat::ws
