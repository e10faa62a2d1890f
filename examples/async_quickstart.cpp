// async_quickstart: the asynchronous client on an io_context, against the servers in
// MEMCACHE_SERVERS ("host:port[ alias],..."; 127.0.0.1:11211 when unset). A coroutine sets
// and reads back a key, then 64 reads run at once, pipelined over one connection per server.

#include <meta_memcache/async_cache_client.hpp>

#include "example_support.hpp"
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>

namespace mm = meta_memcache;

int main() {
    asio::io_context io;
    auto cache =
        mm::async_cache_client_from_servers(io.get_executor(), example::servers_from_env());
    int result = 1;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            const bool stored =
                co_await cache.async_set("async_quickstart:greeting", "hello from AsyncCacheClient",
                                         60, asio::use_awaitable);
            const std::optional<std::string> greeting =
                co_await cache.async_get("async_quickstart:greeting", asio::use_awaitable);
            std::printf("set -> %s, get -> %s\n", stored ? "stored" : "not stored",
                        greeting ? greeting->c_str() : "(miss)");

            // 64 gets in flight at once: their requests go out together, answered in order.
            int hits = 0;
            int answered = 0;
            for (int i = 0; i < 64; ++i) {
                cache.async_get("async_quickstart:greeting",
                                [&](std::error_code ec, std::optional<std::string> v) {
                                    hits += !ec && v == greeting ? 1 : 0;
                                    ++answered;
                                });
            }
            asio::steady_timer wait(io);
            while (answered < 64) {
                wait.expires_after(std::chrono::milliseconds(1));
                co_await wait.async_wait(asio::use_awaitable);
            }
            std::printf("64 concurrent gets -> %d hits\n", hits);
            const bool deleted =
                co_await cache.async_del("async_quickstart:greeting", asio::use_awaitable);
            result = stored && greeting && hits == 64 && deleted ? 0 : 1;
        },
        [&](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    std::fprintf(stderr, "async_quickstart: %s\n", ex.what());
                }
                result = 2;
            }
            io.stop();  // the client's connections would keep run() going
        });
    io.run_for(std::chrono::seconds(10));
    return result;
}
