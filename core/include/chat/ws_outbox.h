// A socket's outbound queue of whole frames, bounded in bytes: a client too slow to read
// is cut off (it resumes with after=), never buffered without end, never stalls the worker.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

namespace chat::ws {

// The close reason of a socket whose Outbox overflowed (close code 1008).
inline constexpr std::string_view kTooSlow = "too slow; reconnect with after=";

// The host writes unsent() to its connection and reports what went out with sent().
class Outbox {
public:
    static constexpr std::size_t kMaxBytesDefault = 1024 * 1024;

    explicit Outbox(std::size_t max_bytes = kMaxBytesDefault) noexcept : max_bytes_(max_bytes) {}

    // Queues a frame. If the queue then holds more than max_bytes, everything queued is
    // dropped but a frame already partly written (so a close frame that follows it is
    // still a valid frame on the wire), and false is returned: the host closes the socket
    // (CloseCode::policy, kTooSlow).
    bool push(std::string frame);
    // Queues a control frame (ping, close) whatever the bound.
    void push_control(std::string frame);

    bool empty() const noexcept { return frames_.empty(); }
    // Bytes queued, the unsent rest of the first frame included in full.
    std::size_t bytes() const noexcept { return bytes_; }
    // What is still to be written of the first frame; empty when nothing is queued.
    std::string_view unsent() const noexcept;
    // `n` bytes of unsent() were written (n <= unsent().size()).
    void sent(std::size_t n) noexcept;

private:
    std::size_t max_bytes_;
    std::deque<std::string> frames_;
    std::size_t offset_ = 0;  // bytes of frames_.front() already written
    std::size_t bytes_ = 0;
};

}  // namespace chat::ws
