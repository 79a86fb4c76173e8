// A token bucket on a caller-supplied millisecond clock: the per-socket limits on
// WebSocket client frames (a budget for all frames, a smaller one for typing).
#pragma once

#include <algorithm>
#include <cstdint>

namespace chat {

// Starts full (burst tokens) and refills at per_second tokens per second, never above
// burst. take() spends one token if there is one. Integer arithmetic in thousandths of
// a token, so any rate from 1/s up is exact; a clock that goes backwards refills nothing.
class TokenBucket {
public:
    constexpr TokenBucket(std::uint32_t per_second, std::uint32_t burst) noexcept
        : rate_(per_second), cap_(std::uint64_t{burst} * 1000), milli_(cap_) {}

    bool take(std::uint64_t now_ms) noexcept {
        if (started_ && now_ms > last_) milli_ = std::min(cap_, milli_ + (now_ms - last_) * rate_);
        if (!started_ || now_ms > last_) last_ = now_ms;
        started_ = true;
        if (milli_ < 1000) return false;
        milli_ -= 1000;
        return true;
    }

private:
    std::uint64_t rate_;   // thousandths of a token per millisecond = tokens per second
    std::uint64_t cap_;
    std::uint64_t milli_;
    std::uint64_t last_ = 0;
    bool started_ = false;
};

}  // namespace chat
