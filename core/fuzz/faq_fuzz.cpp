// libFuzzer target: the FAQ matcher copes with any customer text (bad UTF-8, huge words, floods of typos).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/faq.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Built per input: cheap for two entries, and it fuzzes the index too (the input's
    // words become a keyword, and the question of a third entry).
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const chat::faq::Matcher m({
        {"shipping-time", "How long does shipping take?", "3-5 days.", {"delivery time", "arrive"}, 1},
        {"refunds", "When will I get my refund?", "5-7 days.", {"money back", std::string(text.substr(0, 64))}, 2},
        {"fuzz", std::string(text.substr(0, 200)), "?", {}, 2},
    });
    auto r = m.match(text);
    if (r && (r->score < chat::faq::Matcher::kThreshold || !r->entry)) std::abort();
    if (r && (r->entry < m.entries().data() || r->entry >= m.entries().data() + m.size())) std::abort();
    // Only the first 2000 bytes and 64 words count: the same answer, to the bit.
    auto cut = m.match(text.substr(0, 2000));
    if (r.has_value() != cut.has_value() || (r && (r->entry != cut->entry || r->score != cut->score))) std::abort();
    if (m.analyze(text).size() > 64) std::abort();
    (void)m.by_slug(text);
    return 0;
}
