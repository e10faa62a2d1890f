// prometheus_metrics: a client's counters and per-server latency histograms in Prometheus'
// text exposition format, written by hand (no metrics library), against the servers in
// MEMCACHE_SERVERS. A service would serve render() on its /metrics endpoint; this example
// prints it once after some traffic and checks that the figures add up.
//
// Names follow OpenTelemetry's database-client conventions where they have one
// (db_client_operation_duration_seconds, with db_system_name, db_operation_name,
// server_address and server_port labels); see docs/operations.md for the mapping.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>

namespace mm = meta_memcache;

namespace {

/// OpenTelemetry's error.type for a failure: the errc's name.
std::string error_type(mm::errc e) {
    switch (e) {
        case mm::errc::timeout:
            return "timeout";
        case mm::errc::connection_failed:
            return "connection_failed";
        case mm::errc::connection_closed:
            return "connection_closed";
        case mm::errc::marked_down:
            return "marked_down";
        case mm::errc::protocol_error:
            return "protocol_error";
        case mm::errc::pool_exhausted:
            return "pool_exhausted";
        case mm::errc::server_error:
            return "server_error";
        case mm::errc::client_error:
            return "client_error";
        default:
            return "other";
    }
}

/// Counts request outcomes per (server, port, operation, error) and the mark-downs, from
/// the observer events; thread-safe.
class MetricsObserver final : public mm::ClientObserver {
public:
    void on_request_end(const mm::RequestEvent& e) override {
        const std::string error = e.error ? error_type(*e.error) : "";
        const std::lock_guard lk(mu_);
        Outcome& o = outcomes_[{std::string(e.host), e.port, operation(e), error}];
        o.requests += e.requests;
        ++o.batches;
        o.sent += e.bytes_sent;
        o.received += e.bytes_received;
    }
    void on_mark_down(std::string_view server, std::string_view) override {
        const std::lock_guard lk(mu_);
        ++mark_downs_[std::string(server)];
    }
    void on_hot_promotion(mm::KeyView, std::size_t) override {
        const std::lock_guard lk(mu_);
        ++promotions_;
    }

    /// Adds this observer's series to `out`.
    void render(std::ostringstream& out) {
        const std::lock_guard lk(mu_);
        out << "# HELP memcached_client_requests_total Requests sent, by outcome.\n"
               "# TYPE memcached_client_requests_total counter\n";
        for (const auto& [k, o] : outcomes_)
            out << "memcached_client_requests_total" << labels(k) << ' ' << o.requests << '\n';
        out << "# HELP memcached_client_sent_bytes_total Bytes written to servers.\n"
               "# TYPE memcached_client_sent_bytes_total counter\n";
        for (const auto& [k, o] : outcomes_)
            out << "memcached_client_sent_bytes_total" << labels(k) << ' ' << o.sent << '\n';
        out << "# HELP memcached_client_received_bytes_total Bytes read from servers.\n"
               "# TYPE memcached_client_received_bytes_total counter\n";
        for (const auto& [k, o] : outcomes_)
            out << "memcached_client_received_bytes_total" << labels(k) << ' ' << o.received
                << '\n';
        out << "# HELP memcached_client_hot_promotions_observed_total Keys the hot cache "
               "started keeping, as the observer heard.\n"
               "# TYPE memcached_client_hot_promotions_observed_total counter\n"
               "memcached_client_hot_promotions_observed_total "
            << promotions_ << '\n';
    }

    std::uint64_t batches() {
        const std::lock_guard lk(mu_);
        std::uint64_t n = 0;
        for (const auto& [k, o] : outcomes_)
            n += o.batches;
        return n;
    }

private:
    using Labels = std::tuple<std::string, std::uint16_t, std::string, std::string>;
    struct Outcome {
        std::uint64_t requests = 0;
        std::uint64_t batches = 0;
        std::uint64_t sent = 0;
        std::uint64_t received = 0;
    };

    static std::string operation(const mm::RequestEvent& e) {
        const std::string name(mm::command_name(e.command));
        return e.requests > 1 ? "BATCH " + name : name;
    }
    static std::string labels(const Labels& k) {
        const auto& [host, port, op, error] = k;
        std::string s = "{db_system_name=\"memcached\",server_address=\"" + host +
                        "\",server_port=\"" + std::to_string(port) + "\",db_operation_name=\"" +
                        op + "\"";
        if (!error.empty())
            s += ",error_type=\"" + error + "\"";
        return s + "}";
    }

