// A socket's bounded outbound queue: frames, the offset into the first, the overflow rule.
#include "chat/ws_outbox.h"

#include <utility>

namespace chat::ws {

bool Outbox::push(std::string frame) {
    push_control(std::move(frame));
    if (bytes_ <= max_bytes_) return true;
    if (offset_ > 0) {
        std::string partial = std::move(frames_[head_]);
        std::size_t offset = offset_;
        drop_all();
        offset_ = offset;
        bytes_ = partial.size();
        frames_.push_back(std::move(partial));  // fits: drop_all kept the vector's slots
    } else {
        drop_all();
    }
    return false;
}

void Outbox::push_control(std::string frame) {
    bytes_ += frame.size();
    frames_.push_back(std::move(frame));
}

std::string_view Outbox::unsent() const noexcept {
    if (empty()) return {};
    return std::string_view(frames_[head_]).substr(offset_);
}

void Outbox::sent(std::size_t n) noexcept {
    if (empty()) return;
    offset_ += n;
    if (offset_ < frames_[head_].size()) return;
    bytes_ -= frames_[head_].size();
    offset_ = 0;
    if (++head_ < frames_.size()) {
        frames_[head_ - 1] = std::string();  // its memory goes now, not when the queue drains
        // a queue that never drains must not grow by a slot per frame ever sent: once
        // half the slots are spent, the rest moves to the front (moves, no allocation)
        if (head_ >= kKeepSlots && head_ * 2 >= frames_.size()) {
            frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        return;
    }
    drop_all();
    if (frames_.capacity() > kKeepSlots) frames_ = std::vector<std::string>();  // noexcept: no allocation
}

// Empties the queue; the vector keeps its slots.
void Outbox::drop_all() noexcept {
    frames_.clear();
    head_ = 0;
    offset_ = 0;
    bytes_ = 0;
}

}  // namespace chat::ws
