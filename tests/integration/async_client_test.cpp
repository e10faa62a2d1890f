// AsyncCacheClient against real memcached servers: the commands, many coroutines pipelined
// on one connection, cancellation, a paused and a killed server, the gutter, and keys
// shared with the synchronous client.

#include <meta_memcache/async_cache_client.hpp>
#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace meta_memcache;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

/// Runs `coro` on `io` to its end (bounded by `limit`), rethrowing what it threw.
template <class Coro>
void run(asio::io_context& io, Coro&& coro, std::chrono::milliseconds limit = 20s) {
    std::atomic<bool> done{false};
    std::exception_ptr error;
    asio::co_spawn(io, std::forward<Coro>(coro), [&](std::exception_ptr e) {
        error = e;
        done = true;
        io.stop();
    });
    io.run_for(limit);
    io.restart();
    REQUIRE(done);
    if (error)
        std::rethrow_exception(error);
}

/// The concurrency hint of the io_context a test runs on: the default (the client runs on
/// a strand), then 1 (one thread runs it: the client runs on the io_context directly and
/// completes handlers inline after each read).
int one_thread_or_not() {
    return GENERATE(ASIO_CONCURRENCY_HINT_DEFAULT, 1);
}

PoolOptions quick_options() {
    PoolOptions o;
    o.recv_timeout = 300ms;
    o.connection_timeout = 300ms;
    o.mark_down_period = 400ms;
    o.timeouts_to_mark_down = 1000;  // timeouts alone do not mark down here
    return o;
}

}  // namespace

TEST_CASE("async set then get returns the value, and a missing key is a miss",
          "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    const std::string key = mmtest::unique_key("async-basic");
    run(io, [&]() -> asio::awaitable<void> {
        const auto got1 =
            co_await cache.async_set(key, std::string("hello"), 60, asio::use_awaitable);
        CHECK(got1);
        auto v = co_await cache.async_get(key, asio::use_awaitable);
        CHECK(v == std::optional<std::string>("hello"));
        auto miss = co_await cache.async_get(mmtest::unique_key("absent"), asio::use_awaitable);
        CHECK_FALSE(miss.has_value());
    });
    CHECK(server.raw_get(key) == std::optional<std::string>("hello"));
}

TEST_CASE("async commands mean what the synchronous ones mean", "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    const std::string k = mmtest::unique_key("async-cmds");
    const std::string counter = mmtest::unique_key("async-counter");
    run(io, [&]() -> asio::awaitable<void> {
        const auto tok = asio::use_awaitable;
        const auto got2 = co_await cache.async_refill(k, std::string("first"), 60, tok);
        CHECK(got2);
        const auto got3 = co_await cache.async_refill(k, std::string("second"), 60, tok);
        CHECK_FALSE(got3);
        CasValue cv = co_await cache.async_get_cas(k, tok);
        REQUIRE(cv.cas_token.has_value());
        CHECK(cv.value == std::optional<std::string>("first"));
        SetOptions stale;
        stale.cas_token = *cv.cas_token + 1;
        const auto got4 = co_await cache.async_set(k, std::string("x"), 60, stale, tok);
        CHECK_FALSE(got4);
        SetOptions match;
        match.cas_token = cv.cas_token;
        const auto got5 = co_await cache.async_set(k, std::string("third"), 60, match, tok);
        CHECK(got5);
        const auto got6 = co_await cache.async_touch(k, 100, tok);
        CHECK(got6);
        const auto got7 = co_await cache.async_del(k, tok);
        CHECK(got7);
        const auto got8 = co_await cache.async_del(k, tok);
        CHECK_FALSE(got8);
        const auto got9 = co_await cache.async_invalidate(k, tok);
        CHECK(got9);
        const auto got10 = co_await cache.async_touch(k, 100, tok);
        CHECK_FALSE(got10);

        const auto got11 = co_await cache.async_delta(counter, 1, tok);
        CHECK_FALSE(got11);
        const auto got12 = co_await cache.async_delta_initialize_and_get(counter, 1, 10, 60, tok) ==
                           std::optional<std::uint64_t>(10);
        CHECK(got12);
        const auto got13 =
            co_await cache.async_delta_and_get(counter, 5, tok) == std::optional<std::uint64_t>(15);
        CHECK(got13);
        const auto got14 = co_await cache.async_delta(counter, -20, tok);
        CHECK(got14);
        const auto got15 =
            co_await cache.async_delta_and_get(counter, 0, tok) == std::optional<std::uint64_t>(0);
        CHECK(got15);

        // The meta commands: typed responses.
        RequestFlags f;
        f.return_value = true;
        f.return_client_flag = true;
        WriteResponse w =
            co_await cache.async_meta_set(k, "raw", 60, RequestFlags{}, FailureHandling{}, tok);
        CHECK(std::holds_alternative<Success>(w));
        ReadResponse r = co_await cache.async_meta_get(k, f, FailureHandling{}, tok);
        REQUIRE(std::holds_alternative<Value>(r));
        CHECK(std::get<Value>(r).data == "raw");
        WriteResponse d =
            co_await cache.async_meta_delete(k, RequestFlags{}, FailureHandling{}, tok);
        CHECK(std::holds_alternative<Success>(d));
        ArithmeticResponse a =
            co_await cache.async_meta_arithmetic(counter, RequestFlags{}, FailureHandling{}, tok);
        CHECK(std::holds_alternative<Success>(a));
    });
}

