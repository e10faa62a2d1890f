// Header-only mode, first of two translation units of one program: both include every
// definition of the library (the umbrella header with META_MEMCACHE_HEADER_ONLY), so a
// definition that is not inline links twice and fails the build.
#include <meta_memcache/meta_memcache.hpp>

#include <string>

#ifndef META_MEMCACHE_HEADER_ONLY
#error "built without META_MEMCACHE_HEADER_ONLY: this checks the header-only mode"
#endif

/// Values through the serializer (zstd or zlib when built in), and the error category.
bool first_tu_works() {
    const meta_memcache::Serializer serializer;
    const std::string big(4096, 'x');
    const meta_memcache::EncodedValue packed = serializer.encode(meta_memcache::KeyView("k"), big);
    const auto back = serializer.try_decode<std::string>(packed.data(), packed.client_flag());
    const std::string message = make_error_code(meta_memcache::errc::timeout).message();
    return back.value == big && message == "timed out";
}
