#pragma once

#include <meta_memcache/detail/function_ref.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/hot_cache.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/observer.hpp>
#include <meta_memcache/policies.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/request_flags.hpp>
#include <meta_memcache/responses.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/serializer.hpp>
#include <meta_memcache/server_address.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace meta_memcache {

/// Values larger than one memcached item, split into chunks (opt-in, as libmc's do_split).
/// The key holds a small index naming a version stamp, the chunk count, the total size
/// and a checksum; the chunks live under keys derived from the key and that version, on
/// the key's server. A reader therefore only ever reads chunks of the write its index
/// names, never a mix of two writes, and a missing or mismatched chunk reads as a miss.
struct LargeValueOptions {
    bool enabled = false;        ///< split values over `chunk_size` instead of rejecting them
    std::size_t chunk_size = 0;  ///< bytes per chunk; 0: max_item_size minus 1 KiB
    /// The largest value any `set` accepts (split or not), counted before compression:
    /// larger ones are an InvalidInputError before anything is sent, so a set never stores
    /// what a get cannot read back. At most the serializer's max_decompressed_size.
    std::size_t max_value_size = 64 * 1024 * 1024;
};

/// Client-wide settings (pool settings are per server, in PoolOptions).
struct ClientOptions {
    /// Prepended to every key on the wire (libmc's PREFIX); the routing key is unaffected.
    std::string key_prefix{};
    /// The servers' item size limit (memcached -I); larger values are rejected up front
    /// (or split, with large_values.enabled).
    std::size_t max_item_size = 1024 * 1024;
    /// Default for calls whose FailureHandling does not say; empty: the router's default.
    std::optional<bool> raise_on_server_error{};
    /// How get_or_lease waits between attempts (std::this_thread::sleep_for by default);
    /// replace it to use your own scheduler or a fake clock in tests.
    std::function<void(std::chrono::milliseconds)> lease_wait{};
    /// Values larger than an item.
    LargeValueOptions large_values{};
    /// How values become bytes and client flags (meta-memcache-py's layout), compression
    /// and zstd dictionaries. Null: a default Serializer (zlib over 128 bytes, what
    /// meta-memcache-py's default MixedSerializer reads). Share one to register
    /// dictionaries after the client is built.
    std::shared_ptr<Serializer> serializer{};
    /// Keep hot keys in memory (see HotCacheOptions); empty: every read goes to a server.
    std::optional<HotCacheOptions> hot_cache{};
    /// Told of every request's end, mark-down, recovery and hot-cache promotion; also turns
    /// on the per-server latency histograms. Null: nothing is measured.
    std::shared_ptr<ClientObserver> observer{};
    /// Per-server latency histograms in get_counters() without an observer.
    bool latency_histograms = false;
};

/// Options of `set`.
struct SetOptions {
    SetMode mode = SetMode::set;               ///< set, add, replace, append, prepend
    std::optional<std::uint64_t> cas_token{};  ///< store only if the item's CAS matches
    /// Do not wait for the answer (q, mn-fenced); but a tracked write waits for its fence
    /// while on_write_failure has a subscriber, so a server error reaches it.
    bool no_reply = false;
    std::optional<StalePolicy> stale_policy{};  ///< with cas_token: store stale on mismatch
    FailureHandling failure{};                  ///< what a server failure does
};

/// Options of `del` and `invalidate`.
struct DeleteOptions {
    std::optional<std::uint64_t> cas_token{};   ///< delete only if the item's CAS matches
    bool no_reply = false;                      ///< as SetOptions::no_reply
    std::optional<StalePolicy> stale_policy{};  ///< mark stale instead of deleting
    FailureHandling failure{};
};

/// Options of the reads.
struct GetOptions {
    std::optional<std::int64_t> touch_ttl{};        ///< also set the TTL (T) on a hit
    std::optional<RecachePolicy> recache_policy{};  ///< early recache (R)
    FailureHandling failure{};
    /// get_typed: a value stored as another type throws TypeMismatchError instead of
    /// reading as nothing.
    bool error_on_type_mismatch = false;
    /// Any read: a value whose bytes cannot be decoded (see DomainCounters::undecodable)
    /// throws DecodeError, naming the key, instead of reading as a miss. A multi-key read
    /// throws once every key is read (and counted), for the first such key.
    bool error_on_undecodable = false;
};

/// Options of the counter commands.
struct DeltaOptions {
    std::optional<std::int64_t> refresh_ttl{};  ///< also set the TTL (T) on success
    bool no_reply = false;                      ///< not for the *_and_get forms
    std::optional<std::uint64_t> cas_token{};   ///< apply only if the CAS matches
    FailureHandling failure{};
};