TEST_CASE("async multi_get over three servers returns every value in the order of the keys",
          "[async][integration]") {
    mmtest::MemcachedCluster servers(3);
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), servers.addresses());
    std::vector<std::string> keys;
    for (int i = 0; i < 30; ++i)
        keys.push_back(mmtest::unique_key("async-multi-" + std::to_string(i)));
    run(io, [&]() -> asio::awaitable<void> {
        for (std::size_t i = 0; i < keys.size(); i += 2)
            co_await cache.async_set(keys[i], "v" + std::to_string(i), 60, asio::use_awaitable);
        std::vector<KeyView> views(keys.begin(), keys.end());
        auto got = co_await cache.async_multi_get(views, asio::use_awaitable);
        REQUIRE(got.size() == keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (i % 2 == 0) {
                CHECK(got[i] == std::optional<std::string>("v" + std::to_string(i)));
            } else {
                CHECK_FALSE(got[i].has_value());
            }
        }
    });
}

TEST_CASE("1000 concurrent coroutines on one connection never lose or cross a value",
          "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    std::vector<std::string> keys;
    for (int i = 0; i < 100; ++i)
        keys.push_back(mmtest::unique_key("async-mixed-" + std::to_string(i)));
    int wrong = 0;
    int finished = 0;
    run(io, [&]() -> asio::awaitable<void> {
        for (std::size_t i = 0; i < keys.size(); ++i)
            co_await cache.async_set(keys[i], keys[i] + ":0", 60, asio::use_awaitable);
        for (int c = 0; c < 1000; ++c) {
            asio::co_spawn(
                io,
                [&, c]() -> asio::awaitable<void> {
                    const std::string& key = keys[static_cast<std::size_t>(c) % keys.size()];
                    for (int round = 0; round < 5; ++round) {
                        if ((c + round) % 3 == 0) {
                            co_await cache.async_set(key, key + ":" + std::to_string(c), 60,
                                                     asio::use_awaitable);
                        }
                        auto v = co_await cache.async_get(key, asio::use_awaitable);
                        // Whatever was written last, it is this key's value.
                        if (!v || v->rfind(key + ":", 0) != 0)
                            ++wrong;
                    }
                    ++finished;
                },
                asio::detached);
        }
        asio::steady_timer t(io);
        while (finished < 1000) {
            t.expires_after(5ms);
            co_await t.async_wait(asio::use_awaitable);
        }
    });
    CHECK(finished == 1000);
    CHECK(wrong == 0);
    // Pipelined: one connection carried all of it.
    CHECK(cache.get_counters().servers.at(0).counters.total_created == 1);
}

