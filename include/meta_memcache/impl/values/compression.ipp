// zstd and zlib behind the plain functions of compression.hpp (each with its stand-in
// when the library is built without it).

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/values/compression.hpp>

#include <algorithm>
#include <climits>
#include <new>

#ifdef META_MEMCACHE_HAVE_ZSTD
// ZSTD_c_format, ZSTD_d_format, ZSTD_getFrameHeader_advanced (exported by libzstd.so too;
// zstd.h declares them when included again with this defined)
#ifndef ZSTD_STATIC_LINKING_ONLY
#define ZSTD_STATIC_LINKING_ONLY  // NOLINT(readability-identifier-naming): zstd's name
#endif
#include <zstd.h>
#include <zstd_errors.h>
#endif
#ifdef META_MEMCACHE_HAVE_ZLIB
#include <zlib.h>
#endif

namespace meta_memcache::detail {

META_MEMCACHE_DECL bool zstd_built_in() noexcept {
#ifdef META_MEMCACHE_HAVE_ZSTD
    return true;
#else
    return false;
#endif
}

META_MEMCACHE_DECL bool zlib_built_in() noexcept {
#ifdef META_MEMCACHE_HAVE_ZLIB
    return true;
#else
    return false;
#endif
}

// ---- zstd --------------------------------------------------------------------------------

#ifdef META_MEMCACHE_HAVE_ZSTD

class ZstdDictionary {
public:
    ZstdDictionary(ZSTD_CDict* cdict, ZSTD_DDict* ddict, int level) noexcept
        : cdict_(cdict), ddict_(ddict), level_(level) {}
    ~ZstdDictionary() {
        ZSTD_freeCDict(cdict_);
        ZSTD_freeDDict(ddict_);
    }
    ZstdDictionary(const ZstdDictionary&) = delete;
    ZstdDictionary& operator=(const ZstdDictionary&) = delete;
    ZstdDictionary(ZstdDictionary&&) = delete;
    ZstdDictionary& operator=(ZstdDictionary&&) = delete;

    [[nodiscard]] const ZSTD_CDict* cdict() const noexcept { return cdict_; }
    [[nodiscard]] const ZSTD_DDict* ddict() const noexcept { return ddict_; }
    [[nodiscard]] int level() const noexcept { return level_; }

private:
    ZSTD_CDict* cdict_;
    ZSTD_DDict* ddict_;
    int level_;
};

META_MEMCACHE_DECL void ZstdDictionaryDeleter::operator()(
    ZstdDictionary* dictionary) const noexcept {
    delete dictionary;  // NOLINT(cppcoreguidelines-owning-memory): unique_ptr's deleter
}

namespace compression_impl {

struct CCtxFree {
    void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
    void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

// zstd contexts are not thread-safe: each thread has its own pair, shared by every
// Serializer and dictionary on that thread (a dictionary is attached per call).
inline ZSTD_CCtx* thread_cctx() {
    thread_local const std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
    if (!cctx) {
        throw std::bad_alloc();
    }
    return cctx.get();
}

inline ZSTD_DCtx* thread_dctx() {
    thread_local const std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
    if (!dctx) {
        throw std::bad_alloc();
    }
    return dctx.get();
}

// For calls that fail only on a bug or when memory runs out.
inline void check_zstd(std::size_t result, const char* what) {
    if (ZSTD_isError(result) == 0U) {
        return;
    }
    if (ZSTD_getErrorCode(result) == ZSTD_error_memory_allocation) {
        throw std::bad_alloc();
    }
    throw InvalidInputError(std::string("zstd ") + what + ": " + ZSTD_getErrorName(result));
}

}  // namespace compression_impl

META_MEMCACHE_DECL bool valid_zstd_level(int level) noexcept {
    return level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel();
}

META_MEMCACHE_DECL std::uint32_t zstd_dictionary_id(std::string_view bytes) noexcept {
    return ZSTD_getDictID_fromDict(bytes.data(), bytes.size());
}

META_MEMCACHE_DECL ZstdDictionaryPtr make_zstd_dictionary(std::string_view bytes, int level) {
    ZSTD_CDict* cdict = ZSTD_createCDict(bytes.data(), bytes.size(), level);
    ZSTD_DDict* ddict = ZSTD_createDDict(bytes.data(), bytes.size());
    if (cdict == nullptr || ddict == nullptr) {
        ZSTD_freeCDict(cdict);
        ZSTD_freeDDict(ddict);
        throw InvalidInputError("zstd rejected the dictionary (corrupt entropy tables?)");
    }
    return ZstdDictionaryPtr(new ZstdDictionary(cdict, ddict, level));
}

META_MEMCACHE_DECL std::string zstd_compress(std::string_view src,
                                             int level,
                                             const ZstdDictionary* dictionary) {
    using namespace compression_impl;
    ZSTD_CCtx* cctx = thread_cctx();
    check_zstd(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters), "reset");
    check_zstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless), "format");
    check_zstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1), "content size");
    check_zstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0), "checksum");
    check_zstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 1), "dictionary id");
    check_zstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel,
                                      dictionary != nullptr ? dictionary->level() : level),
               "level");
    if (dictionary != nullptr) {
        check_zstd(ZSTD_CCtx_refCDict(cctx, dictionary->cdict()), "dictionary");
    }
    std::string out(ZSTD_compressBound(src.size()), '\0');
    const std::size_t size = ZSTD_compress2(cctx, out.data(), out.size(), src.data(), src.size());
    // Drop the dictionary now: the context outlives any Serializer.
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    check_zstd(size, "compress");
    out.resize(size);
    return out;
}

