// Open agent sockets re-checked against their agent's standing (API.md: closed with 4401
// after logout, password change, deletion or the loss of a role).
#include <gtest/gtest.h>

#include "chat/agent.h"

namespace {

using chat::agent::Recheck;
using chat::agent::recheck;

TEST(AgentStanding, ASocketLivesOnlyWhileItsTokenAndRoleStand) {
    chat::agent::Principal p;
    p.agent_id = "a1";
    p.role = "supervisor";
    p.token_version = 4;
    chat::agent::Standing now{"a1", "supervisor", 4, false};
    EXPECT_EQ(recheck(p, &now), Recheck::keep);
    EXPECT_EQ(recheck(p, nullptr), Recheck::revoke);  // gone
    now.token_version = 5;                             // logout, password change
    EXPECT_EQ(recheck(p, &now), Recheck::revoke);
    now.token_version = 4;
    now.deleted = true;
    EXPECT_EQ(recheck(p, &now), Recheck::revoke);
    now.deleted = false;
    now.role = "agent";  // demoted
    EXPECT_EQ(recheck(p, &now), Recheck::revoke);
    now.role = "admin";  // promoted: sees more from now on
    EXPECT_EQ(recheck(p, &now), Recheck::promote);
}

// A socket stands on its token's site (chat_site): the grant taken away closes it.
TEST(AgentStanding, ASocketLivesOnlyWhileItsSiteIsGranted) {
    chat::agent::Principal p;
    p.agent_id = "a1";
    p.role = "agent";
    p.token_version = 1;
    p.site = "shop-2";
    chat::agent::Standing now{"a1", "agent", 1, false, {"default", "shop-2"}};
    EXPECT_EQ(recheck(p, &now), Recheck::keep);
    now.sites = {"default"};
    EXPECT_EQ(recheck(p, &now), Recheck::revoke);
    p.site = "default";
    EXPECT_EQ(recheck(p, &now), Recheck::keep);
}

}  // namespace
