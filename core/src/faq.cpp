// FAQ matching: text analysis (folding, synonyms, stop words, stemming, typo correction) and BM25 ranking.
#include "chat/faq.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cmath>
#include <string>

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

// Lowercased, accent-folded words; apostrophes join ("don't" -> "dont").
std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty() && out.size() < kMaxWords) out.push_back(std::move(cur));
        cur.clear();
    };
    std::size_t pos = 0;
    while (pos < text.size() && out.size() < kMaxWords) {
        const std::size_t at = pos;
        const char32_t cp = utf8::next_code_point(text, pos);
        if (cp < 0x80) {
            const char c = static_cast<char>(cp);
            if (c >= 'A' && c <= 'Z') cur.push_back(static_cast<char>(c - 'A' + 'a'));
            else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) cur.push_back(c);
            else if (c == '\'') continue;
            else flush();
            continue;
        }
        if (cp == 0x2019 || cp == utf8::kInvalid) {
            if (cp == utf8::kInvalid) flush();
            continue;
        }
        const char* f = fold(cp);
        if (!f) cur.append(text.substr(at, pos - at));
        else if (*f) cur.append(f);
        else flush();
    }
    flush();
    return out;
}

bool ends_with(const std::string& w, std::string_view suffix) {
    return w.size() >= suffix.size() && std::string_view(w).substr(w.size() - suffix.size()) == suffix;
}

bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// Whether w[0, n) has a vowel: "bring" and "red" keep their endings.
bool has_vowel(const std::string& w, std::size_t n) {
    for (std::size_t i = 0; i < n; i++)
        if (is_vowel(w[i]) || w[i] == 'y') return true;
    return false;
}

void undouble(std::string& w) {
    const std::size_t n = w.size();
    if (n >= 3 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 'l' && w[n - 1] != 's' &&
        w[n - 1] != 'z')
        w.pop_back();
}

// Light stemming: enough to meet inflections of the same word, the same way
// on both sides; the stems need not be real words.
std::string stem(std::string w) {
    if (w.size() <= 2) return w;
    if (ends_with(w, "ies") && w.size() > 4) w.replace(w.size() - 3, 3, "y");
    else if (ends_with(w, "sses")) w.resize(w.size() - 2);
    else if ((ends_with(w, "ches") || ends_with(w, "shes") || ends_with(w, "xes") || ends_with(w, "zes")) &&
             w.size() > 4)
        w.resize(w.size() - 2);
    else if (ends_with(w, "s") && !ends_with(w, "ss") && !ends_with(w, "us") && !ends_with(w, "is") &&
             w.size() > 3)
        w.pop_back();

    if (ends_with(w, "ing") && w.size() >= 5 && has_vowel(w, w.size() - 3)) {
        w.resize(w.size() - 3);
        undouble(w);
    } else if (ends_with(w, "ed") && w.size() >= 4 && !ends_with(w, "eed") && has_vowel(w, w.size() - 2)) {
        w.resize(w.size() - 2);
        undouble(w);
    } else if (ends_with(w, "ly") && w.size() >= 6) {
        w.resize(w.size() - 2);
    }
    if (w.size() >= 3 && w.back() == 'e') w.pop_back();
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

}  // namespace

std::string Matcher::canonical(const std::string& word) const {
    if (auto it = synonyms_.find(word); it != synonyms_.end()) return it->second;
    std::string s = stem(word);
    if (auto it = synonyms_.find(s); it != synonyms_.end()) return it->second;
    return s;
}

bool Matcher::is_weak(const std::string& term) const {
    if (is_number(term)) return true;
    const auto sp = term.find(' ');
    if (sp == std::string::npos) return weak_.count(term) > 0;
    const std::string a = term.substr(0, sp), b = term.substr(sp + 1);
    return (is_number(a) || weak_.count(a)) && (is_number(b) || weak_.count(b));
}

std::string Matcher::correct(const std::string& w) const {
    const std::size_t max = w.size() >= 8 ? 2 : 1;
    const std::uint32_t wm = letters(w);
    std::size_t best_d = max + 1;
    const std::string* fix = nullptr;
    for (std::size_t len = w.size() - max; len <= w.size() + max && len < vocab_.size(); len++) {
        for (const VocabWord& vw : vocab_[len]) {
            const std::string& v = vw.word;
            // A short word is only fixed for a missing or extra letter:
            // "night" is not a typo of "tight".
            if (w.size() < 6 && v.size() == w.size()) continue;
            // Each edit adds or removes at most one distinct letter.
            if (more_bits(wm & ~vw.letters, max) || more_bits(vw.letters & ~wm, max)) continue;
            const std::size_t d = edit_distance(w, v, max);
            if (d < best_d || (d == best_d && fix && v < *fix)) {
                best_d = d;
                fix = &v;
            }
        }
    }
    return fix ? *fix : w;
}

