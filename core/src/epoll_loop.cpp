// Level-triggered epoll implementation of EventLoop, for everything that is not nginx.
#include "chat/epoll_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include <openssl/rand.h>

namespace chat {

struct EpollLoop::WatchState {
    EpollLoop* loop;
    int fd;
    bool read = false;
    bool write = false;
    bool registered = false;
    std::function<void(bool, bool)> cb;
};

struct EpollLoop::TimerState {
    EpollLoop* loop;
    std::function<void()> cb;
    bool armed = false;
    std::multimap<std::uint64_t, TimerState*>::iterator it;
};

class EpollWatch final : public IoWatch {
public:
    explicit EpollWatch(std::unique_ptr<EpollLoop::WatchState> s) : s_(std::move(s)) {}
    ~EpollWatch() override { s_->loop->remove(s_.get()); }
    void want_read(bool on) override {
        s_->read = on;
        s_->loop->update(s_.get());
    }
    void want_write(bool on) override {
        s_->write = on;
        s_->loop->update(s_.get());
    }

private:
    std::unique_ptr<EpollLoop::WatchState> s_;
};

class EpollTimer final : public Timer {
public:
    explicit EpollTimer(std::unique_ptr<EpollLoop::TimerState> s) : s_(std::move(s)) {}
    ~EpollTimer() override { cancel(); }
    void arm(std::uint64_t ms) override {
        cancel();
        s_->armed = true;
        s_->it = s_->loop->timers_.emplace(s_->loop->now_ms() + ms, s_.get());
    }
    void cancel() override {
        if (s_->armed) {
            s_->loop->timers_.erase(s_->it);
            s_->armed = false;
        }
    }
    bool armed() const override { return s_->armed; }

private:
    std::unique_ptr<EpollLoop::TimerState> s_;
};

EpollLoop::EpollLoop() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epfd_ < 0) throw std::runtime_error("epoll_create1 failed");
}

EpollLoop::~EpollLoop() {
    if (epfd_ >= 0) ::close(epfd_);
}

std::unique_ptr<IoWatch> EpollLoop::watch(int fd, std::function<void(bool, bool)> on_ready) {
    auto s = std::make_unique<WatchState>();
    s->loop = this;
    s->fd = fd;
    s->cb = std::move(on_ready);
    watches_[fd] = s.get();
    return std::make_unique<EpollWatch>(std::move(s));
}

void EpollLoop::update(WatchState* w) {
    epoll_event ev{};
    ev.events = (w->read ? EPOLLIN : 0u) | (w->write ? EPOLLOUT : 0u);
    ev.data.fd = w->fd;
    if (!w->registered) {
        if (ev.events == 0) return;
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, w->fd, &ev) == 0) w->registered = true;
        return;
    }
    epoll_ctl(epfd_, EPOLL_CTL_MOD, w->fd, &ev);
}

void EpollLoop::remove(WatchState* w) {
    if (w->registered) epoll_ctl(epfd_, EPOLL_CTL_DEL, w->fd, nullptr);
    auto it = watches_.find(w->fd);
    if (it != watches_.end() && it->second == w) watches_.erase(it);
}

std::unique_ptr<Timer> EpollLoop::timer(std::function<void()> on_fire) {
    auto s = std::make_unique<TimerState>();
    s->loop = this;
    s->cb = std::move(on_fire);
    return std::make_unique<EpollTimer>(std::move(s));
}

void EpollLoop::post(std::function<void()> fn) { posted_.push_back(std::move(fn)); }

std::uint64_t EpollLoop::now_ms() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

std::int64_t EpollLoop::wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void EpollLoop::random_bytes(std::span<std::byte> out) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
}

void EpollLoop::log(LogLevel level, std::string_view line) noexcept {
    if (log_sink_) {
        try {
            log_sink_(level, line);
        } catch (...) {
            // A test's sink failing must not unwind into the client that logged.
        }
        return;
    }
    static constexpr const char* names[] = {"error", "warn", "notice", "info"};
    std::fprintf(stderr, "chat: %s: %.*s\n", names[static_cast<int>(level)], static_cast<int>(line.size()),
                 line.data());
}

bool EpollLoop::run_once(int max_wait_ms) {
    if (!posted_.empty()) {
        auto batch = std::move(posted_);
        posted_.clear();
        for (auto& fn : batch) fn();
        max_wait_ms = 0;
    }
    bool interest = false;
    for (auto& [fd, w] : watches_)
        if (w->read || w->write) interest = true;
    if (!interest && timers_.empty() && posted_.empty()) return false;

    int wait = max_wait_ms;
    if (!timers_.empty()) {
        auto now = now_ms();
        auto due = timers_.begin()->first;
        int until = due <= now ? 0 : static_cast<int>(due - now);
        if (until < wait) wait = until;
    }
    if (!posted_.empty()) wait = 0;

    epoll_event evs[64];
    int n = epoll_wait(epfd_, evs, 64, wait);
    for (int i = 0; i < n; i++) {
        auto it = watches_.find(evs[i].data.fd);
        if (it == watches_.end()) continue;
        WatchState* w = it->second;
        bool r = (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && w->read;
        bool wr = (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && w->write;
        if (r || wr) w->cb(r, wr);  // may destroy w; evs of other fds stay valid
    }
    auto now = now_ms();
    while (!timers_.empty() && timers_.begin()->first <= now) {
        TimerState* t = timers_.begin()->second;
        timers_.erase(timers_.begin());
        t->armed = false;
        t->cb();
    }
    return true;
}

bool EpollLoop::run_until(const std::function<bool()>& pred, std::uint64_t timeout_ms) {
    auto deadline = now_ms() + timeout_ms;
    while (!pred()) {
        auto now = now_ms();
        if (now >= deadline) return false;
        run_once(static_cast<int>(std::min<std::uint64_t>(deadline - now, 50)));
    }
    return true;
}

}  // namespace chat
