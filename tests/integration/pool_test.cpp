// The per-server pool against real memcached processes that die, pause and come back:
// lazy connect, mark-down and single-flight probing, idle connections the server closed,
// the connection cap, many threads on one client, fork().

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "io_test_helpers.hpp"
#include "memcached_server.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using namespace meta_memcache;
using namespace std::chrono_literals;
using iotest::counters_of;
using iotest::Ms;
using iotest::thrown_by;

namespace {

Request get_request(const std::string& key) {
    Request r;
    r.command = MetaCommand::get;
    r.key = KeyView(key);
    r.flags.return_value = true;
    return r;
}

/// Waits (up to `limit`) until `pred()` holds.
template <class Pred>
bool eventually(Pred pred, Ms limit = 5000ms) {
    const auto until = iotest::Clock::now() + limit;
    while (iotest::Clock::now() < until) {
        if (pred())
            return true;
        std::this_thread::sleep_for(2ms);
    }
    return pred();
}

}  // namespace

TEST_CASE("a pool opens no connection until its first request", "[pool][integration]") {
    mmtest::MemcachedServer server;
    iotest::StatsConnection stats(server.port());
    const auto accepted_before = stats.stat("total_connections");

    ConnectionPool pool(server.address(), iotest::quick_options());
    CHECK(pool.counters() == PoolCounters{});
    CHECK(stats.stat("total_connections") == accepted_before);

    const std::string key = mmtest::unique_key("lazy");
    std::array<Request, 1> reqs{get_request(key)};
    std::array<Response, 1> resps;
    execute_on_pool(pool, reqs, resps, ExecContext{});
    CHECK(std::holds_alternative<Miss>(resps[0]));
    CHECK_FALSE(is_error_response(resps[0]));

    const PoolCounters c = pool.counters();
    CHECK(c.total_created == 1);
    CHECK(c.established == 1);
    CHECK(c.available == 1);
    CHECK(c.active == 0);
    CHECK(c.total_errors == 0);
    CHECK(stats.stat("total_connections") == accepted_before + 1);
}

TEST_CASE("a killed server is marked down within one request and calls then fail fast",
          "[pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.mark_down_period = 3000ms;
    opts.idle_check_after = Ms(3600 * 1000);  // no peek: the request itself finds the corpse
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("killed");
    REQUIRE(cache.set(key, "v", 0));

    server.stop();
    const auto first = thrown_by([&] { cache.get(key); });
    REQUIRE(first.code.has_value());
    CHECK(*first.code == errc::connection_failed);  // the retry's fresh connect was refused
    PoolCounters c = counters_of(cache);
    CHECK(c.marked_down);
    CHECK(c.mark_downs == 1);
    CHECK(c.retries == 1);
    CHECK(c.established == 0);
    CHECK(iotest::consistent(c));

    // Back on the same port, but still within the mark-down period: the client must not
    // even connect. The server counts every connection it accepts.
    server.start();
    iotest::StatsConnection stats(server.port());
    const auto accepted = stats.stat("total_connections");
    constexpr int calls = 200;
    int fast_failures = 0;
    const Ms took = iotest::time_of([&] {
        for (int i = 0; i < calls; ++i) {
            const auto t = thrown_by([&] { cache.get(key); });
            fast_failures += t.marked_down && *t.code == errc::marked_down ? 1 : 0;
        }
    });
    CHECK(fast_failures == calls);
    CHECK(took < Ms(calls));  // under 1 ms per call on average
    CHECK(stats.stat("total_connections") == accepted);
    c = counters_of(cache);
    CHECK(c.fast_failures == static_cast<std::uint64_t>(calls));
    CHECK(c.total_created == 1);
    CHECK(c.probes == 0);

    const auto msg = thrown_by([&] { cache.get(key); }).message;
    CHECK_THAT(msg, Catch::Contains("marked down") && Catch::Contains("connect failed"));
    CHECK_THAT(msg, Catch::Contains(server.address().name()));
}

