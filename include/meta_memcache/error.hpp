#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <system_error>

namespace meta_memcache {

/// Error codes of every failure the library reports. Protocol outcomes (miss, not stored,
/// CAS conflict) are values, never errors.
enum class errc {           // NOLINT(readability-identifier-naming): std::errc's name, by design
    invalid_input = 1,      ///< bad key, value too large, bad flag or option; nothing was sent
    server_error,           ///< the server answered SERVER_ERROR; the connection stays usable
    client_error,           ///< the server answered CLIENT_ERROR or ERROR; connection usable
    timeout,                ///< the request's deadline passed; the connection is discarded
    connection_failed,      ///< could not connect (refused, unreachable, resolve failure)
    connection_closed,      ///< the server closed or reset the connection mid-request
    marked_down,            ///< the server is marked down; no socket was touched
    protocol_error,         ///< the server's answer could not be parsed; connection discarded
    pool_exhausted,         ///< no connection freed up within the pool's wait time
    tls_error,              ///< TLS handshake or certificate verification failed
    authentication_failed,  ///< the server refused the configured credentials
    decode_error,           ///< a stored value could not be decoded (corrupt, unknown dictionary)
    type_mismatch,          ///< a stored value is not of the type asked for (get_typed)
};

/// The error category of meta_memcache::errc.
const std::error_category& error_category() noexcept;

/// Makes an error_code of meta_memcache's category.
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Root of every exception the library throws. Carries an errc and, when a server was
/// involved, its name ("host:port" or alias).
class Error : public std::system_error {
public:
    Error(errc code, const std::string& message, std::string server = {});

    /// The server involved ("host:port" or its alias), or empty.
    [[nodiscard]] const std::string& server() const noexcept { return server_; }
    /// What happened, without the server's name and the category's text that what() adds.
    [[nodiscard]] const std::string& message() const noexcept { return message_; }
    /// The error code as the enum.
    [[nodiscard]] errc error() const noexcept { return static_cast<errc>(code().value()); }

private:
    std::string server_;
    std::string message_;
};

/// Bad input from the caller, raised before any byte is sent: an empty or too long key,
/// a value over the item size limit, a bad TTL or flag, an invalid option.
class InvalidInputError : public Error {
public:
    explicit InvalidInputError(const std::string& message);
};

/// The server understood the request and reported an error (SERVER_ERROR, CLIENT_ERROR,
/// ERROR). The connection stays in step and is reused.
class ServerError : public Error {
public:
    ServerError(errc code, const std::string& message, std::string server);
};

/// The request could not complete on the wire: timeout, connection refused or lost,
/// server marked down, protocol desync, pool exhausted, TLS or authentication failure.
/// The connection involved, if any, was closed and not reused.
class TransportError : public Error {
public:
    TransportError(errc code, const std::string& message, std::string server);
};

/// The request's deadline (recv_timeout) passed.
class TimeoutError : public TransportError {
public:
    TimeoutError(const std::string& message, std::string server);
};

/// The server is marked down after failures; the call failed fast without I/O.
class ServerMarkedDownError : public TransportError {
public:
    ServerMarkedDownError(const std::string& message, std::string server);
};

/// The server's answer did not follow the protocol (bad length, unknown code, too long).
class ProtocolError : public TransportError {
public:
    ProtocolError(const std::string& message, std::string server);
};

/// A value read from the server could not be decoded: a corrupt zstd frame or zlib
/// stream, an unknown zstd dictionary id, a size above the decompression limit.
class DecodeError : public Error {
public:
    explicit DecodeError(const std::string& message);
};

/// A value read from the server decodes fine but is not of the type asked for, e.g. a
/// pickle or non-digit bytes read as an integer.
class TypeMismatchError : public Error {
public:
    explicit TypeMismatchError(const std::string& message);
};

/// Throws the exception type that matches `code`.
[[noreturn]] void throw_error(errc code, const std::string& message, std::string server = {});

/// The exception throw_error() would throw, as an exception_ptr, without throwing it.
[[nodiscard]] std::exception_ptr make_error(errc code,
                                            const std::string& message,
                                            std::string server = {});

}  // namespace meta_memcache

template <>
struct std::is_error_code_enum<meta_memcache::errc> : std::true_type {};
