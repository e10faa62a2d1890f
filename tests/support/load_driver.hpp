#pragma once

// A load that checks every answer: threads that write and read back their own keys, with
// values derived from the key and a per-write version, so an answer meant for another key
// (crossed) or for an earlier request (stale) is caught. Every call's start, latency,
// servers and outcome are recorded for the fault tests; the soak keeps only the totals.
//
// A write whose outcome is unknown (it failed: the server may still apply it later, from
// a connection the client gave up on) retires its key: the thread goes on under a new key
// name on the same server, so a late write can never pass for a stale read.

#include <meta_memcache/meta_memcache.hpp>

#include "memcached_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mmtest {

using LoadClock = std::chrono::steady_clock;

/// What a call did.
enum class CallOp : std::uint8_t { set, get, multi_get, del, counter, lease };

/// How a call ended.
enum class CallOutcome : std::uint8_t {
    ok,          ///< as expected
    not_stored,  ///< a set answered false
    miss,        ///< nothing (or, in a multi_get, nothing for some keys) where a value was
    stale,       ///< a value of this key, but not its last acknowledged write
    crossed,     ///< a value that is not this key's at all
    error,       ///< the call threw a meta_memcache::Error
};

[[nodiscard]] inline const char* to_string(CallOutcome o) noexcept {
    switch (o) {
        case CallOutcome::ok:
            return "ok";
        case CallOutcome::not_stored:
            return "not_stored";
        case CallOutcome::miss:
            return "miss";
        case CallOutcome::stale:
            return "stale";
        case CallOutcome::crossed:
            return "crossed";
        case CallOutcome::error:
            return "error";
    }
    return "?";
}

/// An error code as one word ("timed_out", "server_marked_down"), for figures.
[[nodiscard]] inline std::string errc_label(meta_memcache::errc code) {
    std::string s = meta_memcache::make_error_code(code).message();
    std::replace(s.begin(), s.end(), ' ', '_');
    return s;
}

/// One call.
struct CallRecord {
    LoadClock::time_point start{};
    std::chrono::microseconds took{0};
    std::uint32_t servers = 0;  ///< bitmask of the servers (ring indexes) the call went to
    std::uint32_t failed = 0;   ///< of those, the ones whose part failed or missed
    CallOp op = CallOp::set;
    CallOutcome outcome = CallOutcome::ok;
    meta_memcache::errc error{};  ///< when outcome == error

    [[nodiscard]] LoadClock::time_point end() const noexcept { return start + took; }
};

/// What the threads do.
struct LoadOptions {
    std::size_t threads = 4;
    std::size_t keys_per_thread = 16;
    /// Every n-th write is a 20 KiB value (the large-value read path); 0: never.
    std::size_t large_every = 32;
    /// Every n-th step ends with a multi_get of four of the thread's keys; 0: never.
    std::size_t multi_get_every = 4;
    /// Also delete, count (delta_initialize_and_get) and get_or_lease, in turn.
    bool mixed = false;
    /// Pause between steps, so the load leaves the machine some air.
    std::chrono::microseconds pace{1000};
    /// Keep every call's CallRecord (the soak keeps only the totals).
    bool keep_records = true;
    /// Where keys go: the same ring (servers and mode) as the client's router.
    std::vector<meta_memcache::ServerAddress> servers{};
    meta_memcache::HashMode mode = meta_memcache::HashMode::uhashring;
};

/// Totals over all calls.
struct LoadTotals {
    std::uint64_t calls = 0;
    std::map<CallOutcome, std::uint64_t> by_outcome{};
    std::map<meta_memcache::errc, std::uint64_t> errors{};  ///< by error code
    /// The first few wrong answers (stale or crossed), described.
    std::vector<std::string> wrong{};

    [[nodiscard]] std::uint64_t count(CallOutcome o) const {
        const auto it = by_outcome.find(o);
        return it == by_outcome.end() ? 0 : it->second;
    }
};

class LoadDriver {
public:
    /// Starts the threads at once.
    LoadDriver(meta_memcache::CacheClient& cache, LoadOptions options)
        : cache_(cache), options_(std::move(options)), ring_(options_.servers, options_.mode) {
        run_ = unique_key("load");
        threads_.resize(options_.threads);
        for (std::size_t t = 0; t < options_.threads; ++t)
            workers_.emplace_back([this, t] { work(t); });
    }
    ~LoadDriver() { stop(); }
    LoadDriver(const LoadDriver&) = delete;
    LoadDriver& operator=(const LoadDriver&) = delete;