TEST_CASE("a restarted server is back after one probe while other callers fail fast",
          "[pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.mark_down_period = 300ms;
    opts.recv_timeout = 3000ms;  // the probe waits for the paused server
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("probe");
    REQUIRE(cache.set(key, "v", 0));
    server.stop();
    CHECK(thrown_by([&] { cache.get(key); }).code.has_value());
    REQUIRE(counters_of(cache).marked_down);

    // The server comes back, but paused: the probe connects (the kernel accepts) and then
    // waits for its answer, so the probe is in flight while the others call.
    server.start();
    server.pause();
    std::this_thread::sleep_for(opts.mark_down_period + 50ms);
    std::optional<std::string> probe_result{"not run"};
    std::optional<errc> probe_error;
    std::thread prober([&] {
        try {
            probe_result = cache.get(key);
        } catch (const Error& e) {
            probe_error = e.error();
        }
    });
    REQUIRE(eventually([&] { return counters_of(cache).probes == 1; }));

    std::atomic<int> fast{0};
    std::atomic<int> other{0};
    std::atomic<long long> slowest_ms{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                const auto r = thrown_by([&] { cache.get(key); });
                (r.marked_down ? fast : other).fetch_add(1);
                long long seen = slowest_ms.load();
                while (r.took.count() > seen &&
                       !slowest_ms.compare_exchange_weak(seen, r.took.count())) {
                }
                std::this_thread::sleep_for(2ms);
            }
        });
    }
    for (auto& t : callers)
        t.join();
    CHECK(fast == 100);
    CHECK(other == 0);
    CHECK(slowest_ms.load() < opts.recv_timeout.count() / 10);  // nobody waited on the probe
    CHECK(counters_of(cache).probes == 1);
    CHECK(counters_of(cache).marked_down);

    server.resume();
    prober.join();
    CHECK_FALSE(probe_error.has_value());
    CHECK_FALSE(probe_result.has_value());  // a new process: the key is gone, a plain miss
    const PoolCounters c = counters_of(cache);
    CHECK_FALSE(c.marked_down);
    CHECK(c.probes == 1);
    CHECK(c.mark_downs == 1);
    CHECK(c.fast_failures == 100);
    CHECK(cache.set(key, "back", 0));
    CHECK(cache.get(key) == std::optional<std::string>("back"));
    CHECK(iotest::consistent(counters_of(cache)));
}

TEST_CASE("a paused server times out at recv_timeout and is marked down after three timeouts",
          "[pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.recv_timeout = 500ms;
    opts.mark_down_period = 500ms;
    opts.timeouts_to_mark_down = 3;
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("paused");
    REQUIRE(cache.set(key, "kept", 0));

    server.pause();
    for (int i = 1; i <= 3; ++i) {
        INFO("timeout " << i);
        const auto r = thrown_by([&] { cache.get(key); });
        CHECK(r.timeout);
        CHECK(r.took >= 400ms);
        CHECK(r.took <= 750ms);  // the deadline, not two of it (slack for a loaded machine)
        CHECK_THAT(r.message, Catch::Contains("500 ms"));
        const PoolCounters c = counters_of(cache);
        CHECK(c.timeouts == static_cast<std::uint64_t>(i));
        CHECK(c.marked_down == (i == 3));
        CHECK(c.established == 0);  // a timed-out connection is never reused
    }
    const auto down = thrown_by([&] { cache.get(key); });
    CHECK(down.marked_down);
    CHECK_THAT(down.message, Catch::Contains("3 consecutive timeouts"));

    server.resume();
    std::this_thread::sleep_for(opts.mark_down_period + 50ms);
    CHECK(cache.get(key) == std::optional<std::string>("kept"));
    const PoolCounters c = counters_of(cache);
    CHECK_FALSE(c.marked_down);
    CHECK(c.probes == 1);
    CHECK(c.mark_downs == 1);
    CHECK(c.timeouts == 3);
}

