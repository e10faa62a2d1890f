// The factories of factories.hpp: a CacheClient over the router each names.

#include <meta_memcache/auto_discovery_router.hpp>
#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/ephemeral_router.hpp>
#include <meta_memcache/factories.hpp>
#include <meta_memcache/gutter_router.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/sharded_router.hpp>

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

namespace meta_memcache {

META_MEMCACHE_DECL CacheClient cache_client_from_servers(const std::vector<ServerAddress>& servers,
                                                         PoolOptions pool_options,
                                                         ClientOptions client_options,
                                                         HashMode mode) {
    return CacheClient(std::make_shared<ShardedRouter>(servers, std::move(pool_options), mode),
                       std::move(client_options));
}

META_MEMCACHE_DECL CacheClient
cache_client_with_gutter_from_servers(const std::vector<ServerAddress>& servers,
                                      const std::vector<ServerAddress>& gutter,
                                      std::chrono::seconds gutter_ttl,
                                      PoolOptions pool_options,
                                      ClientOptions client_options,
                                      HashMode mode) {
    auto primary = std::make_shared<ShardedRouter>(servers, pool_options, mode);
    auto spare = std::make_shared<ShardedRouter>(gutter, std::move(pool_options), mode);
    return CacheClient(
        std::make_shared<GutterRouter>(std::move(primary), std::move(spare), gutter_ttl.count()),
        std::move(client_options));
}

META_MEMCACHE_DECL CacheClient
ephemeral_cache_client_from_servers(const std::vector<ServerAddress>& servers,
                                    std::chrono::seconds max_ttl,
                                    PoolOptions pool_options,
                                    ClientOptions client_options,
                                    HashMode mode) {
    auto inner = std::make_shared<ShardedRouter>(servers, std::move(pool_options), mode);
    return CacheClient(std::make_shared<EphemeralRouter>(std::move(inner), max_ttl.count()),
                       std::move(client_options));
}

META_MEMCACHE_DECL CacheClient cache_client_from_elasticache(ServerAddress config_endpoint,
                                                             AutoDiscoveryOptions options,
                                                             ClientOptions client_options) {
    return CacheClient(
        std::make_shared<AutoDiscoveryRouter>(std::move(config_endpoint), std::move(options)),
        std::move(client_options));
}

}  // namespace meta_memcache
