#pragma once

#include <meta_memcache/error.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/value_codec.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace meta_memcache {

/// The compression the Serializer writes. It reads zstd and zlib whatever this says.
enum class Compression : std::uint8_t {
    zstd,  ///< magicless zstd frames (bit 32), with per-domain dictionaries: what
           ///< meta-memcache-py's ZstdSerializer writes (its MixedSerializer cannot read it)
    zlib,  ///< zlib streams (bit 8): what meta-memcache-py's default MixedSerializer writes
    none,  ///< never compress
};

/// Settings of a Serializer. The defaults are what meta-memcache-py's default serializer
/// (MixedSerializer) writes and reads: zlib for values of more than 128 bytes. zstd is an
/// explicit choice (`.compression = Compression::zstd`, ZstdSerializer's layout).
struct SerializerOptions {
    /// What to write. Unset: zlib if the library was built with it (META_MEMCACHE_WITH_ZLIB),
    /// else none; never zstd unless asked for. Asking for one the build lacks is an
    /// InvalidInputError.
    std::optional<Compression> compression{};
    /// Values of at least this many bytes (before compression) are compressed. Unset: the
    /// threshold of the Python serializer that writes the same compression: 129 for zlib
    /// (MixedSerializer compresses more than 128 bytes), 128 for zstd (ZstdSerializer).
    std::optional<std::size_t> compression_threshold{};
    /// With zstd, values of at least this many bytes are compressed when a dictionary
    /// applies to the key's domain (its own or the default dictionary).
    std::size_t dict_compression_threshold = 64;
    /// zstd level without a dictionary (1..22; negative levels are faster).
    int compression_level = 9;
    /// zstd level of dictionaries registered without a level. Unset: compression_level.
    std::optional<int> dict_compression_level{};
    /// zlib level (-1: zlib's default, 6, what Python's zlib.compress writes; 0..9).
    int zlib_level = -1;
    /// A compressed value that would decompress to more bytes than this is a decode
    /// error, refused before any memory is allocated for it (for zstd, whose frames
    /// declare their size) or as soon as the output passes it (zlib).
    std::size_t max_decompressed_size = std::size_t{64} * 1024 * 1024;
};

/// Why a value could not be read.
enum class DecodeStatus : std::uint8_t {
    ok,             ///< decoded
    type_mismatch,  ///< the bytes are intact but not a value of the type asked for
    decode_error,   ///< the bytes cannot be decoded (corrupt, unknown dictionary, too large)
};

namespace detail {
/// Throws DecodeError or TypeMismatchError for a failed DecodeResult.
[[noreturn]] void throw_decode_failure(DecodeStatus status, const std::string& error);
/// "stored with client flag 1 (pickle), not readable as the type asked for".
[[nodiscard]] std::string type_mismatch_message(std::uint32_t type_flag);
}  // namespace detail

/// A decoded value, or why there is none. Failing costs no exception: get_typed can turn
/// a type mismatch into a miss, or throw it with value_or_throw().
template <class T>
struct DecodeResult {
    DecodeStatus status = DecodeStatus::ok;  ///< ok: `value` is set
    std::optional<T> value{};                ///< the decoded value, when ok
    std::string error{};                     ///< what went wrong, when not ok

    /// A decoded value.
    [[nodiscard]] static DecodeResult success(T v) {
        return {DecodeStatus::ok, std::optional<T>(std::move(v)), {}};
    }
    /// A failure.
    [[nodiscard]] static DecodeResult failure(DecodeStatus s, std::string why) {
        return {s, std::nullopt, std::move(why)};
    }

    /// True when decoded.
    explicit operator bool() const noexcept { return status == DecodeStatus::ok; }
    /// The value; @throws DecodeError or TypeMismatchError (with `error`) when there is none.
    [[nodiscard]] T value_or_throw() && {
        if (status != DecodeStatus::ok) {
            detail::throw_decode_failure(status, error);
        }
        return std::move(*value);
    }
};

/// Turns values into bytes and a client flag (meta-memcache-py's layout, see value_flag)
/// and back, compressing with zstd (per-domain dictionaries) or zlib.
///
/// A Serializer is thread-safe: any number of threads may encode and decode through one
/// at once, also while dictionaries are registered. zstd contexts are per thread, never
/// shared. A moved-from Serializer may only be assigned to or destroyed.
///
/// @code
/// meta_memcache::Serializer serializer({.compression = meta_memcache::Compression::zstd});
/// serializer.register_dictionary(users_dict, {"users"});
/// EncodedValue v = serializer.encode(Key("u:1", "", "users"), json);  // flag 48 if >= 64 B
/// std::string back = serializer.decode<std::string>(v.data(), v.client_flag());
/// @endcode
class Serializer {
public:
    /// @throws InvalidInputError for an option out of range or a compression not built in.
    explicit Serializer(SerializerOptions options = {});
    ~Serializer();
    Serializer(Serializer&&) noexcept;
    Serializer& operator=(Serializer&&) noexcept;
    Serializer(const Serializer&) = delete;
    Serializer& operator=(const Serializer&) = delete;

    /// True when the library was built with zstd (META_MEMCACHE_WITH_ZSTD).
    [[nodiscard]] static bool zstd_available() noexcept;
    /// True when the library was built with zlib compression (META_MEMCACHE_WITH_ZLIB).
    [[nodiscard]] static bool zlib_available() noexcept;

