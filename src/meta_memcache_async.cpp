// The asynchronous client's compiled definitions (target meta_memcache::async): the asio
// driver and the commands, compiled once over the library (a header-only user gets the
// same through <meta_memcache/async_cache_client.hpp> with META_MEMCACHE_HEADER_ONLY).

#include <meta_memcache/impl/async/async_cache_client.ipp>
