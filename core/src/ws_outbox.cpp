// A socket's bounded outbound queue: frames, the offset into the first, the overflow rule.
#include "chat/ws_outbox.h"

#include <utility>

namespace chat::ws {

bool Outbox::push(std::string frame) {
    push_control(std::move(frame));
    if (bytes_ <= max_bytes_) return true;
    if (offset_ > 0) {
        std::string partial = std::move(frames_.front());
        frames_.clear();
        bytes_ = partial.size();
        frames_.push_back(std::move(partial));
    } else {
        frames_.clear();
        bytes_ = 0;
    }
    return false;
}

void Outbox::push_control(std::string frame) {
    bytes_ += frame.size();
    frames_.push_back(std::move(frame));
}

std::string_view Outbox::unsent() const noexcept {
    if (frames_.empty()) return {};
    return std::string_view(frames_.front()).substr(offset_);
}

void Outbox::sent(std::size_t n) noexcept {
    if (frames_.empty()) return;
    offset_ += n;
    if (offset_ >= frames_.front().size()) {
        bytes_ -= frames_.front().size();
        frames_.pop_front();
        offset_ = 0;
    }
}

}  // namespace chat::ws
