// The compiled part of the protocol core the fuzz targets use (the key encoding, the error
// types), built with the targets' instrumentation.
#include <meta_memcache/detail/impl/key_encoding.ipp>
#include <meta_memcache/impl/error.ipp>
