// Wall-clock benchmarks: meta_memcache against libmemcached and a raw socket loop, in the
// same run, interleaved in rounds so drift hits every client alike. Started by
// tests/bench/run.sh, which starts the memcached servers and pins processes.
//
//   mm_bench latency --servers=H:P --op=get|set --size=100 [--ops=50000] [--rounds=5]
//                    [--cdf=PREFIX] [--label=L] [--clients=ours,libmemcached,raw]
//   mm_bench mget    --servers=H:P,H:P,... [--keys=100] [--iters=5000] [--rounds=5] [--label=L]
//   mm_bench threads --servers=H:P --threads=T [--size=100] [--millis=2000] [--rounds=3]
//   mm_bench sharing --servers=H:P --threads=T [--size=100] [--millis=1000] [--runs=7]
//
// sharing: our client only. T threads share ONE CacheClient (max_pool_size >= T), against
// T threads with a CacheClient EACH; thread t is pinned to the t-th CPU the process may use
// (modulo their number). Runs of `millis` alternate shared, private, shared, ... `runs`
// times each; the best run of each is printed (labels <label>-shared, <label>-private),
// every run's ops/s goes to stderr.
//
// Prints one tab-separated line per client:
//   kind label client servers threads size ops median_us p99_us per_second
// (per_second: operations per second, or keys per second for mget). With --cdf, writes
// PREFIX_<client>.dat: "latency_us fraction" pairs of the latency distribution.

#include "bench_clients.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

namespace {

using Clock = std::chrono::steady_clock;

std::vector<bench::ClientKind> clients_of(const bench::Args& a) {
    std::vector<bench::ClientKind> out;
    const std::string list = a.str("clients", "ours,libmemcached,raw");
    std::string_view csv = list;
    while (!csv.empty()) {
        const auto comma = csv.find(',');
        out.push_back(bench::parse_client(csv.substr(0, comma)));
        csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
    }
    return out;
}

/// Latency samples (ns) and the time they took, of one client over all rounds.
struct Samples {
    std::vector<std::uint32_t> ns;
    double seconds = 0;
    std::size_t ops = 0;

    [[nodiscard]] double quantile_us(double q) {
        if (ns.empty())
            return 0;
        const auto i = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1));
        std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(i), ns.end());
        return ns[i] / 1000.0;
    }
    void write_cdf(const std::string& path) {
        std::sort(ns.begin(), ns.end());
        std::ofstream f(path);
        f << "# latency_us fraction\n";
        const std::size_t points = 400;
        for (std::size_t p = 0; p <= points; ++p) {
            const double q = std::min(0.9999, static_cast<double>(p) / points);
            const auto i = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1));
            f << ns[i] / 1000.0 << ' ' << q << '\n';
        }
    }
};

/// One driver per client, and room for their samples.
struct Setup {
    std::vector<bench::ClientKind> kinds;
    std::vector<std::unique_ptr<bench::ClientSet>> sets;
    std::vector<std::unique_ptr<bench::Driver>> drivers;
    std::vector<Samples> samples;

    Setup(std::vector<bench::ClientKind> k, const bench::Workload& w, std::size_t reserve)
        : kinds(std::move(k)), samples(kinds.size()) {
        for (std::size_t i = 0; i < kinds.size(); ++i) {
            sets.push_back(std::make_unique<bench::ClientSet>(kinds[i], w));
            drivers.push_back(sets.back()->driver());
            samples[i].ns.reserve(reserve);
        }
    }
};

void print(const char* kind,
           const std::string& label,
           bench::ClientKind client,
           std::size_t servers,
           std::size_t threads,
           std::size_t size,
           Samples& s,
           double per_second) {
    const double median = s.quantile_us(0.5);
    const double p99 = s.quantile_us(0.99);
    std::printf("%s\t%s\t%s\t%zu\t%zu\t%zu\t%zu\t%.2f\t%.2f\t%.0f\n", kind, label.c_str(),
                bench::name_of(client), servers, threads, size, s.ops, median, p99, per_second);
    std::fflush(stdout);
}

template <class Op>
void timed(Samples& s, std::size_t n, Op&& op) {
    const auto start = Clock::now();
    auto t0 = start;
    for (std::size_t i = 0; i < n; ++i) {
        op();
        const auto t1 = Clock::now();
        s.ns.push_back(static_cast<std::uint32_t>(
            std::min<std::int64_t>((t1 - t0).count(), std::numeric_limits<std::uint32_t>::max())));
        t0 = t1;
    }
    s.seconds += std::chrono::duration<double>(Clock::now() - start).count();
    s.ops += n;
}

