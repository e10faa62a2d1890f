// The error category and the exception types of error.hpp.

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>

#include <string>

namespace meta_memcache {

namespace detail::error_impl {

class Category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "meta_memcache"; }

    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::invalid_input:
                return "invalid input";
            case errc::server_error:
                return "server error";
            case errc::client_error:
                return "client error reported by the server";
            case errc::timeout:
                return "timed out";
            case errc::connection_failed:
                return "connection failed";
            case errc::connection_closed:
                return "connection closed";
            case errc::marked_down:
                return "server marked down";
            case errc::protocol_error:
                return "protocol error";
            case errc::pool_exhausted:
                return "connection pool exhausted";
            case errc::tls_error:
                return "TLS error";
            case errc::authentication_failed:
                return "authentication failed";
            case errc::decode_error:
                return "value could not be decoded";
            case errc::type_mismatch:
                return "value is not of the requested type";
        }
        return "unknown error";
    }
};

inline std::string with_server(const std::string& message, const std::string& server) {
    if (server.empty()) {
        return message;
    }
    return server + ": " + message;
}

}  // namespace detail::error_impl

META_MEMCACHE_DECL const std::error_category& error_category() noexcept {
    static const detail::error_impl::Category category;
    return category;
}

META_MEMCACHE_DECL Error::Error(errc code, const std::string& message, std::string server)
    : std::system_error(make_error_code(code), detail::error_impl::with_server(message, server)),
      server_(std::move(server)),
      message_(message) {}

META_MEMCACHE_DECL InvalidInputError::InvalidInputError(const std::string& message)
    : Error(errc::invalid_input, message) {}

META_MEMCACHE_DECL ServerError::ServerError(errc code,
                                            const std::string& message,
                                            std::string server)
    : Error(code, message, std::move(server)) {}

META_MEMCACHE_DECL TransportError::TransportError(errc code,
                                                  const std::string& message,
                                                  std::string server)
    : Error(code, message, std::move(server)) {}

META_MEMCACHE_DECL TimeoutError::TimeoutError(const std::string& message, std::string server)
    : TransportError(errc::timeout, message, std::move(server)) {}

META_MEMCACHE_DECL ServerMarkedDownError::ServerMarkedDownError(const std::string& message,
                                                                std::string server)
    : TransportError(errc::marked_down, message, std::move(server)) {}

META_MEMCACHE_DECL ProtocolError::ProtocolError(const std::string& message, std::string server)
    : TransportError(errc::protocol_error, message, std::move(server)) {}

META_MEMCACHE_DECL DecodeError::DecodeError(const std::string& message)
    : Error(errc::decode_error, message) {}

META_MEMCACHE_DECL TypeMismatchError::TypeMismatchError(const std::string& message)
    : Error(errc::type_mismatch, message) {}

META_MEMCACHE_DECL std::exception_ptr make_error(errc code,
                                                 const std::string& message,
                                                 std::string server) {
    switch (code) {
        case errc::invalid_input:
            return std::make_exception_ptr(InvalidInputError(message));
        case errc::server_error:
        case errc::client_error:
            return std::make_exception_ptr(ServerError(code, message, std::move(server)));
        case errc::timeout:
            return std::make_exception_ptr(TimeoutError(message, std::move(server)));
        case errc::marked_down:
            return std::make_exception_ptr(ServerMarkedDownError(message, std::move(server)));
        case errc::protocol_error:
            return std::make_exception_ptr(ProtocolError(message, std::move(server)));
        case errc::connection_failed:
        case errc::connection_closed:
        case errc::pool_exhausted:
        case errc::tls_error:
        case errc::authentication_failed:
            return std::make_exception_ptr(TransportError(code, message, std::move(server)));
        case errc::decode_error:
            return std::make_exception_ptr(DecodeError(message));
        case errc::type_mismatch:
            return std::make_exception_ptr(TypeMismatchError(message));
    }
    return std::make_exception_ptr(Error(code, message, std::move(server)));
}

META_MEMCACHE_DECL void throw_error(errc code, const std::string& message, std::string server) {
    std::rethrow_exception(make_error(code, message, std::move(server)));
}

}  // namespace meta_memcache
