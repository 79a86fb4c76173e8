// Password hashes have the exact scrypt format, match OpenSSL's command line, and verify only the right password.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "chat/password.h"

namespace {

namespace pw = chat::password;

std::array<std::byte, 16> seq_salt() {
    std::array<std::byte, 16> s{};
    for (std::size_t i = 0; i < s.size(); i++) s[i] = static_cast<std::byte>(i);
    return s;
}

// `openssl kdf -keylen 32 -kdfopt pass:AgentPass123! -kdfopt hexsalt:000102030405060708090a0b0c0d0e0f
//  -kdfopt n:16384 -kdfopt r:8 -kdfopt p:5 -kdfopt maxmem_bytes:67108864 SCRYPT`
// printed 67:3C:25:38:FD:43:00:D9:9E:38:A7:D2:70:71:90:C7:55:15:F7:66:AA:FD:C9:BF:54:83:C0:F7:52:4E:46:0E
constexpr const char* kAgentHash =
    "scrypt$16384$8$5$AAECAwQFBgcICQoLDA0ODw==$ZzwlOP1DANmeOKfScHGQx1UV92aq/cm/VIPA91JORg4=";

TEST(Password, HashMatchesOpensslCommandLine) {
    const auto salt = seq_salt();
    EXPECT_EQ(pw::hash("AgentPass123!", salt), kAgentHash);
}

TEST(Password, VerifiesTheRightPasswordOnly) {
    EXPECT_TRUE(pw::verify("AgentPass123!", kAgentHash));
    EXPECT_FALSE(pw::verify("AgentPass123", kAgentHash));
    EXPECT_FALSE(pw::verify("agentPass123!", kAgentHash));
    EXPECT_FALSE(pw::verify("", kAgentHash));
}

TEST(Password, DifferentSaltsGiveDifferentHashes) {
    auto a = seq_salt();
    auto b = seq_salt();
    b[0] = std::byte{0xff};
    const std::string ha = pw::hash("correct horse", a);
    const std::string hb = pw::hash("correct horse", b);
    EXPECT_NE(ha, hb);
    EXPECT_TRUE(pw::verify("correct horse", ha));
    EXPECT_TRUE(pw::verify("correct horse", hb));
}

TEST(Password, ReadsParametersFromTheString) {
    // RFC 7914 §12 vector: P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64.
    EXPECT_TRUE(pw::verify("password",
                           "scrypt$1024$8$16$TmFDbA==$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG/"
                           "xCSedmDDaxyevuUqD7m2DYMvfoswGQA=="));
    EXPECT_FALSE(pw::verify("passwore",
                            "scrypt$1024$8$16$TmFDbA==$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG/"
                            "xCSedmDDaxyevuUqD7m2DYMvfoswGQA=="));
}

TEST(Password, MalformedOrOutOfBoundsHashesAreFalse) {
    const std::string salt = "AAECAwQFBgcICQoLDA0ODw==";
    const std::string key = "ZzwlOP1DANmeOKfScHGQx1UV92aq/cm/VIPA91JORg4=";
    const std::string bad[] = {
        "",
        "scrypt",
        "bcrypt$16384$8$5$" + salt + "$" + key,
        "scrypt$16384$8$5$" + salt,
        "scrypt$16384$8$5$" + salt + "$",
        "scrypt$16384$8$5$" + salt + "$" + key + "$",
        "scrypt$16384$8$5$" + salt + "$" + key + "$x",
        "scrypt$16385$8$5$" + salt + "$" + key,      // N not a power of two
        "scrypt$1$8$5$" + salt + "$" + key,          // N too small
        "scrypt$2097152$8$5$" + salt + "$" + key,    // N > 2^20
        "scrypt$1048576$8$5$" + salt + "$" + key,    // in bounds but needs 1 GiB > ceiling
        "scrypt$16384$17$5$" + salt + "$" + key,     // r > 16
        "scrypt$16384$0$5$" + salt + "$" + key,
        "scrypt$16384$8$17$" + salt + "$" + key,     // p > 16
        "scrypt$16384$8$0$" + salt + "$" + key,
        "scrypt$016384$8$5$" + salt + "$" + key,
        "scrypt$+16384$8$5$" + salt + "$" + key,
        "scrypt$-16384$8$5$" + salt + "$" + key,
        "scrypt$99999999999999999999999$8$5$" + salt + "$" + key,
        "scrypt$16384$8$5$" + salt + "$" + "ZzwlOP1DANmeOKfScHGQx1UV92aq_cm_VIPA91JORg4",  // url alphabet
        "scrypt$16384$8$5$" + salt + "$" + "Zzwl",   // key too short
        "scrypt$16384$8$5$AA==$" + key,              // salt too short
        "scrypt$16384$8$5$!!!!$" + key,
        "scrypt$16384$8$5$" + salt + "$" + std::string(600, 'A'),
    };
    for (const std::string& h : bad) EXPECT_FALSE(pw::verify("AgentPass123!", h)) << h;
}

}  // namespace
