// The answer bodies' spare buffer (chat/outcome.h: body_room, recycle_body).
#include "chat/outcome.h"

#include "chat/spare.h"

namespace chat {

namespace {
// One a thread (a worker renders and sends its answers on its loop): the body its host copied
// out last, emptied. Kept only up to kBodySpareMax, so one large answer is not kept for good.
constexpr std::size_t kBodySpareMax = 64 * 1024;
thread_local std::string body_spare;
}  // namespace

std::string body_room(std::size_t bytes) {
    std::string out;
    out.swap(body_spare);
    out.clear();
    out.reserve(bytes);
    return out;
}

void recycle_body(std::string& body) noexcept { keep_spare(body_spare, body, kBodySpareMax); }

}  // namespace chat
