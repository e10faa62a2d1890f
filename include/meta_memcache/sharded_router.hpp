#pragma once

#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/per_thread.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/server_address.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

namespace meta_memcache {

/// Shards keys over servers with a HashRing, by each key's routing key when set, else the
/// key. One ConnectionPool per server.
///
/// Thread-safe, including the server-list changes (add_server, remove_server,
/// set_servers), which may run while other threads send requests: each request routes on
/// one snapshot of the servers and keeps the pool it picked (alive) until it is done.
/// Servers that stay keep their pool, connections and counters; keys of servers that stay
/// keep their placement, except for the share a new server takes. See docs/routers.md.
class ShardedRouter final : public Router {
public:
    /// @param mode how keys are placed (docs/routers.md); uhashring places them as
    ///        meta-memcache-py does. It stays fixed for the router's life.
    /// @throws InvalidInputError for no servers, duplicate names, bad weights or options.
    ShardedRouter(const std::vector<ServerAddress>& servers,
                  PoolOptions options = {},
                  HashMode mode = HashMode::uhashring);
    ~ShardedRouter() override;
    ShardedRouter(const ShardedRouter&) = delete;
    ShardedRouter& operator=(const ShardedRouter&) = delete;
    ShardedRouter(ShardedRouter&&) = delete;
    ShardedRouter& operator=(ShardedRouter&&) = delete;

    using Router::execute;
    void execute(std::span<const Request> requests,
                 detail::ResultSink& sink,
                 const ExecContext& ctx) override;
    void execute_keys(const Request& shape,
                      std::span<const KeyView> keys,
                      detail::ResultSink& sink,
                      const ExecContext& ctx) override;
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;

    /// The pool that owns `key` (its routing key when set, else the key). The pointer
    /// keeps the pool alive even if its server is removed meanwhile.
    [[nodiscard]] std::shared_ptr<ConnectionPool> pool_for(KeyView key) const;
    [[nodiscard]] std::shared_ptr<ConnectionPool> pool_for_key(KeyView key) const override {
        return pool_for(key);
    }
    [[nodiscard]] ConnectionPool* direct_pool(const KeyView& key, bool plain_read) const override;
    /// The pool of the server whose name() is `name`, or null.
    [[nodiscard]] std::shared_ptr<ConnectionPool> pool_named(std::string_view name) const;
    /// The servers, in ring order (the order given, additions at the end).
    [[nodiscard]] std::vector<ServerAddress> servers() const;
    /// The ring now in use (a snapshot: later changes build a new ring).
    [[nodiscard]] std::shared_ptr<const HashRing> ring() const;
    /// The placement mode, fixed at construction.
    [[nodiscard]] HashMode mode() const noexcept { return mode_; }

    /// One immutable view of the servers: a request routes on one and holds it until done,
    /// so the pools it may use outlive any server-list change made meanwhile.
    struct Topology {
        std::vector<ServerAddress> servers;
        std::vector<std::shared_ptr<ConnectionPool>> pools;  ///< pools[i] serves servers[i]
        HashRing ring;                                       ///< node i is servers[i]
    };
    /// The view now in use, for routers that build on this one. Later changes install a
    /// new view; this one stays valid while held.
    [[nodiscard]] std::shared_ptr<const Topology> topology() const;

    /// The topology one call routes on, held for the call without a lock or a reference
    /// count change: each thread keeps its own copy of the current topology and checks it
    /// against a version number. Valid until the View is destroyed; not to be kept past
    /// the call or passed to another thread.
    class View {
    public:
        View(const View&) = delete;
        View& operator=(const View&) = delete;
        View(View&&) = delete;
        View& operator=(View&&) = delete;
        ~View();
        const Topology& operator*() const noexcept { return *topology_; }
        const Topology* operator->() const noexcept { return topology_; }

    private:
        friend class ShardedRouter;
        /// A thread's copy of the topology.
        struct Slot {
            std::uint64_t version = 0;
            std::shared_ptr<const Topology> topology{};
            unsigned depth = 0;  ///< Views of this thread alive (it refreshes only when none is)
        };
        View(const Topology* t, Slot* slot, std::shared_ptr<const Topology> held) noexcept
            : topology_(t), slot_(slot), held_(std::move(held)) {}
        const Topology* topology_;
        Slot* slot_;
        std::shared_ptr<const Topology> held_;  ///< for a thread without a slot
    };
    /// The topology for this call (see View).
    [[nodiscard]] View view() const;

    /// Adds `server` with a new pool. Keys move only onto the new server.
    /// @throws InvalidInputError when a server of the same name() is there already, or its
    /// weight does not suit the mode; the router is then unchanged.
    void add_server(ServerAddress server);
    /// Removes the server whose name() (alias, else endpoint) is `name`. Its keys spread
    /// over the others; requests already on its pool finish there.
    /// @return false when no server has that name.
    /// @throws InvalidInputError when it is the last server.
    bool remove_server(std::string_view name);
    /// Replaces the whole list. A server whose address (host, port, unix path and alias)
    /// was already there keeps its pool, connections and counters, even if its weight
    /// changed; the others get new pools; pools of servers not listed are dropped once
    /// the requests using them finish.
    /// @throws InvalidInputError as the constructor does; the router is then unchanged.
    void set_servers(std::vector<ServerAddress> servers);
    /// A new router over this one's servers but the one whose name() is `name`, sharing
    /// their pools (connections and counters), with the same options and mode. This
    /// router is not changed: its users keep their placement.
    /// @throws InvalidInputError when no server has that name, or it is the only one.
    [[nodiscard]] std::shared_ptr<ShardedRouter> without_server(std::string_view name) const;

private:
    /// Lets without_server() build a router around an existing topology (and make_shared
    /// reach the constructor below, which nothing else can call).
    struct ShareTopology {};

public:
    /// Used by without_server() only (ShareTopology is private).
    ShardedRouter(ShareTopology /*tag*/,
                  std::shared_ptr<const Topology> topology,
                  PoolOptions options,
                  HashMode mode);

private:
    void install(std::vector<ServerAddress> servers);

    PoolOptions options_;
    HashMode mode_;
    std::mutex update_mutex_;            ///< serialises server-list changes
    mutable std::mutex snapshot_mutex_;  ///< guards topology_ (held only to copy or swap it)
    std::shared_ptr<const Topology> topology_;
    std::atomic<std::uint64_t> version_{0};  ///< topology_'s, bumped by every change
    /// Each thread's copy of the topology (View::Slot).
    mutable detail::PerThread<View::Slot> slots_;
    /// Brings a slot up to the current topology (only with none of its Views alive): one
    /// atomic load when it is current.
    void refresh(View::Slot& slot) const {
        if (slot.version != version_.load(std::memory_order_acquire))
            reload(slot);
    }
    /// refresh() of a slot behind the current version: copies the topology under the lock.
    void reload(View::Slot& slot) const;
};

}  // namespace meta_memcache
