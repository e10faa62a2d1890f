#pragma once

/// The factories: a CacheClient over the router each one names, in one call (each is a
/// short-hand for constructing that router and a CacheClient over it). Declared here,
/// apart from the client and the routers; <meta_memcache/cache_client.hpp>,
/// <meta_memcache/auto_discovery_router.hpp> and the umbrella header include this one.

#include <meta_memcache/auto_discovery_router.hpp>
#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/server_address.hpp>

#include <chrono>
#include <vector>

namespace meta_memcache {

/// A client sharding over `servers` with a HashRing (uhashring placement by default, as
/// meta-memcache-py: a fleet shared with Python services sees the same placement).
CacheClient cache_client_from_servers(const std::vector<ServerAddress>& servers,
                                      PoolOptions pool_options = {},
                                      ClientOptions client_options = {},
                                      HashMode mode = HashMode::uhashring);

/// A client whose requests fail over to `gutter` servers (their own ring) while a primary
/// server is down, with TTLs capped at `gutter_ttl` there (see GutterRouter).
CacheClient cache_client_with_gutter_from_servers(const std::vector<ServerAddress>& servers,
                                                  const std::vector<ServerAddress>& gutter,
                                                  std::chrono::seconds gutter_ttl,
                                                  PoolOptions pool_options = {},
                                                  ClientOptions client_options = {},
                                                  HashMode mode = HashMode::uhashring);

/// A client whose every TTL is capped at `max_ttl` (see EphemeralRouter).
CacheClient ephemeral_cache_client_from_servers(const std::vector<ServerAddress>& servers,
                                                std::chrono::seconds max_ttl,
                                                PoolOptions pool_options = {},
                                                ClientOptions client_options = {},
                                                HashMode mode = HashMode::uhashring);

/// A client over an AutoDiscoveryRouter: the nodes of the ElastiCache cluster behind
/// `config_endpoint`, kept up to date.
///
/// @code
/// auto cache = meta_memcache::cache_client_from_elasticache(
///     meta_memcache::ServerAddress::parse("mycluster.abc123.cfg.use1.cache.amazonaws.com:11211"));
/// @endcode
/// @throws as AutoDiscoveryRouter's constructor.
CacheClient cache_client_from_elasticache(ServerAddress config_endpoint,
                                          AutoDiscoveryOptions options = {},
                                          ClientOptions client_options = {});

}  // namespace meta_memcache
