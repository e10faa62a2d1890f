#pragma once

/// Umbrella header: everything a user of meta_memcache needs. With
/// META_MEMCACHE_HEADER_ONLY defined (the meta_memcache::header_only target does), it also
/// brings in every definition of the library, inline: include it, rather than single
/// headers, in each translation unit of a header-only build.
#include <meta_memcache/auto_discovery_router.hpp>
#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/draining_router.hpp>
#include <meta_memcache/ephemeral_router.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/factories.hpp>
#include <meta_memcache/failover_router.hpp>
#include <meta_memcache/fallback_router.hpp>
#include <meta_memcache/gutter_router.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/key_mover.hpp>
#include <meta_memcache/migrating_cache_client.hpp>
#include <meta_memcache/mirror_router.hpp>
#include <meta_memcache/policies.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/request.hpp>
#include <meta_memcache/request_flags.hpp>
#include <meta_memcache/response_flags.hpp>
#include <meta_memcache/responses.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/server_address.hpp>
#include <meta_memcache/shadow_router.hpp>
#include <meta_memcache/sharded_router.hpp>
#include <meta_memcache/single_server_router.hpp>
#include <meta_memcache/version.hpp>
#include <meta_memcache/write_failure_event.hpp>

#if defined(META_MEMCACHE_HEADER_ONLY)
#include <meta_memcache/src.hpp>
#endif
