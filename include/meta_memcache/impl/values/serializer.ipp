// Serializer: compression (zstd with per-domain dictionaries, zlib) and decompression of
// values, and the decode failures it reports.

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/values/compression.hpp>
#include <meta_memcache/serializer.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace meta_memcache {

namespace detail {

META_MEMCACHE_DECL void throw_decode_failure(DecodeStatus status, const std::string& error) {
    if (status == DecodeStatus::type_mismatch) {
        throw TypeMismatchError(error);
    }
    throw DecodeError(error);
}

META_MEMCACHE_DECL std::string type_mismatch_message(std::uint32_t type_flag) {
    const char* name = "a custom encoding";
    switch (type_flag) {
        case value_flag::str:
            name = "Python str";
            break;
        case value_flag::pickle:
            name = "Python pickle";
            break;
        case value_flag::integer:
        case value_flag::long_integer:
            name = "integer";
            break;
        case value_flag::binary:
            name = "bytes";
            break;
        default:
            break;
    }
    return "value stored with client flag " + std::to_string(type_flag) + " (" + name +
           ") is not of the type asked for";
}

}  // namespace detail

// ---- Serializer --------------------------------------------------------------------------

struct Serializer::Impl {
    SerializerOptions options;

    // Dictionaries are only ever added, so a pointer found under the lock stays valid
    // after it is released, for as long as the Serializer lives.
    mutable std::shared_mutex mutex;
    std::map<std::uint32_t, detail::ZstdDictionaryPtr> dictionaries;
    std::map<std::string, std::uint32_t, std::less<>> domain_dictionaries;
    std::uint32_t default_dictionary = 0;
    // Set once a domain or the default has a dictionary: until then, values between the
    // two thresholds skip the lock.
    std::atomic<bool> selects_dictionaries{false};

    [[nodiscard]] int dict_level(std::optional<int> level) const {
        const int chosen =
            level.value_or(options.dict_compression_level.value_or(options.compression_level));
        if (!detail::valid_zstd_level(chosen)) {
            throw InvalidInputError("zstd compression level " + std::to_string(chosen) +
                                    " is out of range");
        }
        return chosen;
    }

    // Registers a dictionary and maps `domains` (and the default, if asked) to it.
    std::uint32_t add(std::string_view bytes,
                      const std::vector<std::string>& domains,
                      bool as_default,
                      std::optional<int> level) {
        if (!detail::zstd_built_in()) {
            throw InvalidInputError(
                "zstd dictionaries need a library built with zstd (META_MEMCACHE_WITH_ZSTD)");
        }
        const std::uint32_t id = detail::zstd_dictionary_id(bytes);
        if (id == 0) {
            throw InvalidInputError(
                "not a zstd dictionary with an id (train one with `zstd --train` or "
                "ZDICT_trainFromBuffer; raw-content dictionaries cannot be told apart)");
        }
        for (const std::string& domain : domains) {
            if (domain.empty()) {
                throw InvalidInputError(
                    "empty domain: use set_default_dictionary for keys without a domain");
            }
        }
        const int chosen_level = dict_level(level);
        bool known = false;
        {
            const std::shared_lock lock(mutex);
            known = dictionaries.contains(id);
        }
        // Preparing a dictionary takes a while: never under the lock.
        detail::ZstdDictionaryPtr prepared;
        if (!known) {
            prepared = detail::make_zstd_dictionary(bytes, chosen_level);
        }
        const std::unique_lock lock(mutex);
        if (prepared && !dictionaries.contains(id)) {
            dictionaries.emplace(id, std::move(prepared));
        }
        for (const std::string& domain : domains) {
            domain_dictionaries.insert_or_assign(domain, id);
        }
        if (as_default) {
            default_dictionary = id;
        }
        if (as_default || !domains.empty()) {
            selects_dictionaries.store(true, std::memory_order_release);
        }
        return id;
    }

    [[nodiscard]] std::uint32_t select_id(std::string_view domain) const {
        const std::shared_lock lock(mutex);
        if (!domain.empty()) {
            const auto it = domain_dictionaries.find(domain);
            if (it != domain_dictionaries.end()) {
                return it->second;
            }
        }
        return default_dictionary;
    }

