// clusterd::base::Result<T>: a value or an error message with context. g++ 12 and clang 14 have
// no std::expected in C++20, so this small one serves the codecs and state machines.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace clusterd::base {

/// An error: a stable machine-readable code plus a human message that names what was wrong.
struct Error {
    std::string code;    ///< short identifier, e.g. "truncated", "bad_crc", "decrypt_failed"
    std::string message; ///< full sentence for logs and users

    Error with_prefix(const std::string& prefix) const { return Error{code, prefix + ": " + message}; }
};

inline Error make_error(std::string code, std::string message) {
    return Error{std::move(code), std::move(message)};
}

template <typename T> class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}     // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {} // NOLINT(google-explicit-constructor)

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }

  private:
    std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing on success.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() {
    return Unit{};
}

} // namespace clusterd::base
