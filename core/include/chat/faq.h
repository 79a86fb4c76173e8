// The FAQ matcher: the one place where the rules for answering a customer's text from the FAQ live.
//
// Text and entries go through the same analysis: Latin-1 accents folded,
// lowercased, punctuation dropped, multi-word synonyms ("money back", "how
// much", "where is my order", "sign in") replaced by their concept, English
// stop words removed, light stemming (plural -s/-es/-ies, -ing, -ed, -ly, a
// final -e), single-word synonyms mapped to a concept (shipping/delivery/
// dispatch -> ship, voucher/coupon/promo -> discount, ...). In a customer's
// text an unknown word of 5+ characters is corrected to the nearest word of the
// FAQ vocabulary within edit distance 1 (2 from 8 characters; transpositions
// count as one edit).
//
// Scoring is BM25 over unigrams and bigrams of each entry's question plus its
// keywords (a keyword term counts double, once per entry). The best entry wins
// if its score reaches an absolute threshold; otherwise there is no match and
// the bot falls back. Ties go to the lower display_order. A handful of nouns
// every shop question contains ("order", "item", "product") are stop words, so
// one generic word never selects an answer on its own.
#pragma once

#include <cstddef>
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
    struct Doc {
        std::unordered_map<std::string, double> tf;
        double length = 0;
        std::unordered_set<std::string> keyword_terms;  // only while building
    };
    std::vector<std::string> terms(std::string_view text, bool correct_typos) const;
    std::string canonical(const std::string& word) const;
    void add_terms(Doc& doc, const std::vector<std::string>& terms, double weight);

    // Analysis tables, built once from the constant lists in faq.cpp.
    std::unordered_map<std::string, std::string> synonyms_;  // word or its stem -> concept
    std::vector<std::vector<std::string>> phrases_;          // words..., concept last
    std::unordered_set<std::string> stop_words_;

    std::vector<Entry> entries_;
    std::vector<Doc> docs_;
    std::unordered_map<std::string, int> df_;  // documents containing a term
    std::vector<std::string> vocab_;           // words typos are corrected to, sorted
    double avg_length_ = 0;
    std::map<std::string, std::size_t, std::less<>> by_slug_;
};

// What the bot says when nothing matches.
std::string fallback_reply();
// The bot's first message in a new conversation.
std::string greeting();

}  // namespace chat::faq