    [[nodiscard]] const detail::ZstdDictionary* find(std::uint32_t id) const {
        const std::shared_lock lock(mutex);
        const auto it = dictionaries.find(id);
        return it == dictionaries.end() ? nullptr : it->second.get();
    }
};

namespace detail::serializer_impl {

inline Compression resolve_compression(std::optional<Compression> asked) {
    if (!asked) {
        // meta-memcache-py's default serializer reads zlib, not zstd: never zstd unasked.
        return detail::zlib_built_in() ? Compression::zlib : Compression::none;
    }
    if (*asked == Compression::zstd && !detail::zstd_built_in()) {
        throw InvalidInputError(
            "zstd compression asked for, but the library was built without zstd "
            "(META_MEMCACHE_WITH_ZSTD=OFF)");
    }
    if (*asked == Compression::zlib && !detail::zlib_built_in()) {
        throw InvalidInputError(
            "zlib compression asked for, but the library was built without zlib "
            "(META_MEMCACHE_WITH_ZLIB=OFF)");
    }
    return *asked;
}

/// MixedSerializer compresses values of more than 128 bytes, ZstdSerializer of 128 or more.
inline std::size_t resolve_threshold(std::optional<std::size_t> asked, Compression compression) {
    return asked.value_or(compression == Compression::zstd ? 128 : 129);
}

}  // namespace detail::serializer_impl

META_MEMCACHE_DECL Serializer::Serializer(SerializerOptions options)
    : impl_(std::make_unique<Impl>()) {
    options.compression = detail::serializer_impl::resolve_compression(options.compression);
    options.compression_threshold = detail::serializer_impl::resolve_threshold(
        options.compression_threshold, *options.compression);
    if (detail::zstd_built_in()) {
        for (const int level :
             {options.compression_level, options.dict_compression_level.value_or(0)}) {
            if (!detail::valid_zstd_level(level)) {
                throw InvalidInputError("zstd compression level " + std::to_string(level) +
                                        " is out of range");
            }
        }
    }
    if (options.zlib_level < -1 || options.zlib_level > 9) {
        throw InvalidInputError("zlib level " + std::to_string(options.zlib_level) +
                                " is out of range (-1..9)");
    }
    impl_->options = options;
}

META_MEMCACHE_DECL Serializer::~Serializer() = default;
META_MEMCACHE_DECL Serializer::Serializer(Serializer&&) noexcept = default;
META_MEMCACHE_DECL Serializer& Serializer::operator=(Serializer&&) noexcept = default;

META_MEMCACHE_DECL bool Serializer::zstd_available() noexcept {
    return detail::zstd_built_in();
}

META_MEMCACHE_DECL bool Serializer::zlib_available() noexcept {
    return detail::zlib_built_in();
}

META_MEMCACHE_DECL const SerializerOptions& Serializer::options() const noexcept {
    return impl_->options;
}

META_MEMCACHE_DECL std::uint32_t Serializer::register_dictionary(
    std::string_view dictionary,
    const std::vector<std::string>& domains,
    std::optional<int> compression_level) {
    return impl_->add(dictionary, domains, false, compression_level);
}

META_MEMCACHE_DECL std::uint32_t Serializer::set_default_dictionary(
    std::string_view dictionary, std::optional<int> compression_level) {
    return impl_->add(dictionary, {}, true, compression_level);
}

META_MEMCACHE_DECL std::optional<std::uint32_t> Serializer::dictionary_for(
    std::string_view domain) const {
    const std::uint32_t id = impl_->select_id(domain);
    return id == 0 ? std::nullopt : std::optional<std::uint32_t>(id);
}

META_MEMCACHE_DECL bool Serializer::may_compress(KeyView key, std::size_t size) const noexcept {
    const SerializerOptions& options = impl_->options;
    if (key.disable_compression || options.compression == Compression::none)
        return false;
    const bool over_threshold = size >= *options.compression_threshold;
    if (options.compression == Compression::zlib)
        return over_threshold;
    return over_threshold || size >= options.dict_compression_threshold;
}

