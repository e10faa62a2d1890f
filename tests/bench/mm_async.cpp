// The asynchronous client (AsyncCacheClient) against the synchronous one and libmemcached,
// in the same run: one thread running the io_context, one server, gets of one key with K
// operations in flight (each completion starts the next get, so K stay in flight).
//
//   mm_async bench --servers=H:P [--size=100] [--ops=100000] [--rounds=5]
//                  [--inflight=1,8,64] [--label=async-get-100]
//   mm_async cost  --servers=H:P --inflight=K [--size=100] [--iters=10000] [--warmup=200]
//   mm_async floor --servers=H:P [--size=100] [--iters=10000] [--warmup=200]
//
// bench: wall clock, interleaved in rounds (the synchronous client and libmemcached doing one
// get at a time, then the asynchronous client with each K), one tab-separated line per
// client as mm_bench prints them (kind "async"; client meta_memcache, libmemcached or
// async-K; median_us and p99_us from a get's start to its completion).
// cost: runs `iters` gets with K in flight inside mm_async_measured_loop, for callgrind's
// --toggle-collect (run with N and 2N iterations: the difference over N is one get, asio's
// share included), and prints "allocations_per_op <x>" (counting malloc).
// floor: the bare asio loop under the client (async_write of the get request, async_read_some
// until its answer is in, one at a time, on an io_context with concurrency hint 1) inside
// mm_async_floor_loop, for callgrind the same way: what asio costs per round trip.

#include <meta_memcache/async_cache_client.hpp>

#include "bench_clients.hpp"
#include "counting_malloc.hpp"
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <limits>

namespace {

using Clock = std::chrono::steady_clock;

/// One AsyncCacheClient on an io_context run by this thread.
class AsyncRunner {
public:
    explicit AsyncRunner(const bench::Workload& w)
        : w_(w),
          client_(meta_memcache::async_cache_client_from_servers(io_.get_executor(),
                                                                 w.servers,
                                                                 bench::pool_options(),
                                                                 bench::client_options(),
                                                                 w.mode)) {}

    /// `n` gets with `k` in flight; every value's size added up. With `ns`, each get's time
    /// from its start to its completion is appended.
    std::size_t run(std::size_t n, std::size_t k, std::vector<std::uint32_t>* ns) {
        n_ = n;
        issued_ = done_ = sum_ = 0;
        ns_ = ns;
        for (std::size_t i = 0; i < std::min(k, n); ++i)
            issue();
        io_.restart();
        io_.run();
        return sum_;
    }

private:
    void issue() {
        ++issued_;
        const Clock::time_point t0 = ns_ != nullptr ? Clock::now() : Clock::time_point{};
        client_.async_get(w_.key, [this, t0](std::error_code ec, std::optional<std::string> v) {
            if (ec)
                bench::die("async_get: " + ec.message());
            sum_ += v ? v->size() : 0;
            if (ns_ != nullptr) {
                ns_->push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(
                    (Clock::now() - t0).count(), std::numeric_limits<std::uint32_t>::max())));
            }
            if (++done_ == n_)
                io_.stop();  // the connection's read stays pending: run() would not return
            else if (issued_ < n_)
                issue();
        });
    }

    const bench::Workload& w_;
    asio::io_context io_{1};
    meta_memcache::AsyncCacheClient client_;
    std::size_t n_ = 0;
    std::size_t issued_ = 0;
    std::size_t done_ = 0;
    std::size_t sum_ = 0;
    std::vector<std::uint32_t>* ns_ = nullptr;
};

std::vector<std::size_t> inflight_of(const bench::Args& a, const std::string& def) {
    std::vector<std::size_t> out;
    std::string_view csv = a.kv.count("inflight") != 0 ? a.kv.at("inflight") : def;
    while (!csv.empty()) {
        const auto comma = csv.find(',');
        out.push_back(std::stoul(std::string(csv.substr(0, comma))));
        csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
    }
    if (out.empty() || std::find(out.begin(), out.end(), 0U) != out.end())
        bench::die("--inflight: a list of counts above 0");
    return out;
}

/// One client's samples over every round.
struct Series {
    explicit Series(std::string name) : client(std::move(name)) {}

    std::string client;
    std::vector<std::uint32_t> ns;
    double seconds = 0;
    std::size_t ops = 0;