    /// The options, with `compression` and `compression_threshold` resolved.
    [[nodiscard]] const SerializerOptions& options() const noexcept;

    // ---- dictionaries ----------------------------------------------------------------

    /// Registers a zstd dictionary (as `zstd --train` or ZDICT_trainFromBuffer make them)
    /// for keys of `domains`; with no domains it only serves to read values written with
    /// it. Returns its id, which every frame compressed with it carries, so any reader
    /// that registered it decodes them without knowing the domain. Registering the same
    /// dictionary again keeps its first level and only maps the domains.
    /// @throws InvalidInputError if it is not a zstd dictionary (raw-content dictionaries
    /// have no id), or if the library was built without zstd.
    std::uint32_t register_dictionary(std::string_view dictionary,
                                      const std::vector<std::string>& domains,
                                      std::optional<int> compression_level = {});
    /// Registers a dictionary for keys with no domain and for domains without one of their
    /// own. Returns its id. A later call replaces the default; the old one stays readable.
    std::uint32_t set_default_dictionary(std::string_view dictionary,
                                         std::optional<int> compression_level = {});
    /// The id of the dictionary that values of `domain` are compressed with: the domain's,
    /// else the default, else nullopt (no dictionary). An empty domain is "no domain".
    [[nodiscard]] std::optional<std::uint32_t> dictionary_for(std::string_view domain) const;

    // ---- encoding ----------------------------------------------------------------------

    /// Encodes `value` through ValueCodec and compresses it per the options and `key`
    /// (its domain picks the dictionary; disable_compression turns compression off).
    /// A value below the thresholds comes back uncompressed and, for byte strings and
    /// Text, viewing `value` (no copy, no allocation): keep `value` alive while the result
    /// is in use.
    /// @throws InvalidInputError for a value its codec rejects (invalid UTF-8 in Text, a
    /// null C string) or a codec flag that uses a reserved bit (value_flag::reserved_mask).
    template <class T>
    requires Encodable<codec_type_t<T>>
    [[nodiscard]] EncodedValue encode(KeyView key, const T& value) const {
        static_assert(codec_flag_allowed<codec_type_t<T>>,
                      "ValueCodec<T>::flag uses a bit the library reserves (8 and 32: "
                      "compression, 4096: chunked values)");
        return compress(key, ValueCodec<codec_type_t<T>>::encode(value));
    }
    /// Not allowed: the result would view a temporary string.
    EncodedValue encode(KeyView key, std::string&& value) const = delete;
    /// Not allowed: the result would view a temporary Text.
    EncodedValue encode(KeyView key, Text&& value) const = delete;

    /// Compresses already encoded bytes per the options and `key`; returns `value`
    /// unchanged (still borrowed, if it was) when they stay uncompressed.
    /// @throws InvalidInputError if value's flag uses a reserved bit (compression, chunked).
    [[nodiscard]] EncodedValue compress(KeyView key, EncodedValue value) const;
    /// Whether compress() may compress `size` bytes for `key` (false: it returns them as
    /// they are, once it has checked their flag).
    [[nodiscard]] bool may_compress(KeyView key, std::size_t size) const noexcept;

    // ---- decoding ----------------------------------------------------------------------

    /// Undoes the compression `client_flag` names. The result's bytes view `data` when
    /// there was none (no copy); its flag is the type flag. Fails only with decode_error.
    [[nodiscard]] DecodeResult<EncodedValue> decompress(std::string_view data,
                                                        std::uint32_t client_flag) const;

    /// Decodes a value as T: decode_error when the bytes cannot be decompressed,
    /// type_mismatch when they are not a T (a pickle, non-digits read as an integer...).
    template <class T>
    requires Decodable<T>
    [[nodiscard]] DecodeResult<T> try_decode(std::string_view data,
                                             std::uint32_t client_flag) const {
        DecodeResult<EncodedValue> raw = decompress(data, client_flag);
        if (!raw) {
            return DecodeResult<T>::failure(raw.status, std::move(raw.error));
        }
        const std::uint32_t type_flag = raw.value->type_flag();
        if constexpr (std::is_same_v<T, std::string>) {
            // Same rule as ValueCodec<std::string>, but moves decompressed bytes out.
            if (detail::BytesCodec::readable(type_flag)) {
                return DecodeResult<T>::success(std::move(*raw.value).take_string());
            }
        } else {
            std::optional<T> decoded = ValueCodec<T>::decode(raw.value->data(), type_flag);
            if (decoded) {
                return DecodeResult<T>::success(std::move(*decoded));
            }
        }
        return DecodeResult<T>::failure(DecodeStatus::type_mismatch,
                                        detail::type_mismatch_message(type_flag));
    }

    /// Decodes a value as T. @throws DecodeError, TypeMismatchError.
    template <class T>
    requires Decodable<T>
    [[nodiscard]] T decode(std::string_view data, std::uint32_t client_flag) const {
        return try_decode<T>(data, client_flag).value_or_throw();
    }

    /// A value's bytes, decompressed, whatever its type flag (pickle and user types
    /// included): what a plain `get` returns. Fails only with decode_error.
    [[nodiscard]] DecodeResult<std::string> try_decode_bytes(std::string_view data,
                                                             std::uint32_t client_flag) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace meta_memcache
