// FAQ matching: text analysis (folding, synonyms, stop words, stemming, typo correction) and BM25 ranking.
#include "chat/faq.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cmath>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "chat/utf8.h"

namespace chat::faq {

namespace {

constexpr std::size_t kMaxTextBytes = 2000;
constexpr std::size_t kMaxWords = 64;
constexpr std::size_t kMaxGap = 3;  // words allowed between the two words of a pair pattern
constexpr double kKeywordWeight = 2.0;
constexpr double kK1 = 1.2;
constexpr double kB = 0.5;  // keyword-rich entries are long by design; penalise length gently

// Concepts: customers say the same thing many ways; each line maps a word (or,
// after stemming, any of its inflections) to one concept term. A concept is
// named after the word FAQ entries use for it, so an entry's own wording and a
// customer's paraphrase meet on the same term.
struct Synonym {
    std::string_view word, concept_;
};
constexpr Synonym kSynonyms[] = {
    // getting it delivered
    {"ship", "ship"}, {"shipping", "ship"}, {"shipped", "ship"}, {"shipment", "ship"},
    {"delivery", "ship"}, {"deliver", "ship"}, {"delivered", "ship"}, {"dispatch", "ship"},
    {"dispatched", "ship"}, {"post", "ship"}, {"posted", "ship"}, {"postage", "ship"}, {"courier", "ship"},
    {"mail", "ship"}, {"mailed", "ship"},
    // ... and when it arrives
    {"arrive", "arrive"}, {"arrival", "arrive"}, {"arrived", "arrive"}, {"eta", "arrive"},
    {"soon", "arrive"}, {"quick", "arrive"}, {"quickly", "arrive"}, {"fast", "arrive"}, {"faster", "arrive"},
    {"timeframe", "arrive"}, {"turnaround", "arrive"}, {"expect", "arrive"}, {"land", "arrive"},
    {"reach", "arrive"}, {"estimate", "arrive"}, {"estimated", "arrive"},
    {"days", "day"}, {"weekday", "day"}, {"tomorrow", "day"}, {"weekend", "day"},
    // money back, sending back
    {"refund", "refund"}, {"refunded", "refund"}, {"reimburse", "refund"}, {"reimbursement", "refund"},
    {"reimbursed", "refund"}, {"money", "refund"}, {"credited", "refund"},
    {"return", "return"}, {"returned", "return"}, {"returning", "return"}, {"exchange", "return"},
    {"swap", "return"},
    // what it costs
    {"cost", "cost"}, {"price", "cost"}, {"pricing", "cost"}, {"fee", "cost"}, {"charge", "cost"},
    {"expensive", "cost"}, {"cheap", "cost"}, {"extra", "cost"},
    {"track", "track"}, {"tracking", "track"}, {"tracked", "track"}, {"wismo", "track"},
    {"cancel", "cancel"}, {"cancelled", "cancel"}, {"canceled", "cancel"}, {"cancelling", "cancel"},
    {"canceling", "cancel"}, {"cancellation", "cancel"}, {"cancelation", "cancel"},
    {"accidentally", "cancel"}, {"mistakenly", "cancel"},
    {"change", "change"}, {"modify", "change"}, {"edit", "change"}, {"amend", "change"}, {"alter", "change"},
    {"add", "change"}, {"remove", "change"},
    {"pay", "pay"}, {"paid", "pay"}, {"paying", "pay"}, {"payment", "pay"}, {"card", "pay"},
    {"paypal", "pay"}, {"visa", "pay"}, {"mastercard", "pay"}, {"amex", "pay"}, {"klarna", "pay"},
    {"afterpay", "pay"}, {"gpay", "pay"}, {"applepay", "pay"}, {"debit", "pay"},
    {"guarantee", "warranty"}, {"guaranteed", "warranty"}, {"warranty", "warranty"},
    {"warranties", "warranty"}, {"cover", "warranty"}, {"covered", "warranty"}, {"coverage", "warranty"},
    {"size", "size"}, {"sizing", "size"}, {"sized", "size"}, {"fit", "size"}, {"fitting", "size"},
    {"small", "size"}, {"big", "size"}, {"large", "size"}, {"medium", "size"}, {"tight", "size"},
    {"loose", "size"}, {"baggy", "size"}, {"petite", "size"}, {"xs", "size"}, {"xl", "size"},
    {"xxl", "size"}, {"measurement", "size"}, {"measure", "size"}, {"dimension", "size"},
    {"broken", "damage"}, {"broke", "damage"}, {"damaged", "damage"}, {"damage", "damage"},
    {"defective", "damage"}, {"faulty", "damage"}, {"cracked", "damage"}, {"crack", "damage"},
    {"torn", "damage"}, {"tear", "damage"}, {"ripped", "damage"}, {"rip", "damage"}, {"hole", "damage"},
    {"stain", "damage"}, {"stained", "damage"}, {"smashed", "damage"}, {"shattered", "damage"},
    {"dented", "damage"}, {"dent", "damage"}, {"scratched", "damage"}, {"scratch", "damage"},
    {"scuffed", "damage"}, {"crushed", "damage"}, {"squashed", "damage"},
    {"coupon", "discount"}, {"promo", "discount"}, {"promotion", "discount"}, {"discount", "discount"},
    {"voucher", "discount"}, {"code", "discount"}, {"promocode", "discount"},
    {"abroad", "international"}, {"international", "international"}, {"internationally", "international"},
    {"overseas", "international"}, {"worldwide", "international"}, {"foreign", "international"},
    {"customs", "customs"}, {"duty", "duty"}, {"duties", "duty"}, {"import", "duty"},
    {"countries", "country"},
    {"account", "account"}, {"login", "account"}, {"logon", "account"}, {"signin", "account"},
    {"password", "account"}, {"passwd", "account"}, {"username", "account"}, {"locked", "account"},
    {"package", "package"}, {"parcel", "package"}, {"box", "package"},
};

// Word classes the pair patterns below refer to as "@name".
struct ClassWord {
    std::string_view cls, word;
};
constexpr std::string_view kCountries[] = {
    "uk", "britain", "england", "scotland", "wales", "ireland", "france", "germany", "spain", "italy",
    "portugal", "netherlands", "holland", "belgium", "luxembourg", "switzerland", "austria", "sweden",
    "norway", "denmark", "finland", "iceland", "poland", "czechia", "hungary", "greece", "romania",
    "europe", "eu", "canada", "mexico", "brazil", "argentina", "chile", "colombia", "peru", "australia",
    "zealand", "japan", "china", "korea", "india", "singapore", "malaysia", "philippines", "indonesia",
    "thailand", "vietnam", "israel", "uae", "dubai", "qatar", "saudi", "africa", "nigeria", "kenya",
    "egypt", "asia", "hongkong", "taiwan", "pakistan",
};
constexpr ClassWord kClassWords[] = {
    // what a shopper's "where is my ..." asks about
    {"@thing", "order"}, {"@thing", "package"}, {"@thing", "parcel"}, {"@thing", "stuff"},
    {"@thing", "shipment"}, {"@thing", "delivery"}, {"@thing", "item"}, {"@thing", "things"},
    {"@thing", "purchase"}, {"@thing", "box"}, {"@thing", "it"},
    // getting something across a border
    {"@move", "ship"}, {"@move", "shipping"}, {"@move", "deliver"}, {"@move", "delivery"},
    {"@move", "send"}, {"@move", "sent"}, {"@move", "order"}, {"@move", "buy"}, {"@move", "live"},
    {"@move", "based"}, {"@move", "from"}, {"@move", "post"}, {"@move", "mail"},
    // use that wears a product out (a warranty matter, not transit damage)
    {"@use", "week"}, {"@use", "month"}, {"@use", "year"}, {"@use", "while"}, {"@use", "use"},
    {"@use", "using"}, {"@use", "wear"}, {"@use", "wearing"}, {"@use", "wore"}, {"@use", "worn"},
    {"@use", "wash"}, {"@use", "washing"}, {"@use", "washed"},
    // a delivery date
    {"@by", "by"}, {"@by", "before"}, {"@by", "until"}, {"@by", "till"}, {"@by", "for"},
    {"@day", "monday"}, {"@day", "tuesday"}, {"@day", "wednesday"}, {"@day", "thursday"},
    {"@day", "friday"}, {"@day", "saturday"}, {"@day", "sunday"}, {"@day", "weekend"},
    {"@day", "tomorrow"}, {"@day", "christmas"}, {"@day", "birthday"},
    // receiving the wrong thing
    {"@got", "sent"}, {"@got", "got"}, {"@got", "received"}, {"@got", "receive"}, {"@got", "came"},
    {"@got", "delivered"}, {"@got", "shipped"},
    {"@back", "send"}, {"@back", "sent"}, {"@back", "give"}, {"@back", "take"}, {"@back", "bring"},
    {"@back", "ship"}, {"@back", "mail"}, {"@back", "post"},
    {"@come", "come"}, {"@come", "coming"}, {"@come", "show"},
    {"@halt", "order"}, {"@halt", "it"}, {"@halt", "purchase"}, {"@halt", "shipment"},
    {"@halt", "delivery"},
};

// Multi-word patterns, matched on word stems before stop words go: a phrase
// ("money back") or, with a '+' between, a pair whose second word may follow
// up to kMaxGap words later ("send + back": "send the jacket back"). An
// element is a word, a class of words ("@country") or a concept ("=damage":
// any word the synonyms map to it, "arrived + broken" and "came + smashed").
constexpr std::string_view kPatterns[][2] = {
    {"money back", "refund"},         {"bank account", "refund"},      {"@back + back", "return"},
    {"how much", "cost"},             {"pay for", "cost"},             {"price match", "pricematch"},
    {"where is my order", "track"},   {"wheres my order", "track"},    {"where s my order", "track"},
    {"where + @thing", "track"},      {"wheres + @thing", "track"},    {"order status", "track"},
    {"order shipped", "track"},       {"shipped yet", "track"},        {"been sent", "track"},
    {"sent out", "track"},            {"been shipped", "track"},       {"been dispatched", "track"},
    {"status + @thing", "track"},     {"update on", "track"},           {"any update", "track"},
    {"sign in", "account"},           {"log in", "account"},           {"log into", "account"},
    {"sign into", "account"},         {"locked out", "account"},       {"sign on", "account"},
    {"get here", "arrive"},           {"get to me", "arrive"},         {"turn up", "arrive"},
    {"show up", "arrive"},            {"@by + @day", "when"},        {"when + @come", "arrive"},
    {"stopped working", "warranty"},  {"stop working", "warranty"},    {"quit working", "warranty"},
    {"come apart", "warranty"},       {"came apart", "warranty"},      {"fell apart", "warranty"},
    {"fall apart", "warranty"},       {"came off", "warranty"},        {"after + @use", "warranty"},
    {"credit card", "pay"},           {"debit card", "pay"},           {"apple pay", "pay"},
    {"google pay", "pay"},            {"american express", "pay"},
    {"gift card", "giftcard"},        {"gift voucher", "giftcard"},    {"gift certificate", "giftcard"},
    {"gift wrap", "giftwrap"},        {"gift wrapping", "giftwrap"},
    {"back in stock", "stock"},       {"zip code", "address"},         {"postal code", "address"},
    {"post code", "address"},         {"by mistake", "cancel"},        {"stop + @halt", "cancel"},
    {"outside the us", "international"}, {"outside us", "international"}, {"outside the usa", "international"},
    {"outside the states", "international"}, {"other countries", "international"},
    {"another country", "international"}, {"@move + @country", "international"},
    {"hasnt shipped", "track"},       {"not shipped", "track"},        {"hasnt arrived", "track"},
    {"not arrived", "track"},         {"never arrived", "track"},      {"havent received", "track"},
    {"=arrive + =damage", "damage"},  {"=damage + =arrive", "damage"},
    {"true to size", "size"},         {"run + small", "size"},         {"run + big", "size"},
    {"run + large", "size"},          {"@got + wrong", "damage"},
};

// Intent words: they say what is asked (when, where, how much) but not about
// what, so they count only for an entry that also matches a topic word, and
// never select an answer on their own. Numbers and country names (an entry's
// keywords may list countries) are intent words too.
constexpr std::string_view kWeakTerms[] = {
    "when", "where", "wheres", "long", "cost", "email", "day", "country", "free", "week", "month", "time",
    "package", "number",
};

// Concepts that name what the customer wants done (money back, an order
// stopped, a repair, a replacement) outweigh the ones that name the channel
// it goes through (paying, shipping, arriving): "will I be refunded to my
// PayPal" asks about a refund, "it arrived smashed" about damage.
constexpr std::string_view kActionTerms[] = {"refund", "return", "cancel", "warranty", "damage"};
constexpr double kActionWeight = 2.0;

// English stop words, chat shorthand, and nouns every shop question contains
// ("order", "item", "product", "store"), which would otherwise let one generic
// word pull in an answer. Question words that carry intent ("when", "where",
// "long") are deliberately kept.
constexpr std::string_view kStopWords[] = {
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "anyone", "are", "as", "at",
    "be", "been", "being", "but", "by", "can", "cant", "could", "couldnt", "did", "didnt", "do", "does",
    "doesnt", "doing", "dont", "for", "from", "get", "gets", "getting", "got", "had", "has", "hasnt",
    "have", "havent", "having", "he", "hello", "her", "hey", "hi", "him", "his", "how", "i", "id", "if",
    "im", "in", "into", "is", "isnt", "it", "its", "ive", "just", "know", "let", "like", "me", "my",
    "need", "of", "ok", "okay", "on", "or", "our", "please", "pls", "plz", "possible", "r", "s", "she",
    "should", "so", "some", "someone", "t", "than", "thank", "thanks", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "those", "thx", "to", "u", "ur", "us", "very", "want",
    "wanna", "was", "wat", "take", "takes", "taking", "took", "we", "were", "what", "whats", "which", "who", "whom", "why", "will", "with",
    "would", "wht", "ya", "yall", "yes", "yet", "you", "youre", "your", "yours", "tell",
    "order", "orders", "ordered", "item", "items", "product", "products", "store", "shop", "stuff",
    "thing", "things", "here", "see", "one", "still", "now", "right", "way", "really", "anything",
    "something", "guys",
};

// Folds one code point to lowercase ASCII where it has an obvious ASCII form.
// Returns the replacement, "" for a separator, or nullptr to keep it as is.
const char* fold(char32_t cp) {
    if (cp < 0x80) return nullptr;
    if (cp >= 0xC0 && cp <= 0xFF) {
        static constexpr const char* kLatin1[64] = {
            "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",   // C0-CF
            "d", "n", "o", "o", "o", "o", "o", "",  "o", "u", "u", "u", "u", "y", "th", "ss",  // D0-DF
            "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",   // E0-EF
            "d", "n", "o", "o", "o", "o", "o", "",  "o", "u", "u", "u", "u", "y", "th", "y",   // F0-FF
        };
        return kLatin1[cp - 0xC0];
    }
    switch (cp) {
    case 0x152: case 0x153: return "oe";
    case 0x160: case 0x161: return "s";
    case 0x17D: case 0x17E: return "z";
    case 0x178: return "y";
    default: break;
    }
    if (cp < 0x100) return "";                    // Latin-1 punctuation and symbols
    if (cp >= 0x2000 && cp <= 0x2BFF) return "";  // general punctuation, arrows, symbols
    if (cp >= 0x1F000) return "";                 // emoji
    return nullptr;
}

// Splits text into lowercased, accent-folded words; apostrophes join ("don't" -> "dont").
// The words' characters go to chars, one after another, and their places to out; returns
// how many words (at most kMaxWords). A word is never longer than the bytes it came from,
// so chars needs room for text.size() bytes (a word that would not fit ends the text).
struct Span {
    std::uint32_t at, len;
};
std::size_t split_words(std::string_view text, char* chars, std::size_t room, Span* out) {
    std::size_t n = 0, at = 0, len = 0;  // the word being read is chars[at, at + len)
    auto flush = [&] {
        if (len > 0 && n < kMaxWords) {
            out[n++] = {static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(len)};
            at += len;
        }
        len = 0;
    };
    auto add = [&](std::string_view s) {
        if (at + len + s.size() > room) return false;
        for (char c : s) chars[at + len++] = c;
        return true;
    };
    std::size_t pos = 0;
    while (pos < text.size() && n < kMaxWords) {
        const std::size_t from = pos;
        // ASCII, most of any text, without a call
        const char32_t cp = static_cast<unsigned char>(text[pos]) < 0x80 ? static_cast<unsigned char>(text[pos++])
                                                                         : utf8::next_code_point(text, pos);
        if (cp < 0x80) {
            char c = static_cast<char>(cp);
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                if (!add({&c, 1})) break;
            } else if (c != '\'') {
                flush();
            }
            continue;
        }
        if (cp == 0x2019 || cp == utf8::kInvalid) {
            if (cp == utf8::kInvalid) flush();
            continue;
        }
        const char* f = fold(cp);
        if (f && !*f) flush();
        else if (!add(f ? std::string_view(f) : text.substr(from, pos - from))) break;
    }
    flush();
    return n;
}

// The words of text, for the tables built when the FAQ is loaded.
std::vector<std::string> words(std::string_view text) {
    std::string chars(text.size(), '\0');
    std::array<Span, kMaxWords> spans;
    const std::size_t n = split_words(text, chars.data(), chars.size(), spans.data());
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; i++) out.emplace_back(chars, spans[i].at, spans[i].len);
    return out;
}

bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// Whether w[0, n) has a vowel: "bring" and "red" keep their endings.
bool has_vowel(const char* w, std::size_t n) {
    for (std::size_t i = 0; i < n; i++)
        if (is_vowel(w[i]) || w[i] == 'y') return true;
    return false;
}

std::size_t undouble(const char* w, std::size_t n) {
    if (n >= 3 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 'l' && w[n - 1] != 's' &&
        w[n - 1] != 'z')
        return n - 1;
    return n;
}

// Light stemming: enough to meet inflections of the same word, the same way
// on both sides; the stems need not be real words. Stems w[0, n) in place and
// returns the stem's length (never more than n).
std::size_t stem(char* w, std::size_t n) {
    auto ends = [&](std::string_view suffix) {
        return n >= suffix.size() && std::string_view(w + n - suffix.size(), suffix.size()) == suffix;
    };
    if (n <= 2) return n;
    if (ends("ies") && n > 4) {
        w[n - 3] = 'y';
        n -= 2;
    } else if (ends("sses")) {
        n -= 2;
    } else if ((ends("ches") || ends("shes") || ends("xes") || ends("zes")) && n > 4) {
        n -= 2;
    } else if (ends("s") && !ends("ss") && !ends("us") && !ends("is") && n > 3) {
        n--;
    }

    if (ends("ing") && n >= 5 && has_vowel(w, n - 3)) {
        n = undouble(w, n - 3);
    } else if (ends("ed") && n >= 4 && !ends("eed") && has_vowel(w, n - 2)) {
        n = undouble(w, n - 2);
    } else if (ends("ly") && n >= 6) {
        n -= 2;
    }
    if (n >= 3 && w[n - 1] == 'e') n--;
    return n;
}