TEST_CASE("a late timeout of an earlier request does not let a second caller probe",
          "[pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.recv_timeout = 1000ms;
    opts.mark_down_period = 100ms;
    opts.timeouts_to_mark_down = 1;
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("late");
    REQUIRE(cache.set(key, "v", 0));
    server.pause();

    // first times out at ~1000 ms and marks the server down; second, sent at ~600 ms,
    // times out at ~1600 ms, while the probe (sent at ~1200 ms) is still waiting.
    iotest::Thrown first;
    iotest::Thrown second;
    iotest::Thrown probe;
    std::thread t1([&] { first = thrown_by([&] { cache.get(key); }); });
    std::this_thread::sleep_for(600ms);
    std::thread t2([&] { second = thrown_by([&] { cache.get(key); }); });
    REQUIRE(eventually([&] { return counters_of(cache).marked_down; }, 3000ms));
    std::this_thread::sleep_for(opts.mark_down_period + 100ms);
    std::thread t3([&] { probe = thrown_by([&] { cache.get(key); }); });
    REQUIRE(eventually([&] { return counters_of(cache).probes == 1; }));
    t1.join();
    t2.join();
    CHECK(first.timeout);
    CHECK(second.timeout);

    // The late timeout neither ended the probe's turn nor counted as a new mark-down.
    std::this_thread::sleep_for(opts.mark_down_period + 50ms);
    const auto during = thrown_by([&] { cache.get(key); });
    CHECK(during.marked_down);
    PoolCounters c = counters_of(cache);
    CHECK(c.probes == 1);
    CHECK(c.mark_downs == 1);
    CHECK(c.timeouts == 2);

    server.resume();
    t3.join();
    CHECK_FALSE(probe.code.has_value());
    c = counters_of(cache);
    CHECK_FALSE(c.marked_down);
    CHECK(c.probes == 1);
}