TEST_CASE("cancelling one of 100 in-flight gets completes it with operation_aborted",
          "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    std::vector<std::string> keys;
    for (int i = 0; i < 100; ++i)
        keys.push_back(mmtest::unique_key("async-cancel-" + std::to_string(i)));
    run(io, [&]() -> asio::awaitable<void> {
        for (const auto& k : keys)
            co_await cache.async_set(k, "value-of-" + k, 60, asio::use_awaitable);
    });
    asio::cancellation_signal signal;
    std::vector<std::error_code> ecs(keys.size());
    std::vector<std::optional<std::string>> values(keys.size());
    int done = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        auto handler = [&, i](std::error_code ec, std::optional<std::string> v) {
            ecs[i] = ec;
            values[i] = std::move(v);
            if (++done == 100)
                io.stop();
        };
        if (i == 42) {
            cache.async_get(keys[i], asio::bind_cancellation_slot(signal.slot(), handler));
        } else {
            cache.async_get(keys[i], handler);
        }
    }
    signal.emit(asio::cancellation_type::terminal);
    io.run_for(10s);
    REQUIRE(done == 100);
    CHECK(ecs[42] == std::error_code(asio::error::operation_aborted));
    CHECK_FALSE(values[42].has_value());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i == 42)
            continue;
        CHECK_FALSE(ecs[i]);
        CHECK(values[i] == std::optional<std::string>("value-of-" + keys[i]));
    }
    // The connection is still in step.
    io.restart();
    run(io, [&]() -> asio::awaitable<void> {
        auto v = co_await cache.async_get(keys[42], asio::use_awaitable);
        CHECK(v == std::optional<std::string>("value-of-" + keys[42]));
    });
}

TEST_CASE("invalid input completes with the invalid-input error and sends nothing",
          "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    std::error_code bad_key;
    std::error_code too_big;
    std::error_code no_reply_get;
    run(io, [&]() -> asio::awaitable<void> {
        co_await cache.async_get("", asio::redirect_error(asio::use_awaitable, bad_key));
        co_await cache.async_set("k", mmtest::random_bytes(2 * 1024 * 1024), 60,
                                 asio::redirect_error(asio::use_awaitable, too_big));
        DeltaOptions quiet;
        quiet.no_reply = true;
        co_await cache.async_delta_and_get("k", 1, quiet,
                                           asio::redirect_error(asio::use_awaitable, no_reply_get));
    });
    CHECK(bad_key == make_error_code(errc::invalid_input));
    CHECK(too_big == make_error_code(errc::invalid_input));
    CHECK(no_reply_get == make_error_code(errc::invalid_input));
    CHECK(cache.get_counters().servers.at(0).counters.total_created == 0);
}

TEST_CASE("a command never completes inside the call that starts it, on one thread either",
          "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(1);
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    bool inside = false;
    int done = 0;
    int early = 0;
    const auto handler = [&](std::error_code, auto&&) {
        if (inside)
            ++early;
        ++done;
    };
    const std::string key = mmtest::unique_key("async-not-inline");
    // Invalid input, a set and a get, each started from inside the previous completion.
    std::function<void(int)> next = [&](int step) {
        inside = true;
        if (step == 0) {
            cache.async_get("", [&](std::error_code ec, std::optional<std::string> v) {
                CHECK(ec == make_error_code(errc::invalid_input));
                handler(ec, v);
                next(1);
            });
        } else if (step == 1) {
            cache.async_set(key, "v", 60, [&](std::error_code ec, bool ok) {
                CHECK_FALSE(ec);
                CHECK(ok);
                handler(ec, ok);
                next(2);
            });
        } else {
            cache.async_get(key, [&](std::error_code ec, std::optional<std::string> v) {
                CHECK(v == std::optional<std::string>("v"));
                handler(ec, v);
                io.stop();
            });
        }
        inside = false;
    };
    next(0);
    io.run_for(10s);
    CHECK(done == 3);
    CHECK(early == 0);
}

TEST_CASE("keys written by the synchronous client are read by the async one and back",
          "[async][integration]") {
    mmtest::MemcachedCluster servers(2);
    ClientOptions co;
    co.key_prefix = "pfx:";
    auto sync = cache_client_from_servers(servers.addresses(), {}, co);
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), servers.addresses(), {}, co);
    const std::string big(5000, 'z');  // compressed by both
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i)
        keys.push_back(mmtest::unique_key("async-interop-" + std::to_string(i)));
    const Key routed(mmtest::unique_key("routed"), "shared-route");
    const std::string binary_key = mmtest::unique_key("bin\x01key");
    for (const auto& k : keys)
        REQUIRE(sync.set(k, "sync:" + k + big, 60));
    REQUIRE(sync.set(binary_key, "binary", 60));
    run(io, [&]() -> asio::awaitable<void> {
        for (const auto& k : keys) {
            auto v = co_await cache.async_get(k, asio::use_awaitable);
            CHECK(v == std::optional<std::string>("sync:" + k + big));
            co_await cache.async_set(k, "async:" + k, 60, asio::use_awaitable);
        }
        const auto got16 = co_await cache.async_get(binary_key, asio::use_awaitable) ==
                           std::optional<std::string>("binary");
        CHECK(got16);
        co_await cache.async_set(routed, std::int64_t{42}, 60, asio::use_awaitable);
    });
    for (const auto& k : keys)
        CHECK(sync.get(k) == std::optional<std::string>("async:" + k));
    CHECK(sync.get_typed<std::int64_t>(routed) == std::optional<std::int64_t>(42));
    // The prefix is on the wire, on the server the ring picks.
    std::size_t found = 0;
    for (std::size_t s = 0; s < servers.size(); ++s)
        found += servers[s].raw_get("pfx:" + keys[0]).has_value() ? 1U : 0U;
    CHECK(found == 1);
}