std::string stem(std::string w) {
    w.resize(stem(w.data(), w.size()));
    return w;
}

// Optimal string alignment distance (adjacent transposition = 1 edit), or
// max + 1 as soon as it is certain to exceed max. Words longer than
// kMaxTypoWord never get here, so the rows live on the stack.
constexpr std::size_t kMaxTypoWord = 24;
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t max) {
    const std::size_t n = a.size(), m = b.size();
    if ((n > m ? n - m : m - n) > max || n > kMaxTypoWord || m > kMaxTypoWord) return max + 1;
    std::array<std::size_t, kMaxTypoWord + 1> r0{}, r1{}, r2{};
    std::size_t* prev2 = r0.data();
    std::size_t* prev = r1.data();
    std::size_t* cur = r2.data();
    for (std::size_t j = 0; j <= m; j++) prev[j] = j;
    for (std::size_t i = 1; i <= n; i++) {
        cur[0] = i;
        std::size_t row_min = cur[0];
        for (std::size_t j = 1; j <= m; j++) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                cur[j] = std::min(cur[j], prev2[j - 2] + 1);
            row_min = std::min(row_min, cur[j]);
        }
        if (row_min > max) return max + 1;
        std::swap(prev2, prev);
        std::swap(prev, cur);
    }
    return prev[m];
}

