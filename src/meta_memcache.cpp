// The library's compiled definitions: every implementation file under meta_memcache/impl/,
// compiled once (a header-only user gets the same through <meta_memcache/src.hpp>).

#include <meta_memcache/src.hpp>
