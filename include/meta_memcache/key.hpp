#pragma once

#include <string>
#include <string_view>

namespace meta_memcache {

/// A cache key: any bytes, plus an optional routing key (picks the server instead of the
/// key itself, so related keys can share a server) and an optional domain (picks the
/// compression dictionary and the per-domain hit/miss counters). Neither is sent.
///
/// Keys with bytes outside 0x21..0x7E travel base64-encoded, and keys of 187 bytes or more
/// as their BLAKE2b digest, exactly as meta-memcache-py sends them.
class Key {
public:
    Key() = default;
    /// A key routed by itself.
    Key(std::string key) : key_(std::move(key)) {}  // NOLINT(google-explicit-constructor)
    Key(std::string_view key) : key_(key) {}        // NOLINT(google-explicit-constructor)
    Key(const char* key) : key_(key) {}             // NOLINT(google-explicit-constructor)
    /// A key routed by `routing_key`, with an optional domain.
    Key(std::string key,
        std::string routing_key,
        std::string domain = {},
        bool disable_compression = false)
        : key_(std::move(key)),
          routing_key_(std::move(routing_key)),
          domain_(std::move(domain)),
          disable_compression_(disable_compression) {}

    /// The key's bytes.
    [[nodiscard]] const std::string& key() const noexcept { return key_; }
    /// The routing key, or empty when the key routes by itself.
    [[nodiscard]] const std::string& routing_key() const noexcept { return routing_key_; }
    /// The domain, or empty.
    [[nodiscard]] const std::string& domain() const noexcept { return domain_; }
    /// True when values under this key must not be compressed.
    [[nodiscard]] bool disable_compression() const noexcept { return disable_compression_; }

    friend bool operator==(const Key&, const Key&) = default;

private:
    std::string key_{};
    std::string routing_key_{};
    std::string domain_{};
    bool disable_compression_ = false;
};

/// A non-owning view of a key, what every command takes: build one from a Key, a
/// std::string, a string_view or a C string. It must not outlive what it views.
struct KeyView {
    std::string_view key{};          ///< the key's bytes
    std::string_view routing_key{};  ///< empty: route by `key`
    std::string_view domain{};       ///< empty: no domain
    bool disable_compression = false;

    KeyView() = default;
    KeyView(const Key& k)  // NOLINT(google-explicit-constructor)
        : key(k.key()),
          routing_key(k.routing_key()),
          domain(k.domain()),
          disable_compression(k.disable_compression()) {}
    KeyView(std::string_view k) : key(k) {}    // NOLINT(google-explicit-constructor)
    KeyView(const std::string& k) : key(k) {}  // NOLINT(google-explicit-constructor)
    KeyView(const char* k) : key(k) {}         // NOLINT(google-explicit-constructor)
    KeyView(std::string_view k, std::string_view routing, std::string_view dom = {})
        : key(k), routing_key(routing), domain(dom) {}

    /// What the router hashes: the routing key if set, else the key.
    [[nodiscard]] std::string_view route() const noexcept {
        return routing_key.empty() ? key : routing_key;
    }
    /// An owning copy.
    [[nodiscard]] Key to_key() const {
        return Key(std::string(key), std::string(routing_key), std::string(domain),
                   disable_compression);
    }
};

/// The text Python's repr() gives these bytes as a `bytes` object: b'...' (b"..." when they
/// hold a ' and no "), with \\, the quote, \t \n \r escaped and any other byte outside
/// 0x20..0x7E as \xhh. meta-memcache-py sends a key given as `bytes` under the same wire key
/// as the same text given as `str`, but its ring (uhashring) places it by `str(key)`, which
/// for bytes is this text: use it as the routing key to find such keys where Python puts
/// them (see python_bytes_key).
[[nodiscard]] inline std::string python_bytes_repr(std::string_view bytes) {
    const bool double_quoted =
        bytes.find('\'') != std::string_view::npos && bytes.find('"') == std::string_view::npos;
    const char quote = double_quoted ? '"' : '\'';
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "b";
    out.reserve(bytes.size() + 3);
    out += quote;
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == quote || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (ch == '\t') {
            out += "\\t";
        } else if (ch == '\n') {
            out += "\\n";
        } else if (ch == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    out += quote;
    return out;
}

/// A key that meta-memcache-py was given as Python `bytes`: the same wire key, routed by
/// python_bytes_repr(key) as its uhashring ring routes it (HashMode::uhashring). A key
/// given to Python as `str` needs no such help: use it as it is.
[[nodiscard]] inline Key python_bytes_key(std::string key, std::string domain = {}) {
    std::string routing = python_bytes_repr(key);
    return Key(std::move(key), std::move(routing), std::move(domain));
}

}  // namespace meta_memcache