// The set of letters (and, as one bit, digits) in a word: a cheap filter in
// front of edit_distance.
std::uint32_t letters(std::string_view w) {
    std::uint32_t m = 0;
    for (char c : w) m |= (c >= 'a' && c <= 'z') ? 1u << (c - 'a') : 1u << 26;
    return m;
}

// Whether m has more than n bits set.
bool more_bits(std::uint32_t m, std::size_t n) {
    for (std::size_t i = 0; i < n && m; i++) m &= m - 1;
    return m != 0;
}

bool is_number(std::string_view t) { return !t.empty() && t[0] >= '0' && t[0] <= '9'; }

// FNV-1a: short words, a few instructions a byte.
std::uint64_t hash_text(std::string_view s) {
    std::uint64_t h = 14695981039346656037ull;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
}

std::uint64_t hash_pair(std::uint64_t key) { return key * 0x9E3779B97F4A7C15ull; }

// A power of two at least twice n: open addressing stays short.
std::size_t table_size(std::size_t n) {
    std::size_t size = 16;
    while (size < 2 * n) size *= 2;
    return size;
}

}  // namespace

// One analysis's working memory, on the stack of match(): the text is cut to
// kMaxTextBytes, so its words and their stems fit in fixed arrays.
struct Matcher::Scratch {
    // What one word is to the analysis.
    struct Word {
        std::uint32_t stem, canon;  // symbols; kNone for a stem the matcher has never seen
        std::string_view canon_text;
        bool stop;
    };
    std::array<char, kMaxTextBytes> chars;  // the words
    std::array<char, kMaxTextBytes> stems;  // the stems of words no table names
    std::array<Span, kMaxWords> spans;
    std::array<Word, kMaxWords> words;
    std::array<Found, kMaxWords> terms;
};