TEST_CASE("a paused server times out its operations at their deadline, others stay prompt",
          "[async][integration]") {
    mmtest::MemcachedCluster servers(2);
    asio::io_context io(one_thread_or_not());
    PoolOptions po = quick_options();
    auto cache = async_cache_client_from_servers(io.get_executor(), servers.addresses(), po);
    HashRing ring(servers.addresses(), HashMode::uhashring);
    std::vector<std::string> on_paused;
    std::vector<std::string> on_other;
    for (int i = 0; on_paused.size() < 20 || on_other.size() < 20; ++i) {
        const std::string k = mmtest::unique_key("async-pause-" + std::to_string(i));
        (ring.node_for(k) == 0 ? on_paused : on_other).push_back(k);
    }
    on_paused.resize(20);
    on_other.resize(20);
    run(io, [&]() -> asio::awaitable<void> {
        for (const auto& k : on_paused)
            co_await cache.async_set(k, "p:" + k, 60, asio::use_awaitable);
        for (const auto& k : on_other)
            co_await cache.async_set(k, "o:" + k, 60, asio::use_awaitable);
    });
    servers[0].pause();
    int timeouts = 0;
    int other_ok = 0;
    int done = 0;
    Clock::duration slowest_other{};
    Clock::duration fastest_timeout = Clock::duration::max();
    const auto start = Clock::now();
    for (const auto& k : on_paused) {
        cache.async_get(k, [&](std::error_code ec, std::optional<std::string>) {
            if (ec == make_error_code(errc::timeout)) {
                ++timeouts;
                fastest_timeout = std::min(fastest_timeout, Clock::now() - start);
            }
            ++done;
        });
    }
    for (const auto& k : on_other) {
        cache.async_get(k, [&, k](std::error_code ec, std::optional<std::string> v) {
            if (!ec && v == "o:" + k)
                ++other_ok;
            slowest_other = std::max(slowest_other, Clock::now() - start);
            ++done;
        });
    }
    while (done < 40 && io.run_one_for(5s) > 0) {
    }
    CHECK(timeouts == 20);
    CHECK(fastest_timeout >= po.recv_timeout - 20ms);
    CHECK(other_ok == 20);
    CHECK(slowest_other < po.recv_timeout);
    // Once resumed, the connection's late answers are dropped: every read gets its own.
    servers[0].resume();
    io.restart();
    run(io, [&]() -> asio::awaitable<void> {
        for (int round = 0; round < 2; ++round) {
            for (const auto& k : on_paused) {
                auto v = co_await cache.async_get(k, asio::use_awaitable);
                CHECK(v == std::optional<std::string>("p:" + k));
            }
        }
    });
    CHECK(cache.get_counters().servers.at(0).counters.timeouts == 20);
}

