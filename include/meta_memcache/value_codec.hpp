#pragma once

#include <meta_memcache/error.hpp>

#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace meta_memcache {

/// The client-flag layout of values, meta-memcache-py's: a Python service and a C++ service
/// on the same servers read each other's entries. The low bits say how the bytes encode the
/// value; bits 8 and 32 say which compression was applied on top; bit 4096 marks the index
/// of a value split into chunks. Those three bits are reserved: a ValueCodec must not use
/// them (see reserved_mask). Every other bit is free for your own types.
namespace value_flag {
inline constexpr std::uint32_t str = 0;           ///< UTF-8 text (Python `str`)
inline constexpr std::uint32_t pickle = 1;        ///< Python pickle: opaque to C++
inline constexpr std::uint32_t integer = 2;       ///< decimal ASCII integer
inline constexpr std::uint32_t long_integer = 4;  ///< legacy Python 2 long, read like integer
inline constexpr std::uint32_t zlib = 8;          ///< bit: zlib stream (with header) on top
inline constexpr std::uint32_t binary = 16;       ///< raw bytes (Python `bytes`)
inline constexpr std::uint32_t zstd = 32;         ///< bit: magicless zstd frame on top
/// bit: the index of a value split into chunks (ClientOptions::large_values; the bit libmc
/// uses for split values). A value with this bit whose bytes are not such an index is read
/// as its bytes, as any other value.
inline constexpr std::uint32_t chunked = 4096;
/// The compression bits.
inline constexpr std::uint32_t compression_mask = zlib | zstd;
/// The bits the library sets itself (compression and chunked values): a type flag, the flag
/// a ValueCodec writes, must not use them.
inline constexpr std::uint32_t reserved_mask = compression_mask | chunked;
}  // namespace value_flag

/// A value's bytes and its client flag, as they go to (or came from) the server.
///
/// The bytes are either borrowed (a view of the caller's value: encoding a short string
/// copies and allocates nothing, and the EncodedValue must not outlive that value), held
/// inline (up to inline_capacity bytes, e.g. an integer's digits), or owned (a compressed
/// frame, a user type's encoding). data() is computed from whichever holds them, so copying
/// or moving an EncodedValue never leaves it viewing freed memory.
class EncodedValue {
public:
    /// Bytes up to this size are held inline by copy().
    static constexpr std::size_t inline_capacity = 24;

    /// Empty bytes, flag `binary`.
    EncodedValue() noexcept = default;

    /// Views `bytes`, which must outlive the EncodedValue (and its copies).
    [[nodiscard]] static EncodedValue borrowed(std::string_view bytes,
                                               std::uint32_t client_flag) noexcept {
        EncodedValue v;
        v.storage_ = Storage::borrowed;
        v.borrowed_ = bytes;
        v.client_flag_ = client_flag;
        return v;
    }
    /// Takes ownership of `bytes`.
    [[nodiscard]] static EncodedValue owned(std::string bytes, std::uint32_t client_flag) noexcept {
        EncodedValue v;
        v.storage_ = Storage::owned;
        v.owned_ = std::move(bytes);
        v.client_flag_ = client_flag;
        return v;
    }
    /// Copies `bytes`: inline when they fit in inline_capacity (no allocation), else owned.
    [[nodiscard]] static EncodedValue copy(std::string_view bytes, std::uint32_t client_flag) {
        if (bytes.size() > inline_capacity) {
            return owned(std::string(bytes), client_flag);
        }
        EncodedValue v;
        v.storage_ = Storage::inline_buffer;
        bytes.copy(v.inline_.data(), bytes.size());
        v.inline_size_ = static_cast<std::uint8_t>(bytes.size());
        v.client_flag_ = client_flag;
        return v;
    }

    /// The bytes to send (or that were received, uncompressed).
    [[nodiscard]] std::string_view data() const noexcept {
        switch (storage_) {
            case Storage::borrowed:
                return borrowed_;
            case Storage::inline_buffer:
                return {inline_.data(), inline_size_};
            case Storage::owned:
                break;
        }
        return owned_;
    }
    /// The client flag (memcached's F flag) to store along the bytes.
    [[nodiscard]] std::uint32_t client_flag() const noexcept { return client_flag_; }
    /// The client flag without the compression bits: how the bytes encode the value.
    [[nodiscard]] std::uint32_t type_flag() const noexcept {
        return client_flag_ & ~value_flag::compression_mask;
    }
    /// True when the bytes are a zlib stream or a zstd frame.
    [[nodiscard]] bool compressed() const noexcept {
        return (client_flag_ & value_flag::compression_mask) != 0;
    }
    /// True when the bytes view memory the EncodedValue does not own.
    [[nodiscard]] bool is_borrowed() const noexcept { return storage_ == Storage::borrowed; }
    /// The bytes as a string: moved out when owned, copied otherwise.
    [[nodiscard]] std::string take_string() && {
        if (storage_ == Storage::owned) {
            return std::move(owned_);
        }
        return std::string(data());
    }

private:
    enum class Storage : std::uint8_t { borrowed, inline_buffer, owned };