std::uint32_t Matcher::find(std::string_view s) const noexcept {
    if (slots_.empty()) return kNone;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash_text(s) & mask;; i = (i + 1) & mask) {
        const std::uint32_t slot = slots_[i];
        if (slot == 0) return kNone;
        if (names_[slot - 1] == s) return slot - 1;
    }
}

std::uint32_t Matcher::bigram(std::uint32_t a, std::uint32_t b) const noexcept {
    if (bigrams_.empty()) return kNone;
    const std::uint64_t key = (std::uint64_t{a} << 32) | b;
    const std::size_t mask = bigrams_.size() - 1;
    for (std::size_t i = hash_pair(key) >> 32 & mask;; i = (i + 1) & mask) {
        if (bigrams_[i].term == kNone) return kNone;
        if (bigrams_[i].key == key) return bigrams_[i].term;
    }
}

std::uint32_t Matcher::correct(std::string_view w) const noexcept {
    const std::size_t max = w.size() >= 8 ? 2 : 1;
    const std::uint32_t wm = letters(w);
    std::size_t best_d = max + 1;
    const VocabWord* fix = nullptr;
    for (std::size_t len = w.size() - max; len <= w.size() + max && len < vocab_.size(); len++) {
        for (const VocabWord& vw : vocab_[len]) {
            const std::string& v = vw.word;
            // A short word is only fixed for a missing or extra letter:
            // "night" is not a typo of "tight".
            if (w.size() < 6 && v.size() == w.size()) continue;
            // Each edit adds or removes at most one distinct letter.
            if (more_bits(wm & ~vw.letters, max) || more_bits(vw.letters & ~wm, max)) continue;
            const std::size_t d = edit_distance(w, v, max);
            if (d < best_d || (d == best_d && fix && v < fix->word)) {
                best_d = d;
                fix = &vw;
            }
        }
    }
    return fix ? fix->sym : kNone;
}

// The terms of text into s.terms; returns how many.
std::size_t Matcher::terms(std::string_view text, bool correct_typos, Scratch& s) const noexcept {
    const std::size_t n = split_words(text.substr(0, kMaxTextBytes), s.chars.data(), s.chars.size(), s.spans.data());
    auto known = [&](Scratch::Word& x, std::uint32_t sym) {
        const Sym& y = syms_[sym];
        x = {y.stem, y.canon, names_[y.canon], y.stop};
    };
    for (std::size_t i = 0; i < n; i++) {
        const std::string_view w(s.chars.data() + s.spans[i].at, s.spans[i].len);
        Scratch::Word& x = s.words[i];
        bool unknown;  // no stop word, no class, no pattern, no term: perhaps a typo
        if (const std::uint32_t sym = find(w); sym != kNone) {
            known(x, sym);
            unknown = syms_[sym].typo;
        } else {
            // A word no table names (its stem may be one): stop words and synonyms are all named.
            char* st = s.stems.data() + s.spans[i].at;
            std::copy(w.begin(), w.end(), st);
            const std::string_view stem_text(st, stem(st, w.size()));
            x.stem = find(stem_text);
            x.stop = false;
            if (x.stem == kNone) {
                x.canon = kNone;
                x.canon_text = stem_text;
                unknown = true;
            } else {
                const Sym& y = syms_[x.stem];
                x.canon = y.concept_ != kNone ? y.concept_ : x.stem;
                x.canon_text = names_[x.canon];
                unknown = y.classes == y.classes_end && y.patterns == y.patterns_end && syms_[x.canon].term == kNone;
            }
        }
        // Typos first, so that a corrected word takes part in patterns too: an
        // unknown word (no stop word, no concept, no class) of 5+ characters.
        if (correct_typos && unknown && w.size() >= 5 && w.size() <= kMaxTypoWord)
            if (const std::uint32_t fix = correct(w); fix != kNone) known(x, fix);
    }
    // A pattern element matches a word by its stem, a class of its stem, or its concept.
    auto element = [&](const Element& e, std::size_t i) {
        const Scratch::Word& x = s.words[i];
        if (e.kind == Element::concept_) return x.canon == e.sym;
        if (e.kind == Element::stem) return x.stem == e.sym;
        if (x.stem == kNone) return false;
        const Sym& y = syms_[x.stem];
        return std::find(class_syms_.begin() + y.classes, class_syms_.begin() + y.classes_end, e.sym) !=
               class_syms_.begin() + y.classes_end;
    };
    std::array<bool, kMaxWords> used{};
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; i++) {
        if (used[i]) continue;
        // The longest pattern starting here: phrases first, then pairs.
        const Pattern* best = nullptr;
        std::size_t best_end = 0;  // for a pair: the second word's index
        auto try_key = [&](std::uint32_t from, std::uint32_t to) {
            for (std::uint32_t k = from; k < to; k++) {
                const Pattern& p = patterns_[k];
                if (!element(p.elements[0], i)) continue;
                if (!p.pair) {
                    const std::size_t len = p.elements.size();
                    if (i + len > n || (best && !best->pair && best->elements.size() >= len)) continue;
                    bool ok = true;
                    for (std::size_t j = 1; j < len && ok; j++) ok = !used[i + j] && element(p.elements[j], i + j);
                    if (ok) {
                        best = &p;
                        best_end = i + len - 1;
                    }
                } else if (!best) {
                    for (std::size_t j = i + 1; j < n && j <= i + 1 + kMaxGap; j++) {
                        if (!used[j] && element(p.elements[1], j)) {
                            best = &p;
                            best_end = j;
                            break;
                        }
                    }
                }
            }
        };
        const Scratch::Word& x = s.words[i];
        if (x.stem != kNone) {
            const Sym& y = syms_[x.stem];
            try_key(y.patterns, y.patterns_end);
            for (std::uint32_t c = y.classes; c < y.classes_end; c++)
                try_key(syms_[class_syms_[c]].patterns, syms_[class_syms_[c]].patterns_end);
        }
        if (x.canon != kNone) try_key(syms_[x.canon].concept_patterns, syms_[x.canon].concept_patterns_end);
        if (best) {
            s.terms[out++] = {best->concept_, names_[best->concept_]};
            if (best->pair) used[best_end] = true;
            else i = best_end;
            continue;
        }
        if (x.stop) continue;
        s.terms[out++] = {x.canon, x.canon_text};
    }
    return out;
}