TEST_CASE("an idle connection a restarted server closed is noticed at checkout",
          "[pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.idle_check_after = 0ms;  // peek at every checkout
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("idle");
    REQUIRE(cache.set(key, "v", 0));
    server.restart();
    CHECK(cache.set(key, "again", 0));
    CHECK(cache.get(key) == std::optional<std::string>("again"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.closed_idle == 1);
    CHECK(c.retries == 0);
    CHECK(c.total_errors == 0);
    CHECK(c.total_created == 2);
    CHECK_FALSE(c.marked_down);
}

TEST_CASE("a request on a connection a restarted server closed is retried on a fresh one",
          "[pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.idle_check_after = Ms(3600 * 1000);  // never peek: the request meets the dead socket
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("retry");
    REQUIRE(cache.set(key, "v", 0));
    server.restart();
    CHECK(cache.set(key, "again", 0));
    CHECK(server.raw_get(key) == std::optional<std::string>("again"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.retries == 1);
    CHECK(c.total_errors == 1);  // the dead connection, discarded
    CHECK(c.total_created == 2);
    CHECK(c.established == 1);
    CHECK_FALSE(c.marked_down);
}

TEST_CASE("a connection memcached closed on its idle timeout is replaced and the request works",
          "[pool][integration]") {
    mmtest::ServerOptions so;
    so.extra_args = {"-o", "idle_timeout=1"};
    mmtest::MemcachedServer server(so);
    PoolOptions opts = iotest::quick_options();
    opts.idle_check_after = 500ms;
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("idle-timeout");
    REQUIRE(cache.set(key, "v", 0));
    // memcached's idle thread kicks the connection after 1 to a few seconds.
    REQUIRE(eventually([&] { return server.stat("idle_kicks") != "0"; }, 10000ms));
    CHECK(cache.get(key) == std::optional<std::string>("v"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.closed_idle + c.retries == 1);
    CHECK(c.total_created == 2);
    CHECK_FALSE(c.marked_down);
}

TEST_CASE("sixteen threads sharing one client never lose or cross a response",
          "[pool][concurrency][integration]") {
    mmtest::MemcachedCluster cluster(2);
    PoolOptions opts;
    opts.max_connections = 8;
    opts.max_pool_size = 8;
    opts.pool_wait_timeout = 10000ms;  // generous: tsan makes everything slow
    opts.recv_timeout = 10000ms;
    auto cache = cache_client_from_servers(cluster.addresses(), opts);

    constexpr int threads = 16;
    constexpr int ops = 10000;
    constexpr int keys_per_thread = 32;
    const std::string run = mmtest::unique_key("mt");
    std::atomic<int> mismatches{0};
    std::atomic<int> errors{0};
    std::mutex first_mu;
    std::string first_problem;
    auto problem = [&](const std::string& what) {
        mismatches.fetch_add(1);
        std::lock_guard lk(first_mu);
        if (first_problem.empty())
            first_problem = what;
    };

    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::vector<std::string> keys;
            for (int k = 0; k < keys_per_thread; ++k)
                keys.push_back(run + ":t" + std::to_string(t) + ":k" + std::to_string(k));
            // What this thread last wrote under each key (nothing: deleted or never set).
            std::vector<std::optional<std::string>> expect(keys_per_thread);
            auto value_for = [&](int k, int i) {
                std::string v = keys[static_cast<std::size_t>(k)] + "=" + std::to_string(i);
                if (i % 97 == 0)
                    v.append(20000, static_cast<char>('a' + t));  // the large-value paths
                return v;
            };
            try {
                for (int i = 0; i < ops; ++i) {
                    const int k = (i * 7 + t) % keys_per_thread;
                    const auto ku = static_cast<std::size_t>(k);
                    switch (i % 6) {
                        case 0:
                        case 3: {
                            const std::string v = value_for(k, i);
                            if (!cache.set(keys[ku], v, 0))
                                problem("set failed for " + keys[ku]);
                            expect[ku] = v;
                            break;
                        }
                        case 1:
                        case 4: {
                            const auto got = cache.get(keys[ku]);
                            if (got != expect[ku])
                                problem("get " + keys[ku] + " returned " +
                                        got.value_or("<miss>").substr(0, 60));
                            break;
                        }
                        case 2: {
                            std::array<KeyView, 3> ks;
                            std::array<std::size_t, 3> idx{};
                            for (std::size_t j = 0; j < 3; ++j) {
                                idx[j] = (ku + j * 5) % keys_per_thread;
                                ks[j] = KeyView(keys[idx[j]]);
                            }
                            const auto got = cache.multi_get(ks);
                            for (std::size_t j = 0; j < 3; ++j) {
                                const std::optional<std::string>& g = got[j];
                                if (g != expect[idx[j]])
                                    problem("multiget " + keys[idx[j]] + " returned " +
                                            g.value_or("<miss>").substr(0, 60));
                            }
                            break;
                        }
                        default: {
                            if (i % 12 == 5) {
                                const bool was_there = cache.del(keys[ku]);
                                if (was_there != expect[ku].has_value())
                                    problem("del " + keys[ku] + " disagreed");
                                expect[ku].reset();
                            } else {
                                // A quiet write (its mn fence drained by a later request on
                                // whichever connection it went out on), to a scratch key.
                                SetOptions so;
                                so.no_reply = true;
                                cache.set(keys[ku] + ":q", "quiet", 0, so);
                            }
                            break;
                        }
                    }
                }
            } catch (const std::exception& e) {
                errors.fetch_add(1);
                problem(std::string("exception: ") + e.what());
            }
        });
    }
    for (auto& w : workers)
        w.join();
    INFO(first_problem);
    CHECK(mismatches == 0);
    CHECK(errors == 0);
    for (const auto& sc : cache.get_counters().servers) {
        INFO(sc.server);
        const PoolCounters& c = sc.counters;
        CHECK(c.available + c.active == c.established);
        CHECK(c.active == 0);
        CHECK(c.established <= opts.max_connections);
        CHECK(c.total_created <= opts.max_connections);  // the pool never churned
        CHECK(c.total_errors == 0);
        CHECK(c.timeouts == 0);
        CHECK(c.mark_downs == 0);
        CHECK_FALSE(c.marked_down);
    }
}

TEST_CASE("with max_connections 2, eight threads never hold more than two connections",
          "[pool][concurrency][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.max_connections = 2;
    opts.max_pool_size = 2;
    opts.pool_wait_timeout = 10000ms;
    opts.recv_timeout = 10000ms;
    auto cache = cache_client_from_servers({server.address()}, opts);

    iotest::StatsConnection stats(server.port());
    const auto baseline_open = stats.stat("curr_connections");
    const auto accepted_before = stats.stat("total_connections");
    std::atomic<bool> running{true};
    long long most_open = 0;
    std::uint64_t most_established = 0;
    std::thread monitor([&] {
        while (running) {
            most_open = std::max(most_open, stats.stat("curr_connections"));
            most_established = std::max(most_established, counters_of(cache).established);
            std::this_thread::sleep_for(1ms);
        }
    });
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 8; ++t) {
        workers.emplace_back([&, t] {
            const std::string key = mmtest::unique_key("cap" + std::to_string(t));
            for (int i = 0; i < 500; ++i) {
                try {
                    const std::string v = std::to_string(i);
                    if (!cache.set(key, v, 0) || cache.get(key) != v)
                        failures.fetch_add(1);
                } catch (const Error&) {
                    failures.fetch_add(1);
                }
            }
        });
    }
    for (auto& w : workers)
        w.join();
    running = false;
    monitor.join();

    CHECK(failures == 0);
    CHECK(most_open <= baseline_open + 2);
    CHECK(most_established <= 2);
    CHECK(stats.stat("total_connections") - accepted_before <= 2);
    const PoolCounters c = counters_of(cache);
    CHECK(c.total_created <= 2);
    CHECK(c.total_created ==
          static_cast<std::uint64_t>(stats.stat("total_connections") - accepted_before));
    CHECK(c.pool_waits > 0);  // eight threads, two connections: somebody waited
    CHECK(c.active == 0);
    CHECK(iotest::consistent(c));
}

