// The sessions of one worker, indexed for delivery: an event goes to every agent session
// and to the customer sessions of its conversation only, not to every socket.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chat/events.h"
#include "chat/ws_session.h"

namespace chat::ws {

// The host adds a session once it started it and removes it before destroying it; the
// hub never owns or frees one. A customer session whose conversation is not known yet
// (its replay has not answered) hears every event with a conversation until it is, and
// is filed under its conversation at the next event. Sessions decide for themselves what
// they deliver (Session::on_event); the hub only spares them the events that cannot be
// theirs. on_event never frees a session (the host frees sockets only from its own
// events), so dispatch() may walk the index while sessions handle events.
class Hub {
public:
    void add(Session* s);
    void remove(Session* s) noexcept;
    void dispatch(const events::Event& e) noexcept;
    // These conversations were deleted: their customer sessions close, and every agent
    // session forgets them (Session::on_ended). Like dispatch(), it frees no session.
    void end(std::span<const std::string> conversation_ids) noexcept;

    // Whether dispatch() of an event of `conversation_id` ("": presence) would hand it to any
    // session: an agent's, one filed under that conversation, or one not filed yet.
    bool listens(std::string_view conversation_id) const noexcept;

    std::size_t size() const noexcept { return agents_.size() + customers_.size(); }
    // The agents' sessions (for StandingCheck::start); empty if out of memory.
    std::vector<std::shared_ptr<Session>> agents() const noexcept;
    // Customer sessions not yet filed under a conversation (for tests and /chat/status).
    std::size_t unrouted() const noexcept { return unrouted_.size(); }

private:
    void file(Session* s, const std::string& conversation_id);

    std::unordered_set<Session*> agents_;
    std::unordered_map<Session*, std::string> customers_;  // session -> where it is filed ("": unrouted)
    std::unordered_set<Session*> unrouted_;
    // looked up by a view too (listens(): the id read from a payload, not copied)
    struct IdHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view id) const noexcept { return std::hash<std::string_view>{}(id); }
    };
    std::unordered_map<std::string, std::vector<Session*>, IdHash, std::equal_to<>> by_conversation_;
    std::vector<Session*> scratch_;
};

}  // namespace chat::ws