META_MEMCACHE_DECL bool read_zstd_frame_header(std::string_view frame,
                                               ZstdFrameHeader& header,
                                               std::string& error) {
    ZSTD_frameHeader zfh{};
    const std::size_t result =
        ZSTD_getFrameHeader_advanced(&zfh, frame.data(), frame.size(), ZSTD_f_zstd1_magicless);
    if (ZSTD_isError(result) != 0U) {
        error = std::string("not a zstd frame: ") + ZSTD_getErrorName(result);
        return false;
    }
    if (result != 0) {
        error = "truncated zstd frame header";
        return false;
    }
    if (zfh.frameType != ZSTD_frame) {
        error = "not a zstd data frame";
        return false;
    }
    if (zfh.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN) {
        error = "zstd frame does not declare its content size";
        return false;
    }
    header.content_size = zfh.frameContentSize;
    header.dictionary_id = zfh.dictID;
    return true;
}

META_MEMCACHE_DECL bool zstd_decompress(std::string_view frame,
                                        const ZstdFrameHeader& header,
                                        const ZstdDictionary* dictionary,
                                        std::string& out,
                                        std::string& error) {
    using namespace compression_impl;
    ZSTD_DCtx* dctx = thread_dctx();
    check_zstd(ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters), "reset");
    check_zstd(ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless), "format");
    if (dictionary != nullptr) {
        check_zstd(ZSTD_DCtx_refDDict(dctx, dictionary->ddict()), "dictionary");
    }
    out.resize(static_cast<std::size_t>(header.content_size));
    const std::size_t size =
        ZSTD_decompressDCtx(dctx, out.data(), out.size(), frame.data(), frame.size());
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(size) != 0U) {
        if (ZSTD_getErrorCode(size) == ZSTD_error_memory_allocation) {
            throw std::bad_alloc();
        }
        error = std::string("corrupt zstd frame: ") + ZSTD_getErrorName(size);
        out.clear();
        return false;
    }
    if (size != out.size()) {
        error = "zstd frame holds fewer bytes than its header declares";
        out.clear();
        return false;
    }
    return true;
}

#else  // no zstd

class ZstdDictionary {};

META_MEMCACHE_DECL void ZstdDictionaryDeleter::operator()(
    ZstdDictionary* dictionary) const noexcept {
    delete dictionary;  // NOLINT(cppcoreguidelines-owning-memory): unique_ptr's deleter
}

META_MEMCACHE_DECL bool valid_zstd_level(int /*level*/) noexcept {
    return false;
}

META_MEMCACHE_DECL std::uint32_t zstd_dictionary_id(std::string_view /*bytes*/) noexcept {
    return 0;
}

META_MEMCACHE_DECL ZstdDictionaryPtr make_zstd_dictionary(std::string_view /*bytes*/,
                                                          int /*level*/) {
    throw InvalidInputError("zstd dictionaries need a library built with zstd");
}

META_MEMCACHE_DECL std::string zstd_compress(std::string_view /*src*/,
                                             int /*level*/,
                                             const ZstdDictionary* /*dictionary*/) {
    throw InvalidInputError("zstd compression needs a library built with zstd");
}

META_MEMCACHE_DECL bool read_zstd_frame_header(std::string_view /*frame*/,
                                               ZstdFrameHeader& /*header*/,
                                               std::string& error) {
    error = "value is zstd-compressed and the library was built without zstd";
    return false;
}