std::vector<std::string> Matcher::analyze(std::string_view text) const noexcept {
    try {
        Scratch s;
        const std::size_t n = terms(text, true, s);
        std::vector<std::string> out;
        for (std::size_t i = 0; i < n; i++) out.emplace_back(s.terms[i].text);
        return out;
    } catch (...) {
        return {};
    }
}

namespace {

// The tables the analysis starts from, as strings (the constructor numbers them).
template <class V>
using StringMap = std::unordered_map<std::string, V>;
struct PatternText {
    std::vector<std::string> elements;  // stems; "@class" or "=concept" in a pair
    std::string concept_;
    bool pair = false;
};
struct Tables {
    StringMap<std::string> synonyms;               // word or its stem -> concept
    StringMap<std::vector<PatternText>> patterns;  // by their first element
    StringMap<std::vector<std::string>> classes;   // stem -> classes ("@country")
    std::unordered_set<std::string> stop_words, weak;

    std::string canonical(const std::string& word) const {
        if (auto it = synonyms.find(word); it != synonyms.end()) return it->second;
        std::string s = stem(word);
        if (auto it = synonyms.find(s); it != synonyms.end()) return it->second;
        return s;
    }
    bool is_weak(const std::string& term) const {
        if (is_number(term)) return true;
        const auto sp = term.find(' ');
        if (sp == std::string::npos) return weak.count(term) > 0;
        const std::string a = term.substr(0, sp), b = term.substr(sp + 1);
        return (is_number(a) || weak.count(a)) && (is_number(b) || weak.count(b));
    }
};

Tables make_tables() {
    Tables t;
    for (const Synonym& s : kSynonyms) {
        t.synonyms.emplace(std::string(s.word), std::string(s.concept_));
        t.synonyms.emplace(stem(std::string(s.word)), std::string(s.concept_));
    }
    for (const ClassWord& c : kClassWords) t.classes[stem(std::string(c.word))].emplace_back(c.cls);
    for (std::string_view w : kCountries) t.classes[stem(std::string(w))].emplace_back("@country");
    for (const auto& p : kPatterns) {
        PatternText pat;
        pat.concept_ = std::string(p[1]);
        for (const std::string& w : words(p[0])) pat.elements.push_back(stem(w));
        if (const auto plus = p[0].find('+'); plus != std::string_view::npos) {
            // "a + b": words() dropped the '+' and would drop the '@' of a class.
            pat.pair = true;
            pat.elements.clear();
            for (std::string_view part : {p[0].substr(0, plus), p[0].substr(plus + 1)}) {
                while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
                while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
                pat.elements.push_back(part[0] == '@' || part[0] == '=' ? std::string(part)
                                                                         : stem(std::string(part)));
            }
        }
        if (pat.elements.empty()) continue;
        const std::string key = pat.elements[0];
        t.patterns[key].push_back(std::move(pat));
    }
    for (std::string_view w : kStopWords) t.stop_words.emplace(w);
    for (std::string_view w : kWeakTerms) t.weak.emplace(t.canonical(std::string(w)));
    for (std::string_view w : kCountries) t.weak.emplace(stem(std::string(w)));  // "capital of France"
    return t;
}

// An entry's terms while the index is built: a term's frequency and the entry's length.
struct Doc {
    std::unordered_map<std::string, double> tf;
    double length = 0;
    std::unordered_set<std::string> keyword_terms;
};

// Question terms count once per occurrence. A keyword term counts
// kKeywordWeight once per entry however many keywords repeat it, so a long
// keyword list names more ways to ask without inflating any one word.
void add_terms(Doc& doc, const std::vector<std::string>& ts, double weight) {
    auto add = [&](const std::string& t) {
        if (weight == 1.0) {
            doc.tf[t] += 1.0;
            doc.length += 1.0;
        } else if (doc.keyword_terms.insert(t).second) {
            doc.tf[t] += weight;
            doc.length += weight;
        }
    };
    for (std::size_t i = 0; i < ts.size(); i++) {
        add(ts[i]);
        if (i + 1 < ts.size()) add(ts[i] + ' ' + ts[i + 1]);
    }
}

}  // namespace

