// Delivery of a worker's events to its WebSocket sessions, by conversation (ws_hub.h).
#include "chat/ws_hub.h"

#include <algorithm>

namespace chat::ws {

std::vector<std::shared_ptr<Session>> Hub::agents() const noexcept {
    std::vector<std::shared_ptr<Session>> out;
    try {
        out.reserve(agents_.size());
        for (Session* s : agents_)
            if (auto p = s->weak_from_this().lock()) out.push_back(std::move(p));
    } catch (...) {
        out.clear();
    }
    return out;
}

void Hub::add(Session* s) {
    if (s->is_agent()) {
        agents_.insert(s);
        return;
    }
    customers_.emplace(s, std::string());
    unrouted_.insert(s);
    if (!s->conversation_id().empty()) file(s, s->conversation_id());
}

void Hub::remove(Session* s) noexcept {
    if (agents_.erase(s)) return;
    auto it = customers_.find(s);
    if (it == customers_.end()) return;
    if (it->second.empty()) {
        unrouted_.erase(s);
    } else if (auto b = by_conversation_.find(it->second); b != by_conversation_.end()) {
        std::erase(b->second, s);
        if (b->second.empty()) by_conversation_.erase(b);
    }
    customers_.erase(it);
}

// Files s under conversation_id (from wherever it was).
void Hub::file(Session* s, const std::string& conversation_id) {
    auto it = customers_.find(s);
    if (it == customers_.end() || it->second == conversation_id) return;
    if (it->second.empty()) {
        unrouted_.erase(s);
    } else if (auto b = by_conversation_.find(it->second); b != by_conversation_.end()) {
        std::erase(b->second, s);
        if (b->second.empty()) by_conversation_.erase(b);
    }
    it->second = conversation_id;
    by_conversation_[conversation_id].push_back(s);
}

bool Hub::listens(std::string_view conversation_id) const noexcept {
    if (!agents_.empty()) return true;
    if (conversation_id.empty()) return false;  // presence: customers never hear it
    return !unrouted_.empty() || by_conversation_.find(conversation_id) != by_conversation_.end();
}

void Hub::dispatch(const events::Event& e) noexcept {
    try {
        for (Session* s : agents_) s->on_event(e);
        if (e.conversation_id.empty()) return;  // presence: customers never hear it

        // the sessions of this conversation, and those not filed yet; a session that
        // learned (or changed) its conversation meanwhile is filed after the walk
        scratch_.clear();
        if (auto b = by_conversation_.find(e.conversation_id); b != by_conversation_.end())
            scratch_.insert(scratch_.end(), b->second.begin(), b->second.end());
        scratch_.insert(scratch_.end(), unrouted_.begin(), unrouted_.end());
        const std::vector<Session*> walk = scratch_;
        for (Session* s : walk) s->on_event(e);
        for (Session* s : walk) {
            const std::string& conv = s->conversation_id();
            if (!conv.empty() && customers_.count(s) && customers_[s] != conv) file(s, conv);
        }
    } catch (...) {
        // allocation failure while filing: the next event files it again
    }
}

void Hub::end(std::span<const std::string> conversation_ids) noexcept {
    try {
        const std::unordered_set<std::string> ids(conversation_ids.begin(), conversation_ids.end());
        scratch_.clear();
        scratch_.insert(scratch_.end(), agents_.begin(), agents_.end());
        for (const std::string& id : ids)
            if (auto b = by_conversation_.find(id); b != by_conversation_.end())
                scratch_.insert(scratch_.end(), b->second.begin(), b->second.end());
        // not filed yet, but their replay may have found the conversation already
        scratch_.insert(scratch_.end(), unrouted_.begin(), unrouted_.end());
        const std::vector<Session*> walk = scratch_;
        for (Session* s : walk) s->on_ended(ids);
    } catch (...) {
        // no memory for the set: those sockets stay open until their clients reconnect
        // (they hear nothing more of a deleted conversation)
    }
}

}  // namespace chat::ws
