// chat_hash_password: prints the scrypt hash of argv[1] (or of one stdin line for "-") with a fresh random salt, for seeding agents.
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "chat/password.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s PASSWORD|-   (\"-\" reads one line from stdin)\n",
                     argc > 0 ? argv[0] : "chat_hash_password");
        return 2;
    }
    std::string password = argv[1];
    if (password == "-" && !std::getline(std::cin, password)) {
        std::fprintf(stderr, "chat_hash_password: no password on stdin\n");
        return 2;
    }
    std::array<std::byte, chat::password::kSaltBytes> salt{};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1) {
        std::fprintf(stderr, "chat_hash_password: RAND_bytes failed\n");
        return 1;
    }
    const std::string h = chat::password::hash(password, salt);
    if (h.empty()) {
        std::fprintf(stderr, "chat_hash_password: scrypt failed\n");
        return 1;
    }
    std::printf("%s\n", h.c_str());
    return 0;
}
