#pragma once

#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/server_address.hpp>

#include <memory>
#include <span>
#include <vector>

namespace meta_memcache {

/// The simplest router: every request goes to one server.
class SingleServerRouter final : public Router {
public:
    SingleServerRouter(ServerAddress server, PoolOptions options = {});

    using Router::execute;
    void execute(std::span<const Request> requests,
                 detail::ResultSink& sink,
                 const ExecContext& ctx) override;
    void execute_keys(const Request& shape,
                      std::span<const KeyView> keys,
                      detail::ResultSink& sink,
                      const ExecContext& ctx) override;
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;

    [[nodiscard]] std::shared_ptr<ConnectionPool> pool_for_key(KeyView key) const override;
    [[nodiscard]] ConnectionPool* direct_pool(const KeyView& /*key*/,
                                              bool /*plain_read*/) const override {
        return pool_.get();
    }

    [[nodiscard]] ConnectionPool& pool() noexcept { return *pool_; }

private:
    std::shared_ptr<ConnectionPool> pool_;
};

}  // namespace meta_memcache