TEST_CASE("a caller waits at most pool_wait_timeout for a connection, then pool_exhausted",
          "[pool][concurrency][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.max_connections = 2;
    opts.max_pool_size = 2;
    opts.pool_wait_timeout = 100ms;
    opts.recv_timeout = 3000ms;
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("exhaust");
    REQUIRE(cache.set(key, "v", 0));

    // Two requests hold both connections while the server is paused.
    server.pause();
    std::array<std::optional<std::string>, 2> held;
    std::vector<std::thread> holders;
    for (std::size_t i = 0; i < 2; ++i)
        holders.emplace_back([&, i] { held[i] = cache.get(key); });
    REQUIRE(eventually([&] { return counters_of(cache).active == 2; }));

    const auto r = thrown_by([&] { cache.get(key); });
    REQUIRE(r.code.has_value());
    CHECK(*r.code == errc::pool_exhausted);
    CHECK(r.took >= 80ms);
    CHECK(r.took < 1000ms);  // bounded by pool_wait_timeout, not by the held requests
    CHECK_THAT(r.message, Catch::Contains("2 connections busy"));

    server.resume();
    for (auto& h : holders)
        h.join();
    CHECK(held[0] == std::optional<std::string>("v"));
    CHECK(held[1] == std::optional<std::string>("v"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.pool_waits == 1);
    CHECK(c.total_created == 2);
    CHECK(c.total_errors == 0);
    CHECK_FALSE(c.marked_down);
}

TEST_CASE("a child process after fork never uses the parent's connections", "[pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.idle_check_after = 0ms;  // the parent peeks: a stray answer would show
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string parent_key = mmtest::unique_key("parent");
    const std::string child_key = mmtest::unique_key("child");
    REQUIRE(cache.set(parent_key, "parent-value", 0));
    REQUIRE(cache.set(child_key, "child-value", 0));
    REQUIRE(counters_of(cache).available == 1);  // the parent holds an idle connection
    iotest::StatsConnection stats(server.port());
    const auto accepted_before = stats.stat("total_connections");

    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child: no Catch here; each failed check sets a bit of the exit status.
        int bad = 0;
        try {
            const PoolCounters fresh = counters_of(cache);
            if (!(fresh == PoolCounters{}))
                bad |= 1;
            if (cache.get(child_key) != std::optional<std::string>("child-value"))
                bad |= 2;
            const PoolCounters after = counters_of(cache);
            if (after.total_created != 1 || after.established != 1 || after.available != 1)
                bad |= 4;
            if (!cache.set(child_key, "from-child", 0))
                bad |= 8;
        } catch (...) {
            bad |= 16;
        }
        ::_exit(bad);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    INFO(
        "child failures (bits: 1 counters not fresh, 2 get, 4 counters after, 8 set, "
        "16 exception): "
        << WEXITSTATUS(status));
    CHECK(WEXITSTATUS(status) == 0);

    // The parent's connection is untouched: its next get reads its own answer on it.
    CHECK(cache.get(parent_key) == std::optional<std::string>("parent-value"));
    CHECK(cache.get(child_key) == std::optional<std::string>("from-child"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.total_created == 1);
    CHECK(c.closed_idle == 0);
    CHECK(c.total_errors == 0);
    // Exactly one new connection reached the server: the child's own.
    CHECK(stats.stat("total_connections") - accepted_before == 1);
}