Matcher::Matcher(std::vector<Entry> entries) noexcept {
    try {
        entries_ = std::move(entries);
        const Tables t = make_tables();

        // Every string the analysis can meet gets a symbol: the tables' words, stems,
        // classes and concepts, the words of every entry, and the stem of each of them.
        StringMap<std::uint32_t> ids;
        auto intern = [&](const std::string& str) {
            auto [it, fresh] = ids.emplace(str, static_cast<std::uint32_t>(names_.size()));
            if (fresh) names_.push_back(str);
            return it->second;
        };
        for (const auto& [word, concept_] : t.synonyms) intern(word), intern(concept_);
        for (const auto& [st, classes] : t.classes) {
            intern(st);
            for (const std::string& c : classes) intern(c);
        }
        for (const auto& [key, pats] : t.patterns)
            for (const PatternText& p : pats) {
                intern(p.concept_);
                for (const std::string& e : p.elements) intern(e[0] == '=' ? e.substr(1) : e);
            }
        for (const std::string& w : t.stop_words) intern(w);
        // (an entry's text as collect() reads it, whole, and as terms() does, cut to
        // kMaxTextBytes: a word cut in two is a word too)
        auto intern_words = [&](std::string_view text) {
            for (const std::string& w : words(text)) intern(w);
            for (const std::string& w : words(text.substr(0, kMaxTextBytes))) intern(w);
        };
        for (const Entry& e : entries_) {
            intern_words(e.question);
            for (const std::string& k : e.keywords) intern_words(k);
        }
        for (std::size_t i = 0; i < names_.size(); i++) intern(stem(names_[i]));  // names_ grows: stems of stems
        syms_.resize(names_.size());

        // What each symbol is, in the order the analysis asks.
        StringMap<std::vector<std::uint32_t>> by_concept;  // "=" patterns by their concept
        for (std::size_t i = 0; i < names_.size(); i++) {
            const std::string& name = names_[i];
            Sym& y = syms_[i];
            y.stop = t.stop_words.count(name) > 0;
            y.stem = ids.at(stem(name));
            if (auto it = t.synonyms.find(name); it != t.synonyms.end()) y.concept_ = ids.at(it->second);
            y.canon = ids.at(t.canonical(name));
            y.classes = y.classes_end = static_cast<std::uint32_t>(class_syms_.size());
            if (auto it = t.classes.find(name); it != t.classes.end())
                for (const std::string& c : it->second) class_syms_.push_back(ids.at(c));
            y.classes_end = static_cast<std::uint32_t>(class_syms_.size());
        }
        // Each key's patterns, in their order, as one run of patterns_.
        for (const auto& [key, pats] : t.patterns) {
            Sym& y = syms_[ids.at(key[0] == '=' ? key.substr(1) : key)];
            std::uint32_t& from = key[0] == '=' ? y.concept_patterns : y.patterns;
            std::uint32_t& to = key[0] == '=' ? y.concept_patterns_end : y.patterns_end;
            from = static_cast<std::uint32_t>(patterns_.size());
            for (const PatternText& p : pats) {
                Pattern pat;
                pat.concept_ = ids.at(p.concept_);
                pat.pair = p.pair;
                for (const std::string& e : p.elements) {
                    if (e[0] == '=') pat.elements.push_back({Element::concept_, ids.at(e.substr(1))});
                    else if (e[0] == '@') pat.elements.push_back({Element::cls, ids.at(e)});
                    else pat.elements.push_back({Element::stem, ids.at(e)});
                }
                patterns_.push_back(std::move(pat));
            }
            to = static_cast<std::uint32_t>(patterns_.size());
        }
        slots_.assign(table_size(names_.size()), 0);
        for (std::size_t i = 0; i < names_.size(); i++) {
            std::size_t at = hash_text(names_[i]) & (slots_.size() - 1);
            while (slots_[at]) at = (at + 1) & (slots_.size() - 1);
            slots_[at] = static_cast<std::uint32_t>(i + 1);
        }

        // The index: BM25 over each entry's question and keywords.
        Scratch s;
        auto terms_of = [&](std::string_view text) {
            std::vector<std::string> out;
            const std::size_t n = terms(text, false, s);
            for (std::size_t i = 0; i < n; i++) out.emplace_back(s.terms[i].text);
            return out;
        };
        std::vector<std::string> vocab;
        auto collect = [&](std::string_view text) {
            for (std::string& w : words(text))
                if (!t.stop_words.count(w) && w.size() >= 3) vocab.push_back(std::move(w));
        };
        std::vector<Doc> docs(entries_.size());
        std::vector<double> lengths;
        double total = 0;
        struct Postings {
            std::vector<std::pair<std::size_t, double>> docs;  // entry, tf
        };
        std::map<std::string, Postings> index;  // in the order of the terms' text
        for (std::size_t i = 0; i < entries_.size(); i++) {
            const Entry& e = entries_[i];
            add_terms(docs[i], terms_of(e.question), 1.0);
            collect(e.question);
            for (const std::string& k : e.keywords) {
                add_terms(docs[i], terms_of(k), kKeywordWeight);
                collect(k);
            }
            for (const auto& [term, tf] : docs[i].tf) index[term].docs.emplace_back(i, tf);
            total += docs[i].length;
            lengths.push_back(docs[i].length);
            by_slug_.emplace(e.slug, i);
        }
        const double avg_length = entries_.empty() ? 0 : total / static_cast<double>(entries_.size());
        // A tiny FAQ would give every word a tiny IDF and nothing would ever
        // clear the threshold: score as if the set had at least a dozen entries.
        const double n = std::max(static_cast<double>(entries_.size()), 12.0);
        std::vector<std::pair<std::uint64_t, std::uint32_t>> pairs;  // bigram key, term
        for (auto& [text, post] : index) {
            const double df = static_cast<double>(post.docs.size());
            double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
            for (std::string_view a : kActionTerms)
                if (text == a) idf *= kActionWeight;
            Term term;
            term.weak = t.is_weak(text);
            term.postings = static_cast<std::uint32_t>(postings_.size());
            // The entries in the order they were indexed, as a post adds them up.
            std::sort(post.docs.begin(), post.docs.end());
            for (const auto& [doc, tf] : post.docs) {
                const double norm = kK1 * (1 - kB + kB * lengths[doc] / avg_length);
                postings_.push_back({static_cast<std::uint32_t>(doc), idf * tf * (kK1 + 1) / (tf + norm)});
            }
            term.postings_end = static_cast<std::uint32_t>(postings_.size());
            const auto id = static_cast<std::uint32_t>(terms_.size());
            terms_.push_back(term);
            // Every term is a symbol, or two joined by a space (both terms themselves).
            if (const auto sp = text.find(' '); sp == std::string::npos)
                syms_[ids.at(text)].term = id;
            else
                pairs.emplace_back((std::uint64_t{ids.at(text.substr(0, sp))} << 32) | ids.at(text.substr(sp + 1)),
                                   id);
        }
        bigrams_.assign(table_size(pairs.size()), Bigram{0, kNone});
        for (const auto& [key, id] : pairs) {
            std::size_t at = hash_pair(key) >> 32 & (bigrams_.size() - 1);
            while (bigrams_[at].term != kNone) at = (at + 1) & (bigrams_.size() - 1);
            bigrams_[at] = {key, id};
        }
        // A typo is a word of none of the tables: no stop word, no class or pattern, no term.
        for (Sym& y : syms_) {
            const Sym& st = syms_[y.stem];
            y.typo = !y.stop && st.classes == st.classes_end && st.patterns == st.patterns_end &&
                     syms_[y.canon].term == kNone;
        }

        for (const Synonym& syn : kSynonyms)
            if (index.count(std::string(syn.concept_))) vocab.emplace_back(syn.word);
        std::sort(vocab.begin(), vocab.end());
        vocab.erase(std::unique(vocab.begin(), vocab.end()), vocab.end());
        for (std::string& v : vocab) {
            if (v.size() > kMaxTypoWord) continue;
            if (vocab_.size() <= v.size()) vocab_.resize(v.size() + 1);
            const std::uint32_t l = letters(v);
            const std::uint32_t sym = ids.at(v);
            const std::size_t len = v.size();
            vocab_[len].push_back({std::move(v), l, sym});
        }
    } catch (...) {
        entries_.clear();
        names_.clear();
        syms_.clear();
        slots_.clear();
        class_syms_.clear();
        patterns_.clear();
        terms_.clear();
        postings_.clear();
        bigrams_.clear();
        vocab_.clear();
        by_slug_.clear();
    }
}