    std::string owned_;
    std::string_view borrowed_;
    std::array<char, inline_capacity> inline_{};
    std::uint8_t inline_size_ = 0;
    Storage storage_ = Storage::borrowed;
    std::uint32_t client_flag_ = value_flag::binary;
};

/// UTF-8 text stored as a Python `str` (client flag 0), for services that expect str
/// rather than bytes. Writing checks that it is valid UTF-8 (a Python reader would fail on
/// anything else); reading accepts flag 0 only, and valid UTF-8 only.
struct Text {
    std::string value;
    friend bool operator==(const Text&, const Text&) = default;
};

/// A Text that views its bytes: writes them as Python `str` without copying.
struct TextView {
    std::string_view value;
};

/// How values of type T become bytes and a client flag, and back. Specialize it for your
/// own types; the Serializer compresses what encode returns, and hands decode the bytes
/// uncompressed with the type flag (the client flag without the compression bits).
///
/// Built in: std::string, std::string_view, const char* (bytes, flag 16; read back from
/// flags 0 and 16), integers (every integral type but bool and the character types:
/// decimal ASCII, flag 2; read back from 2, 4, 0 and 16 when the bytes are a decimal
/// integer that fits, surrounded by optional ASCII whitespace), Text / TextView (flag 0).
///
/// @code
/// struct Point { int x = 0; int y = 0; };
///
/// template <>
/// struct meta_memcache::ValueCodec<Point> {
///     // Any flag without the reserved bits 8, 32 and 4096 (a codec whose `flag` uses one
///     // does not compile). Use value_flag::binary if Python services read these entries
///     // (they get bytes); Python treats unknown flags as pickle.
///     static constexpr std::uint32_t flag = meta_memcache::value_flag::binary;
///
///     static meta_memcache::EncodedValue encode(const Point& p) {
///         return meta_memcache::EncodedValue::owned(fmt::format("{},{}", p.x, p.y), flag);
///     }
///     // nullopt: the stored value is not a Point (a type mismatch, not an error).
///     static std::optional<Point> decode(std::string_view bytes, std::uint32_t type_flag) {
///         Point p;
///         const auto comma = bytes.find(',');
///         if (type_flag != flag || comma == std::string_view::npos) return std::nullopt;
///         auto [end_x, ex] = std::from_chars(bytes.data(), bytes.data() + comma, p.x);
///         auto [end_y, ey] = std::from_chars(bytes.data() + comma + 1,
///                                            bytes.data() + bytes.size(), p.y);
///         if (ex != std::errc() || ey != std::errc() || end_y != bytes.data() + bytes.size())
///             return std::nullopt;
///         return p;
///     }
/// };
///
/// cache.set("origin", Point{1, 2}, 60);
/// std::optional<Point> p = cache.get_typed<Point>("origin");
/// @endcode
///
/// encode may return a borrowed view into the value (EncodedValue::borrowed): the client
/// sends it before the call returns. Exceptions thrown by encode or decode propagate.
template <class T>
struct ValueCodec;

/// True when T has a usable ValueCodec.
template <class T>
concept Encodable = requires(const T& value) {
    { ValueCodec<T>::encode(value) } -> std::same_as<EncodedValue>;
};
/// True when values of T can be read back through ValueCodec.
template <class T>
concept Decodable = requires(std::string_view bytes, std::uint32_t flag) {
    { ValueCodec<T>::decode(bytes, flag) } -> std::same_as<std::optional<T>>;
};

/// False when ValueCodec<T> declares a `flag` that uses a reserved bit (8, 32, 4096; see
/// value_flag::reserved_mask). Encoding such a type does not compile; a codec without a
/// `flag` member that returns a reserved bit is an InvalidInputError before anything is sent.
template <class T>
inline constexpr bool codec_flag_allowed = [] {
    if constexpr (requires { ValueCodec<T>::flag; }) {
        return (static_cast<std::uint32_t>(ValueCodec<T>::flag) & value_flag::reserved_mask) == 0;
    } else {
        return true;
    }
}();