std::vector<std::string> Matcher::terms(std::string_view text, bool correct_typos) const {
    std::vector<std::string> ws = words(text.substr(0, kMaxTextBytes));
    // Typos first, so that a corrected word takes part in patterns too: an
    // unknown word (no stop word, no concept, no class) of 5+ characters.
    if (correct_typos) {
        for (std::string& w : ws) {
            if (w.size() < 5 || w.size() > kMaxTypoWord || stop_words_.count(w)) continue;
            const std::string s = stem(w);
            if (classes_.count(s) || patterns_.count(s) || index_.count(canonical(w))) continue;
            w = correct(w);
        }
    }
    std::vector<std::string> st, canon;
    st.reserve(ws.size());
    canon.reserve(ws.size());
    for (const std::string& w : ws) {
        st.push_back(stem(w));
        auto it = synonyms_.find(w);
        if (it == synonyms_.end()) it = synonyms_.find(st.back());
        canon.push_back(it == synonyms_.end() ? st.back() : it->second);
    }
    // A pattern element matches a word by its stem, or by a class of its stem.
    auto element = [&](const std::string& e, std::size_t i) {
        if (e[0] == '=') return canon[i] == std::string_view(e).substr(1);
        if (e[0] != '@') return st[i] == e;
        auto it = classes_.find(st[i]);
        return it != classes_.end() && std::find(it->second.begin(), it->second.end(), e) != it->second.end();
    };
    std::vector<bool> used(ws.size(), false);
    std::vector<std::string> out;
    std::string concept_key;  // "=" and a word's concept: the key of patterns that start with any word of it
    for (std::size_t i = 0; i < ws.size(); i++) {
        if (used[i]) continue;
        // The longest pattern starting here: phrases first, then pairs.
        const Pattern* best = nullptr;
        std::size_t best_end = 0;  // for a pair: the second word's index
        auto try_key = [&](std::string_view key) {
            auto it = patterns_.find(key);
            if (it == patterns_.end()) return;
            for (const Pattern& p : it->second) {
                if (!element(p.words[0], i)) continue;
                if (!p.pair) {
                    const std::size_t len = p.words.size();
                    if (i + len > ws.size() || (best && !best->pair && best->words.size() >= len)) continue;
                    bool ok = true;
                    for (std::size_t k = 1; k < len && ok; k++) ok = !used[i + k] && element(p.words[k], i + k);
                    if (ok) {
                        best = &p;
                        best_end = i + len - 1;
                    }
                } else if (!best) {
                    for (std::size_t j = i + 1; j < ws.size() && j <= i + 1 + kMaxGap; j++) {
                        if (!used[j] && element(p.words[1], j)) {
                            best = &p;
                            best_end = j;
                            break;
                        }
                    }
                }
            }
        };
        try_key(st[i]);
        if (auto it = classes_.find(st[i]); it != classes_.end())
            for (const std::string& c : it->second) try_key(c);
        concept_key.assign(1, '=').append(canon[i]);
        try_key(concept_key);
        if (best) {
            out.push_back(best->concept_);
            if (best->pair) used[best_end] = true;
            else i = best_end;
            continue;
        }
        const std::string& w = ws[i];
        if (stop_words_.count(w)) continue;
        out.push_back(std::move(canon[i]));
    }
    return out;
}

std::vector<std::string> Matcher::analyze(std::string_view text) const noexcept {
    try {
        return terms(text, true);
    } catch (...) {
        return {};
    }
}

