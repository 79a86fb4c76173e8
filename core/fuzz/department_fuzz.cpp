// libFuzzer target: a department's admin input (chat/department.h) copes with any body:
// it is accepted with only valid, normalised fields, or refused with a 400 or 422, never worse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/department.h"
#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto parsed = chat::input::parse_body(body);
    if (!parsed.ok()) return 0;
    for (bool create : {true, false}) {
        auto r = chat::department::check_fields(parsed.value(), create);
        if (!r.ok()) {
            const chat::Errc c = r.error().code;
            if (c != chat::Errc::validation && c != chat::Errc::bad_request) std::abort();
            continue;
        }
        // what is accepted is what the schema accepts, and checks again the same
        if (!chat::department::check_fields(r.value(), create).ok()) std::abort();
        const std::string* s = r.value().find_string("strategy");
        if (s && !chat::limits::one_of(chat::limits::kStrategies, *s)) std::abort();
        if (create && !r.value().find_string("name")) std::abort();
        if (const chat::json::Value* ids = r.value().find("agent_ids"))
            if (!ids->as_array() || ids->as_array()->size() > chat::limits::kDepartmentAgentsMax) std::abort();
    }
    return 0;
}
