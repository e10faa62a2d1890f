// The built-in codecs that are not templates: the UTF-8 check and Text / TextView.

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/value_codec.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meta_memcache {

namespace detail {

META_MEMCACHE_DECL bool is_valid_utf8(std::string_view bytes) noexcept {
    std::size_t i = 0;
    const std::size_t n = bytes.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t length = 0;
        std::uint32_t min = 0;
        std::uint32_t cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
            min = 0x80;
            cp = c & 0x1FU;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            min = 0x800;
            cp = c & 0x0FU;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            min = 0x10000;
            cp = c & 0x07U;
        } else {
            return false;  // continuation byte, overlong lead (C0, C1) or above F4
        }
        if (n - i < length) {
            return false;
        }
        for (std::size_t k = 1; k < length; ++k) {
            const auto cc = static_cast<unsigned char>(bytes[i + k]);
            if ((cc & 0xC0U) != 0x80U) {
                return false;
            }
            cp = (cp << 6U) | (cc & 0x3FU);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += length;
    }
    return true;
}

}  // namespace detail

META_MEMCACHE_DECL EncodedValue ValueCodec<TextView>::encode(TextView value) {
    if (!detail::is_valid_utf8(value.value)) {
        throw InvalidInputError(
            "Text value is not valid UTF-8 (Python readers decode str as "
            "UTF-8); store it as bytes instead");
    }
    return EncodedValue::borrowed(value.value, value_flag::str);
}

META_MEMCACHE_DECL EncodedValue ValueCodec<Text>::encode(const Text& value) {
    return ValueCodec<TextView>::encode(TextView{value.value});
}

META_MEMCACHE_DECL std::optional<Text> ValueCodec<Text>::decode(std::string_view bytes,
                                                                std::uint32_t type_flag) {
    if (type_flag != value_flag::str || !detail::is_valid_utf8(bytes)) {
        return std::nullopt;
    }
    return Text{std::string(bytes)};
}

}  // namespace meta_memcache