TEST_CASE("a killed server is marked down, fails fast, and is used again once back",
          "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(one_thread_or_not());
    PoolOptions po = quick_options();
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()}, po);
    const std::string key = mmtest::unique_key("async-kill");
    run(io, [&]() -> asio::awaitable<void> {
        const auto got17 = co_await cache.async_set(key, "before", 60, asio::use_awaitable);
        CHECK(got17);
    });
    server.stop();
    std::error_code ec;
    run(io, [&]() -> asio::awaitable<void> {
        // The open connection dies, the reconnect fails: marked down.
        for (int attempt = 0; attempt < 3 && ec != make_error_code(errc::marked_down); ++attempt)
            co_await cache.async_get(key, asio::redirect_error(asio::use_awaitable, ec));
        const auto t0 = Clock::now();
        co_await cache.async_get(key, asio::redirect_error(asio::use_awaitable, ec));
        CHECK(Clock::now() - t0 < 50ms);  // no I/O while marked down
    });
    CHECK(ec == make_error_code(errc::marked_down));
    CHECK(cache.get_counters().servers.at(0).counters.marked_down);
    server.start();
    std::this_thread::sleep_for(po.mark_down_period);
    run(io, [&]() -> asio::awaitable<void> {
        // The probe after the mark-down period finds it back.
        const auto got18 = co_await cache.async_set(key, "after", 60, asio::use_awaitable);
        CHECK(got18);
        const auto got19 = co_await cache.async_get(key, asio::use_awaitable) ==
                           std::optional<std::string>("after");
        CHECK(got19);
    });
    const PoolCounters c = cache.get_counters().servers.at(0).counters;
    CHECK_FALSE(c.marked_down);
    CHECK(c.mark_downs == 1);
    CHECK(c.probes == 1);
}

TEST_CASE("with a gutter, a dead server's requests go to the gutter with TTLs capped",
          "[async][integration]") {
    mmtest::MemcachedServer primary;
    mmtest::MemcachedServer gutter;
    const std::string key = mmtest::unique_key("async-gutter");
    primary.stop();
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_with_gutter_from_servers(
        io.get_executor(), {primary.address()}, {gutter.address()}, 30s, quick_options());
    std::vector<Key> failed_writes;
    cache.on_write_failure().subscribe([&](const Key& k) { failed_writes.push_back(k); });
    run(io, [&]() -> asio::awaitable<void> {
        const auto got20 = co_await cache.async_set(key, "in gutter", 0, asio::use_awaitable);
        CHECK(got20);
        const auto got21 = co_await cache.async_get(key, asio::use_awaitable) ==
                           std::optional<std::string>("in gutter");
        CHECK(got21);
    });
    CHECK(gutter.raw_get(key) == std::optional<std::string>("in gutter"));
    const auto ttl = gutter.raw_ttl(key);
    REQUIRE(ttl.has_value());
    CHECK(*ttl > 0);
    CHECK(*ttl <= 30);
    // The primary's failure of the write was reported.
    REQUIRE(failed_writes.size() == 1);
    CHECK(failed_writes[0].key() == key);
    const auto counters = cache.get_counters().servers;
    REQUIRE(counters.size() == 2);
    CHECK(counters[1].role == "gutter");
}

TEST_CASE("async get_or_lease: one caller wins, the others wait on a timer for its value",
          "[async][integration]") {
    mmtest::MemcachedServer server;
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    const std::string key = mmtest::unique_key("async-lease");
    LeasePolicy lease;
    lease.miss_retries = 20;
    lease.miss_retry_wait = 20ms;
    lease.miss_max_retry_wait = 20ms;
    int winners = 0;
    std::vector<std::optional<std::string>> got;
    run(io, [&]() -> asio::awaitable<void> {
        CasValue first = co_await cache.async_get_or_lease_cas(key, lease, asio::use_awaitable);
        CHECK(first.won);
        winners += first.won ? 1 : 0;
        int waiting = 0;
        for (int i = 0; i < 5; ++i) {
            ++waiting;
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    got.push_back(
                        co_await cache.async_get_or_lease(key, lease, asio::use_awaitable));
                    --waiting;
                },
                asio::detached);
        }
        asio::steady_timer t(io, 60ms);
        co_await t.async_wait(asio::use_awaitable);
        CHECK(waiting == 5);  // still waiting: the lease holder has not set yet
        SetOptions o;
        o.cas_token = first.cas_token;
        const auto got22 = co_await cache.async_set(key, "computed", 60, o, asio::use_awaitable);
        CHECK(got22);
        while (waiting > 0) {
            t.expires_after(5ms);
            co_await t.async_wait(asio::use_awaitable);
        }
    });
    CHECK(winners == 1);
    REQUIRE(got.size() == 5);
    for (const auto& v : got)
        CHECK(v == std::optional<std::string>("computed"));
}