META_MEMCACHE_DECL EncodedValue Serializer::compress(KeyView key, EncodedValue value) const {
    const std::uint32_t flag = value.client_flag();
    if ((flag & value_flag::reserved_mask) != 0) {
        throw InvalidInputError("client flag " + std::to_string(flag) +
                                " uses a bit the library reserves (8 and 32 mark compression, "
                                "4096 a value split into chunks)");
    }
    const SerializerOptions& options = impl_->options;
    const std::string_view data = value.data();
    const bool over_threshold = data.size() >= *options.compression_threshold;
    if (key.disable_compression || options.compression == Compression::none) {
        return value;
    }
    if (options.compression == Compression::zlib) {
        if (!over_threshold) {
            return value;
        }
        std::string packed = detail::zlib_compress(data, options.zlib_level);
        if (packed.size() >= data.size())
            return value;  // incompressible: keep it plain
        return EncodedValue::owned(std::move(packed), flag | value_flag::zlib);
    }
    if (!over_threshold && data.size() < options.dict_compression_threshold) {
        return value;
    }
    const detail::ZstdDictionary* dictionary = nullptr;
    if (impl_->selects_dictionaries.load(std::memory_order_acquire)) {
        const std::uint32_t id = impl_->select_id(key.domain);
        if (id != 0) {
            dictionary = impl_->find(id);
        }
    }
    if (!over_threshold && dictionary == nullptr) {
        return value;
    }
    std::string packed = detail::zstd_compress(data, options.compression_level, dictionary);
    // Incompressible data stays plain: compressing it would only grow it (every reader,
    // meta-memcache-py included, reads an uncompressed value under any threshold).
    if (packed.size() >= data.size())
        return value;
    return EncodedValue::owned(std::move(packed), flag | value_flag::zstd);
}

META_MEMCACHE_DECL DecodeResult<EncodedValue> Serializer::decompress(
    std::string_view data, std::uint32_t client_flag) const {
    using Result = DecodeResult<EncodedValue>;
    const std::uint32_t compression = client_flag & value_flag::compression_mask;
    if (compression == 0) {
        return Result::success(EncodedValue::borrowed(data, client_flag));
    }
    if (compression == value_flag::compression_mask) {
        return Result::failure(
            DecodeStatus::decode_error,
            "client flag " + std::to_string(client_flag) + " marks both zlib and zstd compression");
    }
    const std::size_t max_size = impl_->options.max_decompressed_size;
    std::string out;
    std::string error;
    bool ok = false;
    if (compression == value_flag::zlib) {
        ok = detail::zlib_decompress(data, max_size, out, error);
    } else {
        detail::ZstdFrameHeader header;
        ok = detail::read_zstd_frame_header(data, header, error);
        const detail::ZstdDictionary* dictionary = nullptr;
        if (ok && header.content_size > max_size) {
            error = "zstd frame declares " + std::to_string(header.content_size) +
                    " bytes, more than max_decompressed_size (" + std::to_string(max_size) + ")";
            ok = false;
        }
        if (ok && header.dictionary_id != 0) {
            dictionary = impl_->find(header.dictionary_id);
            if (dictionary == nullptr) {
                error = "unknown zstd dictionary id " + std::to_string(header.dictionary_id);
                ok = false;
            }
        }
        if (ok) {
            ok = detail::zstd_decompress(data, header, dictionary, out, error);
        }
    }
    if (!ok) {
        return Result::failure(DecodeStatus::decode_error, std::move(error));
    }
    return Result::success(
        EncodedValue::owned(std::move(out), client_flag & ~value_flag::compression_mask));
}

META_MEMCACHE_DECL DecodeResult<std::string> Serializer::try_decode_bytes(
    std::string_view data, std::uint32_t client_flag) const {
    DecodeResult<EncodedValue> raw = decompress(data, client_flag);
    if (!raw) {
        return DecodeResult<std::string>::failure(raw.status, std::move(raw.error));
    }
    return DecodeResult<std::string>::success(std::move(*raw.value).take_string());
}

}  // namespace meta_memcache