META_MEMCACHE_DECL bool zstd_decompress(std::string_view /*frame*/,
                                        const ZstdFrameHeader& /*header*/,
                                        const ZstdDictionary* /*dictionary*/,
                                        std::string& /*out*/,
                                        std::string& error) {
    error = "value is zstd-compressed and the library was built without zstd";
    return false;
}

#endif

// ---- zlib --------------------------------------------------------------------------------

#ifdef META_MEMCACHE_HAVE_ZLIB

META_MEMCACHE_DECL std::string zlib_compress(std::string_view src, int level) {
    uLongf size = compressBound(src.size());
    std::string out(size, '\0');
    const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                             reinterpret_cast<const Bytef*>(src.data()), src.size(), level);
    if (rc == Z_MEM_ERROR) {
        throw std::bad_alloc();
    }
    if (rc != Z_OK) {
        throw InvalidInputError("zlib compression failed (level " + std::to_string(level) + ")");
    }
    out.resize(size);
    return out;
}

namespace compression_impl {

class Inflater {
public:
    Inflater() {
        if (inflateInit(&stream_) != Z_OK) {
            throw std::bad_alloc();
        }
    }
    ~Inflater() { inflateEnd(&stream_); }
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;
    Inflater(Inflater&&) = delete;
    Inflater& operator=(Inflater&&) = delete;

    z_stream& stream() noexcept { return stream_; }

private:
    z_stream stream_{};
};

}  // namespace compression_impl

META_MEMCACHE_DECL bool zlib_decompress(std::string_view src,
                                        std::size_t max_size,
                                        std::string& out,
                                        std::string& error) {
    if (src.size() > UINT_MAX) {
        error = "zlib stream too large";
        return false;
    }
    compression_impl::Inflater inflater;
    z_stream& zs = inflater.stream();
    // Assignable whether or not zlib.h was included with ZLIB_CONST (inflate never writes
    // to its input).
    zs.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(src.data()));
    zs.avail_in = static_cast<uInt>(src.size());

    // One byte beyond the limit tells "exactly max_size" from "more than max_size".
    const std::size_t cap = max_size == SIZE_MAX ? max_size : max_size + 1;
    std::size_t produced = 0;
    out.resize(std::min(cap, std::max<std::size_t>(src.size() * 4, 256)));
    for (;;) {
        if (produced == out.size()) {
            if (out.size() >= cap) {
                error = "zlib stream inflates to more than " + std::to_string(max_size) +
                        " bytes (max_decompressed_size)";
                out.clear();
                return false;
            }
            out.resize(std::min(cap, out.size() * 2));
        }
        const std::size_t room = std::min<std::size_t>(out.size() - produced, UINT_MAX);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        zs.avail_out = static_cast<uInt>(room);
        const int rc = inflate(&zs, Z_NO_FLUSH);
        produced += room - zs.avail_out;
        if (rc == Z_STREAM_END) {
            break;
        }
        if (rc == Z_MEM_ERROR) {
            throw std::bad_alloc();
        }
        const bool stuck = rc == Z_BUF_ERROR && zs.avail_out != 0;
        if ((rc != Z_OK && rc != Z_BUF_ERROR) || stuck ||
            (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)) {
            if (rc == Z_OK || stuck) {
                error = "truncated zlib stream";
            } else if (rc == Z_NEED_DICT) {
                error = "zlib stream needs a preset dictionary";
            } else {
                error = std::string("corrupt zlib stream: ") +
                        (zs.msg != nullptr ? zs.msg : "bad data");
            }
            out.clear();
            return false;
        }
    }
    if (produced > max_size) {
        error = "zlib stream inflates to more than " + std::to_string(max_size) +
                " bytes (max_decompressed_size)";
        out.clear();
        return false;
    }
    if (zs.avail_in != 0) {
        error = "bytes after the end of the zlib stream";
        out.clear();
        return false;
    }
    out.resize(produced);
    return true;
}

#else  // no zlib

META_MEMCACHE_DECL std::string zlib_compress(std::string_view /*src*/, int /*level*/) {
    throw InvalidInputError("zlib compression needs a library built with zlib");
}

META_MEMCACHE_DECL bool zlib_decompress(std::string_view /*src*/,
                                        std::size_t /*max_size*/,
                                        std::string& /*out*/,
                                        std::string& error) {
    error = "value is zlib-compressed and the library was built without zlib";
    return false;
}

#endif

}  // namespace meta_memcache::detail
