// A socket's outbound queue hands out frames in order and partly, counts its bytes, and past its bound drops all but a frame already on the wire.
#include <gtest/gtest.h>

#include <string>

#include "chat/ws_outbox.h"

namespace {

using namespace chat::ws;

TEST(WsOutbox, FramesGoOutInOrderAndInPieces) {
    Outbox o;
    EXPECT_TRUE(o.empty());
    EXPECT_EQ(o.unsent(), "");
    EXPECT_TRUE(o.push("abc"));
    EXPECT_TRUE(o.push("de"));
    EXPECT_EQ(o.bytes(), 5u);
    EXPECT_EQ(o.unsent(), "abc");
    o.sent(2);
    EXPECT_EQ(o.unsent(), "c");
    EXPECT_EQ(o.bytes(), 5u);  // the first frame counts until it is out
    o.sent(1);
    EXPECT_EQ(o.unsent(), "de");
    EXPECT_EQ(o.bytes(), 2u);
    o.sent(2);
    EXPECT_TRUE(o.empty());
    EXPECT_EQ(o.bytes(), 0u);
}

TEST(WsOutbox, UpToTheBoundEverythingIsKept) {
    Outbox o(10);
    EXPECT_TRUE(o.push(std::string(6, 'a')));
    EXPECT_TRUE(o.push(std::string(4, 'b')));
    EXPECT_EQ(o.bytes(), 10u);
}

TEST(WsOutbox, PastTheBoundTheQueueIsDropped) {
    Outbox o(10);
    EXPECT_TRUE(o.push(std::string(6, 'a')));
    EXPECT_FALSE(o.push(std::string(5, 'b')));
    EXPECT_TRUE(o.empty());
    EXPECT_EQ(o.bytes(), 0u);
}

TEST(WsOutbox, PastTheBoundAFramePartlyWrittenStays) {
    Outbox o(10);
    EXPECT_TRUE(o.push("aaaaaa"));
    EXPECT_TRUE(o.push("bb"));
    o.sent(2);
    EXPECT_FALSE(o.push("ccccc"));
    EXPECT_EQ(o.unsent(), "aaaa");
    EXPECT_EQ(o.bytes(), 6u);
    o.push_control("close");  // the close frame follows a whole frame
    o.sent(4);
    EXPECT_EQ(o.unsent(), "close");
}

TEST(WsOutbox, ControlFramesIgnoreTheBound) {
    Outbox o(3);
    o.push_control("ping!");
    EXPECT_EQ(o.bytes(), 5u);
    EXPECT_EQ(o.unsent(), "ping!");
}

TEST(WsOutbox, TheDefaultBoundIsOneMebibyte) {
    Outbox o;
    EXPECT_TRUE(o.push(std::string(Outbox::kMaxBytesDefault, 'x')));
    EXPECT_FALSE(o.push("y"));
}

TEST(WsOutbox, AQueueThatNeverDrainsKeepsItsOrderAndFewSlots) {
    Outbox o;
    std::size_t next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; round++) {
        EXPECT_TRUE(o.push(std::to_string(next_in++)));
        EXPECT_TRUE(o.push(std::to_string(next_in++)));
        EXPECT_EQ(o.unsent(), std::to_string(next_out));
        o.sent(o.unsent().size());
        next_out++;
    }
    // 1000 frames still queued, in order
    EXPECT_EQ(o.bytes(), [&] {
        std::size_t b = 0;
        for (std::size_t i = next_out; i < next_in; i++) b += std::to_string(i).size();
        return b;
    }());
    while (!o.empty()) {
        EXPECT_EQ(o.unsent(), std::to_string(next_out++));
        o.sent(o.unsent().size());
    }
    EXPECT_EQ(next_out, next_in);
    EXPECT_EQ(o.bytes(), 0u);
}

TEST(WsOutbox, ADrainedQueueStartsOverEmpty) {
    Outbox o;
    for (int i = 0; i < 100; i++) EXPECT_TRUE(o.push("frame"));
    while (!o.empty()) o.sent(2);
    EXPECT_EQ(o.unsent(), "");
    EXPECT_TRUE(o.push("next"));
    EXPECT_EQ(o.unsent(), "next");
    EXPECT_EQ(o.bytes(), 4u);
}

}  // namespace
