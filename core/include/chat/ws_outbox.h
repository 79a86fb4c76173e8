// A socket's outbound queue of whole frames, bounded in bytes: a client too slow to read
// is cut off (it resumes with after=), never buffered without end, never stalls the worker.
//
// An idle socket's queue is empty almost always (a frame is usually written whole at
// once), and a worker holds thousands of idle sockets: an empty Outbox owns no heap
// memory (a std::deque allocates its map and a 512-byte block even when empty), and a
// queue that drained keeps at most kKeepSlots slots of its vector.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chat::ws {

// The close reason of a socket whose Outbox overflowed (close code 1008).
inline constexpr std::string_view kTooSlow = "too slow; reconnect with after=";

// The host writes unsent() to its connection and reports what went out with sent().
class Outbox {
public:
    static constexpr std::size_t kMaxBytesDefault = 1024 * 1024;
    // Slots a drained queue keeps (a burst's vector is given back beyond this).
    static constexpr std::size_t kKeepSlots = 4;

    explicit Outbox(std::size_t max_bytes = kMaxBytesDefault) noexcept : max_bytes_(max_bytes) {}

    // Queues a frame. If the queue then holds more than max_bytes, everything queued is
    // dropped but a frame already partly written (so a close frame that follows it is
    // still a valid frame on the wire), and false is returned: the host closes the socket
    // (CloseCode::policy, kTooSlow).
    bool push(std::string frame);
    // Queues a control frame (ping, close) whatever the bound.
    void push_control(std::string frame);

    bool empty() const noexcept { return head_ == frames_.size(); }
    // Bytes queued, the unsent rest of the first frame included in full.
    std::size_t bytes() const noexcept { return bytes_; }
    // What is still to be written of the first frame; empty when nothing is queued.
    std::string_view unsent() const noexcept;
    // `n` bytes of unsent() were written (n <= unsent().size()).
    void sent(std::size_t n) noexcept;

private:
    void drop_all() noexcept;

    std::size_t max_bytes_;
    std::vector<std::string> frames_;  // queued frames are frames_[head_..]
    std::size_t head_ = 0;
    std::size_t offset_ = 0;  // bytes of frames_[head_] already written
    std::size_t bytes_ = 0;
};

}  // namespace chat::ws