// Question terms count once per occurrence. A keyword term counts
// kKeywordWeight once per entry however many keywords repeat it, so a long
// keyword list names more ways to ask without inflating any one word.
void Matcher::add_terms(Doc& doc, const std::vector<std::string>& ts, double weight) {
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

Matcher::Matcher(std::vector<Entry> entries) noexcept {
    try {
        entries_ = std::move(entries);
        for (const Synonym& s : kSynonyms) {
            synonyms_.emplace(std::string(s.word), std::string(s.concept_));
            synonyms_.emplace(stem(std::string(s.word)), std::string(s.concept_));
        }
        for (const ClassWord& c : kClassWords) classes_[stem(std::string(c.word))].emplace_back(c.cls);
        for (std::string_view w : kCountries) classes_[stem(std::string(w))].emplace_back("@country");
        for (const auto& p : kPatterns) {
            Pattern pat;
            pat.concept_ = std::string(p[1]);
            for (const std::string& w : words(p[0])) pat.words.push_back(stem(w));
            if (const auto plus = p[0].find('+'); plus != std::string_view::npos) {
                // "a + b": words() dropped the '+' and would drop the '@' of a class.
                pat.pair = true;
                pat.words.clear();
                for (std::string_view part : {p[0].substr(0, plus), p[0].substr(plus + 1)}) {
                    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
                    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
                    pat.words.push_back(part[0] == '@' || part[0] == '=' ? std::string(part)
                                                                         : stem(std::string(part)));
                }
            }
            if (pat.words.empty()) continue;
            const std::string key = pat.words[0];
            patterns_[key].push_back(std::move(pat));
        }
        for (std::string_view w : kStopWords) stop_words_.emplace(w);
        for (std::string_view w : kWeakTerms) weak_.emplace(canonical(std::string(w)));
        for (std::string_view w : kCountries) weak_.emplace(stem(std::string(w)));  // "capital of France"

        std::vector<std::string> vocab;
        auto collect = [&](std::string_view text) {
            for (std::string& w : words(text))
                if (!stop_words_.count(w) && w.size() >= 3) vocab.push_back(std::move(w));
        };
        std::vector<Doc> docs(entries_.size());
        double total = 0;
        for (std::size_t i = 0; i < entries_.size(); i++) {
            const Entry& e = entries_[i];
            add_terms(docs[i], terms(e.question, false), 1.0);
            collect(e.question);
            for (const std::string& k : e.keywords) {
                add_terms(docs[i], terms(k, false), kKeywordWeight);
                collect(k);
            }
            for (const auto& [t, tf] : docs[i].tf) index_[t].postings.push_back({i, tf});
            total += docs[i].length;
            lengths_.push_back(docs[i].length);
            by_slug_.emplace(e.slug, i);
        }
        // A tiny FAQ would give every word a tiny IDF and nothing would ever
        // clear the threshold: score as if the set had at least a dozen entries.
        const double n = std::max(static_cast<double>(entries_.size()), 12.0);
        for (auto& [t, term] : index_) {
            const double df = static_cast<double>(term.postings.size());
            term.idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
            term.weak = is_weak(t);
            for (std::string_view a : kActionTerms)
                if (t == a) term.idf *= kActionWeight;
        }
        for (const Synonym& s : kSynonyms)
            if (index_.count(std::string(s.concept_))) vocab.emplace_back(s.word);
        std::sort(vocab.begin(), vocab.end());
        vocab.erase(std::unique(vocab.begin(), vocab.end()), vocab.end());
        for (std::string& v : vocab) {
            if (v.size() > kMaxTypoWord) continue;
            if (vocab_.size() <= v.size()) vocab_.resize(v.size() + 1);
            const std::uint32_t l = letters(v);
            const std::size_t len = v.size();
            vocab_[len].push_back({std::move(v), l});
        }
        avg_length_ = entries_.empty() ? 0 : total / static_cast<double>(entries_.size());
    } catch (...) {
        entries_.clear();
        index_.clear();
        lengths_.clear();
        vocab_.clear();
        by_slug_.clear();
    }
}

std::optional<Matcher::Match> Matcher::match(std::string_view text) const noexcept {
    try {
        if (entries_.empty() || lengths_.size() != entries_.size()) return std::nullopt;
        const std::vector<std::string> ts = terms(text, true);
        // The query's unigrams and bigrams that the index has, each once, in the order of
        // their text (the order the scores add up in): looked up without a string each.
        std::vector<const Map<Term>::value_type*> query;
        query.reserve(2 * ts.size());
        std::string bigram;
        for (std::size_t i = 0; i < ts.size(); i++) {
            if (auto it = index_.find(std::string_view(ts[i])); it != index_.end()) query.push_back(&*it);
            if (i + 1 < ts.size()) {
                bigram.assign(ts[i]).append(1, ' ').append(ts[i + 1]);
                if (auto it = index_.find(std::string_view(bigram)); it != index_.end()) query.push_back(&*it);
            }
        }
        std::sort(query.begin(), query.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
        query.erase(std::unique(query.begin(), query.end()), query.end());

        // BM25 per entry, topic and intent terms apart: intent terms count
        // only where a topic term matched.
        std::vector<double> topic(entries_.size(), 0.0), intent(entries_.size(), 0.0);
        for (const auto* found : query) {
            const Term& term = found->second;
            for (const Posting& p : term.postings) {
                const double norm = kK1 * (1 - kB + kB * lengths_[p.doc] / avg_length_);
                (term.weak ? intent : topic)[p.doc] += term.idf * p.tf * (kK1 + 1) / (p.tf + norm);
            }
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
    } catch (...) {
        return std::nullopt;
    }
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