/// A value with its CAS token. `won` means this caller was handed the right to recompute
/// (a lease on a miss, an early recache, a stale item): `value` is then empty (or the
/// stale value for a stale win is withheld, as the reference client does) and `cas_token`
/// guards the caller's `set`.
template <class T>
struct TypedCasValue {
    std::optional<T> value{};
    std::optional<std::uint64_t> cas_token{};
    bool won = false;
};
/// A byte value with its CAS token.
using CasValue = TypedCasValue<std::string>;

namespace detail {
/// A read with its bytes decompressed (and chunks joined): the bytes and their type flag.
struct RawRead {
    std::optional<std::string> data{};
    std::uint32_t client_flag = 0;
    std::optional<std::uint64_t> cas_token{};
    bool won = false;
};
}  // namespace detail

/// Hits and misses of reads, per key domain.
struct DomainCounters {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;  ///< undecodable values included: they read as misses
    /// Of the misses, values whose bytes could not be decoded (a corrupt or truncated frame,
    /// a zstd dictionary not registered, over max_decompressed_size).
    std::uint64_t undecodable = 0;
    friend bool operator==(const DomainCounters&, const DomainCounters&) = default;
};

/// What get_counters() reports.
struct ClientCounters {
    std::vector<ServerCounters> servers{};            ///< pool counters per server
    std::map<std::string, DomainCounters> domains{};  ///< by Key domain ("" = no domain)
    HotCacheCounters hot_cache{};                     ///< zero without ClientOptions::hot_cache
};

/// A range of keys the multi-key calls take besides a span of KeyView: any range whose
/// elements a KeyView can view (std::vector<std::string>, std::vector<Key>,
/// std::vector<std::string_view>, ...). The elements must outlive the call.
template <class R>
concept KeyRange = std::ranges::input_range<const R> &&
    std::convertible_to<std::ranges::range_reference_t<const R>, KeyView> &&
    !std::convertible_to<const R&, std::span<const KeyView>>;

