#pragma once

/// The library version; CMake reads it from here (one place only).
#define META_MEMCACHE_VERSION_MAJOR 0
#define META_MEMCACHE_VERSION_MINOR 1
#define META_MEMCACHE_VERSION_PATCH 0

namespace meta_memcache {

/// The library version as "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";

}  // namespace meta_memcache
