// libFuzzer target: the reports' query (chat/reports.h) copes with any query string: it is
// accepted with a range inside the bounds, or refused with a 422, never worse; a time that
// parses prints back (rfc3339) to one that parses to the same instant.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/reports.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    auto q = chat::reports::parse_query(in);
    if (q.ok()) {
        const auto& v = q.value();
        if (v.from_ms < 0 || v.to_ms <= v.from_ms || v.to_ms - v.from_ms > chat::reports::kMaxRangeDays * 86400000)
            std::abort();
        if (chat::reports::parse_time(chat::reports::rfc3339(v.from_ms), false) != v.from_ms) std::abort();
        if (chat::reports::parse_time(chat::reports::rfc3339(v.to_ms), false) != v.to_ms) std::abort();
    } else if (q.error().code != chat::Errc::validation) {
        std::abort();
    }
    for (bool end : {false, true}) {
        auto t = chat::reports::parse_time(in, end);
        if (t && (*t < 0 || chat::reports::parse_time(chat::reports::rfc3339(*t), false) != *t)) std::abort();
    }
    return 0;
}
