#pragma once

// Every definition of the library. Compiled once into the library by default
// (src/meta_memcache.cpp); with META_MEMCACHE_HEADER_ONLY the umbrella header includes it,
// and every definition is inline.

#include <meta_memcache/impl/client/large_values.ipp>
#include <meta_memcache/impl/io/driver.ipp>
#include <meta_memcache/impl/net/connection.ipp>
#include <meta_memcache/impl/net/exchange.ipp>
#include <meta_memcache/impl/pool/connection_pool.ipp>
#include <meta_memcache/impl/pool/classic_requests.ipp>
