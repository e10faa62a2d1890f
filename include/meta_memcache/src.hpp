#pragma once

// Every definition of the library (the .ipp files under meta_memcache/impl/ and
// meta_memcache/detail/impl/ that their headers do not include themselves). Compiled once
// into the library by default (src/meta_memcache.cpp). With META_MEMCACHE_HEADER_ONLY the
// umbrella header <meta_memcache/meta_memcache.hpp> includes it, and every definition is
// inline (META_MEMCACHE_DECL, config.hpp).

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/impl/key_encoding.ipp>
#include <meta_memcache/impl/client/cache_client.ipp>
#include <meta_memcache/impl/client/chunked_values.ipp>
#include <meta_memcache/impl/client/client_extras.ipp>
#include <meta_memcache/impl/client/factories.ipp>
#include <meta_memcache/impl/client/hot_cache.ipp>
#include <meta_memcache/impl/client/large_values.ipp>
#include <meta_memcache/impl/client/migrating_cache_client.ipp>
#include <meta_memcache/impl/client/read_path.ipp>
#include <meta_memcache/impl/client/write_failure_event.ipp>
#include <meta_memcache/impl/error.ipp>
#include <meta_memcache/impl/io/driver.ipp>
#include <meta_memcache/impl/io/one_key.ipp>
#include <meta_memcache/impl/mover/key_mover.ipp>
#include <meta_memcache/impl/net/connection.ipp>
#include <meta_memcache/impl/net/exchange.ipp>
#include <meta_memcache/impl/net/server_address.ipp>
#include <meta_memcache/impl/observe/hub.ipp>
#include <meta_memcache/impl/pool/classic_requests.ipp>
#include <meta_memcache/impl/pool/connection_pool.ipp>
#include <meta_memcache/impl/ring/hash_functions.ipp>
#include <meta_memcache/impl/ring/hash_modes.ipp>
#include <meta_memcache/impl/ring/hash_ring.ipp>
#include <meta_memcache/impl/routers/auto_discovery_router.ipp>
#include <meta_memcache/impl/routers/cluster_config.ipp>
#include <meta_memcache/impl/routers/draining_router.ipp>
#include <meta_memcache/impl/routers/ephemeral_router.ipp>
#include <meta_memcache/impl/routers/failover_router.ipp>
#include <meta_memcache/impl/routers/fallback_router.ipp>
#include <meta_memcache/impl/routers/gutter_router.ipp>
#include <meta_memcache/impl/routers/migration_router.ipp>
#include <meta_memcache/impl/routers/mirror_router.ipp>
#include <meta_memcache/impl/routers/router.ipp>
#include <meta_memcache/impl/routers/shadow_router.ipp>
#include <meta_memcache/impl/routers/sharded_router.ipp>
#include <meta_memcache/impl/routers/single_server_router.ipp>
#include <meta_memcache/impl/values/compression.ipp>
#include <meta_memcache/impl/values/serializer.ipp>
#include <meta_memcache/impl/values/value_codec.ipp>
