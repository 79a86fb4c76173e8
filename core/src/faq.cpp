// FAQ matching: text analysis (folding, synonyms, stop words, stemming, typo correction) and BM25 ranking.
#include "chat/faq.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "chat/utf8.h"

namespace chat::faq {

namespace {

constexpr std::size_t kMaxTextBytes = 2000;
constexpr std::size_t kMaxWords = 64;
constexpr double kKeywordWeight = 2.0;
constexpr double kK1 = 1.2;
constexpr double kB = 0.5;  // keyword-rich entries are long by design; penalise length gently

// Concepts: customers say the same thing many ways; each line maps a word (or,
// after stemming, any of its inflections) to one concept term.
struct Synonym {
    std::string_view word, concept_;
};
constexpr Synonym kSynonyms[] = {
    {"ship", "ship"}, {"shipping", "ship"}, {"shipped", "ship"}, {"shipment", "ship"},
    {"delivery", "ship"}, {"deliver", "ship"}, {"delivered", "ship"}, {"dispatch", "ship"},
    {"dispatched", "ship"}, {"post", "ship"}, {"posted", "ship"},
    {"refund", "refund"}, {"refunded", "refund"}, {"reimburse", "refund"}, {"reimbursement", "refund"},
    {"return", "return"}, {"returned", "return"}, {"returning", "return"},
    {"cost", "cost"}, {"price", "cost"}, {"pricing", "cost"}, {"fee", "cost"}, {"charge", "cost"},
    {"expensive", "cost"},
    {"track", "track"}, {"tracking", "track"}, {"tracked", "track"}, {"wismo", "track"},
    {"cancel", "cancel"}, {"cancelled", "cancel"}, {"canceled", "cancel"}, {"cancelling", "cancel"},
    {"canceling", "cancel"}, {"cancellation", "cancel"}, {"cancelation", "cancel"},
    {"pay", "pay"}, {"paid", "pay"}, {"paying", "pay"}, {"payment", "pay"}, {"card", "pay"},
    {"paypal", "pay"},
    {"guarantee", "warranty"}, {"guaranteed", "warranty"}, {"warranty", "warranty"},
    {"warranties", "warranty"},
    {"size", "size"}, {"sizing", "size"}, {"sized", "size"}, {"fit", "size"}, {"fitting", "size"},
    {"broken", "damage"}, {"broke", "damage"}, {"damaged", "damage"}, {"damage", "damage"},
    {"defective", "damage"}, {"faulty", "damage"},
    {"coupon", "discount"}, {"promo", "discount"}, {"promotion", "discount"}, {"discount", "discount"},
    {"voucher", "discount"}, {"code", "discount"}, {"promocode", "discount"},
    {"abroad", "international"}, {"international", "international"}, {"internationally", "international"},
    {"overseas", "international"}, {"worldwide", "international"},
    {"account", "account"}, {"login", "account"}, {"logon", "account"}, {"signin", "account"},
    {"password", "account"}, {"passwd", "account"},
    {"package", "package"}, {"parcel", "package"}, {"box", "package"},
};

// Multi-word synonyms, matched on the folded words before stop words go.
constexpr std::string_view kPhrases[][2] = {
    {"money back", "refund"},      {"send back", "return"},
    {"send it back", "return"},    {"how much", "cost"},            {"where is my order", "track"},
    {"wheres my order", "track"},  {"where s my order", "track"},   {"sign in", "account"},
    {"log in", "account"},         {"log into", "account"},         {"sign into", "account"},
    {"locked out", "account"},     {"order shipped", "track"},      {"shipped yet", "track"},
    {"order status", "track"},
};

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
    "thing", "things",
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

    if (ends_with(w, "ing") && w.size() >= 5) {
        w.resize(w.size() - 3);
        undouble(w);
    } else if (ends_with(w, "ed") && w.size() >= 4 && !ends_with(w, "eed")) {
        w.resize(w.size() - 2);
        undouble(w);
    } else if (ends_with(w, "ly") && w.size() >= 6) {
        w.resize(w.size() - 2);
    }
    if (w.size() >= 3 && w.back() == 'e') w.pop_back();
    return w;
}

// Optimal string alignment distance (adjacent transposition = 1 edit), or
// max + 1 as soon as it is certain to exceed max.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t max) {
    const std::size_t n = a.size(), m = b.size();
    if ((n > m ? n - m : m - n) > max) return max + 1;
    std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
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

}  // namespace

