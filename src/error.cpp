#include <meta_memcache/error.hpp>

namespace meta_memcache {

namespace {

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

std::string with_server(const std::string& message, const std::string& server) {
    if (server.empty()) {
        return message;
    }
    return server + ": " + message;
}

}  // namespace

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

Error::Error(errc code, const std::string& message, std::string server)
    : std::system_error(make_error_code(code), with_server(message, server)),
      server_(std::move(server)),
      message_(message) {}

InvalidInputError::InvalidInputError(const std::string& message)
    : Error(errc::invalid_input, message) {}

ServerError::ServerError(errc code, const std::string& message, std::string server)
    : Error(code, message, std::move(server)) {}

TransportError::TransportError(errc code, const std::string& message, std::string server)
    : Error(code, message, std::move(server)) {}

TimeoutError::TimeoutError(const std::string& message, std::string server)
    : TransportError(errc::timeout, message, std::move(server)) {}

ServerMarkedDownError::ServerMarkedDownError(const std::string& message, std::string server)
    : TransportError(errc::marked_down, message, std::move(server)) {}

ProtocolError::ProtocolError(const std::string& message, std::string server)
    : TransportError(errc::protocol_error, message, std::move(server)) {}

DecodeError::DecodeError(const std::string& message) : Error(errc::decode_error, message) {}

TypeMismatchError::TypeMismatchError(const std::string& message)
    : Error(errc::type_mismatch, message) {}

std::exception_ptr make_error(errc code, const std::string& message, std::string server) {
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

void throw_error(errc code, const std::string& message, std::string server) {
    std::rethrow_exception(make_error(code, message, std::move(server)));
}

}  // namespace meta_memcache
