// A program a user of the asynchronous client writes: it includes
// <meta_memcache/async_cache_client.hpp> and links meta_memcache::async. With no server
// listening, a get completes with an error instead of hanging.
#include <meta_memcache/async_cache_client.hpp>

#include <asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>

int main() {
    asio::io_context io;
    meta_memcache::PoolOptions options;
    options.connection_timeout = std::chrono::milliseconds(500);
    // Port 1 on loopback: nothing listens there.
    auto cache = meta_memcache::async_cache_client_from_servers(
        io.get_executor(), {meta_memcache::ServerAddress{"127.0.0.1", 1}}, options);
    bool done = false;
    std::error_code error;
    cache.async_get("package-consumer", [&](std::error_code ec, std::optional<std::string>) {
        error = ec;
        done = true;
        io.stop();
    });
    io.run_for(std::chrono::seconds(5));
    std::printf("async get with no server: %s\n", error.message().c_str());
    return done && error ? 0 : 1;
}
