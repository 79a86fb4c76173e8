// The reply objects hiredis's reader builds for our connections, and their deep copy into
// chat::redis::Reply, so replies outlive hiredis's buffers.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "redis_connection.h"

namespace chat::redis::detail {

namespace {

// hiredis's own builders zero a struct per object (calloc) and allocate a string's bytes, or an
// array's element pointers, apart: a subscription's message (an array of three strings) cost
// eight allocations and as many frees, three of them zeroed. Here every object is one block:
// the struct, then its bytes or its element pointers; a message costs four, a PUBLISH's
// answer one. The objects are redisReply as hiredis's (its subscription code reads them),
// freed only through the reader's freeObject (hiredis 0.14 never calls freeReplyObject on them).
redisReply* new_object(const redisReadTask* task, int type, std::size_t extra) {
    if (extra > SIZE_MAX - sizeof(redisReply)) return nullptr;
    auto* r = static_cast<redisReply*>(std::malloc(sizeof(redisReply) + extra));
    if (r == nullptr) return nullptr;
    r->type = type;
    r->integer = 0;
    r->len = 0;
    r->str = nullptr;
    r->elements = 0;
    r->element = nullptr;
    if (task->parent != nullptr) static_cast<redisReply*>(task->parent->obj)->element[task->idx] = r;
    return r;
}

void* new_string(const redisReadTask* task, char* str, std::size_t len) {
    if (len == SIZE_MAX) return nullptr;
    redisReply* r = new_object(task, task->type, len + 1);
    if (r == nullptr) return nullptr;
    r->str = reinterpret_cast<char*>(r + 1);
    if (len > 0) std::memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

void* new_array(const redisReadTask* task, int elements) {
    const std::size_t n = elements > 0 ? static_cast<std::size_t>(elements) : 0;
    // sizeof(redisReply) is a multiple of a pointer's: the pointers after it are aligned
    static_assert(sizeof(redisReply) % alignof(redisReply*) == 0);
    redisReply* r = new_object(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply*));
    if (r == nullptr) return nullptr;
    if (n > 0) {
        r->element = reinterpret_cast<redisReply**>(r + 1);
        std::memset(r->element, 0, n * sizeof(redisReply*));  // a half-read array is freed too
    }
    r->elements = n;
    return r;
}

void* new_integer(const redisReadTask* task, long long value) {
    redisReply* r = new_object(task, REDIS_REPLY_INTEGER, 0);
    if (r != nullptr) r->integer = value;
    return r;
}

void* new_nil(const redisReadTask* task) { return new_object(task, REDIS_REPLY_NIL, 0); }

// Nesting is bounded by hiredis's reader (7 levels), so recursion is too.
void free_object(void* reply) {
    auto* r = static_cast<redisReply*>(reply);
    if (r == nullptr) return;
    if (r->type == REDIS_REPLY_ARRAY)
        for (std::size_t i = 0; i < r->elements; i++) free_object(r->element[i]);
    std::free(r);
}

}  // namespace

redisReplyObjectFunctions* reply_objects() noexcept {
    static redisReplyObjectFunctions fns = {new_string, new_array, new_integer, new_nil, free_object};
    return &fns;  // hiredis wants a mutable pointer; nothing writes it
}

Reply copy_reply(const redisReply& r) {
    Reply out;
    switch (r.type) {
    case REDIS_REPLY_STRING:
        out.type = Reply::Type::string;
        out.str.assign(r.str, r.len);
        break;
    case REDIS_REPLY_STATUS:
        out.type = Reply::Type::status;
        out.str.assign(r.str, r.len);
        break;
    case REDIS_REPLY_ERROR:
        out.type = Reply::Type::error;
        out.str.assign(r.str, r.len);
        break;
    case REDIS_REPLY_INTEGER:
        out.type = Reply::Type::integer;
        out.integer = r.integer;
        break;
    case REDIS_REPLY_ARRAY:
        // Nesting is bounded by hiredis's reader (7 levels), so recursion is too.
        out.type = Reply::Type::array;
        out.elements.reserve(r.elements);
        for (std::size_t i = 0; i < r.elements; i++) out.elements.push_back(copy_reply(*r.element[i]));
        break;
    default:
        out.type = Reply::Type::nil;
        break;
    }
    return out;
}

}  // namespace chat::redis::detail