int latency(const bench::Args& a) {
    const auto servers = bench::parse_servers(a.str("servers", "127.0.0.1:11211"));
    const std::string op = a.str("op", "get");
    const std::size_t size = a.num("size", 100);
    const std::size_t ops = a.num("ops", 50000);
    const std::size_t rounds = std::max<std::size_t>(1, a.num("rounds", 5));
    const std::string label = a.str("label", op + "-" + std::to_string(size));
    const bench::Workload w(servers, size, 0, label);
    bench::populate(w);

    Setup setup(clients_of(a), w, ops);
    const auto& kinds = setup.kinds;
    const auto& drivers = setup.drivers;
    auto& samples = setup.samples;
    const bool is_get = op == "get";
    if (!is_get && op != "set")
        bench::die("--op must be get or set");
    auto run = [&](bench::Driver& d) {
        if (is_get) {
            if (d.get() != size)
                bench::die("get returned the wrong value");
        } else if (!d.set()) {
            bench::die("set failed");
        }
    };
    for (auto& d : drivers) {  // warm: connections, buffers, caches
        for (std::size_t i = 0; i < std::min<std::size_t>(ops / 10 + 1, 2000); ++i)
            run(*d);
    }
    for (std::size_t r = 0; r < rounds; ++r) {
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            timed(samples[k], ops / rounds, [&] { run(*drivers[k]); });
        }
    }
    const std::string cdf = a.str("cdf", "");
    for (std::size_t k = 0; k < kinds.size(); ++k) {
        Samples& s = samples[k];
        print("latency", label, kinds[k], servers.size(), 1, size, s,
              static_cast<double>(s.ops) / s.seconds);
        if (!cdf.empty())
            s.write_cdf(cdf + "_" + bench::name_of(kinds[k]) + ".dat");
    }
    return 0;
}

int mget(const bench::Args& a) {
    const auto servers = bench::parse_servers(a.str("servers", "127.0.0.1:11211"));
    const std::size_t keys = a.num("keys", 100);
    const std::size_t iters = a.num("iters", 5000);
    const std::size_t rounds = std::max<std::size_t>(1, a.num("rounds", 5));
    const std::size_t size = a.num("size", 100);
    const std::string label = a.str("label", "mget-" + std::to_string(servers.size()));
    const bench::Workload w(servers, size, keys, label);
    bench::populate(w);

    Setup setup(clients_of(a), w, iters);
    const auto& kinds = setup.kinds;
    const auto& drivers = setup.drivers;
    auto& samples = setup.samples;
    auto run = [&](bench::Driver& d) {
        if (d.multi_get() != keys)
            bench::die("multi_get missed keys");
    };
    for (auto& d : drivers) {
        for (std::size_t i = 0; i < std::min<std::size_t>(iters / 10 + 1, 500); ++i)
            run(*d);
    }
    for (std::size_t r = 0; r < rounds; ++r) {
        for (std::size_t k = 0; k < kinds.size(); ++k)
            timed(samples[k], iters / rounds, [&] { run(*drivers[k]); });
    }
    for (std::size_t k = 0; k < kinds.size(); ++k) {
        Samples& s = samples[k];
        print("mget", label, kinds[k], servers.size(), 1, size, s,
              static_cast<double>(s.ops * keys) / s.seconds);
    }
    return 0;
}

/// Runs `n` threads for `slice`: thread t calls prepare(t) (warm-up, pinning), and once every
/// thread is ready, op(t) (false: a wrong answer) until told to stop, each call timed.
template <class Prepare, class Op>
Samples run_threads(std::size_t n,
                    std::chrono::duration<double> slice,
                    const Prepare& prepare,
                    const Op& op) {
    std::atomic<std::size_t> ready{0};
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::atomic<bool> wrong{false};
    std::vector<Samples> per(n);
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < n; ++t) {
        per[t].ns.reserve(1 << 18);
        pool.emplace_back([&, t] {
            prepare(t);
            ready.fetch_add(1);
            while (!go.load())
                std::this_thread::yield();
            auto t0 = Clock::now();
            while (!stop.load(std::memory_order_relaxed)) {
                if (!op(t))
                    wrong = true;
                const auto t1 = Clock::now();
                per[t].ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(
                    (t1 - t0).count(), std::numeric_limits<std::uint32_t>::max())));
                t0 = t1;
            }
        });
    }
    while (ready.load() != n)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto start = Clock::now();
    go = true;
    std::this_thread::sleep_for(slice);
    stop = true;
    for (auto& th : pool)
        th.join();
    if (wrong)
        bench::die("get returned the wrong value");
    Samples out;
    out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& p : per) {
        out.ops += p.ns.size();
        out.ns.insert(out.ns.end(), p.ns.begin(), p.ns.end());
    }
    return out;
}

