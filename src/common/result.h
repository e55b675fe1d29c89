// Result<T>: a value or an Error, for code that must not throw across module
// boundaries (g++ 12 has no std::expected). An Error carries a kind that maps
// to an HTTP status or a run status, the errno where one applies, a message a
// user can act on, and the request field at fault (if any).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pyexec {

enum class ErrorKind {
    kInvalidJson,         // 400 invalid_json
    kInvalidRequest,      // 400 invalid_request
    kTooLarge,            // 413 code_too_large
    kOverloaded,          // 503 overloaded
    kSandboxUnavailable,  // 503 sandbox_unavailable
    kConfig,              // bad settings or profile: pyexecd does not start
    kInternal,            // 500 internal_error
};

struct Error {
    ErrorKind kind = ErrorKind::kInternal;
    std::string message;
    std::string field;  // e.g. "tests[2].type"; empty when no single field is at fault
    int err = 0;        // errno, 0 when none
};

inline Error makeError(ErrorKind kind, std::string message, std::string field = {}, int err = 0) {
    return Error{kind, std::move(message), std::move(field), err};
}

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
    Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status okStatus() { return Ok{}; }

}  // namespace pyexec
