// libFuzzer target: a periodic SQL job's answer (periodic::parse and its users' parse_fold and parse_flush) copes with
// any input and accepts only an integer no lower than the job's lowest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/periodic.h"
#include "chat/search_index.h"
#include "chat/unmatched.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const chat::periodic::Spec spec{.function = "chat_fuzz", .sql = "", .min = -2, .failed = ""};

    const auto n = chat::periodic::parse(spec, in);
    if (n.ok()) {
        // an optional '-' and digits only, and a value in range
        if (in.empty() || n.value() < spec.min) std::abort();
        for (std::size_t i = 0; i < in.size(); ++i)
            if (!(in[i] >= '0' && in[i] <= '9') && !(i == 0 && in[i] == '-')) std::abort();
    } else if (n.error().message != "unexpected answer to chat_fuzz") {
        std::abort();
    }

    // the jobs read the same integers, each with its own lowest answer
    const auto flush = chat::search_index::parse_flush(in);
    if (flush.ok() != n.ok()) std::abort();
    if (flush.ok() && (flush.value().pages < 0 || flush.value().pages != (n.value() > 0 ? n.value() : 0))) std::abort();
    const auto fold = chat::unmatched::parse_fold(in);
    if (fold.ok() != (n.ok() && n.value() >= -1)) std::abort();
    if (fold.ok() && fold.value().ran != (n.value() >= 0)) std::abort();
    return 0;
}
