// LatencyHistogram on its own (no socket): which bucket a latency lands in, the counts and
// sum, merging, and p50/p99/p999 interpolated within a bucket.

#include <meta_memcache/observer.hpp>

#include "catch.hpp"

#include <chrono>
#include <cstddef>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

/// The index of the only non-empty bucket of a histogram holding one latency.
std::size_t bucket_of(std::chrono::nanoseconds d) {
    LatencyHistogram h;
    h.record(d);
    for (std::size_t b = 0; b < LatencyHistogram::bucket_count; ++b) {
        if (h.buckets[b] != 0)
            return b;
    }
    return LatencyHistogram::bucket_count;
}

}  // namespace

TEST_CASE("a latency lands in the first bucket whose upper bound it does not exceed",
          "[observer][histogram]") {
    const auto& bounds = LatencyHistogram::upper_bounds_us;
    CHECK(LatencyHistogram::bucket_count == bounds.size() + 1);
    CHECK(bucket_of(0ns) == 0);
    CHECK(bucket_of(500ns) == 0);  // under a microsecond
    CHECK(bucket_of(25us) == 0);   // a bound belongs to its bucket (le="25")
    CHECK(bucket_of(26us) == 1);
    CHECK(bucket_of(100us) == 2);
    CHECK(bucket_of(101us) == 3);
    for (std::size_t b = 0; b < bounds.size(); ++b) {
        CHECK(bucket_of(std::chrono::microseconds(bounds[b])) == b);
        CHECK(bucket_of(std::chrono::microseconds(bounds[b] + 1)) == b + 1);
    }
    CHECK(bucket_of(10s) == bounds.size() - 1);  // the last bound, 10 s
    CHECK(bucket_of(11s) == bounds.size());      // the open bucket
    CHECK(bucket_of(1h) == bounds.size());
}

TEST_CASE("counts, sums and merges", "[observer][histogram]") {
    LatencyHistogram a;
    CHECK(a.count == 0);
    CHECK(a.p50() == 0us);  // nothing recorded
    CHECK(a.p999() == 0us);
    a.record(10us);
    a.record(40us);
    a.record(40us);
    CHECK(a.count == 3);
    CHECK(a.sum == 90us);
    CHECK(a.buckets[0] == 1);
    CHECK(a.buckets[1] == 2);

    LatencyHistogram b;
    b.record(2ms);
    b.record(20s);
    LatencyHistogram m = a;
    m.merge(b);
    CHECK(m.count == 5);
    CHECK(m.sum == 90us + 2ms + 20s);
    CHECK(m.buckets[0] == 1);
    CHECK(m.buckets[1] == 2);
    CHECK(m.buckets[9] == 1);  // (1500, 2000] us
    CHECK(m.buckets[LatencyHistogram::bucket_count - 1] == 1);
    CHECK_FALSE(m == a);
    LatencyHistogram again = b;
    again.merge(a);
    CHECK(again == m);  // merging is order-free
}

TEST_CASE("p50, p99 and p999 are interpolated within their bucket", "[observer][histogram]") {
    LatencyHistogram h;
    for (int i = 0; i < 990; ++i)
        h.record(80us);  // (50, 100]
    for (int i = 0; i < 9; ++i)
        h.record(900us);  // (750, 1000]
    h.record(15ms);       // (10000, 20000]
    REQUIRE(h.count == 1000);
    // Rank 500 of 990 in (50, 100]: 50 + 50 * 500 / 990.
    CHECK(h.p50() == 75us);
    // Rank 990: the whole of (50, 100].
    CHECK(h.p99() == 100us);
    // Rank 999: all 9 of (750, 1000].
    CHECK(h.p999() == 1000us);
    CHECK(h.quantile(1.0) == 20000us);  // the slowest one's bucket bound
    CHECK(h.quantile(0.0) == 50us);     // the first non-empty bucket's lower bound

    LatencyHistogram slow;
    slow.record(30s);
    slow.record(40s);
    // Only the open bucket: its lower bound, the last upper bound, is all that is known.
    CHECK(slow.p50() == 10s);
    CHECK(slow.p999() == 10s);
}