    /// The value written as `version` of `key`: the key, the version, and bytes derived
    /// from both (a 20 KiB value when `large`; incompressible, so stored as given).
    static std::string value_for(const std::string& key, std::uint64_t version, bool large) {
        std::string v = key + "|" + std::to_string(version) + "|";
        std::uint64_t h = std::hash<std::string>{}(v);
        const std::size_t pad = large ? 20000 : 8 + h % 64;
        for (std::size_t i = 0; i < pad; ++i) {
            h = h * 6364136223846793005ULL + 1442695040888963407ULL;
            v.push_back(static_cast<char>('!' + (h >> 58)));  // printable, 64 symbols
        }
        return v;
    }

    /// Stops and joins the threads.
    void stop() {
        done_ = true;
        for (auto& w : workers_) {
            if (w.joinable())
                w.join();
        }
    }

    /// Calls made so far.
    [[nodiscard]] std::uint64_t calls() const noexcept { return calls_.load(); }
    /// Waits until `n` more calls were made (at most `limit`).
    void wait_for_calls(std::uint64_t n,
                        std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
        const auto target = calls_.load() + n;
        const auto until = LoadClock::now() + limit;
        while (calls_.load() < target && LoadClock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    /// When the first successful call to server `s` alone that started after `after`
    /// ended, or nothing: a successful call is what recovery means to a user.
    [[nodiscard]] std::optional<LoadClock::time_point> first_success(
        std::size_t s, LoadClock::time_point after) const {
        std::optional<LoadClock::time_point> best;
        std::lock_guard lk(mu_);
        for (const Thread& th : threads_) {
            for (const CallRecord& r : th.records) {
                if (r.start >= after && r.servers == (1u << s) && r.outcome == CallOutcome::ok &&
                    (!best || r.end() < *best)) {
                    best = r.end();
                }
            }
        }
        return best;
    }

    /// Every call's record, in start order (after stop(), or a snapshot while running).
    [[nodiscard]] std::vector<CallRecord> records() const {
        std::vector<CallRecord> out;
        std::lock_guard lk(mu_);
        for (const Thread& th : threads_)
            out.insert(out.end(), th.records.begin(), th.records.end());
        std::sort(out.begin(), out.end(),
                  [](const CallRecord& a, const CallRecord& b) { return a.start < b.start; });
        return out;
    }
    [[nodiscard]] LoadTotals totals() const {
        LoadTotals out;
        std::lock_guard lk(mu_);
        for (const Thread& th : threads_) {
            out.calls += th.totals.calls;
            for (const auto& [k, n] : th.totals.by_outcome)
                out.by_outcome[k] += n;
            for (const auto& [k, n] : th.totals.errors)
                out.errors[k] += n;
            for (const auto& w : th.totals.wrong) {
                if (out.wrong.size() < 10)
                    out.wrong.push_back(w);
            }
        }
        return out;
    }
    /// The ring index of the server a key lives on.
    [[nodiscard]] std::size_t home(const std::string& key) const noexcept {
        return ring_.node_for(key);
    }

private:
    struct OwnKey {
        std::string name;
        unsigned generation = 0;
        std::optional<std::uint64_t> version{};  ///< last acknowledged write; none: absent
    };
    struct Thread {
        std::vector<CallRecord> records;
        LoadTotals totals;
    };

    /// One call in progress: times it and files its record.
    class Call {
    public:
        Call(LoadDriver& d, std::size_t t, CallOp op) : d_(d), t_(t) {
            rec_.op = op;
            rec_.start = LoadClock::now();
        }
        void server(std::size_t s) { rec_.servers |= 1u << s; }
        void fail_on(std::size_t s) { rec_.failed |= 1u << s; }
        void set(CallOutcome o, std::string why = {}) {
            if (o > rec_.outcome)
                rec_.outcome = o;
            if ((o == CallOutcome::stale || o == CallOutcome::crossed) && why_.empty())
                why_ = std::move(why);
        }
        void error(const meta_memcache::Error& e) {
            set(CallOutcome::error);
            rec_.error = e.error();
            rec_.failed = rec_.servers;
        }
        ~Call() {
            rec_.took = std::chrono::duration_cast<std::chrono::microseconds>(LoadClock::now() -
                                                                              rec_.start);
            if (rec_.outcome != CallOutcome::ok && rec_.outcome != CallOutcome::error &&
                rec_.failed == 0) {
                rec_.failed = rec_.servers;
            }
            std::lock_guard lk(d_.mu_);
            Thread& th = d_.threads_[t_];
            ++th.totals.calls;
            ++th.totals.by_outcome[rec_.outcome];
            if (rec_.outcome == CallOutcome::error)
                ++th.totals.errors[rec_.error];
            if (!why_.empty() && th.totals.wrong.size() < 10)
                th.totals.wrong.push_back(why_);
            if (d_.options_.keep_records)
                th.records.push_back(rec_);
            d_.calls_.fetch_add(1);
        }
        Call(const Call&) = delete;
        Call& operator=(const Call&) = delete;

    private:
        LoadDriver& d_;
        std::size_t t_;
        CallRecord rec_;
        std::string why_;
    };

    /// Gives slot `k` a new key name, on the same server as before: slot k lives on
    /// server k % servers, so every server keeps its share of the load through a fault.
    void rename(std::size_t t, std::size_t k, OwnKey& key) {
        const std::size_t server = k % options_.servers.size();
        do {
            ++key.generation;
            key.name = run_ + ":t" + std::to_string(t) + ":k" + std::to_string(k) + ":g" +
                       std::to_string(key.generation);
        } while (home(key.name) != server);
        key.version.reset();
    }

    /// Checks a read of `key`: what it returned against its last acknowledged write.
    void check(Call& call, const OwnKey& key, const std::optional<std::string>& got, bool large) {
        if (!got) {
            if (key.version)
                call.set(CallOutcome::miss);
            return;
        }
        const std::string prefix = key.name + "|";
        if (got->compare(0, prefix.size(), prefix) != 0) {
            call.set(CallOutcome::crossed, "read " + key.name + ", got " + got->substr(0, 80));
            return;
        }
        if (!key.version) {
            call.set(CallOutcome::stale,
                     "read " + key.name + " (absent), got " + got->substr(0, 80));
            return;
        }
        if (*got != value_for(key.name, *key.version, large)) {
            call.set(got->compare(0, prefix.size() + std::to_string(*key.version).size() + 1,
                                  prefix + std::to_string(*key.version) + "|") == 0
                         ? CallOutcome::crossed  // right header, wrong bytes
                         : CallOutcome::stale,
                     "read " + key.name + " v" + std::to_string(*key.version) + ", got " +
                         got->substr(0, 80));
        }
    }

    void work(std::size_t t) {
        std::vector<OwnKey> keys(options_.keys_per_thread);
        std::vector<bool> large(keys.size(), false);
        for (std::size_t k = 0; k < keys.size(); ++k)
            rename(t, k, keys[k]);
        OwnKey counter;
        rename(t, keys.size(), counter);
        std::optional<std::int64_t> counted;  // the counter's value; none: not created
        std::uint64_t version = 0;
        for (std::size_t step = 0; !done_.load(); ++step) {
            const std::size_t k = step % keys.size();
            OwnKey& key = keys[k];
            {  // write a new version
                ++version;
                const bool big = options_.large_every != 0 && version % options_.large_every == 0;
                Call call(*this, t, CallOp::set);
                call.server(home(key.name));
                bool acknowledged = false;
                try {
                    acknowledged = cache_.set(key.name, value_for(key.name, version, big), 0);
                    if (!acknowledged)
                        call.set(CallOutcome::not_stored);
                } catch (const meta_memcache::Error& e) {
                    call.error(e);
                }
                if (acknowledged) {
                    key.version = version;
                    large[k] = big;
                } else {
                    rename(t, k, key);
                }
            }
            {  // read it back
                Call call(*this, t, CallOp::get);
                call.server(home(key.name));
                try {
                    check(call, key, cache_.get(key.name), large[k]);
                } catch (const meta_memcache::Error& e) {
                    call.error(e);
                }
            }
            if (options_.multi_get_every != 0 && step % options_.multi_get_every == 0)
                multi_get(t, keys, large, k);
            if (options_.mixed)
                mixed(t, step, keys, large, counter, counted);
            if (options_.pace.count() > 0)
                std::this_thread::sleep_for(options_.pace);
        }
    }

    /// Four of the thread's keys in one call; a server failure reads as a miss for its
    /// keys only (raise_on_server_error off), so the other servers' answers are checked.
    void multi_get(std::size_t t,
                   const std::vector<OwnKey>& keys,
                   const std::vector<bool>& large,
                   std::size_t first) {
        std::array<std::size_t, 4> which{};
        std::array<meta_memcache::KeyView, 4> views;
        for (std::size_t j = 0; j < which.size(); ++j) {
            which[j] = (first + j * 3) % keys.size();
            views[j] = meta_memcache::KeyView(keys[which[j]].name);
        }
        Call call(*this, t, CallOp::multi_get);
        for (std::size_t w : which)
            call.server(home(keys[w].name));
        meta_memcache::GetOptions soft;
        soft.failure.raise_on_server_error = false;
        try {
            const auto got = cache_.multi_get(views, soft);
            for (std::size_t j = 0; j < which.size(); ++j) {
                const OwnKey& key = keys[which[j]];
                if (!got[j] && key.version)
                    call.fail_on(home(key.name));
                check(call, key, got[j], large[which[j]]);
            }
        } catch (const meta_memcache::Error& e) {
            call.error(e);
        }
    }

    /// The soak's other calls, one per step in turn: delete, count, get_or_lease.
    void mixed(std::size_t t,
               std::size_t step,
               std::vector<OwnKey>& keys,
               std::vector<bool>& large,
               OwnKey& counter,
               std::optional<std::int64_t>& counted) {
        const std::size_t k = (step + keys.size() / 2) % keys.size();
        OwnKey& key = keys[k];
        switch (step % 3) {
            case 0: {
                Call call(*this, t, CallOp::del);
                call.server(home(key.name));
                try {
                    const bool was_there = cache_.del(key.name);
                    if (was_there != key.version.has_value())
                        call.set(was_there ? CallOutcome::stale : CallOutcome::miss,
                                 "del " + key.name + " found a value never acknowledged");
                    key.version.reset();
                } catch (const meta_memcache::Error& e) {
                    call.error(e);
                    rename(t, k, key);
                }
                break;
            }
            case 1: {
                Call call(*this, t, CallOp::counter);
                call.server(home(counter.name));
                try {
                    const auto n = cache_.delta_initialize_and_get(counter.name, 1, 1, 0);
                    const std::int64_t want = counted ? *counted + 1 : 1;
                    if (n != want) {
                        // Created again at 1 (or gone): the server lost it, not a wrong answer.
                        const bool lost = !n || *n == 1;
                        call.set(lost ? CallOutcome::miss : CallOutcome::stale,
                                 "counter " + counter.name + " = " +
                                     (n ? std::to_string(*n) : std::string("none")) +
                                     ", expected " + std::to_string(want));
                    }
                    counted = n;
                } catch (const meta_memcache::Error& e) {
                    call.error(e);
                    rename(t, keys.size(), counter);  // applied or not: unknown
                    counted.reset();
                }
                break;
            }
            default: {
                Call call(*this, t, CallOp::lease);
                call.server(home(key.name));
                meta_memcache::LeasePolicy lease;
                lease.miss_retries = 1;
                lease.miss_retry_wait = std::chrono::milliseconds(10);
                try {
                    // The thread's own key: a hit, or (deleted) this caller wins the lease
                    // and gets nothing; the lease's placeholder is then replaced by a set.
                    check(call, key, cache_.get_or_lease(key.name, lease), large[k]);
                } catch (const meta_memcache::Error& e) {
                    call.error(e);
                }
                break;
            }
        }
    }

    meta_memcache::CacheClient& cache_;
    LoadOptions options_;
    meta_memcache::HashRing ring_;
    std::string run_;
    mutable std::mutex mu_;
    std::vector<Thread> threads_;
    std::atomic<bool> done_{false};
    std::atomic<std::uint64_t> calls_{0};
    std::vector<std::thread> workers_;
};

/// The p-th percentile (0..100) of the latencies of `records` that pass `keep`.
template <class Pred>
std::chrono::microseconds percentile(const std::vector<CallRecord>& records, double p, Pred keep) {
    std::vector<std::chrono::microseconds> took;
    for (const CallRecord& r : records) {
        if (keep(r))
            took.push_back(r.took);
    }
    if (took.empty())
        return std::chrono::microseconds(0);
    std::sort(took.begin(), took.end());
    const auto at = static_cast<std::size_t>(p / 100.0 * static_cast<double>(took.size() - 1));
    return took[at];
}

}  // namespace mmtest
