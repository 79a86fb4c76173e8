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
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
    // The analysis works on symbols: every string it can meet as a word, a stem, a concept
    // or a class is numbered once, when the FAQ is loaded, with what the analysis needs to
    // know about it; a customer's post then costs one table look-up per word, and no
    // allocation (its words live in a Scratch on the stack).
    static constexpr std::uint32_t kNone = UINT32_MAX;
    struct Sym {
        std::uint32_t stem = kNone;      // as a word: the symbol of its stem
        std::uint32_t canon = kNone;     // as a word: its concept, else its stem's, else its stem
        std::uint32_t concept_ = kNone;  // as a word or stem: the concept a synonym maps it to
        std::uint32_t term = kNone;      // as a term: its place in terms_
        std::uint32_t classes = 0, classes_end = 0;  // as a stem: its classes ("@country"), in class_syms_
        std::uint32_t patterns = 0, patterns_end = 0;  // patterns whose first element is this stem or class
        std::uint32_t concept_patterns = 0, concept_patterns_end = 0;  // ... is "=" and this concept
        bool stop = false;  // as a word: a stop word
        bool typo = false;  // as a word: none of the above, so one of 5+ characters is corrected
    };
    // A multi-word pattern over words: contiguous words, or a first word and a second one at
    // most kMaxGap words later (the words between stay).
    struct Element {
        enum Kind : std::uint8_t { stem, cls, concept_ } kind;
        std::uint32_t sym;
    };
    struct Pattern {
        std::vector<Element> elements;  // contiguous; or {first, second} for a pair
        std::uint32_t concept_;
        bool pair = false;
    };
    struct Posting {
        std::uint32_t doc;
        double score;  // this term's BM25 part for the entry, computed when the FAQ is loaded
    };
    struct Term {
        bool weak = false;  // an intent word: scores only next to a topic word
        std::uint32_t postings = 0, postings_end = 0;
    };
    struct Scratch;  // one analysis's words, stems and terms (faq.cpp)
    struct Found {
        std::uint32_t sym;      // kNone for a word the matcher has never seen
        std::string_view text;  // its text, for analyze()
    };

    std::uint32_t find(std::string_view s) const noexcept;
    std::size_t terms(std::string_view text, bool correct_typos, Scratch& s) const noexcept;
    std::uint32_t correct(std::string_view word) const noexcept;  // the nearest vocabulary word, or kNone
    std::uint32_t bigram(std::uint32_t a, std::uint32_t b) const noexcept;  // the term "a b", or kNone

    std::vector<Entry> entries_;
    std::vector<std::string> names_;  // by symbol
    std::vector<Sym> syms_;
    std::vector<std::uint32_t> slots_;  // open addressing over names_: symbol + 1, or 0 (free)
    std::vector<std::uint32_t> class_syms_;
    std::vector<Pattern> patterns_;
    std::vector<Term> terms_;  // in the order of their text: the order a post's scores add up in
    std::vector<Posting> postings_;
    struct Bigram {
        std::uint64_t key;             // the two unigrams' symbols
        std::uint32_t term = kNone;    // kNone: a free slot
    };
    std::vector<Bigram> bigrams_;  // open addressing
    struct VocabWord {
        std::string word;
        std::uint32_t letters;  // the set of its letters, to skip most edit distances
        std::uint32_t sym;
    };
    std::vector<std::vector<VocabWord>> vocab_;  // words typos are corrected to, by length
    std::map<std::string, std::size_t, std::less<>> by_slug_;
};

// What the bot says when nothing matches.
std::string fallback_reply();
// The bot's first message in a new conversation.
std::string greeting();

}  // namespace chat::faq
