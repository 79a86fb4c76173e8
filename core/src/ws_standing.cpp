// chat::ws::StandingCheck: one query re-reads the standing of every agent with an open socket.
#include "chat/ws_standing.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/ws_session.h"

namespace chat::ws {

StandingCheck::StandingCheck(std::uint64_t every_ms, std::uint64_t lost_ms)
    : every_ms_(every_ms), lost_ms_(lost_ms), state_(std::make_shared<State>()) {}

bool StandingCheck::due(std::uint64_t now_ms) const noexcept {
    if (!state_->last) return true;
    std::uint64_t since = now_ms - *state_->last;
    return (!state_->running || since > lost_ms_) && since >= every_ms_;
}

void StandingCheck::start(std::span<const std::shared_ptr<Session>> sessions, Backend& backend,
                          std::uint64_t now_ms) noexcept {
    try {
        std::vector<std::string> ids;
        std::vector<std::weak_ptr<Session>> asked;
        for (const auto& s : sessions) {
            if (!s || !s->is_agent() || !s->authenticated() || s->closing()) continue;
            ids.push_back(s->principal());
            asked.push_back(s);
        }
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        if (ids.empty()) return;

        state_->running = true;
        state_->last = now_ms;
        backend.standing(ids, [state = std::weak_ptr<State>(state_),
                               asked = std::move(asked)](Result<std::vector<agent::Standing>> res) {
            if (auto st = state.lock()) st->running = false;
            if (!res.ok()) return;  // Postgres down: the next round
            try {
                std::unordered_map<std::string_view, const agent::Standing*> by_id;
                for (const agent::Standing& s : res.value()) by_id.emplace(s.agent_id, &s);
                for (const auto& weak : asked) {
                    auto s = weak.lock();
                    if (!s) continue;
                    auto f = by_id.find(s->principal());
                    s->on_standing(f == by_id.end() ? nullptr : f->second);
                }
            } catch (...) {
                // no memory for the map: the next round
            }
        });
    } catch (...) {
        state_->running = false;
    }
}

}  // namespace chat::ws