namespace detail {
/// KeyViews of a KeyRange's elements.
template <KeyRange R>
[[nodiscard]] std::vector<KeyView> key_views(const R& keys) {
    std::vector<KeyView> out;
    if constexpr (std::ranges::sized_range<const R>)
        out.reserve(std::ranges::size(keys));
    for (const auto& k : keys)
        out.emplace_back(k);
    return out;
}
}  // namespace detail

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
    /// meta_multiget over any range of keys (see KeyRange).
    template <KeyRange Keys>
    std::vector<ReadResponse> meta_multiget(const Keys& keys,
                                            const RequestFlags& flags = {},
                                            const FailureHandling& failure = {}) {
        return meta_multiget(std::span<const KeyView>(detail::key_views(keys)), flags, failure);
    }
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

    // ---- writes -------------------------------------------------------------------------

    /// Stores `value` for `ttl` seconds (0 = never expires), encoded by the serializer:
    /// bytes (std::string, string_view, C strings: flag 16), integers (flag 2), Text
    /// (Python str, flag 0), or your type through ValueCodec; compressed per the serializer
    /// (by default zlib over 128 bytes).
    /// True when stored; false on NS (add/replace/append/prepend), EX (CAS mismatch) or NF.
    /// With no_reply, true once sent (or, when it waits for its answer because
    /// on_write_failure has a subscriber, unless the server refused it).
    template <class T>
    requires Encodable<codec_type_t<T>>
    bool set(KeyView key, const T& value, std::int64_t ttl, const SetOptions& options = {}) {
        return set_encoded(key, encode(key, value), ttl, options, false).stored;
    }
    /// set, returning the CAS token of the stored item (nothing when not stored).
    template <class T>
    requires Encodable<codec_type_t<T>> std::optional<std::uint64_t> set_cas(
        KeyView key, const T& value, std::int64_t ttl, const SetOptions& options = {}) {
        return set_encoded(key, encode(key, value), ttl, options, true).cas_token;
    }
    /// Adds `value` only if the key is absent, without tracking write failures: for
    /// populating the cache after a miss (a failed refill needs no invalidation).
    template <class T>
    requires Encodable<codec_type_t<T>>
    bool refill(KeyView key, const T& value, std::int64_t ttl, bool no_reply = false) {
        return set_encoded(key, encode(key, value), ttl, refill_options(no_reply), false).stored;
    }
    /// Deletes the key (or marks it stale, with a StalePolicy). True when it was there.
    bool del(KeyView key, const DeleteOptions& options = {});
    /// Like del, but true also when the key was already gone: "not in the cache now".
    bool invalidate(KeyView key, const DeleteOptions& options = {});
    /// Sets a new TTL. True when the key was there.
    bool touch(KeyView key,
               std::int64_t ttl,
               bool no_reply = false,
               const FailureHandling& failure = {});

    // ---- reads --------------------------------------------------------------------------

    /// The value's bytes (decompressed; any type flag), or nothing on a miss, on a lease
    /// placeholder, when this caller won an early recache (it should recompute and set),
    /// or when the stored bytes cannot be decoded.
    std::optional<std::string> get(KeyView key, const GetOptions& options = {});
    /// The value with its CAS token (see CasValue).
    CasValue get_cas(KeyView key, const GetOptions& options = {});
    /// The value decoded as T, or nothing (miss, placeholder, win, undecodable, or stored as
    /// another type, unless options.error_on_type_mismatch makes that a TypeMismatchError).
    template <class T>
    requires Decodable<T> std::optional<T> get_typed(KeyView key, const GetOptions& options = {}) {
        return decode_read<T>(read_raw(key, options), options.error_on_type_mismatch);
    }
    /// get_typed with the CAS token.
    template <class T>
    requires Decodable<T> TypedCasValue<T> get_cas_typed(KeyView key,
                                                         const GetOptions& options = {}) {
        detail::RawRead raw = read_raw(key, options);
        TypedCasValue<T> out;
        out.cas_token = raw.cas_token;
        out.won = raw.won;
        out.value = decode_read<T>(std::move(raw), options.error_on_type_mismatch);
        return out;
    }
    /// Many keys at once, all servers in parallel; results in the order of `keys`.
    std::vector<std::optional<std::string>> multi_get(std::span<const KeyView> keys,
                                                      const GetOptions& options = {});
    std::vector<std::optional<std::string>> multi_get(std::initializer_list<KeyView> keys,
                                                      const GetOptions& options = {}) {
        return multi_get(std::span<const KeyView>(keys.begin(), keys.size()), options);
    }
    /// multi_get over any range of keys: std::vector<std::string>, std::vector<Key>, ...
    template <KeyRange Keys>
    std::vector<std::optional<std::string>> multi_get(const Keys& keys,
                                                      const GetOptions& options = {}) {
        return multi_get(std::span<const KeyView>(detail::key_views(keys)), options);
    }
    /// multi_get with CAS tokens.
    std::vector<CasValue> multi_get_cas(std::span<const KeyView> keys,
                                        const GetOptions& options = {});
    std::vector<CasValue> multi_get_cas(std::initializer_list<KeyView> keys,
                                        const GetOptions& options = {}) {
        return multi_get_cas(std::span<const KeyView>(keys.begin(), keys.size()), options);
    }
    template <KeyRange Keys>
    std::vector<CasValue> multi_get_cas(const Keys& keys, const GetOptions& options = {}) {
        return multi_get_cas(std::span<const KeyView>(detail::key_views(keys)), options);
    }
    /// Many keys at once, each hit handed to `visit(i, value)` as its answer is read: no
    /// string per value. `i` indexes `keys`; `value` (decompressed, and joined for a chunked
    /// value) views the library's read buffer and is valid only during that call of
    /// `visit`. Misses, placeholders and won recaches are not visited. Returns the number
    /// of hits. An exception from `visit` ends the call (its connections are closed) and
    /// propagates.
    /// @code
    /// std::size_t bytes = 0;
    /// cache.multi_get_visit(keys, [&](std::size_t, std::string_view v) { bytes += v.size(); });
    /// @endcode
    template <class Visitor>
    requires std::is_invocable_v<Visitor&, std::size_t, std::string_view> std::size_t
    multi_get_visit(std::span<const KeyView> keys,
                    Visitor&& visit,
                    const GetOptions& options = {}) {
        return visit_values(keys, detail::FunctionRef<void(std::size_t, std::string_view)>(visit),
                            options);
    }
    /// multi_get_visit over any range of keys (see KeyRange).
    template <KeyRange Keys, class Visitor>
    requires std::is_invocable_v<Visitor&, std::size_t, std::string_view> std::size_t
    multi_get_visit(const Keys& keys, Visitor&& visit, const GetOptions& options = {}) {
        const std::vector<KeyView> views = detail::key_views(keys);
        return visit_values(views, detail::FunctionRef<void(std::size_t, std::string_view)>(visit),
                            options);
    }

    /// Stampede protection: on a miss exactly one caller across all clients wins a lease
    /// (gets nothing, computes, and sets); the others wait and retry per `lease`, getting
    /// the winner's value or, when out of retries, nothing.
    std::optional<std::string> get_or_lease(KeyView key,
                                            const LeasePolicy& lease = {},
                                            const GetOptions& options = {});
    /// get_or_lease with the CAS token: a winner (won = true) sets with it.
    CasValue get_or_lease_cas(KeyView key,
                              const LeasePolicy& lease = {},
                              const GetOptions& options = {});
    /// Gives a won lease back (deletes the placeholder if its CAS still matches), for a
    /// winner that failed to compute the value, so the next caller can win at once.
    bool release_lease(KeyView key, std::uint64_t cas_token);

    // ---- counters -----------------------------------------------------------------------

    /// Adds `delta` (negative: subtracts; memcached stops at 0). True when the key existed.
    bool delta(KeyView key, std::int64_t delta, const DeltaOptions& options = {});
    /// Like delta, creating the counter with `initial_value` and `initial_ttl` when
    /// missing (the delta is then not applied, as memcached does).
    bool delta_initialize(KeyView key,
                          std::int64_t delta,
                          std::uint64_t initial_value,
                          std::int64_t initial_ttl,
                          const DeltaOptions& options = {});
    /// delta, returning the new value (nothing when the key does not exist). Counters are
    /// unsigned 64-bit, as memcached's: 0 .. 2^64-1 (an increment wraps at 2^64).
    std::optional<std::uint64_t> delta_and_get(KeyView key,
                                               std::int64_t delta,
                                               const DeltaOptions& options = {});
    /// delta_initialize, returning the new value (unsigned 64-bit, as delta_and_get).
    std::optional<std::uint64_t> delta_initialize_and_get(KeyView key,
                                                          std::int64_t delta,
                                                          std::uint64_t initial_value,
                                                          std::int64_t initial_ttl,
                                                          const DeltaOptions& options = {});

    // ---- events and counters ------------------------------------------------------------

    /// Subscribers get the key of every write that failed on its server.
    WriteFailureEvent& on_write_failure() noexcept;
    /// Pool counters of every server the router holds, and hits/misses per key domain.
    [[nodiscard]] ClientCounters get_counters() const;
    /// The router this client sends through now (see set_router).
    [[nodiscard]] Router& router() noexcept;
    [[nodiscard]] const Router& router() const noexcept;
    /// Sends every call that starts from now on through `router`, while other threads go
    /// on with theirs: each call uses one router from start to end (a call already running
    /// finishes on the router it began with). Switching is for changes of placement, such
    /// as draining a server (docs/routers.md): the hot path only loads a pointer, and the
    /// routers replaced stay alive (with their pools) until the client is destroyed. With
    /// a hot cache, a new empty one goes in front of `router`, its counters from zero.
    /// @throws InvalidInputError for a null router.
    void set_router(std::shared_ptr<Router> router);
    /// The options the client was built with.
    [[nodiscard]] const ClientOptions& options() const noexcept;
    /// The serializer values go through (register zstd dictionaries here).
    [[nodiscard]] Serializer& serializer() const noexcept;

