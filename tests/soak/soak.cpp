// Soak: `soak [minutes]` (default 10). Four threads run mixed operations (set and read
// back, multi_get, delete, counters, get_or_lease) over four private memcached servers,
// every answer checked (tests/support/load_driver.hpp); one server is stopped and started
// again on the same port every minute. A SOAK: line every 10 s and at the end gives the
// calls made, outcomes, errors by kind and resident memory. Exits 1 on a crossed or stale
// answer, or when resident memory grows by more than 20 % after warm-up.

#include <meta_memcache/meta_memcache.hpp>

#include "load_driver.hpp"
#include "memcached_server.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

namespace mm = meta_memcache;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double resident_mib() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0;
    std::size_t resident = 0;
    statm >> pages >> resident;
    return static_cast<double>(resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))) /
           (1024.0 * 1024.0);
}

std::string describe(const mmtest::LoadTotals& t) {
    std::ostringstream out;
    out << "calls=" << t.calls;
    for (const auto& [outcome, n] : t.by_outcome)
        out << " " << mmtest::to_string(outcome) << "=" << n;
    out << " errors=";
    if (t.errors.empty())
        out << "none";
    bool first = true;
    for (const auto& [code, n] : t.errors) {
        out << (first ? "" : ",") << mmtest::errc_label(code) << ":" << n;
        first = false;
    }
    return out.str();
}

}  // namespace

int main(int argc, char** argv) {
    const double minutes = argc > 1 ? std::atof(argv[1]) : 10.0;
    if (minutes <= 0) {
        std::cerr << "usage: soak [minutes]\n";
        return 2;
    }
    const auto run_for = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::ratio<60>>(minutes));
    // Warm-up: connections, thread caches and the allocator's arenas settle.
    const auto warm_up = std::min<Clock::duration>(30s, run_for / 4);

    mmtest::MemcachedCluster cluster(4);
    mm::PoolOptions pool;
    pool.recv_timeout = 500ms;
    pool.connection_timeout = 500ms;
    pool.mark_down_period = 1000ms;
    auto cache = mm::cache_client_from_servers(cluster.addresses(), pool,
                                               mm::ClientOptions{.raise_on_server_error = true});
    mmtest::LoadOptions lo;
    lo.threads = 4;
    lo.keys_per_thread = 64;
    lo.mixed = true;
    lo.keep_records = false;
    lo.pace = 100us;
    lo.servers = cluster.addresses();

    const auto start = Clock::now();
    const double rss_start = resident_mib();
    std::optional<double> rss_warm;
    std::printf("SOAK: start minutes=%.1f servers=4 threads=%zu rss_mib=%.1f\n", minutes,
                lo.threads, rss_start);
    std::fflush(stdout);

    int bounced = 0;
    {
        mmtest::LoadDriver load(cache, lo);
        auto next_report = start + 10s;
        auto next_bounce = start + 60s;
        while (Clock::now() < start + run_for) {
            std::this_thread::sleep_for(100ms);
            const auto now = Clock::now();
            if (!rss_warm && now >= start + warm_up)
                rss_warm = resident_mib();
            if (now >= next_bounce) {
                // Stop a server, leave it down for 3 s (a few mark-down periods), bring it
                // back on the same port; the next bounce takes the next server.
                mmtest::MemcachedServer& s = cluster[static_cast<std::size_t>(bounced % 4)];
                std::printf("SOAK: bounce server=%d port=%u\n", bounced % 4, s.port());
                std::fflush(stdout);
                s.stop();
                std::this_thread::sleep_for(3s);
                s.start();
                ++bounced;
                next_bounce += 60s;
            }
            if (now >= next_report) {
                const auto secs =
                    std::chrono::duration_cast<std::chrono::seconds>(now - start).count();
                std::printf("SOAK: t=%llds %s rss_mib=%.1f\n", static_cast<long long>(secs),
                            describe(load.totals()).c_str(), resident_mib());
                std::fflush(stdout);
                next_report += 10s;
            }
        }
        load.stop();
        const mmtest::LoadTotals t = load.totals();
        const double rss_end = resident_mib();
        const double warm = rss_warm.value_or(rss_start);
        const auto wrong =
            t.count(mmtest::CallOutcome::stale) + t.count(mmtest::CallOutcome::crossed);
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        std::printf(
            "SOAK: end seconds=%.0f %s bounces=%d ops_per_s=%.0f rss_start_mib=%.1f "
            "rss_warm_mib=%.1f rss_end_mib=%.1f growth_after_warm_up=%.1f%%\n",
            secs, describe(t).c_str(), bounced, static_cast<double>(t.calls) / secs, rss_start,
            warm, rss_end, (rss_end / warm - 1.0) * 100.0);
        for (const auto& cs : cache.get_counters().servers) {
            const mm::PoolCounters& c = cs.counters;
            std::printf(
                "SOAK: server=%s created=%llu errors=%llu timeouts=%llu mark_downs=%llu "
                "probes=%llu fast_failures=%llu retries=%llu closed_idle=%llu open=%llu\n",
                cs.server.c_str(), static_cast<unsigned long long>(c.total_created),
                static_cast<unsigned long long>(c.total_errors),
                static_cast<unsigned long long>(c.timeouts),
                static_cast<unsigned long long>(c.mark_downs),
                static_cast<unsigned long long>(c.probes),
                static_cast<unsigned long long>(c.fast_failures),
                static_cast<unsigned long long>(c.retries),
                static_cast<unsigned long long>(c.closed_idle),
                static_cast<unsigned long long>(c.established));
        }
        bool ok = true;
        if (wrong != 0) {
            std::printf("SOAK: FAILED: %llu wrong answers\n",
                        static_cast<unsigned long long>(wrong));
            for (const auto& w : t.wrong)
                std::printf("SOAK:   %s\n", w.c_str());
            ok = false;
        }
        if (rss_end > warm * 1.2) {
            std::printf("SOAK: FAILED: resident memory grew by more than 20%% after warm-up\n");
            ok = false;
        }
        std::printf("SOAK: %s\n", ok ? "passed" : "failed");
        return ok ? 0 : 1;
    }
}