std::string Matcher::canonical(const std::string& word) const {
    if (auto it = synonyms_.find(word); it != synonyms_.end()) return it->second;
    std::string s = stem(word);
    if (auto it = synonyms_.find(s); it != synonyms_.end()) return it->second;
    return s;
}

std::vector<std::string> Matcher::terms(std::string_view text, bool correct_typos) const {
    const std::vector<std::string> ws = words(text.substr(0, kMaxTextBytes));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < ws.size();) {
        // Longest multi-word synonym starting here.
        const std::vector<std::string>* best = nullptr;
        for (const auto& p : phrases_) {
            const std::size_t len = p.size() - 1;
            if (i + len > ws.size() || (best && best->size() >= p.size())) continue;
            if (std::equal(p.begin(), p.end() - 1, ws.begin() + static_cast<std::ptrdiff_t>(i))) best = &p;
        }
        if (best) {
            out.push_back(best->back());
            i += best->size() - 1;
            continue;
        }
        const std::string& w = ws[i++];
        if (stop_words_.count(w)) continue;
        std::string c = canonical(w);
        if (correct_typos && !df_.count(c) && w.size() >= 5) {
            const std::size_t max = w.size() >= 8 ? 2 : 1;
            std::size_t best_d = max + 1;
            const std::string* fix = nullptr;
            for (const std::string& v : vocab_) {
                const std::size_t d = edit_distance(w, v, max);
                if (d < best_d) {
                    best_d = d;
                    fix = &v;
                }
            }
            if (fix) c = canonical(*fix);
        }
        out.push_back(std::move(c));
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
        for (const auto& p : kPhrases) {
            std::vector<std::string> ph = words(p[0]);
            ph.emplace_back(p[1]);
            phrases_.push_back(std::move(ph));
        }
        for (std::string_view w : kStopWords) stop_words_.emplace(w);

        std::vector<std::string> vocab;
        auto collect = [&](std::string_view text) {
            for (std::string& w : words(text))
                if (!stop_words_.count(w) && w.size() >= 3) vocab.push_back(std::move(w));
        };
        docs_.resize(entries_.size());
        double total = 0;
        for (std::size_t i = 0; i < entries_.size(); i++) {
            const Entry& e = entries_[i];
            add_terms(docs_[i], terms(e.question, false), 1.0);
            collect(e.question);
            for (const std::string& k : e.keywords) {
                add_terms(docs_[i], terms(k, false), kKeywordWeight);
                collect(k);
            }
            for (const auto& [t, _] : docs_[i].tf) df_[t]++;
            docs_[i].keyword_terms.clear();
            total += docs_[i].length;
            by_slug_.emplace(e.slug, i);
        }
        for (const Synonym& s : kSynonyms)
            if (df_.count(std::string(s.concept_))) vocab.emplace_back(s.word);
        std::sort(vocab.begin(), vocab.end());
        vocab.erase(std::unique(vocab.begin(), vocab.end()), vocab.end());
        vocab_ = std::move(vocab);
        avg_length_ = entries_.empty() ? 0 : total / static_cast<double>(entries_.size());
    } catch (...) {
        entries_.clear();
        docs_.clear();
        df_.clear();
        vocab_.clear();
        by_slug_.clear();
    }
}

std::optional<Matcher::Match> Matcher::match(std::string_view text) const noexcept {
    try {
        if (entries_.empty()) return std::nullopt;
        const std::vector<std::string> ts = terms(text, true);
        std::vector<std::string> query;
        for (std::size_t i = 0; i < ts.size(); i++) {
            query.push_back(ts[i]);
            if (i + 1 < ts.size()) query.push_back(ts[i] + ' ' + ts[i + 1]);
        }
        std::sort(query.begin(), query.end());
        query.erase(std::unique(query.begin(), query.end()), query.end());

        // A tiny FAQ would give every word a tiny IDF and nothing would ever
        // clear the threshold: score as if the set had at least a dozen entries.
        const double n = std::max(static_cast<double>(entries_.size()), 12.0);
        std::optional<Match> best;
        for (std::size_t i = 0; i < entries_.size(); i++) {
            const Doc& d = docs_[i];
            double score = 0;
            for (const std::string& t : query) {
                auto it = d.tf.find(t);
                if (it == d.tf.end()) continue;
                const double df = df_.at(t);
                const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
                const double tf = it->second;
                score += idf * tf * (kK1 + 1) / (tf + kK1 * (1 - kB + kB * d.length / avg_length_));
            }
            if (score <= 0) continue;
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
