// A socket is pinged after 30 s of silence (at most every 30 s), closed as dead after 75 s, closed 1001 when the worker exits, and given up 5 s after its close started.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "chat/ws_liveness.h"

namespace {

using namespace chat::ws;

TEST(WsLiveness, ASocketHeardFromRecentlyNeedsNothing) {
    Liveness l(1000);
    EXPECT_EQ(l.tick(1000, false), Due::nothing);
    EXPECT_EQ(l.tick(31000, false), Due::nothing);  // exactly 30 s: not yet
}

TEST(WsLiveness, SilencePast30sPingsOncePer30s) {
    Liveness l(0);
    EXPECT_EQ(l.tick(30001, false), Due::ping);
    EXPECT_EQ(l.tick(31001, false), Due::nothing);
    EXPECT_EQ(l.tick(60001, false), Due::nothing);  // 30 s since the ping: not yet
    EXPECT_EQ(l.tick(60002, false), Due::ping);
}

TEST(WsLiveness, HearingTheClientPutsOffThePing) {
    Liveness l(0);
    l.heard(20000);
    EXPECT_EQ(l.tick(40000, false), Due::nothing);
    EXPECT_EQ(l.tick(50001, false), Due::ping);
}

TEST(WsLiveness, SilencePast75sIsDeadEvenRightAfterAPing) {
    Liveness l(0);
    EXPECT_EQ(l.tick(75000, false), Due::ping);
    EXPECT_EQ(l.tick(75001, false), Due::dead);
}

TEST(WsLiveness, AnExitingWorkerClosesOpenSocketsFirst) {
    Liveness l(0);
    EXPECT_EQ(l.tick(0, true), Due::going_away);
    EXPECT_EQ(l.tick(100000, true), Due::going_away);
}

TEST(WsLiveness, AClosingSocketOnlyWaitsForItsClose) {
    Liveness l(0);
    l.closing(100000);
    EXPECT_EQ(l.tick(100000, true), Due::nothing);  // not closed twice
    EXPECT_EQ(l.tick(104999, false), Due::nothing);
    EXPECT_EQ(l.tick(105000, false), Due::give_up);
}

TEST(WsLiveness, ASecondCloseKeepsTheFirstsTime) {
    Liveness l(0);
    l.closing(1000);
    l.closing(5000);
    EXPECT_EQ(l.tick(6000, false), Due::give_up);
}

TEST(WsLiveness, TimingsAreConfigurable) {
    Liveness l(0, Timing{10, 20, 5});
    EXPECT_EQ(l.tick(11, false), Due::ping);
    EXPECT_EQ(l.tick(21, false), Due::dead);
}

TEST(WsLiveness, AClockThatWrapsIsReadUnsigned) {
    const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
    Liveness l(top - 10);
    EXPECT_EQ(l.tick(5, false), Due::nothing);  // 16 ms later
    EXPECT_EQ(l.tick(30000, false), Due::ping);
}

}  // namespace
