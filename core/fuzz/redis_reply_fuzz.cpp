// libFuzzer target: hiredis's reader with our reply objects (redis_reply.cpp) reads exactly what it
// reads with its own, fed the same bytes in two pieces, and frees every object (ASan: no leak).
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../src/redis_connection.h"

namespace {

struct Reader {
    redisReader* r;
    explicit Reader(redisReader* owned) : r(owned) {}
    ~Reader() { redisReaderFree(r); }
};

bool same(const redisReply& a, const redisReply& b) {
    if (a.type != b.type || a.integer != b.integer || a.len != b.len || a.elements != b.elements) return false;
    if ((a.str == nullptr) != (b.str == nullptr)) return false;
    if (a.str != nullptr && (std::memcmp(a.str, b.str, a.len) != 0 || a.str[a.len] != '\0')) return false;
    for (std::size_t i = 0; i < a.elements; i++)
        if (!same(*a.element[i], *b.element[i])) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t cut = data[0] % size;  // where the bytes are split in two feeds
    const char* bytes = reinterpret_cast<const char*>(data + 1);
    size -= 1;
    // Both readers allocate an array's element pointers as its header announces: an announced
    // huge array is only an allocation failure (the same in both), too slow for the fuzzer.
    for (std::size_t i = 0; i + 1 < size; i++)
        if (bytes[i] == '*' && bytes[i + 1] >= '0' && bytes[i + 1] <= '9' &&
            std::atol(std::string(bytes + i + 1, std::min<std::size_t>(size - i - 1, 12)).c_str()) > 4096)
            return 0;
    Reader ours(redisReaderCreateWithFunctions(chat::redis::detail::reply_objects())), theirs(redisReaderCreate());
    for (Reader* x : {&ours, &theirs}) {
        redisReaderFeed(x->r, bytes, cut < size ? cut : size);
        if (cut < size) redisReaderFeed(x->r, bytes + cut, size - cut);
    }
    for (int i = 0; i < 64; i++) {
        void* a = nullptr;
        void* b = nullptr;
        const int sa = redisReaderGetReply(ours.r, &a), sb = redisReaderGetReply(theirs.r, &b);
        if (sa != sb || (a == nullptr) != (b == nullptr)) std::abort();
        if (a != nullptr && !same(*static_cast<redisReply*>(a), *static_cast<redisReply*>(b))) std::abort();
        if (a != nullptr) ours.r->fn->freeObject(a);
        if (b != nullptr) theirs.r->fn->freeObject(b);
        if (sa != REDIS_OK || a == nullptr) break;
    }
    return 0;
}
