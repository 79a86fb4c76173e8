// The FAQ matcher answers realistic customer phrasings (typos, synonyms, chatter) with the right entry and falls back on anything else.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chat/faq.h"

namespace {

using chat::faq::Entry;
using chat::faq::Matcher;

// The same set as the dev seed (sql/): slugs, questions, answers, keywords.
std::vector<Entry> shop_faq() {
    return {
        {"shipping-time", "How long does shipping take?",
         "Standard shipping takes 3-5 business days and express 1-2 business days. You'll get an email "
         "with tracking as soon as your order ships.",
         {"delivery time", "how long", "when will it arrive", "arrive", "arrival", "business days",
          "fast", "express", "receive my package"},
         1},
        {"shipping-cost", "How much does shipping cost?",
         "Shipping is free on orders over $50. Below that, standard shipping is $4.95 and express is $12.95.",
         {"shipping cost", "shipping fee", "free shipping", "postage", "delivery charge", "shipping price"},
         2},
        {"returns", "What is your return policy?",
         "You can return unused items in their original packaging within 30 days of delivery. Start a "
         "return from your order page and we'll email you a prepaid label.",
         {"return", "send back", "exchange", "return policy", "return label", "unwanted item"},
         3},
        {"refunds", "When will I get my refund?",
         "Refunds go to your original payment method within 5-7 business days after we receive your return.",
         {"refund", "money back", "reimburse", "refund status", "store credit"},
         4},
        {"order-tracking", "How can I track my order?",
         "Use the tracking link in your shipping confirmation email, or open Orders in your account to "
         "see live tracking.",
         {"track order", "tracking number", "where is my order", "order status", "where is my package",
          "has my order shipped"},
         5},
        {"payment-methods", "What payment methods do you accept?",
         "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay.",
         {"payment options", "pay", "credit card", "debit card", "paypal", "apple pay", "google pay",
          "visa", "mastercard", "klarna"},
         6},
        {"warranty", "Do your products come with a warranty?",
         "All products carry a 1-year warranty against manufacturing defects. Send us your order number "
         "and a short description to make a claim.",
         {"warranty", "guarantee", "stopped working", "repair", "warranty claim", "manufacturer"},
         7},
        {"sizing", "How do I find my size?",
         "Every product page has a size guide with measurements. If you're between sizes, we recommend "
         "sizing up.",
         {"size guide", "size chart", "fit", "measurements", "too small", "too big", "true to size"},
         8},
        {"cancel-order", "Can I cancel my order?",
         "You can cancel within 1 hour of placing your order from the Orders page. After that it may "
         "already be packed - contact us and we'll do our best.",
         {"cancel", "cancellation", "change my order", "changed my mind", "stop my order"},
         9},
        {"international-delivery", "Do you ship internationally?",
         "Yes, we ship to over 50 countries. International delivery takes 7-14 business days; duties "
         "and taxes may apply on arrival.",
         {"international shipping", "abroad", "overseas", "worldwide", "other countries", "customs",
          "duties", "canada", "mexico", "uk", "europe", "germany", "france", "australia", "japan"},
         10},
        {"discount-codes", "How do I use a discount code?",
         "Enter your code in the Discount code field at checkout and press Apply. One code per order; "
         "codes can't be added after purchase.",
         {"promo code", "coupon", "voucher", "apply code", "checkout", "code not working"},
         11},
        {"account-help", "How do I reset my password?",
         "Click \"Sign in\", then \"Forgot password?\" and we'll email you a reset link. Still locked out? "
         "Talk to an agent.",
         {"forgot password", "reset password", "login", "sign in", "account", "locked out", "email"},
         12},
        {"damaged-items", "What if my item arrived damaged?",
         "Sorry about that! Send us a photo within 7 days of delivery and we'll ship a replacement or "
         "refund you - no need to return the damaged item.",
         {"damaged", "broken", "defective", "arrived broken", "cracked", "wrong item", "missing item",
          "replacement"},
         13},
    };
}

struct Case {
    const char* text;
    const char* slug;
};

const Case kCases[] = {
    // shipping-time
    {"How long does shipping take?", "shipping-time"},
    {"hi, when will my package arrive??", "shipping-time"},
    {"how long until my order arrives", "shipping-time"},
    {"shiping time?", "shipping-time"},
    {"how many days for delivery", "shipping-time"},
    {"how fast do you deliver", "shipping-time"},
    {"Delivery time to my address", "shipping-time"},
    // shipping-cost
    {"how much is shipping", "shipping-cost"},
    {"is shipping free?", "shipping-cost"},
    {"shipping fees", "shipping-cost"},
    {"what does delivery cost", "shipping-cost"},
    {"do you charge for postage", "shipping-cost"},
    // returns
    {"how do i return something", "returns"},
    {"can I send back a jacket I don't want", "returns"},
    {"RETURN POLICY", "returns"},
    {"i want to exchange these shoes", "returns"},
    // refunds
    {"can i get my money back", "refunds"},
    {"where is my refund", "refunds"},
    {"how long do refunds take", "refunds"},
    {"reimbursement status?", "refunds"},
    // order-tracking
    {"where is my order", "order-tracking"},
    {"where's my package", "order-tracking"},
    {"track my parcel", "order-tracking"},
    {"wismo", "order-tracking"},
    {"do you have a tracking number for my order", "order-tracking"},
    {"has my order shipped yet?", "order-tracking"},
    // payment-methods
    {"wat payment options do u have", "payment-methods"},
    {"can i pay with paypal", "payment-methods"},
    {"do you take credit cards", "payment-methods"},
    {"do u accept apple pay", "payment-methods"},
    // warranty
    {"is there a guarantee", "warranty"},
    {"does this come with a warrenty", "warranty"},
    {"my headphones stopped working after a month", "warranty"},
    // sizing
    {"what size should i get", "sizing"},
    {"do these shoes fit true to size", "sizing"},
    {"is there a sizing chart", "sizing"},
    // cancel-order
    {"i want to cancel my order", "cancel-order"},
    {"Cancellation", "cancel-order"},
    {"i changed my mind, can i cancle", "cancel-order"},
    // international-delivery
    {"do you ship to canada", "international-delivery"},
    {"do you deliver overseas?", "international-delivery"},
    {"international shipping?", "international-delivery"},
    {"can i order from the UK", "international-delivery"},
    {"Livraison à l'étranger? do you ship abroad", "international-delivery"},
    // discount-codes
    {"how do i use a promo code", "discount-codes"},
    {"my coupon isn't working", "discount-codes"},
    {"where do i enter a voucher", "discount-codes"},
    // account-help
    {"forgot my password", "account-help"},
    {"i cant log in", "account-help"},
    {"how do i reset my pasword", "account-help"},
    {"How do I sign in?", "account-help"},
    // damaged-items
    {"my parcel arrived broken", "damaged-items"},
    {"the item i received is damaged", "damaged-items"},
    {"my order came with a cracked screen", "damaged-items"},
    {"the lamp is défective", "damaged-items"},
};

const char* const kFallbacks[] = {
    "hello",
    "asdfgh",
    "what is the meaning of life",
    "i want to talk to a human",
    "can i speak to a real person",
    "tell me a joke",
    "what's the weather like today",
    "who won the game last night",
    "ok thanks bye",
    "lorem ipsum dolor sit amet",
    "",
    "?!?!",
    "\xF0\x9F\x98\x80\xF0\x9F\x98\x80",
    "is this product vegan?",
    "is the store open on sunday",
    "do you have a store in london",
    "order",
    "i love shopping here",
};

std::string describe(const Matcher& m, const char* text) {
    std::string s = "terms:";
    for (const auto& t : m.analyze(text)) s += " [" + t + "]";
    auto r = m.match(text);
    s += r ? " -> " + r->entry->slug + " (" + std::to_string(r->score) + ")" : " -> fallback";
    return s;
}

// Whether m answers text with the entry slug and exactly this score.
::testing::AssertionResult answers(const Matcher& m, const std::string& text, const char* slug, double score) {
    auto r = m.match(text);
    if (!r) return ::testing::AssertionFailure() << "no answer";
    if (r->entry->slug != slug || r->score != score)
        return ::testing::AssertionFailure() << r->entry->slug << " " << std::to_string(r->score);
    return ::testing::AssertionSuccess();
}

TEST(FaqMatcher, AnswersRealisticPhrasings) {
    const Matcher m(shop_faq());
    ASSERT_EQ(m.size(), 13u);
    int wrong = 0;
    for (const Case& c : kCases) {
        auto r = m.match(c.text);
        const std::string got = r ? r->entry->slug : "fallback";
        if (got != c.slug) wrong++;
        EXPECT_EQ(got, c.slug) << '"' << c.text << "\" " << describe(m, c.text);
    }
    EXPECT_GE(std::size(kCases), 40u);
    EXPECT_EQ(wrong, 0);
}

TEST(FaqMatcher, FallsBackOnUnrelatedText) {
    const Matcher m(shop_faq());
    for (const char* t : kFallbacks) EXPECT_FALSE(m.match(t).has_value()) << '"' << t << "\" " << describe(m, t);
}

TEST(FaqMatcher, EveryQuestionMatchesItself) {
    const Matcher m(shop_faq());
    for (const Entry& e : m.entries()) {
        auto r = m.match(e.question);
        ASSERT_TRUE(r.has_value()) << e.question;
        EXPECT_EQ(r->entry->slug, e.slug);
    }
}

TEST(FaqMatcher, FindsBySlug) {
    const Matcher m(shop_faq());
    ASSERT_NE(m.by_slug("refunds"), nullptr);
    EXPECT_EQ(m.by_slug("refunds")->question, "When will I get my refund?");
    EXPECT_EQ(m.by_slug("nope"), nullptr);
    EXPECT_EQ(m.by_slug(""), nullptr);
}

TEST(FaqMatcher, AnalysisFoldsStemsAndMapsSynonyms) {
    const Matcher m(shop_faq());
    EXPECT_EQ(m.analyze("Shipping DELIVERIES dispatched"), (std::vector<std::string>{"ship", "ship", "ship"}));
    EXPECT_EQ(m.analyze("I want my money back!"), (std::vector<std::string>{"refund"}));
    EXPECT_EQ(m.analyze("Où est ma commande"), (std::vector<std::string>{"ou", "est", "ma", "command"}));
    EXPECT_EQ(m.analyze("vouchers, coupons & promo-codes"),
              (std::vector<std::string>{"discount", "discount", "discount", "discount"}));
    EXPECT_EQ(m.analyze("shiping"), (std::vector<std::string>{"ship"}));
    EXPECT_EQ(m.analyze("wheres my order"), (std::vector<std::string>{"track"}));
}

TEST(FaqMatcher, AnalysisAppliesPhraseAndPairPatterns) {
    const Matcher m(shop_faq());
    EXPECT_EQ(m.analyze("can I send the jacket back"), (std::vector<std::string>{"return", "jacket"}));
    EXPECT_EQ(m.analyze("where is my parcel"), (std::vector<std::string>{"track"}));
    EXPECT_EQ(m.analyze("do you ship to Ireland"), (std::vector<std::string>{"international"}));
    EXPECT_EQ(m.analyze("when will it get here"), (std::vector<std::string>{"when", "arrive"}));
    EXPECT_EQ(m.analyze("it broke after two weeks"), (std::vector<std::string>{"damage", "warranty", "two"}));
    EXPECT_EQ(m.analyze("it arrived smashed"), (std::vector<std::string>{"damage"}));
    EXPECT_EQ(m.analyze("do you sell gift cards"), (std::vector<std::string>{"sell", "giftcard"}));
    EXPECT_EQ(m.analyze("last night"), (std::vector<std::string>{"last", "night"}));  // not "tight"
}

TEST(FaqMatcher, IntentWordsAloneNeverAnswer) {
    const Matcher m(shop_faq());
    for (const char* t : {"when do you open", "will the price drop", "where are you", "what's your email address",
                          "how long", "is it free", "my order number is 12345", "capital of france"})
        EXPECT_FALSE(m.match(t).has_value()) << '"' << t << "\" " << describe(m, t);
    // ... and count next to a topic word.
    ASSERT_TRUE(m.match("when will my parcel get here").has_value());
    EXPECT_EQ(m.match("when will my parcel get here")->entry->slug, "shipping-time");
}

// Case, punctuation, apostrophes, accents, scripts the folding keeps, emoji, bad UTF-8,
// typos, and the 64-word and 2000-byte bounds: each answer and its score, exactly (the
// scores were the matcher's before the analysis ran on symbols; any change to the rules
// shows here first).
TEST(FaqMatcher, TrickyInputGetsExactlyThePinnedAnswer) {
    const Matcher m(shop_faq());
    struct Pinned {
        std::string text;
        const char* slug;  // nullptr: falls back
        double score;
        std::vector<std::string> terms;
    };
    std::string words63, spaces;
    for (int i = 0; i < 63; i++) words63 += "blah ";
    const std::vector<std::string> blah63(63, "blah"), blah64(64, "blah");
    auto with = [](std::vector<std::string> v, const char* t) {
        v.emplace_back(t);
        return v;
    };
    const Pinned pinned[] = {
        {"HOW LONG DOES SHIPPING TAKE???", "shipping-time", 6.747096237249635, {"long", "ship"}},
        {"hOw LoNg DoEs ShIpPiNg TaKe", "shipping-time", 6.747096237249635, {"long", "ship"}},
        {"how...long,does;shipping(take)", "shipping-time", 6.747096237249635, {"long", "ship"}},
        {"\xC3\x87" "a co\xC3\xBBte combien, la livraison? how much is shipping", "shipping-cost", 8.2458476048529086,
         {"ca", "cout", "combien", "la", "livraison", "cost", "ship"}},
        {"where\xE2\x80\x99s my parcel", "order-tracking", 3.8102455543356317, {"track"}},
        {"where's my parcel", "order-tracking", 3.8102455543356317, {"track"}},
        {"wheres-my-parcel", "order-tracking", 3.8102455543356317, {"track"}},
        {"\xF0\x9F\x9A\x9A when will my package arrive \xF0\x9F\x9A\x9A", "shipping-time", 7.1840751943901076,
         {"when", "package", "arrive"}},
        {"refund\xFF\xFEplease", "refunds", 7.4720770496259812, {"refund"}},
        {"Stra\xC3\x9F" "e \xC5\x92uvre na\xC3\xAFve \xE2\x80\x94 shipping cost", "shipping-cost", 9.5177910501286611,
         {"strass", "oeuvr", "naiv", "ship", "cost"}},
        {"\xD0\xB4\xD0\xBE\xD1\x81\xD1\x82\xD0\xB0\xD0\xB2\xD0\xBA\xD0\xB0 shipping time", "shipping-time",
         7.0943097518830465, {"\xD0\xB4\xD0\xBE\xD1\x81\xD1\x82\xD0\xB0\xD0\xB2\xD0\xBA\xD0\xB0", "ship", "tim"}},
        {"R\xC3\x89TURN POLICY", "returns", 14.119211410121281, {"return", "policy"}},
        {"refnd", "refunds", 7.4720770496259812, {"refund"}},
        {"cancle my ordr", "cancel-order", 7.4720770496259812, {"cancel", "ordr"}},
        {"shippingshippingshippingshipping", nullptr, 0, {"shippingshippingshippingship"}},
        {"my order 12345 hasnt shipped", "order-tracking", 3.8102455543356317, {"12345", "track"}},
        {"   ", nullptr, 0, {}},
        {"do you ship to ireland or france", "international-delivery", 5.7729768186644908, {"international", "franc"}},
        {"my parcel arrived broken and i want my money back", "refunds", 7.4720770496259812,
         {"package", "damage", "refund"}},
        {"credit card or paypal, how much is shipping", "shipping-cost", 8.2458476048529086,
         {"pay", "pay", "cost", "ship"}},
        // the 64th word counts, the 65th does not
        {words63 + "refund", "refunds", 7.4720770496259812, with(blah63, "refund")},
        {words63 + "blah refund", nullptr, 0, blah64},
        // the 2000th byte counts, the 2001st does not ("refun" is a typo of "refund"), nor a
        // character cut in two
        {std::string(1994, ' ') + "refund", "refunds", 7.4720770496259812, {"refund"}},
        {std::string(1995, ' ') + "refund", "refunds", 7.4720770496259812, {"refund"}},
        {std::string(1999, ' ') + "\xC3\xA9refund", nullptr, 0, {}},
    };
    for (const Pinned& p : pinned) {
        const std::string shown = p.text.size() > 80 ? p.text.substr(p.text.size() - 20) : p.text;
        if (!p.slug) EXPECT_FALSE(m.match(p.text).has_value()) << '"' << shown << "\" " << describe(m, p.text.c_str());
        else EXPECT_TRUE(answers(m, p.text, p.slug, p.score)) << '"' << shown << '"';
        EXPECT_EQ(m.analyze(p.text), p.terms) << '"' << shown << '"';
    }
}

// Equal scores go to the lower display_order, and between equal orders to the entry listed first.
TEST(FaqMatcher, TiesGoToTheLowerDisplayOrderThenTheFirstListed) {
    const Matcher m({
        {"late", "How long does shipping take?", "x", {}, 5},
        {"early", "How long does shipping take?", "y", {}, 2},
        {"first", "How much does shipping cost?", "z", {}, 7},
        {"second", "How much does shipping cost?", "w", {}, 7},
    });
    EXPECT_TRUE(answers(m, "how long does shipping take", "early", 4.6770811054107595));
    EXPECT_TRUE(answers(m, "how much does shipping cost", "first", 6.245409295647117));
}

// An entry's text is analysed up to its 2000th byte, as a post's is: a word cut there is
// indexed as cut, and the entry answers like any other.
TEST(FaqMatcher, AnEntryLongerThanTheAnalysedBytesIsIndexedUpToThem) {
    const Matcher m({
        {"long", std::string(1990, ' ') + "warranty claims", "x", {}, 1},
        {"refunds", "When will I get my refund?", "y", {"money back"}, 2},
    });
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m.analyze(m.entries()[0].question), (std::vector<std::string>{"warranty", "c"}));
    EXPECT_TRUE(answers(m, "is there a warranty", "long", 4.6349905839779719));
    EXPECT_TRUE(answers(m, "can i get my money back", "refunds", 6.552917722175752));
}

TEST(FaqMatcher, EmptyMatcherMatchesNothing) {
    const Matcher m({});
    EXPECT_FALSE(m.match("how long does shipping take").has_value());
    EXPECT_EQ(m.by_slug("shipping-time"), nullptr);
}

TEST(FaqMatcher, LongAndHostileInputIsBounded) {
    const Matcher m(shop_faq());
    std::string spam;
    for (int i = 0; i < 5000; i++) spam += "shipingg refundd ";
    (void)m.match(spam);  // bounded to the first 64 words: must return promptly
    EXPECT_FALSE(m.match(std::string(100000, 'x')).has_value());
    EXPECT_FALSE(m.match("\xff\xfe\xfd").has_value());
}

TEST(FaqText, FixedRepliesAreTheAgreedOnes) {
    EXPECT_EQ(chat::faq::fallback_reply(),
              "Sorry, I couldn't find an answer to that. You can rephrase, pick a topic below, or talk to a "
              "human agent.");
    EXPECT_EQ(chat::faq::greeting(),
              "Hi! I'm the shop assistant. Ask me anything about orders, shipping, returns or payments "
              "\xE2\x80\x94 or pick a topic below.");
}

}  // namespace
