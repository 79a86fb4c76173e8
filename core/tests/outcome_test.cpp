// An answer's body reuses the buffer the host gave back, empty, and a large one is not kept.
#include <gtest/gtest.h>

#include <string>

#include "chat/outcome.h"

namespace {

TEST(BodyRoom, TheNextBodyIsTheBufferGivenBackEmptied) {
    (void)chat::body_room(0);  // whatever another test of this thread left: none kept now
    std::string first = chat::body_room(2000);
    ASSERT_GE(first.capacity(), 2000u);
    first.assign(1500, 'x');
    const char* buffer = first.data();
    chat::recycle_body(first);
    EXPECT_TRUE(first.empty());
    std::string next = chat::body_room(100);
    EXPECT_EQ(next.data(), buffer);  // no new allocation
    EXPECT_TRUE(next.empty());
    EXPECT_GE(next.capacity(), 2000u);
    // none kept now: the one after is a new string
    std::string other = chat::body_room(3000);
    EXPECT_NE(other.data(), buffer);
    EXPECT_GE(other.capacity(), 3000u);
}

TEST(BodyRoom, ABufferThatGrewLargeIsNotKept) {
    (void)chat::body_room(0);
    std::string big = chat::body_room(1 << 20);
    big.assign(1 << 20, 'y');
    chat::recycle_body(big);
    EXPECT_EQ(big.size(), std::size_t(1) << 20);  // still the caller's, freed with it
    EXPECT_LT(chat::body_room(10).capacity(), std::size_t(1) << 20);
}

}  // namespace
