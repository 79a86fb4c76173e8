// A spare buffer kept for the next use of its kind: what a hot path allocates and frees every
// time (an answer's body, a turn's batch) is taken from the spare instead. Kept only when larger
// than the spare held and at most max_capacity, so one large use does not stay for good.
#pragma once

#include <cstddef>

namespace chat {

// `used`, emptied, becomes `spare` when its capacity is larger and at most max_capacity
// (`used` is then left empty); otherwise both stay as they are.
template <class Buffer>
void keep_spare(Buffer& spare, Buffer& used, std::size_t max_capacity) noexcept {
    if (used.capacity() > max_capacity || used.capacity() <= spare.capacity()) return;
    used.clear();
    spare.swap(used);
}

}  // namespace chat
