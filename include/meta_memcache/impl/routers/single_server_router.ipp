// SingleServerRouter: every request to one pool.

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/io/driver.hpp>
#include <meta_memcache/single_server_router.hpp>

#include <memory>
#include <utility>
#include <vector>

namespace meta_memcache {

META_MEMCACHE_DECL SingleServerRouter::SingleServerRouter(ServerAddress server, PoolOptions options)
    : pool_(std::make_shared<ConnectionPool>(std::move(server), std::move(options))) {}

META_MEMCACHE_DECL std::shared_ptr<ConnectionPool> SingleServerRouter::pool_for_key(KeyView) const {
    return pool_;
}

META_MEMCACHE_DECL void SingleServerRouter::execute(std::span<const Request> requests,
                                                    detail::ResultSink& sink,
                                                    const ExecContext& ctx) {
    detail::run_on_pool(*pool_, requests, sink, ctx);
}

META_MEMCACHE_DECL void SingleServerRouter::execute_keys(const Request& shape,
                                                         std::span<const KeyView> keys,
                                                         detail::ResultSink& sink,
                                                         const ExecContext& ctx) {
    detail::run_on_pool(*pool_, detail::CallRequests(shape, keys), sink, ctx);
}

META_MEMCACHE_DECL std::vector<ServerCounters> SingleServerRouter::get_counters() const {
    return {ServerCounters{pool_->name(), "primary", pool_->counters()}};
}

}  // namespace meta_memcache
