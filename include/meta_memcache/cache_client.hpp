#pragma once

#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/policies.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/request_flags.hpp>
#include <meta_memcache/responses.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/server_address.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache {

/// Client-wide settings (pool settings are per server, in PoolOptions).
struct ClientOptions {
    /// Prepended to every key on the wire (libmc's PREFIX); routing is unaffected.
    std::string key_prefix;
    /// The servers' item size limit (memcached -I); larger values are rejected up front.
    std::size_t max_item_size = 1024 * 1024;
    /// Default for calls whose FailureHandling does not say; empty: the router's default.
    std::optional<bool> raise_on_server_error;
};

/// Options of `set`.
struct SetOptions {
    SetMode mode = SetMode::set;              ///< set, add, replace, append, prepend
    std::optional<std::uint64_t> cas_token;   ///< store only if the item's CAS matches
    bool no_reply = false;                    ///< do not wait for the answer (mn-fenced)
    std::optional<StalePolicy> stale_policy;  ///< with cas_token: store stale on mismatch
};

/// The synchronous, thread-safe memcached client: high-level commands over the meta
/// commands, over a Router. Any number of threads may share one CacheClient.
///
/// @code
/// auto cache = meta_memcache::cache_client_from_servers({{"127.0.0.1", 11211}});
/// cache.set("greeting", "hello", 60);
/// std::optional<std::string> v = cache.get("greeting");
/// @endcode
class CacheClient {
public:
    /// A client over any Router (yours included).
    explicit CacheClient(std::shared_ptr<Router> router, ClientOptions options = {});
    ~CacheClient();
    CacheClient(CacheClient&&) noexcept;
    CacheClient& operator=(CacheClient&&) noexcept;
    CacheClient(const CacheClient&) = delete;
    CacheClient& operator=(const CacheClient&) = delete;

    // ---- meta commands: every flag, typed answers -----------------------------------

    /// mg. @throws InvalidInputError; server failures per FailureHandling.
    ReadResponse meta_get(KeyView key,
                          const RequestFlags& flags = {},
                          const FailureHandling& failure = {});
    /// mg for many keys, all servers at once; answers in the order of `keys`.
    std::vector<ReadResponse> meta_multiget(std::span<const KeyView> keys,
                                            const RequestFlags& flags = {},
                                            const FailureHandling& failure = {});
    /// ms with `ttl` seconds (always sent as T, 0 = never expires). The value is sent as
    /// given; flags.client_flag says how it is encoded.
    WriteResponse meta_set(KeyView key,
                           std::string_view value,
                           std::int64_t ttl,
                           const RequestFlags& flags = {},
                           const FailureHandling& failure = {});
    /// md.
    WriteResponse meta_delete(KeyView key,
                              const RequestFlags& flags = {},
                              const FailureHandling& failure = {});
    /// ma.
    ArithmeticResponse meta_arithmetic(KeyView key,
                                       const RequestFlags& flags = {},
                                       const FailureHandling& failure = {});

    // ---- high-level commands ----------------------------------------------------------

    /// Stores `value` for `ttl` seconds. True when stored (NS, EX, NF: false).
    bool set(KeyView key, std::string_view value, std::int64_t ttl, const SetOptions& options = {});
    /// The value, or nothing on a miss.
    std::optional<std::string> get(KeyView key);
    /// Deletes the key. True when it was there.
    bool del(KeyView key);

    // ---- events and counters ------------------------------------------------------------

    /// Subscribers get the key of every write that failed on its server.
    WriteFailureEvent& on_write_failure() noexcept;
    /// Pool counters of every server the router holds.
    [[nodiscard]] std::vector<ServerCounters> get_counters() const;
    /// The router this client sends through.
    [[nodiscard]] Router& router() noexcept;

private:
    struct State;
    std::unique_ptr<State> s_;
};

/// A client sharding over `servers` with a HashRing (uhashring placement by default, as
/// meta-memcache-py: a fleet shared with Python services sees the same placement).
CacheClient cache_client_from_servers(const std::vector<ServerAddress>& servers,
                                      PoolOptions pool_options = {},
                                      ClientOptions client_options = {},
                                      HashMode mode = HashMode::uhashring);

}  // namespace meta_memcache
