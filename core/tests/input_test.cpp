// The input rules every use case shares (chat/input.h): here, the email addresses POST
// /identify accepts.
#include <gtest/gtest.h>

#include <string>

#include "chat/input.h"
#include "chat/limits.h"

namespace {

using chat::input::valid_email;

TEST(Input, AnEmailAddressAShopCanWriteToIsValid) {
    for (const char* ok : {"ana@example.com", "ana.lima+shop@mail.example.co.uk", "a@b.c", "A_B-1@EXAMPLE.ORG",
                           "x@sub-domain.example.com"})
        EXPECT_TRUE(valid_email(ok)) << ok;
}

TEST(Input, AnythingElseIsNot) {
    for (const char* bad : {"", "ana", "@example.com", "ana@", "ana@example", "ana@.example.com", "ana@example..com",
                            "ana@example.com.", "ana@-example.com", "ana@example-.com", "ana @example.com",
                            "ana@exa mple.com", "\"ana\"@example.com", "ana@example.com\n", "ana\t@example.com",
                            "ana@exam_ple.com", "<ana@example.com>", "ana@ex@ample.com", "an,a@example.com"})
        EXPECT_FALSE(valid_email(bad)) << bad;
}

TEST(Input, AnEmailAddressIsBounded) {
    const std::string domain = "@example.com";
    EXPECT_TRUE(valid_email(std::string(chat::limits::kEmailLocalMaxBytes, 'a') + domain));
    EXPECT_FALSE(valid_email(std::string(chat::limits::kEmailLocalMaxBytes + 1, 'a') + domain));
    // the whole address: at most kEmailBytes.max (254): 64 + 1 + 189 bytes
    const std::string domain189 = std::string(63, 'd') + "." + std::string(63, 'd') + "." + std::string(57, 'd') + ".com";
    ASSERT_EQ(domain189.size(), 189u);
    const std::string local64(64, 'a');
    EXPECT_TRUE(valid_email(local64 + "@" + domain189));
    const std::string domain190 = std::string(63, 'd') + "." + std::string(63, 'd') + "." + std::string(58, 'd') + ".com";
    EXPECT_FALSE(valid_email(local64 + "@" + domain190));  // 255 bytes, every part within its own bound
    EXPECT_FALSE(valid_email("a@" + std::string(64, 'd') + ".com"));  // a label over 63
}

}  // namespace

TEST(Input, ATagIsLowercasedThenBoundByItsPattern) {
    using chat::input::normal_tag;
    EXPECT_EQ(normal_tag("Refund"), "refund");
    EXPECT_EQ(normal_tag("late_2-x"), "late_2-x");
    EXPECT_EQ(normal_tag(std::string(32, 'A')), std::string(32, 'a'));
    EXPECT_FALSE(normal_tag(std::string(33, 'a')));
    EXPECT_FALSE(normal_tag(""));
    EXPECT_FALSE(normal_tag("-x"));
    EXPECT_FALSE(normal_tag("two words"));
    EXPECT_FALSE(normal_tag("r\xc3\xa9sum\xc3\xa9"));  // lowercased A-Z only; no other letters
}

// A body is a JSON object; one that is not valid UTF-8 is refused as such, whether or not the
// rest of it would parse.
TEST(Input, ABodyOfInvalidUtf8IsAValidationErrorWhateverElseIsWrong) {
    using chat::Errc;
    using chat::input::parse_body;
    EXPECT_TRUE(parse_body(R"({"text":"olá"})").ok());
    EXPECT_TRUE(parse_body(" \n").ok()) << "a blank body is an empty object";
    for (const std::string& bad : {std::string("{\"text\":\"\xC3\"}"), std::string("{\"text\":\"\xFF"),
                                  std::string("\xC3{"), std::string("{\"a\":1}\x80")}) {
        auto r = parse_body(bad);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::validation) << bad;
        EXPECT_EQ(r.error().message, "body is not valid UTF-8");
    }
    auto broken = parse_body(R"({"text":)");
    ASSERT_FALSE(broken.ok());
    EXPECT_EQ(broken.error().code, Errc::invalid_json);
    auto array = parse_body("[1]");
    ASSERT_FALSE(array.ok());
    EXPECT_EQ(array.error().code, Errc::bad_request);
}
