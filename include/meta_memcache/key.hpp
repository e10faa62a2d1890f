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

}  // namespace meta_memcache