    void print(const std::string& label, std::size_t servers, std::size_t size) {
        const auto q = [&](double f) {
            const auto i = static_cast<std::size_t>(f * static_cast<double>(ns.size() - 1));
            std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(i), ns.end());
            return ns[i] / 1000.0;
        };
        const double median = q(0.5);
        const double p99 = q(0.99);
        std::printf("async\t%s\t%s\t%zu\t1\t%zu\t%zu\t%.2f\t%.2f\t%.0f\n", label.c_str(),
                    client.c_str(), servers, size, ops, median, p99,
                    static_cast<double>(ops) / seconds);
        std::fflush(stdout);
    }
};

template <class Op>
void timed(Series& s, std::size_t n, Op&& op) {
    const auto start = Clock::now();
    op(n);
    s.seconds += std::chrono::duration<double>(Clock::now() - start).count();
    s.ops += n;
}

int bench_mode(const bench::Args& a) {
    const auto servers = bench::parse_servers(a.str("servers", "127.0.0.1:11211"));
    const std::size_t size = a.num("size", 100);
    const std::size_t ops = a.num("ops", 100000);
    const std::size_t rounds = std::max<std::size_t>(1, a.num("rounds", 5));
    const std::string label = a.str("label", "async-get-" + std::to_string(size));
    const auto inflight = inflight_of(a, "1,8,64");
    const bench::Workload w(servers, size, 0, label);
    bench::populate(w);

    const bench::ClientSet ours(bench::ClientKind::ours, w);
    const bench::ClientSet lm(bench::ClientKind::libmemcached, w);
    std::vector<std::unique_ptr<bench::Driver>> sync;
    sync.push_back(ours.driver());
    sync.push_back(lm.driver());
    AsyncRunner runner(w);

    std::vector<Series> series;
    series.emplace_back("meta_memcache");
    series.emplace_back("libmemcached");
    for (const std::size_t k : inflight)
        series.emplace_back("async-" + std::to_string(k));
    for (auto& s : series)
        s.ns.reserve(ops);

    const auto sync_gets = [&](bench::Driver& d, Series& s, std::size_t n) {
        auto t0 = Clock::now();
        for (std::size_t i = 0; i < n; ++i) {
            if (d.get() != size)
                bench::die("get returned the wrong value");
            const auto t1 = Clock::now();
            s.ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(
                (t1 - t0).count(), std::numeric_limits<std::uint32_t>::max())));
            t0 = t1;
        }
    };
    const std::size_t warm = std::min<std::size_t>(ops / 10 + 1, 2000);
    for (auto& d : sync) {  // warm: connections, buffers, caches
        for (std::size_t i = 0; i < warm; ++i)
            (void)d->get();
    }
    for (const std::size_t k : inflight)
        (void)runner.run(warm, k, nullptr);

    const std::size_t per_round = ops / rounds;
    for (std::size_t r = 0; r < rounds; ++r) {
        for (std::size_t c = 0; c < sync.size(); ++c)
            timed(series[c], per_round, [&](std::size_t n) { sync_gets(*sync[c], series[c], n); });
        for (std::size_t j = 0; j < inflight.size(); ++j) {
            Series& s = series[sync.size() + j];
            timed(s, per_round, [&](std::size_t n) {
                if (runner.run(n, inflight[j], &s.ns) != n * size)
                    bench::die("async_get returned the wrong value");
            });
        }
    }
    for (auto& s : series)
        s.print(label, servers.size(), size);
    return 0;
}

}  // namespace

/// Warm-up, outside what callgrind counts.
extern "C" __attribute__((noipa)) std::size_t mm_async_warmup_loop(AsyncRunner* r,
                                                                   std::size_t iters,
                                                                   std::size_t inflight) {
    return r->run(iters, inflight, nullptr);
}

/// The loop callgrind counts (--toggle-collect=mm_async_measured_loop): the io_context runs
/// inside it, so asio's work is counted with the client's.
extern "C" __attribute__((noipa)) std::size_t mm_async_measured_loop(AsyncRunner* r,
                                                                     std::size_t iters,
                                                                     std::size_t inflight) {
    return r->run(iters, inflight, nullptr);
}