namespace detail {

/// Character types: integral, but a `char` value is almost never meant as a number.
template <class T>
inline constexpr bool is_character_v =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

/// ASCII whitespace as Python's int() strips it.
[[nodiscard]] constexpr bool is_ascii_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/// True when `bytes` is valid UTF-8 (no overlong forms, surrogates or code points above
/// U+10FFFF), as Python's strict decode requires.
[[nodiscard]] bool is_valid_utf8(std::string_view bytes) noexcept;

/// Parses a decimal integer as Python's int() reads memcached values: optional ASCII
/// whitespace around, optional sign, digits. nullopt if not one or it does not fit in T.
template <class T>
[[nodiscard]] std::optional<T> parse_integer(std::string_view bytes) noexcept {
    while (!bytes.empty() && is_ascii_space(bytes.front())) {
        bytes.remove_prefix(1);
    }
    while (!bytes.empty() && is_ascii_space(bytes.back())) {
        bytes.remove_suffix(1);
    }
    if (!bytes.empty() && bytes.front() == '+') {
        bytes.remove_prefix(1);
        if (!bytes.empty() && bytes.front() == '-') {
            return std::nullopt;
        }
    }
    if (bytes.empty()) {
        return std::nullopt;
    }
    T value{};
    const char* end = bytes.data() + bytes.size();
    const auto [ptr, ec] = std::from_chars(bytes.data(), end, value, 10);
    if (ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

/// Codec of byte strings: flag 16 on write, flags 0 and 16 on read.
struct BytesCodec {
    [[nodiscard]] static EncodedValue encode(std::string_view value) noexcept {
        return EncodedValue::borrowed(value, value_flag::binary);
    }
    [[nodiscard]] static bool readable(std::uint32_t type_flag) noexcept {
        return type_flag == value_flag::binary || type_flag == value_flag::str;
    }
};

}  // namespace detail

/// Integers: decimal ASCII with flag 2, held inline (no allocation).
template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool> &&
         !detail::is_character_v<T>) struct ValueCodec<T> {
    [[nodiscard]] static EncodedValue encode(T value) noexcept {
        std::array<char, EncodedValue::inline_capacity> digits{};
        const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value);
        return EncodedValue::copy(
            {digits.data(), static_cast<std::size_t>(result.ptr - digits.data())},
            value_flag::integer);
    }
    [[nodiscard]] static std::optional<T> decode(std::string_view bytes,
                                                 std::uint32_t type_flag) noexcept {
        switch (type_flag) {
            case value_flag::integer:
            case value_flag::long_integer:
            case value_flag::str:     // memcached's incr/decr keep the flag the item had
            case value_flag::binary:  // bytes that spell an integer
                return detail::parse_integer<T>(bytes);
            default:
                return std::nullopt;
        }
    }
};

/// Bytes: flag 16; reads flags 0 and 16.
template <>
struct ValueCodec<std::string> {
    [[nodiscard]] static EncodedValue encode(const std::string& value) noexcept {
        return detail::BytesCodec::encode(value);
    }
    [[nodiscard]] static std::optional<std::string> decode(std::string_view bytes,
                                                           std::uint32_t type_flag) {
        if (!detail::BytesCodec::readable(type_flag)) {
            return std::nullopt;
        }
        return std::string(bytes);
    }
};

/// Bytes, written without copying (flag 16). Read values back as std::string.
template <>
struct ValueCodec<std::string_view> {
    [[nodiscard]] static EncodedValue encode(std::string_view value) noexcept {
        return detail::BytesCodec::encode(value);
    }
};

/// A C string's bytes (flag 16). Read values back as std::string.
template <>
struct ValueCodec<const char*> {
    /// @throws InvalidInputError for a null pointer.
    [[nodiscard]] static EncodedValue encode(const char* value) {
        if (value == nullptr) {
            throw InvalidInputError("value is a null C string");
        }
        return detail::BytesCodec::encode(value);
    }
};

/// The type whose ValueCodec encodes a T: string literals and char pointers use the
/// `const char*` codec, everything else its own type without cv-ref qualifiers.
template <class T>
using codec_type_t =
    std::conditional_t<std::is_same_v<std::decay_t<T>, char*>, const char*, std::decay_t<T>>;

/// Python `str` (flag 0), owned.
template <>
struct ValueCodec<Text> {
    /// @throws InvalidInputError when the text is not valid UTF-8.
    [[nodiscard]] static EncodedValue encode(const Text& value);
    [[nodiscard]] static std::optional<Text> decode(std::string_view bytes,
                                                    std::uint32_t type_flag);
};

/// Python `str` (flag 0), viewed. Read values back as Text.
template <>
struct ValueCodec<TextView> {
    /// @throws InvalidInputError when the text is not valid UTF-8.
    [[nodiscard]] static EncodedValue encode(TextView value);
};

}  // namespace meta_memcache