std::optional<Matcher::Match> Matcher::match(std::string_view text) const noexcept {
    if (entries_.empty()) return std::nullopt;
    Scratch s;
    const std::size_t n = terms(text, true, s);
    // The query's unigrams and bigrams that the index has, each once, in the order of their
    // text (terms_'s order: the order the scores add up in).
    std::array<std::uint32_t, 2 * kMaxWords> query;
    std::size_t q = 0;
    for (std::size_t i = 0; i < n; i++) {
        const std::uint32_t a = s.terms[i].sym;
        if (a == kNone || syms_[a].term == kNone) continue;  // then no bigram starts here either
        query[q++] = syms_[a].term;
        if (i + 1 < n && s.terms[i + 1].sym != kNone)
            if (const std::uint32_t b = bigram(a, s.terms[i + 1].sym); b != kNone) query[q++] = b;
    }
    std::sort(query.begin(), query.begin() + q);
    q = static_cast<std::size_t>(std::unique(query.begin(), query.begin() + q) - query.begin());

    // BM25 per entry, topic and intent terms apart: intent terms count
    // only where a topic term matched. A large FAQ's sums go to the heap.
    constexpr std::size_t kOnStack = 256;
    std::array<double, 2 * kOnStack> stack;
    std::vector<double> heap;
    double* topic = stack.data();
    if (entries_.size() > kOnStack) {
        try {
            heap.resize(2 * entries_.size());
        } catch (...) {
            return std::nullopt;
        }
        topic = heap.data();
    }
    double* intent = topic + entries_.size();
    std::fill(topic, intent + entries_.size(), 0.0);
    for (std::size_t k = 0; k < q; k++) {
        const Term& term = terms_[query[k]];
        double* sums = term.weak ? intent : topic;
        for (std::uint32_t p = term.postings; p < term.postings_end; p++) sums[postings_[p].doc] += postings_[p].score;
    }
    std::optional<Match> best;
    for (std::size_t i = 0; i < entries_.size(); i++) {
        if (topic[i] <= 0) continue;
        const double score = topic[i] + intent[i];
        if (!best || score > best->score ||
            (score == best->score && entries_[i].display_order < best->entry->display_order))
            best = Match{&entries_[i], score};
    }
    if (!best || best->score < kThreshold) return std::nullopt;
    return best;
}

const Entry* Matcher::by_slug(std::string_view slug) const noexcept {
    auto it = by_slug_.find(slug);
    return it == by_slug_.end() ? nullptr : &entries_[it->second];
}

std::string fallback_reply() {
    return "Sorry, I couldn't find an answer to that. You can rephrase, pick a topic below, or talk to a "
           "human agent.";
}

std::string greeting() {
    return "Hi! I'm the shop assistant. Ask me anything about orders, shipping, returns or payments \xE2\x80\x94 "
           "or pick a topic below.";
}

}  // namespace chat::faq