namespace {

int cost_mode(const bench::Args& a) {
    const auto servers = bench::parse_servers(a.str("servers", "127.0.0.1:11211"));
    const std::size_t size = a.num("size", 100);
    const std::size_t iters = a.num("iters", 10000);
    const std::size_t warmup = a.num("warmup", 200);
    const auto inflight = inflight_of(a, "1");
    if (inflight.size() != 1)
        bench::die("cost: one --inflight count");
    const std::size_t k = inflight.front();
    const bench::Workload w(servers, size, 0, "cost-async-get-" + std::to_string(size));
    bench::populate(w);
    AsyncRunner runner(w);
    if (mm_async_warmup_loop(&runner, warmup, k) != warmup * size)
        bench::die("wrong answers during warm-up");
    const std::uint64_t before = bench::allocations();
    const std::size_t sum = mm_async_measured_loop(&runner, iters, k);
    const std::uint64_t after = bench::allocations();
    if (sum != iters * size)
        bench::die("wrong answers");
    std::printf("allocations_per_op %.3f\n",
                static_cast<double>(after - before) / static_cast<double>(iters));
    return 0;
}

}  // namespace

namespace {

/// The bare asio loop the asynchronous client runs over: on an io_context run by this
/// thread (concurrency hint 1), async_write of our client's get request, then
/// async_read_some until its whole answer is in, one get at a time, no parsing. What asio
/// and the kernel interface cost per round trip, without the client.
class BareAsioLoop {
public:
    explicit BareAsioLoop(const bench::Workload& w) : request_(w.raw_get), socket_(io_) {
        const auto& s = w.servers.front();
        socket_.connect({asio::ip::make_address(s.host), s.port});
        socket_.set_option(asio::ip::tcp::no_delay(true));
        // One exchange, blocking, to learn the answer's length ("VA <n> ...\r\n" + n + 2).
        asio::write(socket_, asio::buffer(request_));
        std::string got;
        for (;;) {
            const std::size_t n = socket_.read_some(asio::buffer(buf_));
            got.append(buf_.data(), n);
            const auto eol = got.find("\r\n");
            if (eol == std::string::npos)
                continue;
            answer_ = eol + 2 + std::stoul(got.substr(3, eol - 3)) + 2;
            if (got.size() >= answer_)
                break;
        }
        if (got.size() != answer_)
            bench::die("floor: unexpected bytes after the answer");
    }

    void run(std::size_t n) {
        left_ = n;
        send();
        io_.restart();
        io_.run();
    }

private:
    void send() {
        asio::async_write(socket_, asio::buffer(request_), [this](std::error_code ec, std::size_t) {
            if (ec)
                bench::die("floor: write: " + ec.message());
        });
        got_ = 0;
        receive();
    }
    void receive() {
        socket_.async_read_some(asio::buffer(buf_), [this](std::error_code ec, std::size_t n) {
            if (ec)
                bench::die("floor: read: " + ec.message());
            got_ += n;
            if (got_ < answer_)
                receive();
            else if (--left_ > 0)
                send();
        });
    }

    std::string request_;
    asio::io_context io_{1};
    asio::ip::tcp::socket socket_;
    std::array<char, 4096> buf_{};
    std::size_t answer_ = 0;
    std::size_t got_ = 0;
    std::size_t left_ = 0;
};

}  // namespace

/// The loop callgrind counts in floor mode (--toggle-collect=mm_async_floor_loop).
extern "C" __attribute__((noipa)) void mm_async_floor_loop(BareAsioLoop* l, std::size_t iters) {
    l->run(iters);
}

namespace {

int floor_mode(const bench::Args& a) {
    const auto servers = bench::parse_servers(a.str("servers", "127.0.0.1:11211"));
    const std::size_t size = a.num("size", 100);
    const std::size_t iters = a.num("iters", 10000);
    const bench::Workload w(servers, size, 0, "cost-async-get-" + std::to_string(size));
    bench::populate(w);
    BareAsioLoop loop(w);
    loop.run(std::max<std::size_t>(a.num("warmup", 200), 1));
    const auto start = Clock::now();
    mm_async_floor_loop(&loop, std::max<std::size_t>(iters, 1));
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("floor_us_per_get %.2f\n", s * 1e6 / static_cast<double>(iters));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 2)
            bench::die("usage: mm_async bench|cost --servers=H:P ...");
        const std::string_view mode = argv[1];
        const bench::Args args(argc, argv, 2);
        if (mode == "bench")
            return bench_mode(args);
        if (mode == "cost")
            return cost_mode(args);
        if (mode == "floor")
            return floor_mode(args);
        bench::die("unknown mode: " + std::string(mode));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mm_async: %s\n", e.what());
        return 1;
    }
}
