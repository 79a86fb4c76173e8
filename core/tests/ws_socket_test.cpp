// A socket queues and flushes what its session sends, closes once with a close frame, closes a client too slow to read (1008), and its tick pings, closes dead peers and exiting workers' sockets, and gives up on a close that does not get through.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "chat/ws_socket.h"

namespace {

using namespace chat::ws;

struct FakeSocket final : Socket {
    explicit FakeSocket(std::size_t out_max = Outbox::kMaxBytesDefault) : Socket(0, out_max) {}

    std::uint64_t now = 0;
    int flushes = 0;
    std::vector<std::string> wire;  // frames flushed, whole

    void flush() override {
        flushes++;
        while (!out().empty()) {
            wire.emplace_back(out().unsent());
            out().sent(out().unsent().size());
        }
    }
    std::uint64_t now_ms() const override { return now; }
    void start_reading() override {}
};

TEST(WsSocket, SentFramesAreQueuedAndFlushed) {
    FakeSocket s;
    s.send(frame_text("hi"));
    ASSERT_EQ(s.wire.size(), 1u);
    EXPECT_EQ(s.wire[0], frame_text("hi"));
    EXPECT_FALSE(s.closing());
}

TEST(WsSocket, CloseSendsOneCloseFrameAndNothingAfterIt) {
    FakeSocket s;
    s.close(CloseCode::normal, "bye");
    s.close(CloseCode::internal, "again");
    s.send(frame_text("late"));
    ASSERT_EQ(s.wire.size(), 1u);
    EXPECT_EQ(s.wire[0], frame_close(CloseCode::normal, "bye"));
    EXPECT_TRUE(s.closing());
}

TEST(WsSocket, AClientTooSlowToReadIsClosed1008) {
    FakeSocket s(10);
    s.out().push(std::string(8, 'a'));  // queued, not flushed: the client does not read
    s.send(std::string(8, 'b'));
    EXPECT_TRUE(s.closing());
    ASSERT_EQ(s.wire.size(), 1u);  // the queue was dropped: only the close goes out
    EXPECT_EQ(s.wire[0], frame_close(CloseCode::policy, kTooSlow));
}

TEST(WsSocket, TheTickPingsASilentClient) {
    FakeSocket s;
    EXPECT_EQ(s.tick(30001, false), Socket::Tick::open);
    ASSERT_EQ(s.wire.size(), 1u);
    EXPECT_EQ(s.wire[0], frame_ping("ping"));
}

TEST(WsSocket, TheTickClosesADeadPeer) {
    FakeSocket s;
    s.heard(10);
    EXPECT_EQ(s.tick(75011, false), Socket::Tick::closing);
    ASSERT_EQ(s.wire.size(), 1u);
    EXPECT_EQ(s.wire[0], frame_close(CloseCode::policy, "ping timeout"));
}

TEST(WsSocket, TheTickClosesEverySocketOfAnExitingWorker) {
    FakeSocket s;
    EXPECT_EQ(s.tick(0, true), Socket::Tick::closing);
    ASSERT_EQ(s.wire.size(), 1u);
    EXPECT_EQ(s.wire[0], frame_close(CloseCode::going_away, "server restarting"));
}

TEST(WsSocket, TheTickGivesUpOnACloseThatDoesNotGetThrough) {
    FakeSocket s;
    s.now = 1000;
    s.close(CloseCode::normal, "");
    EXPECT_EQ(s.tick(5999, true), Socket::Tick::closing);
    EXPECT_EQ(s.tick(6000, false), Socket::Tick::give_up);
    EXPECT_EQ(s.wire.size(), 1u);
}

TEST(WsSocket, AnEndedSocketSendsNothing) {
    FakeSocket s;
    s.end();
    s.send(frame_text("x"));
    s.close(CloseCode::normal, "");
    EXPECT_TRUE(s.wire.empty());
    EXPECT_EQ(s.flushes, 0);
}

}  // namespace