int threads(const bench::Args& a) {
    const auto servers = bench::parse_servers(a.str("servers", "127.0.0.1:11211"));
    const std::size_t nthreads = std::max<std::size_t>(1, a.num("threads", 2));
    const std::size_t size = a.num("size", 100);
    const double seconds = static_cast<double>(a.num("millis", 2000)) / 1000.0;
    const std::size_t rounds = std::max<std::size_t>(1, a.num("rounds", 3));
    const std::string label = a.str("label", "threads-" + std::to_string(nthreads));
    const bench::Workload w(servers, size, 0, label);
    bench::populate(w);

    const auto kinds = clients_of(a);
    std::vector<std::unique_ptr<bench::ClientSet>> sets;
    std::vector<Samples> samples(kinds.size());
    for (auto k : kinds)
        sets.push_back(std::make_unique<bench::ClientSet>(k, w));
    const auto slice = std::chrono::duration<double>(seconds / static_cast<double>(rounds));
    for (std::size_t r = 0; r < rounds; ++r) {
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            std::vector<std::unique_ptr<bench::Driver>> drivers;
            for (std::size_t t = 0; t < nthreads; ++t)
                drivers.push_back(sets[k]->driver());
            Samples s = run_threads(
                nthreads, slice,
                [&](std::size_t t) {
                    for (int i = 0; i < 200; ++i)
                        (void)drivers[t]->get();
                },
                [&](std::size_t t) { return drivers[t]->get() == size; });
            samples[k].seconds += s.seconds;
            samples[k].ops += s.ops;
            samples[k].ns.insert(samples[k].ns.end(), s.ns.begin(), s.ns.end());
        }
    }
    for (std::size_t k = 0; k < kinds.size(); ++k) {
        Samples& s = samples[k];
        print("threads", label, kinds[k], servers.size(), nthreads, size, s,
              static_cast<double>(s.ops) / s.seconds);
    }
    return 0;
}

/// The CPUs this process may run on.
std::vector<std::size_t> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0)
        bench::die("sched_getaffinity failed");
    std::vector<std::size_t> out;
    for (std::size_t c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set))
            out.push_back(c);
    }
    return out;
}

void pin_this_thread(std::size_t cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) != 0)
        bench::die("pthread_setaffinity_np failed");
}

/// One timed run: thread t does gets of `key` on *clients[t], pinned to cpus[t % size].
Samples run_pinned(const std::vector<meta_memcache::CacheClient*>& clients,
                   const std::vector<std::size_t>& cpus,
                   const std::string& key,
                   std::size_t size,
                   std::chrono::duration<double> slice) {
    return run_threads(
        clients.size(), slice,
        [&](std::size_t t) {
            pin_this_thread(cpus[t % cpus.size()]);
            for (int i = 0; i < 200; ++i)  // warm: this thread's connection and buffers
                (void)clients[t]->get(key);
        },
        [&](std::size_t t) {
            const auto v = clients[t]->get(key);
            return v && v->size() == size;
        });
}

int sharing(const bench::Args& a) {
    const auto servers = bench::parse_servers(a.str("servers", "127.0.0.1:11211"));
    const std::size_t nthreads = std::max<std::size_t>(1, a.num("threads", 2));
    const std::size_t size = a.num("size", 100);
    const auto slice =
        std::chrono::duration<double>(static_cast<double>(a.num("millis", 1000)) / 1000.0);
    const std::size_t runs = std::max<std::size_t>(1, a.num("runs", 7));
    const std::string label = a.str("label", "sharing-" + std::to_string(nthreads));
    const bench::Workload w(servers, size, 0, label);
    bench::populate(w);
    const auto cpus = allowed_cpus();

    auto pool = bench::pool_options();
    pool.max_pool_size = std::max(pool.max_pool_size, nthreads);
    auto make = [&] {
        return std::make_unique<meta_memcache::CacheClient>(
            meta_memcache::cache_client_from_servers(w.servers, pool, bench::client_options(),
                                                     w.mode));
    };
    const auto shared = make();
    std::vector<std::unique_ptr<meta_memcache::CacheClient>> own;
    for (std::size_t t = 0; t < nthreads; ++t)
        own.push_back(make());
    const std::vector<meta_memcache::CacheClient*> shared_each(nthreads, shared.get());
    std::vector<meta_memcache::CacheClient*> own_each;
    for (const auto& c : own)
        own_each.push_back(c.get());

    struct Mode {
        const char* name;
        const std::vector<meta_memcache::CacheClient*>* clients;
        Samples best;
        double best_rate = 0;
        std::string rates;
    };
    std::array<Mode, 2> modes{
        {{"shared", &shared_each, {}, 0, {}}, {"private", &own_each, {}, 0, {}}}};
    for (std::size_t r = 0; r < runs; ++r) {
        for (auto& m : modes) {
            Samples s = run_pinned(*m.clients, cpus, w.key, size, slice);
            const double rate = static_cast<double>(s.ops) / s.seconds;
            m.rates += " " + std::to_string(static_cast<long long>(rate));
            if (rate > m.best_rate) {
                m.best_rate = rate;
                m.best = std::move(s);
            }
        }
    }
    for (auto& m : modes) {
        std::fprintf(stderr, "%s %s ops/s per run:%s\n", label.c_str(), m.name, m.rates.c_str());
        print("sharing", label + "-" + m.name, bench::ClientKind::ours, servers.size(), nthreads,
              size, m.best, m.best_rate);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: mm_bench latency|mget|threads|sharing --servers=H:P[,H:P] ...\n");
        return 2;
    }
    try {
        const bench::Args args(argc, argv, 2);
        const std::string_view mode = argv[1];
        if (mode == "latency")
            return latency(args);
        if (mode == "mget")
            return mget(args);
        if (mode == "threads")
            return threads(args);
        if (mode == "sharing")
            return sharing(args);
        std::fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mm_bench: %s\n", e.what());
        return 1;
    }
}
