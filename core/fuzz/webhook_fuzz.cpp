// libFuzzer target: a webhook answer's status line and a webhook URL (http/https, an address or
// a host name) are parsed within their bounds whatever the bytes, and the status line parser
// reads a stream the same way in pieces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/limits.h"
#include "chat/webhook.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using chat::webhook::StatusLine;
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    const StatusLine whole = chat::webhook::parse_status_line(in);
    if (whole.state == StatusLine::State::done) {
        if (whole.code < 100 || whole.code > 599) std::abort();
        if (!in.starts_with("HTTP/1.")) std::abort();
    }
    if (whole.state == StatusLine::State::more && in.size() >= chat::limits::kWebhookStatusLineMax) std::abort();
    // Bytes arrive in pieces: a verdict on a prefix (bad, or a status) never changes later.
    for (std::size_t cut = 0; cut <= in.size() && cut <= 64; cut++) {
        const StatusLine part = chat::webhook::parse_status_line(in.substr(0, cut));
        if (part.state == StatusLine::State::bad && whole.state != StatusLine::State::bad) std::abort();
        if (part.state == StatusLine::State::done &&
            (whole.state != StatusLine::State::done || whole.code != part.code))
            std::abort();
    }

    auto url = chat::webhook::parse_url(in);
    if (url.ok()) {
        const auto& u = url.value();
        // exactly one of an address and a name, a name within its bound and never an address
        if (u.ip.empty() == u.name.empty() || u.path.empty() || u.path[0] != '/') std::abort();
        if (u.name.size() > chat::limits::kWebhookHostBytes) std::abort();
        if (!u.name.empty() && (u.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") != u.name.npos))
            std::abort();
        if (!in.starts_with(u.https ? "https://" : "http://")) std::abort();
        if (u.host_header.find('@') != u.host_header.npos) std::abort();
        (void)chat::webhook::public_address(u.ip, u.v6);
        (void)chat::webhook::request(url.value(), in, "sha256=00");
    }
    (void)chat::webhook::public_address(in, false);
    (void)chat::webhook::public_address(in, true);
    return 0;
}
