// chat::ws::Session: the rules of one WebSocket (authentication, visibility, replay, commands).
#include "chat/ws_session.h"

#include <utility>

#include "chat/customer.h"
#include "chat/json.h"

namespace chat::ws {

namespace {

// What a typing frame decided: its event, and nothing else to carry out.
Outcome heard(events::Event e) {
    Outcome o;
    o.events.push_back(std::move(e));
    return o;
}

}  // namespace

std::shared_ptr<Session> Session::customer(Transport& t, Backend& b, std::string sid, std::int64_t after,
                                           SessionLimits limits) {
    auto s = std::make_shared<Session>(Private{}, t, b, false, limits);
    s->principal_ = std::move(sid);
    s->authenticated_ = true;
    s->last_seq_ = after;
    s->replaying_ = true;
    return s;
}

std::shared_ptr<Session> Session::agent(Transport& t, Backend& b, SessionLimits limits) {
    return std::make_shared<Session>(Private{}, t, b, true, limits);
}

Session::Session(Private, Transport& t, Backend& b, bool agent, SessionLimits limits)
    : transport_(t),
      backend_(b),
      limits_(limits),
      agent_(agent),
      parser_(limits.frames),
      frames_(limits.frames_rate, limits.frames_burst),
      typing_(limits.typing_rate, limits.typing_burst) {}

void Session::fail() noexcept {
    try {
        transport_.close(CloseCode::internal, "internal error");
    } catch (...) {
    }
}

void Session::start(std::string_view token, std::string_view site) noexcept {
    try {
        site_ = std::string(site);
        if (agent_) {
            backend_.authenticate(token, site, [weak = weak_from_this()](Result<agent::Principal> p) {
                if (auto self = weak.lock()) self->on_principal(std::move(p));
            });
            return;
        }
        transport_.start_reading();  // what the client sent behind its handshake, too
        replay();
    } catch (...) {
        fail();
    }
}

void Session::on_principal(Result<agent::Principal> p) {
    try {
        if (transport_.closing()) return;
        if (!p.ok()) {
            if (p.error().code == Errc::unauthorized)
                transport_.close(kRevoked, "unauthorized");
            else
                transport_.close(CloseCode::internal, "try again later");
            return;
        }
        who_ = std::move(p).value();
        principal_ = who_.agent_id;
        authenticated_ = true;
        transport_.start_reading();  // only now is anything the client sent read
    } catch (...) {
        fail();
    }
}

void Session::on_bytes(std::string_view bytes, std::uint64_t now_ms) noexcept {
    try {
        if (!authenticated_ || transport_.closing()) return;
        auto out = parser_.feed(bytes);
        for (const Message& m : out.messages) {
            if (transport_.closing()) return;
            on_message(m, now_ms);
        }
        if (out.fail) transport_.close(*out.fail, out.reason);
    } catch (...) {
        fail();
    }
}

void Session::on_message(const Message& m, std::uint64_t now_ms) noexcept {
    try {
        if (!authenticated_ || transport_.closing()) return;
        if (!frames_.take(now_ms)) {
            transport_.close(CloseCode::policy, "too many frames");
            return;
        }
        handle(m, now_ms);
    } catch (...) {
        fail();
    }
}

// One client frame of an authenticated session that had budget for it.
void Session::handle(const Message& m, std::uint64_t now_ms) {
    switch (m.opcode) {
        case Opcode::ping:
            return transport_.send(frame_pong(m.payload));
        case Opcode::pong:
            return;
        case Opcode::close:
            return transport_.close(CloseCode::normal, "");
        case Opcode::binary:
            return transport_.close(CloseCode::unsupported, "text frames only");
        default:
            break;
    }

    auto v = json::parse(m.payload);
    const std::string* type = v.ok() ? v.value().find_string("type") : nullptr;
    if (!type) {
        return transport_.send(frame_text(R"({"type":"error","data":{"code":"invalid_json",)"
                                          R"("message":"expected a JSON object with a type"}})"));
    }
    if (*type == "ping") return transport_.send(frame_text(R"({"type":"pong"})"));
    if (*type != "typing" && *type != "read") return;

    // API.md: an agent names the conversation, a customer writes into its own
    std::string conv = conversation_id_;
    if (agent_) {
        const std::string* c = v.value().find_string("conversation_id");
        if (!c || !customer::is_uuid(*c)) return;
        conv = *c;
    }

    if (*type == "typing") {
        const json::Value* on = v.value().find("typing");
        return typing(conv, on && on->as_bool().value_or(false), now_ms);
    }
    if (auto up = v.value().find_int("up_to_seq")) read(conv, *up);
}

void Session::typing(const std::string& conv, bool on, std::uint64_t now_ms) {
    if (!typing_.take(now_ms)) return;  // excess typing is dropped
    if (!agent_) {
        events::Event e = events::typing(conv, assigned_agent_id_, events::Sender::customer, on, status_, site_);
        e.department_id = department_id_;
        backend_.apply(heard(std::move(e)));
        return;
    }
    // API.md: only into conversations the agent may write to
    // (write access is asked on the socket's site: the conversation is of that site)
    with_access(conv, now_ms, [backend = &backend_, conv, on, site = who_.site](const agent::WriteAccess& a) {
        if (a.allowed && a.status == "agent")
            backend->apply(heard(events::typing(conv, a.assigned_agent_id, events::Sender::agent, on, a.status, site)));
    });
}

// A read is a committed write: its effects are applied even if the socket went away meanwhile.
// The frame runs the same use case as the REST read (customer::Service::mark_read,
// agent::Service::read) and hands the host its whole Outcome, as the REST read's is applied:
// the cache effect (read_at and unread_count changed in the cached conversation) and the
// events (events::from_read: none when it marked nothing; for an agent also
// conversation.updated with the agent side's unread_count). Only the answer is not sent.
void Session::read(const std::string& conv, std::int64_t up_to_seq) {
    std::string body = R"({"up_to_seq":)" + std::to_string(up_to_seq) + "}";
    auto apply = [backend = &backend_](Result<Outcome> res) {
        if (res.ok()) backend->apply(std::move(res).value());
    };
    if (!agent_) return backend_.customer_read(principal_, body, site_, std::move(apply));
    // chat_agent_read() refuses conversations the agent may not write to
    backend_.agent_read(who_, conv, body, std::move(apply));
}

// Runs `act` once the agent's write access to a conversation is known: from the short-lived
// cache, or after asking (the answer is cached from the time of the question, so it never
// lives longer than grant_ttl_ms; a session gone or closing meanwhile does nothing).
void Session::with_access(const std::string& conv, std::uint64_t now_ms, Act act) {
    for (auto it = grants_.begin(); it != grants_.end();) {
        if (it->until <= now_ms) {
            it = grants_.erase(it);
            continue;
        }
        if (it->conversation_id == conv) return act(it->access);
        ++it;
    }
    backend_.write_access(
        who_, conv, [weak = weak_from_this(), conv, act = std::move(act), now_ms](Result<agent::WriteAccess> res) {
            auto self = weak.lock();
            if (!self || !res.ok()) return;
            try {
                if (self->transport_.closing()) return;
                if (self->grants_.size() >= self->limits_.grants_max) self->grants_.erase(self->grants_.begin());
                self->grants_.push_back({conv, res.value(), now_ms + self->limits_.grant_ttl_ms});
                act(res.value());
            } catch (...) {
                self->fail();
            }
        });
}

void Session::on_event(const events::Event& e) noexcept {
    try {
        if (transport_.closing()) return;
        if (!agent_ && replaying_) {
            if (pending_.size() >= limits_.pending_max) {
                transport_.close(CloseCode::internal, "overloaded; reconnect");
                return;
            }
            pending_.push_back(e);
            return;
        }
        deliver(e);
    } catch (...) {
        fail();
    }
}

bool Session::own_echo(const events::Event& e) const noexcept {
    if (e.type != events::Type::typing && e.type != events::Type::read) return false;
    return e.sender == (agent_ ? events::Sender::agent : events::Sender::customer);
}

void Session::deliver(const events::Event& e) {
    if (own_echo(e)) return;

    if (agent_) {
        // what GET /agent/conversations/{id} would show them
        if (authenticated_ && events::visible_to_agent(e, principal_, who_.role, who_.site, who_.departments)) {
            std::string mine;  // its Conversation with their side's unread_count
            transport_.send(frame_text(events::json_for_agents(e, mine)));
        }
        return;
    }

    if (e.conversation_id.empty() || e.conversation_id != conversation_id_) return;
    if (!events::customer_may_hear(e.type)) return;  // a private note
    // the routing facts of the customer's own typing and read frames
    if (!e.status.empty()) {
        status_ = e.status;
        assigned_agent_id_ = e.assigned_agent_id;
        // conversation events carry the department; typing and read of the agent do not
        if (e.type == events::Type::conversation_updated || e.type == events::Type::message_created)
            department_id_ = e.department_id;
    }
    // replayed already, or delivered twice
    if (e.type == events::Type::message_created && !first_delivery(e.seq)) return;
    transport_.send(frame_text(e.json));
}

// Whether message `seq` is new to the client; marks it sent (see seen_).
bool Session::first_delivery(std::int64_t seq) noexcept {
    constexpr std::int64_t kWindow = 64;
    if (seq > last_seq_) {
        std::int64_t d = seq - last_seq_;
        seen_ = d >= kWindow ? 0 : seen_ << d;
        seen_ |= 1;
        last_seq_ = seq;
        return true;
    }
    std::int64_t d = last_seq_ - seq;
    if (d >= kWindow) return false;
    std::uint64_t bit = std::uint64_t{1} << d;
    if (seen_ & bit) return false;
    seen_ |= bit;
    return true;
}

// The customer's replay: every message after last_seq, a page at a time, then the live
// events that waited.
void Session::replay() {
    backend_.replay(principal_, last_seq_, limits_.replay_page,
                    [weak = weak_from_this()](Result<customer::Replay> res) {
                        if (auto self = weak.lock()) self->replayed(std::move(res));
                    });
}

void Session::replayed(Result<customer::Replay> res) {
    try {
        if (transport_.closing()) return;
        if (!res.ok()) {
            // no conversation at all (erased, or deleted by retention): nothing to resume
            transport_.close(res.error().code == Errc::not_found ? kErased : CloseCode::internal,
                             res.error().message);
            return;
        }

        const auto& events = res.value().events;
        std::int64_t last = 0;
        std::int64_t total = res.value().last_seq;

        for (const events::Event& e : events) {
            if (e.type == events::Type::conversation_updated) {
                conversation_id_ = e.conversation_id;
                assigned_agent_id_ = e.assigned_agent_id;
                status_ = e.status;
                department_id_ = e.department_id;
            }
        }
        for (const events::Event& e : events) {
            if (transport_.closing()) return;
            if (e.type == events::Type::message_created) last = e.seq;
            deliver(e);
        }
        if (transport_.closing()) return;
        if (last && last < total) return replay();  // the next page

        replaying_ = false;
        auto pending = std::exchange(pending_, {});
        for (const events::Event& e : pending) {
            if (transport_.closing()) return;
            deliver(e);
        }
    } catch (...) {
        fail();
    }
}

void Session::on_standing(const agent::Standing* now) noexcept {
    try {
        if (!agent_ || !authenticated_ || transport_.closing()) return;
        switch (agent::recheck(who_, now)) {
            case agent::Recheck::keep:
                who_.departments = now->departments;  // joined or left a department: its queue
                break;
            case agent::Recheck::promote:  // sees more from now on
                who_.role = now->role;
                who_.departments = now->departments;
                grants_.clear();
                break;
            case agent::Recheck::revoke:
                transport_.close(kRevoked, "token revoked or role changed");
                break;
        }
    } catch (...) {
        fail();
    }
}

void Session::on_ended(const std::unordered_set<std::string>& conversation_ids) noexcept {
    try {
        if (transport_.closing()) return;
        if (agent_) {
            std::erase_if(grants_, [&](const Grant& g) { return conversation_ids.count(g.conversation_id) > 0; });
            return;
        }
        // a session still replaying may not know its conversation yet: its replay finds none
        if (!conversation_id_.empty() && conversation_ids.count(conversation_id_))
            transport_.close(kErased, "conversation deleted");
    } catch (...) {
        fail();
    }
}

}  // namespace chat::ws
