// Keeping a worker's FAQ current: a newer set another worker of the node already loaded
// is taken from the shelf without a round trip; otherwise Postgres is asked whether an
// admin changed the FAQ (chat_faq_version), so changes reach every worker of every node
// without a restart. The host only runs the timer and keeps the shelf.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::pg {
class Pool;
}
namespace chat::customer {
class Service;
}

namespace chat::faq_sync {

// Where the workers of a node share the FAQ one of them loaded (the module: a blob in
// the chat zone). Both calls are quick and must not throw.
class Shelf {
public:
    struct Copy {
        std::string list_json;  // as customer::load_faq reads it
        std::int64_t version = 0;
    };
    virtual ~Shelf() = default;
    virtual std::optional<Copy> get() noexcept = 0;
    virtual void put(std::string_view list_json, std::int64_t version) noexcept = 0;
};

// What one run did: when to run again, and why a set could not be loaded, if so.
struct Step {
    std::uint64_t next_ms = 1000;
    std::optional<Error> error;
};

// Polling while no FAQ is loaded yet, and once one is.
inline constexpr std::uint64_t kRetryMs = 1000;
inline constexpr std::uint64_t kPollMs = 5000;

class FaqSync {
public:
    // All three must outlive the FaqSync, and the pool must be destroyed after it (a
    // destroyed pool drops its callbacks).
    FaqSync(customer::Service& customer, pg::Pool& pg, Shelf& shelf) noexcept
        : customer_(customer), pg_(pg), shelf_(shelf) {}

    // One sync; `done` runs once, from the loop, when Postgres answered (or failed).
    void run(std::function<void(Step)> done) noexcept;

private:
    customer::Service& customer_;
    pg::Pool& pg_;
    Shelf& shelf_;
};

}  // namespace chat::faq_sync