TEST_CASE("async commands from two threads running the io_context stay correct",
          "[async][integration][concurrency]") {
    mmtest::MemcachedCluster servers(2);
    asio::io_context io;
    auto cache = async_cache_client_from_servers(io.get_executor(), servers.addresses());
    std::atomic<int> wrong{0};
    std::atomic<int> finished{0};
    constexpr int coroutines = 40;
    auto guard = asio::make_work_guard(io);
    std::thread a([&] { io.run(); });
    std::thread b([&] { io.run(); });
    for (int c = 0; c < coroutines; ++c) {
        asio::co_spawn(
            io,
            [&, c]() -> asio::awaitable<void> {
                const std::string key = mmtest::unique_key("async-mt-" + std::to_string(c));
                for (int round = 0; round < 10; ++round) {
                    const std::string v = key + ":" + std::to_string(round);
                    if (!co_await cache.async_set(key, v, 60, asio::use_awaitable))
                        ++wrong;
                    if (co_await cache.async_get(key, asio::use_awaitable) != v)
                        ++wrong;
                }
                ++finished;
            },
            asio::detached);
    }
    // And from a thread that does not run the io_context: a future.
    auto f = cache.async_get(mmtest::unique_key("async-mt-absent"), asio::use_future);
    CHECK(f.get() == std::nullopt);
    const auto until = Clock::now() + 20s;
    while (finished < coroutines && Clock::now() < until)
        std::this_thread::sleep_for(5ms);
    guard.reset();
    io.stop();
    a.join();
    b.join();
    CHECK(finished == coroutines);
    CHECK(wrong == 0);
}

TEST_CASE("async commands work with a server on a unix socket", "[async][integration]") {
    mmtest::ServerOptions so;
    so.unix_socket = true;
    mmtest::MemcachedServer server(so);
    asio::io_context io(one_thread_or_not());
    auto cache = async_cache_client_from_servers(io.get_executor(), {server.address()});
    const std::string key = mmtest::unique_key("async-unix");
    const std::string big(50000, 'u');
    run(io, [&]() -> asio::awaitable<void> {
        CHECK(co_await cache.async_set(key, "local", 60, asio::use_awaitable));
        CHECK(co_await cache.async_set(key + ":big", big, 60, asio::use_awaitable));
        CHECK(co_await cache.async_get(key, asio::use_awaitable) ==
              std::optional<std::string>("local"));
        CHECK(co_await cache.async_get(key + ":big", asio::use_awaitable) ==
              std::optional<std::string>(big));
        const std::string none = key + ":none";
        const std::vector<KeyView> keys{KeyView(key), KeyView(none)};
        const auto many = co_await cache.async_multi_get(keys, asio::use_awaitable);
        CHECK(many == std::vector<std::optional<std::string>>{"local", std::nullopt});
    });
    CHECK(server.raw_get(key) == std::optional<std::string>("local"));
    CHECK(cache.get_counters().servers.at(0).counters.total_created == 1);
}

TEST_CASE("a get written on a connection memcached had closed is sent again on a new one",
          "[async][integration]") {
    mmtest::ServerOptions so;
    so.extra_args = {"-o", "idle_timeout=1"};
    mmtest::MemcachedServer server(so);
    const int hint = one_thread_or_not();
    asio::io_context io(hint);
    auto cache =
        async_cache_client_from_servers(io.get_executor(), {server.address()}, quick_options());
    const std::string key = mmtest::unique_key("async-idle-kick");
    run(io, [&]() -> asio::awaitable<void> {
        CHECK(co_await cache.async_set(key, "v", 60, asio::use_awaitable));
    });
    // memcached's idle thread closes the connection after 1 to a few seconds; the client,
    // not running meanwhile, has not seen it when the get goes out on it.
    const auto until = Clock::now() + 10s;
    while (server.stat("idle_kicks") == "0" && Clock::now() < until)
        std::this_thread::sleep_for(100ms);
    REQUIRE(server.stat("idle_kicks") != "0");
    std::error_code ec;
    std::optional<std::string> got;
    run(io, [&]() -> asio::awaitable<void> {
        got = co_await cache.async_get(key, asio::redirect_error(asio::use_awaitable, ec));
    });
    CHECK_FALSE(ec);
    CHECK(got == std::optional<std::string>("v"));
    const PoolCounters c = cache.get_counters().servers.at(0).counters;
    // On one thread the get is written before the close is read: it is sent again. On a
    // strand, the close may be read first: the get then goes out on a new connection.
    if (hint == 1)
        CHECK(c.retries == 1);
    CHECK(c.retries <= 1);
    CHECK(c.total_created == 2);
    CHECK_FALSE(c.marked_down);
}
