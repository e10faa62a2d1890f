#pragma once

#include <meta_memcache/error.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/request.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace meta_memcache {

/// How one server's share of a call ended (one event per server a call talks to: a get
/// is one, a multi_get over three servers three).
struct RequestEvent {
    std::string_view server{};            ///< the server's name (alias or host:port)
    std::string_view host{};              ///< its host (empty for a unix socket)
    std::uint16_t port = 0;               ///< its TCP port (0 for a unix socket)
    MetaCommand command{};                ///< the command of the batch's first request
    std::size_t requests = 0;             ///< requests in the batch
    std::optional<errc> error{};          ///< empty: answered (a miss is an answer)
    std::string_view reason{};            ///< what went wrong, when `error` is set
    std::chrono::nanoseconds duration{};  ///< from the connection being handed out (after
                                          ///< any connect) to the last answer; 0 when no
                                          ///< connection was handed out (marked down)
    std::size_t bytes_sent = 0;           ///< bytes written
    std::size_t bytes_received = 0;       ///< bytes read
};

/// Told what a client does, for metrics and tracing. Install one in ClientOptions::observer.
/// Called on the thread of the call that did it, after the pool's locks are released; must
/// be thread-safe and quick, and must not throw (an exception is swallowed). With none
/// installed the library reads no clock and builds no event.
class ClientObserver {
public:
    ClientObserver() = default;
    virtual ~ClientObserver() = default;
    ClientObserver(const ClientObserver&) = delete;
    ClientObserver& operator=(const ClientObserver&) = delete;
    ClientObserver(ClientObserver&&) = delete;
    ClientObserver& operator=(ClientObserver&&) = delete;

    /// A server's share of a call ended.
    virtual void on_request_end(const RequestEvent& event) { static_cast<void>(event); }
    /// A server was marked down (calls to it fail fast for mark_down_period).
    virtual void on_mark_down(std::string_view server, std::string_view reason) {
        static_cast<void>(server);
        static_cast<void>(reason);
    }
    /// A marked-down server answered its probe: it is back.
    virtual void on_recovery(std::string_view server) { static_cast<void>(server); }
    /// The hot cache started keeping `key` (`bytes` of value).
    virtual void on_hot_promotion(KeyView key, std::size_t bytes) {
        static_cast<void>(key);
        static_cast<void>(bytes);
    }
};

/// Request latencies of one server in fixed buckets (Prometheus-style upper bounds).
struct LatencyHistogram {
    /// Upper bounds of the buckets but the last (which has none), in microseconds.
    static constexpr std::array<std::int64_t, 23> upper_bounds_us = {
        25,   50,    100,   200,   300,    500,    750,    1000,    1500,    2000,    3000,    5000,
        7500, 10000, 20000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
    static constexpr std::size_t bucket_count = upper_bounds_us.size() + 1;

    std::array<std::uint64_t, bucket_count> buckets{};  ///< per bucket (not cumulative)
    std::uint64_t count = 0;                            ///< every latency recorded
    std::chrono::nanoseconds sum{};                     ///< their total

    /// Adds one latency.
    void record(std::chrono::nanoseconds d) noexcept {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
        std::size_t b = 0;
        while (b < upper_bounds_us.size() && us > upper_bounds_us[b])
            ++b;
        ++buckets[b];
        ++count;
        sum += d;
    }
    /// Adds another histogram's counts.
    void merge(const LatencyHistogram& o) noexcept {
        for (std::size_t b = 0; b < bucket_count; ++b)
            buckets[b] += o.buckets[b];
        count += o.count;
        sum += o.sum;
    }
    /// The latency below which a fraction `q` (0..1) of requests fell, interpolated within
    /// its bucket; the last bound for the open bucket, 0 when nothing was recorded.
    [[nodiscard]] std::chrono::microseconds quantile(double q) const noexcept {
        if (count == 0)
            return std::chrono::microseconds(0);
        const double rank = q * static_cast<double>(count);
        double seen = 0;
        for (std::size_t b = 0; b < bucket_count; ++b) {
            const auto n = static_cast<double>(buckets[b]);
            if (n > 0 && seen + n >= rank) {
                if (b == upper_bounds_us.size())
                    return std::chrono::microseconds(upper_bounds_us.back());
                const double lo = b == 0 ? 0.0 : static_cast<double>(upper_bounds_us[b - 1]);
                const double hi = static_cast<double>(upper_bounds_us[b]);
                const double into = rank > seen ? (rank - seen) / n : 0.0;
                return std::chrono::microseconds(static_cast<std::int64_t>(lo + (hi - lo) * into));
            }
            seen += n;
        }
        return std::chrono::microseconds(upper_bounds_us.back());
    }
    [[nodiscard]] std::chrono::microseconds p50() const noexcept { return quantile(0.50); }
    [[nodiscard]] std::chrono::microseconds p99() const noexcept { return quantile(0.99); }
    [[nodiscard]] std::chrono::microseconds p999() const noexcept { return quantile(0.999); }

    friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;
};

}  // namespace meta_memcache
