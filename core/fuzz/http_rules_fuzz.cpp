// libFuzzer target: the read path's two small parsers on every request, each against the rule
// written the slow way: the Authorization header's "Bearer " (chat::http::credentials) and the
// window of GET /conversation (chat::customer::parse_window).
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "chat/customer.h"
#include "chat/http_rules.h"
#include "chat/limits.h"

namespace {

// "bearer " in any letter case, a byte at a time, then a token of at least one byte
std::optional<std::string_view> bearer_by_bytes(std::string_view a) {
    constexpr std::string_view kScheme = "bearer ";
    if (a.size() <= kScheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < kScheme.size(); i++) {
        const auto c = static_cast<unsigned char>(a[i]);
        const auto want = static_cast<unsigned char>(kScheme[i]);
        if (want == ' ' ? c != want : (c | 0x20) != want) return std::nullopt;
    }
    return a.substr(kScheme.size());
}

// parse_window's answer with every number read by from_chars: ok, after, limit
struct Window {
    bool ok = true;
    std::int64_t after = 0;
    std::int64_t limit = chat::limits::kCustomerPageDefault;
};

Window window_by_from_chars(std::string_view query) {
    Window w;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view name = pair.substr(0, eq);
        const std::string_view val = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        std::int64_t* target = name == "after" ? &w.after : name == "limit" ? &w.limit : nullptr;
        if (!target) continue;
        std::int64_t n = 0;
        auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), n);
        if (val.empty() || ec != std::errc() || ptr != val.data() + val.size()) return Window{false};
        *target = n;
    }
    if (w.after < 0 || w.after > chat::limits::kSeqMax || !chat::limits::kCustomerPage.contains(w.limit)) {
        return Window{false};
    }
    return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    const auto c = chat::http::credentials(in, std::nullopt, std::nullopt);
    const auto want = bearer_by_bytes(in);
    if (want ? c.token != *want || c.token.data() != want->data() : !c.token.empty()) std::abort();

    const auto w = chat::customer::parse_window(in);
    const Window ref = window_by_from_chars(in);
    if (w.ok() != ref.ok) std::abort();
    if (w.ok() && (w.value().after != ref.after || w.value().limit != ref.limit)) std::abort();
    return 0;
}
