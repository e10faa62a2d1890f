#include <meta_memcache/error.hpp>

#include "catch.hpp"

using namespace meta_memcache;

TEST_CASE("errors carry their code, their server, and the right type", "[error]") {
    try {
        throw_error(errc::timeout, "no answer", "10.0.0.1:11211");
        FAIL("no throw");
    } catch (const TimeoutError& e) {
        CHECK(e.error() == errc::timeout);
        CHECK(e.server() == "10.0.0.1:11211");
        CHECK(std::string(e.what()).find("10.0.0.1:11211: no answer") == 0);
        CHECK(e.code() == make_error_code(errc::timeout));
        CHECK(e.code().category().name() == std::string("meta_memcache"));
    }
    CHECK_THROWS_AS(throw_error(errc::marked_down, "x", "s"), ServerMarkedDownError);
    CHECK_THROWS_AS(throw_error(errc::marked_down, "x", "s"), TransportError);
    CHECK_THROWS_AS(throw_error(errc::protocol_error, "x", "s"), ProtocolError);
    CHECK_THROWS_AS(throw_error(errc::server_error, "x", "s"), ServerError);
    CHECK_THROWS_AS(throw_error(errc::invalid_input, "x"), InvalidInputError);
    CHECK_THROWS_AS(throw_error(errc::connection_failed, "x", "s"), TransportError);
    CHECK_THROWS_AS(throw_error(errc::decode_error, "x"), DecodeError);
    CHECK_THROWS_AS(throw_error(errc::type_mismatch, "x"), TypeMismatchError);
    CHECK(std::error_code(errc::type_mismatch).message() == "value is not of the requested type");
    const std::error_code ec = errc::pool_exhausted;
    CHECK(ec.message() == "connection pool exhausted");
}
