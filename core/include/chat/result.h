// Errors as values: the type every core entry point returns across the module boundary.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace chat {

// Stable error codes; the module maps them to HTTP statuses and API.md codes.
enum class Errc {
    ok = 0,
    invalid_json,
    bad_request,
    unauthorized,
    forbidden,
    not_found,
    method_not_allowed,
    invalid_state,
    conflict,
    too_large,
    validation,
    rate_limited,
    unavailable,  // Postgres or Redis unreachable
    internal,
};

struct Error {
    Errc code = Errc::internal;
    std::string message;
};

// A value or an Error. Deliberately tiny: no monadic API, just checks and access.
template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error err) : v_(std::move(err)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class Result<void> {
public:
    Result() = default;
    Result(Error err) : err_(std::move(err)), ok_(false) {}
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool ok_ = true;
};

inline Error make_error(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

// Name of the code as it appears in API.md's error shape ("invalid_state", ...).
const char* errc_name(Errc code) noexcept;
// HTTP status for the code (422 for validation, 503 for unavailable, ...).
int errc_http_status(Errc code) noexcept;

}  // namespace chat
