// libFuzzer target: the FAQ matcher copes with any customer text (bad UTF-8, huge words, floods of typos).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/faq.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Built per input: cheap for two entries, and it fuzzes the index too.
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const chat::faq::Matcher m({
        {"shipping-time", "How long does shipping take?", "3-5 days.", {"delivery time", "arrive"}, 1},
        {"refunds", "When will I get my refund?", "5-7 days.", {"money back", std::string(text.substr(0, 64))}, 2},
    });
    auto r = m.match(text);
    if (r && (r->score < chat::faq::Matcher::kThreshold || !r->entry)) std::abort();
    (void)m.analyze(text);
    (void)m.by_slug(text);
    return 0;
}
