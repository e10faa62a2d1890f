#pragma once

#include <meta_memcache/error.hpp>
#include <meta_memcache/response_flags.hpp>

#include <exception>
#include <string>
#include <variant>

namespace meta_memcache {

/// EN (mg) or NF (md, ma, ms with C): the key is not there. When the client was told not
/// to raise on server errors, a miss also stands in for a failed request: `error` then
/// holds the exception that would have been thrown.
struct Miss {
    std::exception_ptr error{};  ///< set when this miss stands for a server failure
    /// The failure's code, when the library set `error` (errc{} otherwise): tells a
    /// transport failure from a server's error line without rethrowing.
    errc code{};
    [[nodiscard]] bool is_error() const noexcept { return error != nullptr; }
};

/// HD: success without a value.
struct Success {
    ResponseFlags flags{};
};

/// VA: a value (mg with v, ma with v). `data` holds the raw bytes as stored.
struct Value {
    ResponseFlags flags{};
    std::string data{};
};

/// NS: not stored (add on an existing key, replace/append/prepend on a missing one).
/// Like Miss, it also stands in for a failed write when raising is off.
struct NotStored {
    std::exception_ptr error{};  ///< set when this stands for a server failure
    errc code{};                 ///< as Miss::code
    [[nodiscard]] bool is_error() const noexcept { return error != nullptr; }
};

/// EX: the CAS token did not match.
struct Conflict {};

/// What mg answers.
using ReadResponse = std::variant<Miss, Value, Success>;
/// What ms and md answer.
using WriteResponse = std::variant<Success, NotStored, Conflict, Miss>;
/// What ma answers (a Value when the request asked for v).
using ArithmeticResponse = std::variant<Success, NotStored, Conflict, Miss, Value>;
/// Any meta answer; what routers pass around.
using Response = std::variant<Miss, Value, Success, NotStored, Conflict>;

}  // namespace meta_memcache
