#pragma once

// What a CacheClient puts in ExecContext::observer when ClientOptions asks for an observer
// or for latency histograms: it keeps each server's latencies (per thread, so threads do
// not share the memory they write) and passes every event on to the application's
// observer.

#include <meta_memcache/detail/per_thread.hpp>
#include <meta_memcache/observer.hpp>
#include <meta_memcache/router.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace meta_memcache::detail {

class ObserverHub final : public ClientObserver {
public:
    explicit ObserverHub(std::shared_ptr<ClientObserver> user) : user_(std::move(user)) {}

    void on_request_end(const RequestEvent& event) override;
    void on_mark_down(std::string_view server, std::string_view reason) override {
        if (user_)
            user_->on_mark_down(server, reason);
    }
    void on_recovery(std::string_view server) override {
        if (user_)
            user_->on_recovery(server);
    }
    void on_hot_promotion(KeyView key, std::size_t bytes) override {
        if (user_)
            user_->on_hot_promotion(key, bytes);
    }

    /// Fills each server's `latency` (by name) from every thread's histograms.
    void fill(std::vector<ServerCounters>& servers) const;

private:
    using Named = std::vector<std::pair<std::string, LatencyHistogram>>;
    struct Shard {
        std::mutex mu;  ///< taken by its thread to record, by readers to add up
        Named by_server;
    };
    static void record(Shard& shard, const RequestEvent& event);

    std::shared_ptr<ClientObserver> user_;  ///< may be null (histograms only)
    mutable PerThread<Shard> shards_;
    mutable Shard shared_;  ///< for threads without a slot of their own
};

}  // namespace meta_memcache::detail