    std::mutex mu_;
    std::map<Labels, Outcome> outcomes_;
    std::map<std::string, std::uint64_t> mark_downs_;
    std::uint64_t promotions_ = 0;
};

/// A Prometheus label value: backslash, quote and newline escaped.
std::string escaped(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void counter(std::ostringstream& out, const char* name, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n";
}

/// The client's counters and histograms (get_counters()).
void render_counters(const mm::ClientCounters& c, std::ostringstream& out) {
    // Latency per server: a Prometheus histogram in seconds, cumulative buckets.
    out << "# HELP db_client_operation_duration_seconds Duration of requests to each server.\n"
           "# TYPE db_client_operation_duration_seconds histogram\n";
    for (const auto& s : c.servers) {
        const std::string l = "db_system_name=\"memcached\",server=\"" + escaped(s.server) + "\"";
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b < mm::LatencyHistogram::bucket_count; ++b) {
            cumulative += s.latency.buckets[b];
            std::string le = "+Inf";
            if (b < mm::LatencyHistogram::upper_bounds_us.size()) {
                std::ostringstream bound;
                bound << static_cast<double>(mm::LatencyHistogram::upper_bounds_us[b]) / 1e6;
                le = bound.str();
            }
            out << "db_client_operation_duration_seconds_bucket{" << l << ",le=\"" << le << "\"} "
                << cumulative << '\n';
        }
        out << "db_client_operation_duration_seconds_sum{" << l << "} "
            << std::chrono::duration<double>(s.latency.sum).count() << '\n'
            << "db_client_operation_duration_seconds_count{" << l << "} " << s.latency.count
            << '\n';
    }
    // The pool counters, one series per server and field.
    const std::pair<const char*, std::uint64_t mm::PoolCounters::*> pool_fields[] = {
        {"connections_created", &mm::PoolCounters::total_created},
        {"errors", &mm::PoolCounters::total_errors},
        {"timeouts", &mm::PoolCounters::timeouts},
        {"mark_downs", &mm::PoolCounters::mark_downs},
        {"fast_failures", &mm::PoolCounters::fast_failures},
        {"retries", &mm::PoolCounters::retries},
    };
    for (const auto& [field, member] : pool_fields) {
        const std::string name = std::string("memcached_client_") + field + "_total";
        counter(out, name.c_str(), "Pool counter (PoolCounters).");
        for (const auto& s : c.servers) {
            out << name << "{server=\"" << escaped(s.server) << "\",role=\"" << escaped(s.role)
                << "\"} " << s.counters.*member << '\n';
        }
    }
    out << "# HELP memcached_client_connections Open connections to each server.\n"
           "# TYPE memcached_client_connections gauge\n";
    for (const auto& s : c.servers) {
        out << "memcached_client_connections{server=\"" << escaped(s.server) << "\"} "
            << s.counters.established << '\n';
    }
    // Reads per key domain, and the hot cache.
    counter(out, "memcached_client_reads_total", "Reads by key domain and result.");
    for (const auto& [domain, d] : c.domains) {
        out << "memcached_client_reads_total{domain=\"" << escaped(domain) << "\",result=\"hit\"} "
            << d.hits << '\n'
            << "memcached_client_reads_total{domain=\"" << escaped(domain) << "\",result=\"miss\"} "
            << d.misses << '\n';
    }
    const std::pair<const char*, std::uint64_t mm::HotCacheCounters::*> hot_fields[] = {
        {"hits", &mm::HotCacheCounters::hits},
        {"misses", &mm::HotCacheCounters::misses},
        {"promotions", &mm::HotCacheCounters::promotions},
        {"revalidations", &mm::HotCacheCounters::revalidations},
        {"evictions", &mm::HotCacheCounters::evictions},
        {"invalidations", &mm::HotCacheCounters::invalidations},
    };
    for (const auto& [field, member] : hot_fields) {
        const std::string name = std::string("memcached_client_hot_cache_") + field + "_total";
        counter(out, name.c_str(), "Hot cache counter (HotCacheCounters).");
        out << name << ' ' << c.hot_cache.*member << '\n';
    }
    out << "# HELP memcached_client_hot_cache_entries Keys the hot cache keeps.\n"
           "# TYPE memcached_client_hot_cache_entries gauge\n"
           "memcached_client_hot_cache_entries "
        << c.hot_cache.entries << '\n';
}

}  // namespace

int main() {
    try {
        auto observer = std::make_shared<MetricsObserver>();
        mm::ClientOptions options;
        options.observer = observer;
        mm::HotCacheOptions hot;
        hot.probability_factor = 1;  // keep every candidate (a demo; 100 is the default)
        options.hot_cache = hot;
        auto cache = mm::cache_client_from_servers(example::servers_from_env(), {}, options);

        const std::string key = example::unique_key("metrics:greeting");
        cache.set(key, "hello", 60);
        for (int i = 0; i < 10; ++i)
            cache.get(key);  // the second read makes it hot, the rest are served from memory
        cache.get(example::unique_key("metrics:absent"));
        std::vector<std::string> keys;
        for (int i = 0; i < 10; ++i)
            keys.push_back(example::unique_key("metrics:k" + std::to_string(i)));
        cache.multi_get(std::vector<mm::KeyView>(keys.begin(), keys.end()));

        std::ostringstream out;
        const mm::ClientCounters counters = cache.get_counters();
        render_counters(counters, out);
        observer->render(out);
        std::fputs(out.str().c_str(), stdout);

        std::uint64_t timed = 0;
        for (const auto& s : counters.servers)
            timed += s.latency.count;
        example::expect(counters.hot_cache.promotions == 1, "the greeting was promoted");
        example::expect(counters.hot_cache.hits == 8, "8 reads were served from memory");
        example::expect(timed == observer->batches(),
                        "every server batch the observer heard of is in a histogram");
        example::expect(
            out.str().find("db_client_operation_duration_seconds_bucket") != std::string::npos,
            "the histograms are exposed");
        return example::exit_code();
    } catch (const mm::Error& e) {
        std::fprintf(stderr, "prometheus_metrics: %s\n", e.what());
        return 2;
    }
}
