// Mapping of core error codes to the names and HTTP statuses of API.md.
#include "chat/result.h"

namespace chat {

const char* errc_name(Errc code) noexcept {
    switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_json: return "invalid_json";
    case Errc::bad_request: return "bad_request";
    case Errc::unauthorized: return "unauthorized";
    case Errc::forbidden: return "forbidden";
    case Errc::not_found: return "not_found";
    case Errc::method_not_allowed: return "method_not_allowed";
    case Errc::invalid_state: return "invalid_state";
    case Errc::conflict: return "conflict";
    case Errc::too_large: return "too_large";
    case Errc::validation: return "validation";
    case Errc::rate_limited: return "rate_limited";
    case Errc::unavailable: return "unavailable";
    case Errc::internal: return "internal";
    }
    return "internal";
}

int errc_http_status(Errc code) noexcept {
    switch (code) {
    case Errc::ok: return 200;
    case Errc::invalid_json:
    case Errc::bad_request: return 400;
    case Errc::unauthorized: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::method_not_allowed: return 405;
    case Errc::invalid_state:
    case Errc::conflict: return 409;
    case Errc::too_large: return 413;
    case Errc::validation: return 422;
    case Errc::rate_limited: return 429;
    case Errc::unavailable: return 503;
    case Errc::internal: return 500;
    }
    return 500;
}

}  // namespace chat
