// The test loop behaves as the module's loop does: level-triggered I/O, timers, posted callbacks.
#include <gtest/gtest.h>
#include <unistd.h>

#include "chat/epoll_loop.h"
#include "chat/result.h"

namespace {

TEST(EpollLoop, ReadableFdIsReportedUntilDrained) {
    chat::EpollLoop loop;
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    int calls = 0;
    auto w = loop.watch(p[0], [&](bool r, bool) {
        if (r) calls++;
    });
    w->want_read(true);
    ASSERT_EQ(write(p[1], "x", 1), 1);
    loop.run_once(100);
    loop.run_once(100);
    EXPECT_EQ(calls, 2);  // level-triggered: still readable
    char c;
    ASSERT_EQ(read(p[0], &c, 1), 1);
    loop.run_once(10);
    EXPECT_EQ(calls, 2);
    w.reset();
    close(p[0]);
    close(p[1]);
}

TEST(EpollLoop, TimerFiresOnceAndCancelStopsIt) {
    chat::EpollLoop loop;
    int fired = 0, cancelled = 0;
    auto t1 = loop.timer([&] { fired++; });
    auto t2 = loop.timer([&] { cancelled++; });
    t1->arm(5);
    t2->arm(5);
    t2->cancel();
    EXPECT_TRUE(loop.run_until([&] { return fired == 1; }, 1000));
    loop.run_once(20);
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(cancelled, 0);
    EXPECT_FALSE(t1->armed());
}

TEST(EpollLoop, PostedCallbackRunsOnNextIteration) {
    chat::EpollLoop loop;
    std::vector<int> order;
    loop.post([&] {
        order.push_back(1);
        loop.post([&] { order.push_back(2); });
    });
    EXPECT_TRUE(order.empty());
    EXPECT_TRUE(loop.run_until([&] { return order.size() == 2; }, 1000));
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(Result, ErrorCodesMapToApiNamesAndStatuses) {
    EXPECT_STREQ(chat::errc_name(chat::Errc::invalid_state), "invalid_state");
    EXPECT_EQ(chat::errc_http_status(chat::Errc::validation), 422);
    EXPECT_EQ(chat::errc_http_status(chat::Errc::unavailable), 503);
    chat::Result<int> r = chat::make_error(chat::Errc::not_found, "no such conversation");
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, chat::Errc::not_found);
}

}  // namespace
