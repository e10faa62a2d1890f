// Per-operation costs that do not depend on machine noise, for any of the three clients:
//
//   heap allocations per op   counted here: malloc, calloc, realloc and the aligned forms
//                             are replaced (operator new goes through malloc), so C and C++
//                             code alike is counted;
//   user instructions per op  run under `valgrind --tool=callgrind
//                             --toggle-collect=mm_measured_loop`: only the measured loop
//                             (after connections and buffers are warm) is counted;
//   system calls per op       run under `strace -f -c` with N and 2N iterations; the
//                             difference divided by N (tests/bench/run.sh does this);
//   reads per op              run with LD_PRELOAD=libmm_io_count.so (mm_io_count.cpp) with
//                             N and 2N iterations, the same way: every read call, and those
//                             that found nothing to read (EAGAIN), without slowing the client.
//
//   mm_cost --client=ours|libmemcached|raw --op=get|set|mget|mget_visit --servers=H:P[,H:P]
//           [--size=100] [--keys=100] [--iters=10000] [--warmup=200]
//           [--hash=uhashring|xxhash]   (our client's ring; libmemcached uses ketama/MD5)
//           [--hot=off|cold|hot]        (ours: no hot cache; one that keeps nothing, every
//                                       read a candidate; one that serves the key from memory)
//           [--observer=none|counting]  (ours: no observer; one that counts the events)
//
// mget is multi_get (ours: a std::optional<std::string> per key); mget_visit is our client's
// multi_get_visit (each hit handed to a visitor, no string per value). Prints
// "allocations_per_op <x>"; for mget and mget_visit also "allocations_per_key",
// "values_per_call" (values handed out in an allocation of their own: ours' multi_get
// strings) and "allocations_per_call_besides_values" (per call, minus those values).

#include "bench_clients.hpp"
#include "counting_malloc.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>

// ---- our client's options -----------------------------------------------------------------

namespace {

/// An observer that does as little as one can: counts what it is told.
class CountingObserver final : public meta_memcache::ClientObserver {
public:
    void on_request_end(const meta_memcache::RequestEvent& e) override {
        ++ends;
        bytes += e.bytes_received;
    }
    std::uint64_t ends = 0;
    std::uint64_t bytes = 0;
};

meta_memcache::ClientOptions cost_options(const std::string& hot, const std::string& observer) {
    meta_memcache::ClientOptions o = bench::client_options();
    if (hot == "cold" || hot == "hot") {
        meta_memcache::HotCacheOptions h;
        // cold: every read is a candidate that loses the coin; hot: kept at the second read.
        h.probability_factor = hot == "cold" ? 1U << 30U : 1;
        h.cache_ttl = std::chrono::hours(1);
        o.hot_cache = h;
    } else if (hot != "off") {
        bench::die("--hot must be off, cold or hot");
    }
    if (observer == "counting") {
        o.observer = std::make_shared<CountingObserver>();
    } else if (observer != "none") {
        bench::die("--observer must be none or counting");
    }
    return o;
}

}  // namespace

// ---- the measured loop -----------------------------------------------------------------

enum class Op { get, set, mget, mget_visit };

namespace {

std::size_t run_loop(bench::Driver* d, int op, std::size_t iters) {
    std::size_t sum = 0;
    for (std::size_t i = 0; i < iters; ++i) {
        switch (static_cast<Op>(op)) {
            case Op::get:
                sum += d->get();
                break;
            case Op::set:
                sum += d->set() ? 1U : 0U;
                break;
            case Op::mget:
                sum += d->multi_get();
                break;
            case Op::mget_visit:
                sum += d->multi_get_visit();
                break;
        }
    }
    return sum;
}

}  // namespace

/// Warm-up, outside what callgrind counts.
extern "C" __attribute__((noipa)) std::size_t mm_warmup_loop(bench::Driver* d,
                                                             int op,
                                                             std::size_t iters) {
    return run_loop(d, op, iters);
}

/// The loop callgrind counts (--toggle-collect=mm_measured_loop); returns a checksum so
/// nothing is optimised away.
extern "C" __attribute__((noipa)) std::size_t mm_measured_loop(bench::Driver* d,
                                                               int op,
                                                               std::size_t iters) {
    return run_loop(d, op, iters);
}

int main(int argc, char** argv) {
    try {
        const bench::Args args(argc, argv, 1);
        const auto str = [&](const std::string& k, const std::string& def) {
            return args.str(k, def);
        };
        const auto num = [&](const std::string& k, std::size_t def) { return args.num(k, def); };
        const auto kind = bench::parse_client(str("client", "ours"));
        const std::string op_name = str("op", "get");
        const std::map<std::string, Op, std::less<>> ops = {
            {"get", Op::get}, {"set", Op::set}, {"mget", Op::mget}, {"mget_visit", Op::mget_visit}};
        const auto found = ops.find(op_name);
        if (found == ops.end())
            bench::die("--op must be get, set, mget or mget_visit");
        const Op op = found->second;
        const bool multi = op == Op::mget || op == Op::mget_visit;
        if (op == Op::mget_visit && kind != bench::ClientKind::ours)
            bench::die("--op=mget_visit is our client's multi_get_visit: --client=ours only");
        const std::size_t size = num("size", 100);
        const std::size_t keys = multi ? num("keys", 100) : 0;
        const std::size_t iters = num("iters", 10000);
        const std::size_t warmup = num("warmup", 200);
        const std::string hash = str("hash", "uhashring");
        if (hash != "uhashring" && hash != "xxhash")
            bench::die("--hash must be uhashring or xxhash");
        const bench::Workload w(bench::parse_servers(str("servers", "127.0.0.1:11211")), size, keys,
                                "cost-" + op_name + "-" + std::to_string(size),
                                hash == "xxhash" ? meta_memcache::HashMode::xxhash
                                                 : meta_memcache::HashMode::uhashring);
        bench::populate(w);
        const std::string hot = str("hot", "off");
        const std::string observer = str("observer", "none");
        if ((hot != "off" || observer != "none") && kind != bench::ClientKind::ours)
            bench::die("--hot and --observer are our client's: --client=ours only");
        const bench::ClientSet set(kind, w, cost_options(hot, observer));
        const auto driver = set.driver();

        const std::size_t per = op == Op::get ? size : op == Op::set ? 1 : keys;
        if (mm_warmup_loop(driver.get(), static_cast<int>(op), warmup) != per * warmup) {
            bench::die("wrong answers during warm-up");
        }
        const std::uint64_t before = bench::allocations();
        const std::size_t sum = mm_measured_loop(driver.get(), static_cast<int>(op), iters);
        const std::uint64_t after = bench::allocations();
        if (sum != per * iters)
            bench::die("wrong answers");
        const double allocs = static_cast<double>(after - before) / static_cast<double>(iters);
        if (multi) {
            // Every key is a hit (checked above); multi_get's strings are what the caller
            // asked for, so they are counted apart from the client's own allocations.
            const double values =
                op == Op::mget && driver->multi_get_owns_values() ? static_cast<double>(keys) : 0;
            std::printf(
                "allocations_per_op %.3f\nallocations_per_key %.3f\nvalues_per_call %.0f\n"
                "allocations_per_call_besides_values %.3f\n",
                allocs, allocs / static_cast<double>(keys), values, allocs - values);
        } else {
            std::printf("allocations_per_op %.3f\n", allocs);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mm_cost: %s\n", e.what());
        return 1;
    }
    return 0;
}
