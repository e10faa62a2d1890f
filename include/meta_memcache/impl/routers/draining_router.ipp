// DrainingRouter: a server leaves the ring at once; a read that misses at a key's new server
// reads the drained server (for keys it owned) and copies the value over.

#include <meta_memcache/config.hpp>
#include <meta_memcache/draining_router.hpp>
#include <meta_memcache/error.hpp>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <vector>

namespace meta_memcache {

/// The drained server as a router: it answers only for keys it owned in the old ring, and
/// says "not here" for every other key without any I/O.
struct DrainingRouter::Source final : Router {
    std::shared_ptr<const HashRing> old_ring;
    std::size_t node = 0;
    mutable std::mutex mu;
    std::shared_ptr<ConnectionPool> pool;  // null once finished
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> pulled{0};
    std::atomic<std::uint64_t> misses{0};
    std::atomic<std::uint64_t> deletes{0};

    [[nodiscard]] std::shared_ptr<ConnectionPool> current() const {
        std::lock_guard lk(mu);
        return pool;
    }

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override {
        const std::shared_ptr<ConnectionPool> p = current();
        std::vector<Request> mine;
        std::vector<std::size_t> at;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (p && old_ring->node_for(requests[i].key.route()) == node) {
                mine.push_back(requests[i]);
                at.push_back(i);
            } else {
                responses[i] = Miss{};  // never lived there: nothing to pull or delete
            }
        }
        if (mine.empty())
            return;
        std::vector<Response> out(mine.size());
        execute_on_pool(*p, mine, out, ctx);
        for (std::size_t k = 0; k < mine.size(); ++k) {
            if (mine[k].command == MetaCommand::get) {
                reads.fetch_add(1, std::memory_order_relaxed);
                const auto* v = std::get_if<Value>(&out[k]);
                (v != nullptr && !v->flags.win && !v->flags.stale ? pulled : misses)
                    .fetch_add(1, std::memory_order_relaxed);
            } else if (mine[k].command == MetaCommand::del) {
                deletes.fetch_add(1, std::memory_order_relaxed);
            }
            responses[at[k]] = std::move(out[k]);
        }
    }

    [[nodiscard]] std::vector<ServerCounters> get_counters() const override {
        const auto p = current();
        if (!p)
            return {};
        return {ServerCounters{p->name(), "draining", p->counters()}};
    }
};

META_MEMCACHE_DECL DrainingRouter::DrainingRouter(const std::shared_ptr<ShardedRouter>& ring,
                                                  std::string_view server_name,
                                                  FallbackOptions options)
    : source_(std::make_shared<Source>()) {
    if (!ring)
        throw InvalidInputError("DrainingRouter needs a ring");
    // The given ring is left as it is (other clients of it keep their placement): the
    // drain routes on a ring of its own over the same pools, without the drained server,
    // built from the same snapshot as the old placement (tried again if the given ring's
    // servers changed in between).
    for (;;) {
        const auto topo = ring->topology();
        source_->old_ring = std::shared_ptr<const HashRing>(topo, &topo->ring);
        source_->pool = nullptr;
        for (std::size_t i = 0; i < topo->servers.size(); ++i) {
            if (topo->servers[i].name() == server_name) {
                source_->node = i;
                source_->pool = topo->pools[i];
            }
        }
        if (!source_->pool) {
            throw InvalidInputError("DrainingRouter: no server named \"" +
                                    std::string(server_name) + "\" in the ring");
        }
        if (topo->servers.size() == 1) {
            throw InvalidInputError("DrainingRouter: \"" + std::string(server_name) +
                                    "\" is the ring's only server");
        }
        ring_ = ring->without_server(server_name);
        std::vector<std::shared_ptr<ConnectionPool>> expected = topo->pools;
        expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(source_->node));
        if (ring_->topology()->pools == expected)
            break;
    }
    fallback_ = std::make_shared<FallbackRouter>(ring_, source_, options);
}

META_MEMCACHE_DECL DrainingRouter::~DrainingRouter() = default;

META_MEMCACHE_DECL void DrainingRouter::execute(std::span<const Request> requests,
                                                std::span<Response> responses,
                                                const ExecContext& ctx) {
    if (finished()) {
        ring_->execute(requests, responses, ctx);
        return;
    }
    fallback_->execute(requests, responses, ctx);
}

META_MEMCACHE_DECL std::vector<ServerCounters> DrainingRouter::get_counters() const {
    std::vector<ServerCounters> out = ring_->get_counters();
    for (ServerCounters& c : source_->get_counters())
        out.push_back(std::move(c));
    return out;
}

META_MEMCACHE_DECL bool DrainingRouter::default_raise_on_server_error() const {
    return ring_->default_raise_on_server_error();
}

META_MEMCACHE_DECL DrainCounters DrainingRouter::counters() const {
    return DrainCounters{source_->reads.load(), source_->pulled.load(), source_->misses.load(),
                         source_->deletes.load()};
}

META_MEMCACHE_DECL void DrainingRouter::finish() {
    std::shared_ptr<ConnectionPool> last;
    std::lock_guard lk(source_->mu);
    last = std::move(source_->pool);  // closed when the last request using it is done
}

META_MEMCACHE_DECL bool DrainingRouter::finished() const noexcept {
    return source_->current() == nullptr;
}

META_MEMCACHE_DECL std::shared_ptr<ConnectionPool> DrainingRouter::drained_pool() const {
    return source_->current();
}

META_MEMCACHE_DECL std::shared_ptr<const HashRing> DrainingRouter::old_ring() const noexcept {
    return source_->old_ring;
}

META_MEMCACHE_DECL std::size_t DrainingRouter::drained_node() const noexcept {
    return source_->node;
}

}  // namespace meta_memcache
