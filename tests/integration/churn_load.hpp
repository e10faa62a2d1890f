#pragma once

// Load for server-list changes: threads that set and read back their own keys until
// stopped, counting the failures of keys whose server never changes ("stable" keys).

#include <meta_memcache/meta_memcache.hpp>

#include "memcached_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mmtest {

/// `all[i]` for each i of `which`, in that order.
inline std::vector<meta_memcache::ServerAddress> pick(
    const std::vector<meta_memcache::ServerAddress>& all, const std::vector<std::size_t>& which) {
    std::vector<meta_memcache::ServerAddress> out;
    for (std::size_t i : which)
        out.push_back(all[i]);
    return out;
}

/// Test keys and where they live across a series of server lists.
struct ChurnKeys {
    std::vector<std::string> keys;
    std::vector<bool> stable;       ///< on the same server in every list
    std::vector<std::size_t> home;  ///< index into `all` of its server in the first list

    [[nodiscard]] long stable_count() const {
        return static_cast<long>(std::count(stable.begin(), stable.end(), true));
    }
};

/// `count` unique keys named after `base`, placed with `mode` on each of `lists` (each a
/// server list given as indexes into `all`).
inline ChurnKeys churn_keys(std::string_view base,
                            std::size_t count,
                            const std::vector<meta_memcache::ServerAddress>& all,
                            const std::vector<std::vector<std::size_t>>& lists,
                            meta_memcache::HashMode mode) {
    std::vector<meta_memcache::HashRing> rings;
    for (const auto& list : lists)
        rings.emplace_back(pick(all, list), mode);
    ChurnKeys out;
    for (std::size_t i = 0; i < count; ++i) {
        out.keys.push_back(unique_key(std::string(base) + std::to_string(i)));
        const std::size_t first = lists[0][rings[0].node_for(out.keys.back())];
        bool same = true;
        for (std::size_t l = 1; l < lists.size(); ++l)
            same = same && lists[l][rings[l].node_for(out.keys.back())] == first;
        out.stable.push_back(same);
        out.home.push_back(first);
    }
    return out;
}

class ChurnLoad {
public:
    /// Starts `threads` threads; thread t owns the t-th slice of the keys, so a get must
    /// return that thread's last set.
    ChurnLoad(meta_memcache::CacheClient& cache, const ChurnKeys& keys, std::size_t threads)
        : cache_(cache), keys_(keys.keys), stable_(keys.stable) {
        const std::size_t per_thread = keys_.size() / threads;
        for (std::size_t t = 0; t < threads; ++t)
            workers_.emplace_back([this, t, per_thread] { run(t * per_thread, per_thread); });
    }
    ~ChurnLoad() { stop(); }
    ChurnLoad(const ChurnLoad&) = delete;
    ChurnLoad& operator=(const ChurnLoad&) = delete;

    /// Waits until the threads made `ops` more requests (at most `timeout`), so requests
    /// are in flight across the change that follows.
    void wait_for_progress(long ops = 400,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
        const long start = ops_.load();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (ops_.load() < start + ops && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    void stop() {
        done_ = true;
        for (auto& w : workers_) {
            if (w.joinable())
                w.join();
        }
    }

    [[nodiscard]] long ops() const { return ops_.load(); }
    /// Stable keys whose set failed or whose get did not return the value just set.
    [[nodiscard]] long stable_failures() const { return stable_failures_.load(); }
    /// Requests for keys that move (they succeed, but a get after a move may miss).
    [[nodiscard]] long moving_ops() const { return moving_ops_.load(); }
    /// Calls that threw.
    [[nodiscard]] long errors() const { return errors_.load(); }

private:
    void run(std::size_t first, std::size_t count) {
        for (long round = 0; !done_.load(); ++round) {
            for (std::size_t i = first; i < first + count && !done_.load(); ++i) {
                const std::string value = std::to_string(round) + ":" + keys_[i];
                try {
                    const bool stored = cache_.set(keys_[i], value, 300);
                    const auto got = cache_.get(keys_[i]);
                    if (!stable_[i])
                        ++moving_ops_;
                    else if (!stored || got != value)
                        ++stable_failures_;
                } catch (const meta_memcache::Error&) {
                    ++errors_;
                    if (stable_[i])
                        ++stable_failures_;
                }
                ++ops_;
            }
        }
    }

    meta_memcache::CacheClient& cache_;
    const std::vector<std::string>& keys_;
    const std::vector<bool>& stable_;
    std::atomic<bool> done_{false};
    std::atomic<long> ops_{0};
    std::atomic<long> stable_failures_{0};
    std::atomic<long> moving_ops_{0};
    std::atomic<long> errors_{0};
    std::vector<std::thread> workers_;
};

}  // namespace mmtest
