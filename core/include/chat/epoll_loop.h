// A small level-triggered epoll EventLoop for core's tests, benches and chatctl.
#pragma once

#include <map>
#include <vector>

#include "chat/event_loop.h"

namespace chat {

class EpollLoop final : public EventLoop {
public:
    EpollLoop();
    ~EpollLoop() override;
    EpollLoop(const EpollLoop&) = delete;
    EpollLoop& operator=(const EpollLoop&) = delete;

    std::unique_ptr<IoWatch> watch(int fd, std::function<void(bool, bool)> on_ready) override;
    std::unique_ptr<Timer> timer(std::function<void()> on_fire) override;
    void post(std::function<void()> fn) override;
    std::uint64_t now_ms() override;
    std::int64_t wall_ms() override;
    void random_bytes(std::span<std::byte> out) override;

    // Runs one iteration, waiting at most max_wait_ms. Returns false when idle
    // (no watch with interest, no timer, nothing posted).
    bool run_once(int max_wait_ms = 1000);
    // Runs until pred() is true or timeout_ms passes; returns pred().
    bool run_until(const std::function<bool()>& pred, std::uint64_t timeout_ms);

    // Internals shared with the watch/timer implementations.
    struct WatchState;
    struct TimerState;

private:
    friend class EpollWatch;
    friend class EpollTimer;
    void update(WatchState* w);
    void remove(WatchState* w);

    int epfd_ = -1;
    std::map<int, WatchState*> watches_;
    std::multimap<std::uint64_t, TimerState*> timers_;
    std::vector<std::function<void()>> posted_;
};

}  // namespace chat
