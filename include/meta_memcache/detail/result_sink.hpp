#pragma once

// Where a call's answers go, request by request: the one interface between the protocol
// (the batch codec), the drivers, the routers and whatever the caller keeps. A sink that
// fills a caller's std::optional<std::string> gets the value straight from the read
// buffer; a sink that fills Response objects serves the Router interface of Responses.

#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace meta_memcache::detail {

/// Why a request failed: a server's error line (the connection stays in step), or a
/// transport failure (timeout, connection lost, marked down, desync: the connection is
/// gone). Views, valid during the call that reports it.
struct Failure {
    errc code = errc::connection_closed;
    std::string_view message{};
    std::string_view server{};  ///< the server's name (alias or host:port)

    /// A transport failure (the request may be sent elsewhere, as a gutter or failover
    /// does), not an error the server reported.
    [[nodiscard]] bool is_transport() const noexcept { return is_transport_code(code); }

    /// Whether `code` is one TransportError carries.
    [[nodiscard]] static constexpr bool is_transport_code(errc code) noexcept {
        switch (code) {
            case errc::timeout:
            case errc::connection_failed:
            case errc::connection_closed:
            case errc::marked_down:
            case errc::protocol_error:
            case errc::pool_exhausted:
            case errc::tls_error:
            case errc::authentication_failed:
                return true;
            default:
                return false;
        }
    }
};

/// Receives each request's outcome, by the request's index in the call. Exactly one of
/// answer(), large_value() or fail() is called per request, except that fail() may follow
/// large_value() when the connection breaks while the value is read (fail() then stands).
/// Not owned by the caller of the codec; implementations are small and call-local.
class ResultSink {
public:
    /// Request `i` was answered: `h` is the status line (views valid during this call) and,
    /// for VA, `value` views the value's bytes in the read buffer.
    virtual void answer(std::size_t i, const ResponseHeader& h, std::string_view value) = 0;
    /// Request `i`'s VA is larger than the read buffer: the string its value is read into.
    /// The library resizes it (without zero-filling) and reads straight into it; `h` is
    /// only valid during this call.
    virtual std::string& large_value(std::size_t i, const ResponseHeader& h) = 0;
    /// Request `i` failed.
    virtual void fail(std::size_t i, const Failure& f) = 0;

protected:
    ResultSink() = default;
    ~ResultSink() = default;
    ResultSink(const ResultSink&) = default;
    ResultSink& operator=(const ResultSink&) = default;
    ResultSink(ResultSink&&) = default;
    ResultSink& operator=(ResultSink&&) = default;
};

#if defined(__GLIBCXX__) && _GLIBCXX_USE_CXX11_ABI && \
    !defined(__cpp_lib_string_resize_and_overwrite)
// C++20 has no way to grow a std::string without writing every new byte, which costs a
// memset of a whole large value just before a read overwrites it. libstdc++ has the
// primitive (the private _M_set_length that resize_and_overwrite uses in C++23); an
// explicit instantiation may name a private member, so this reaches it without a cast
// (the technique folly's resizeWithoutInitialization uses).
template <auto SetLength>
struct StringLengthSetter {
    friend void set_string_length(std::string& s, std::size_t n) { (s.*SetLength)(n); }
};
template struct StringLengthSetter<&std::string::_M_set_length>;
void set_string_length(std::string& s, std::size_t n);
#endif

/// Resizes `s` to `n` bytes without writing the new ones (they are about to be overwritten
/// by a read), where the standard library allows it; a plain resize elsewhere.
inline void resize_for_overwrite(std::string& s, std::size_t n) {
#if defined(__cpp_lib_string_resize_and_overwrite)
    s.resize_and_overwrite(n, [](char*, std::size_t len) { return len; });
#elif defined(__GLIBCXX__) && _GLIBCXX_USE_CXX11_ABI
    if (n <= s.size()) {
        s.resize(n);
        return;
    }
    s.reserve(n);
    set_string_length(s, n);
#else
    s.resize(n);
#endif
}

}  // namespace meta_memcache::detail
