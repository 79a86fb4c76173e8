// The FAQ matcher: the one place where the rules for answering a customer's text from the FAQ live.
//
// Text and entries go through the same analysis: Latin-1 accents folded,
// lowercased, punctuation dropped (apostrophes join: "where's" -> "wheres"),
// each word stemmed lightly (plural -s/-es/-ies, -ing, -ed, -ly, a final -e;
// an ending is kept when no vowel would be left: "bring", "red"). In a
// customer's text an unknown word of 5+ characters (no stop word, concept or
// pattern word) is first corrected to the nearest word of the FAQ vocabulary
// within edit distance 1 (2 from 8 characters; transpositions count as one
// edit; a word under 6 characters only for a missing or extra letter, so
// "night" never becomes "tight").
//
// Then, left to right, the longest multi-word pattern starting at a word
// becomes its concept: a phrase over word stems ("money back" -> refund,
// "get here"/"show up" -> arrive, "pay for" -> cost, "gift card" -> a concept
// no entry has, so "do you sell gift cards" is not a payment question) or a
// pair whose second word may come up to 3 words later ("send the jacket back"
// -> return, "where is my parcel" -> track, "ship to Ireland" -> international,
// "broke after two weeks" -> warranty, "arrived smashed" -> damage). Pair
// elements are words, word classes (countries, days, "what I bought") or
// concepts. Otherwise English stop words and chat shorthand go, and a word is
// mapped to its concept (shipping/delivery/dispatch -> ship, voucher/coupon/
// promo -> discount, torn/scratched/smashed -> damage, ...).
//
// Scoring is BM25 over unigrams and bigrams of each entry's question plus its
// keywords (a keyword term counts double, once per entry). Two kinds of term
// are special. Intent terms ("when", "where", "long", "cost", "email",
// "package", days, country names, numbers) say what is asked but not about
// what: they add to an entry's score only when a topic term matched it too,
// so "when do you open" or "will the price drop" never selects an answer.
// Action concepts
// (refund, return, cancel, warranty, damage) weigh twice a channel concept
// (pay, ship, arrive): "will I be reimbursed to my PayPal" is about a refund.
// The best entry wins if its score reaches an absolute threshold; otherwise
// there is no match and the bot falls back. Ties go to the lower
// display_order. A handful of nouns every shop question contains ("order",
// "item", "product") are stop words, so one generic word never selects an
// answer on its own.
//
// Quality is measured, not assumed: core/tests/faq_quality_test.cpp scores
// the seed FAQ (sql/seed/faq.json) on a held-out set of shopper phrasings
// (faq_heldout.tsv, never tuned on) and asserts >= 90 % right answers and no
// answer at all to off-topic text; faq_tuning.tsv is what the rules above
// were developed against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chat::faq {

struct Entry {
    std::string slug, question, answer;
    std::vector<std::string> keywords;
    int display_order = 0;
};

class Matcher {
public:
    // Builds the index. Never throws: if memory runs out the matcher is left
    // empty (size() == 0) and matches nothing.
    explicit Matcher(std::vector<Entry> entries) noexcept;

    struct Match {
        const Entry* entry;  // points into this Matcher
        double score;
    };

    // The best entry for a customer's text, or nullopt (fall back). Only the
    // first 2000 bytes / 64 words of text are considered.
    std::optional<Match> match(std::string_view text) const noexcept;
    const Entry* by_slug(std::string_view slug) const noexcept;

    const std::vector<Entry>& entries() const noexcept { return entries_; }
    std::size_t size() const noexcept { return entries_.size(); }

    // The terms (after analysis, before bigrams) that match() scores for text;
    // for tests and diagnostics. Empty on allocation failure.
    std::vector<std::string> analyze(std::string_view text) const noexcept;

    // Minimum BM25 score for a match.
    static constexpr double kThreshold = 2.5;

private:
    // Tables looked up by a string_view too (a post's words and bigrams need no string each).
    // Not noexcept on purpose: libstdc++ then keeps each key's hash in its node, as it does
    // for std::hash<std::string>, instead of hashing keys again while it walks a bucket.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    template <class V>
    using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;
    using Set = std::unordered_set<std::string, Hash, std::equal_to<>>;

    struct Doc {
        std::unordered_map<std::string, double> tf;
        double length = 0;
        std::unordered_set<std::string> keyword_terms;  // only while building
    };
    struct Posting {
        std::size_t doc;
        double tf;
    };
    struct Term {
        double idf = 0;
        bool weak = false;  // an intent word: scores only next to a topic word
        std::vector<Posting> postings;
    };
    // A multi-word pattern over word stems: contiguous words, or a first word
    // and a second one at most kMaxGap words later (the words between stay).
    struct Pattern {
        std::vector<std::string> words;  // contiguous stems; or {first, second} for a pair
        std::string concept_;
        bool pair = false;
    };
    std::vector<std::string> terms(std::string_view text, bool correct_typos) const;
    std::string canonical(const std::string& word) const;
    std::string correct(const std::string& word) const;  // the nearest vocabulary word, or word
    void add_terms(Doc& doc, const std::vector<std::string>& terms, double weight);
    bool is_weak(const std::string& term) const;

    // Analysis tables, built once from the constant lists in faq.cpp.
    Map<std::string> synonyms_;             // word or its stem -> concept
    Map<std::vector<Pattern>> patterns_;    // by the stem of the first word
    Map<std::vector<std::string>> classes_;  // stem -> classes ("@country")
    Set stop_words_;
    Set weak_;

    std::vector<Entry> entries_;
    Map<Term> index_;                       // term -> idf and the entries containing it
    std::vector<double> lengths_;                  // per entry, for BM25's length norm
    struct VocabWord {
        std::string word;
        std::uint32_t letters;  // the set of its letters, to skip most edit distances
    };
    std::vector<std::vector<VocabWord>> vocab_;  // words typos are corrected to, by length
    double avg_length_ = 0;
    std::map<std::string, std::size_t, std::less<>> by_slug_;
};

// What the bot says when nothing matches.
std::string fallback_reply();
// The bot's first message in a new conversation.
std::string greeting();

}  // namespace chat::faq