private:
    /// Encodes `value` and compresses it; @throws InvalidInputError when it is over
    /// large_values.max_value_size before compression.
    template <class T>
    [[nodiscard]] EncodedValue encode(KeyView key, const T& value) const {
        static_assert(codec_flag_allowed<codec_type_t<T>>,
                      "ValueCodec<T>::flag uses a bit the library reserves (8 and 32: "
                      "compression, 4096: chunked values)");
        EncodedValue encoded = ValueCodec<codec_type_t<T>>::encode(value);
        compress_checked(key, encoded);
        return encoded;  // (one object: built where the caller's temporary is)
    }
    /// Checks `encoded`'s size and compresses it in place when the serializer would.
    void compress_checked(KeyView key, EncodedValue& encoded) const;

    struct WriteResult {
        bool stored = false;
        std::optional<std::uint64_t> cas_token{};
    };
    WriteResult set_encoded(KeyView key,
                            const EncodedValue& value,
                            std::int64_t ttl,
                            const SetOptions& options,
                            bool want_cas);
    static SetOptions refill_options(bool no_reply) noexcept;
    std::size_t visit_values(std::span<const KeyView> keys,
                             detail::FunctionRef<void(std::size_t, std::string_view)> visit,
                             const GetOptions& options);
    detail::RawRead read_raw(KeyView key, const GetOptions& options);

    template <class T>
    std::optional<T> decode_read(detail::RawRead&& raw, bool error_on_type_mismatch) const {
        if (!raw.data)
            return std::nullopt;
        if constexpr (std::is_same_v<T, std::string>) {
            if ((raw.client_flag & value_flag::compression_mask) == 0 &&
                detail::BytesCodec::readable(raw.client_flag)) {
                return std::move(raw.data);  // nothing to decode: no copy
            }
        }
        DecodeResult<T> r = serializer().template try_decode<T>(*raw.data, raw.client_flag);
        if (r.status == DecodeStatus::type_mismatch && error_on_type_mismatch) {
            static_cast<void>(std::move(r).value_or_throw());
        }
        return std::move(r.value);
    }

    struct State;
    std::unique_ptr<State> s_{};
};

}  // namespace meta_memcache

// The factories (cache_client_from_servers, ...), declared apart from the client and the
// routers they build; included here so that code using them with this header compiles.
#include <meta_memcache/factories.hpp>
