#pragma once

// Build mode. By default the implementation (the .ipp files under meta_memcache/impl/)
// is compiled once into the library, and users' translation units see declarations only
// (no asio, OpenSSL, zstd, ... headers). Define META_MEMCACHE_HEADER_ONLY (the CMake
// target meta_memcache::header_only does) to use the library without building it: the
// umbrella header <meta_memcache/meta_memcache.hpp> then includes every definition, inline.

#if defined(META_MEMCACHE_HEADER_ONLY)
#define META_MEMCACHE_DECL inline
#else
#define META_MEMCACHE_DECL
#endif
