// A small level-triggered epoll EventLoop for core's tests (chatctl is synchronous and needs none).
#pragma once

#include <functional>
#include <map>
#include <string_view>
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
    // To stderr ("chat: <level>: <line>"), or to the sink set below.
    void log(LogLevel level, std::string_view line) noexcept override;

    // Tests capture log lines here; an empty function restores stderr.
    using LogSink = std::function<void(LogLevel, std::string_view)>;
    void set_log_sink(LogSink sink) { log_sink_ = std::move(sink); }

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
    LogSink log_sink_;
};

}  // namespace chat
