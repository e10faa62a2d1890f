#include <meta_memcache/error.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <algorithm>

namespace meta_memcache {

// ---- WriteFailureEvent ---------------------------------------------------------------

WriteFailureEvent::Subscription WriteFailureEvent::subscribe(Handler handler) {
    std::lock_guard lk(mutex_);
    const Subscription id = next_++;
    handlers_.emplace_back(id, std::make_shared<const Handler>(std::move(handler)));
    return id;
}

bool WriteFailureEvent::unsubscribe(Subscription id) {
    std::lock_guard lk(mutex_);
    const auto it = std::find_if(handlers_.begin(), handlers_.end(),
                                 [id](const auto& h) { return h.first == id; });
    if (it == handlers_.end())
        return false;
    handlers_.erase(it);
    return true;
}

std::size_t WriteFailureEvent::size() const {
    std::lock_guard lk(mutex_);
    return handlers_.size();
}

bool WriteFailureEvent::empty() const noexcept {
    std::lock_guard lk(mutex_);
    return handlers_.empty();
}

void WriteFailureEvent::notify(const Key& key) const noexcept {
    std::vector<std::shared_ptr<const Handler>> copy;
    try {
        std::lock_guard lk(mutex_);
        copy.reserve(handlers_.size());
        for (const auto& h : handlers_)
            copy.push_back(h.second);
    } catch (...) {
        return;
    }
    for (const auto& h : copy) {
        try {
            (*h)(key);
        } catch (...) {
            // A subscriber's failure must not break the failure path.
        }
    }
}

// ---- SingleServerRouter ----------------------------------------------------------------

SingleServerRouter::SingleServerRouter(ServerAddress server, PoolOptions options)
    : pool_(std::move(server), std::move(options)) {}

void SingleServerRouter::execute(std::span<const Request> requests,
                                 std::span<Response> responses,
                                 const ExecContext& ctx) {
    execute_on_pool(pool_, requests, responses, ctx);
}

std::vector<ServerCounters> SingleServerRouter::get_counters() const {
    return {ServerCounters{pool_.name(), "primary", pool_.counters()}};
}

// ---- ShardedRouter ---------------------------------------------------------------------

namespace {

std::vector<std::string> names_of(const std::vector<ServerAddress>& servers) {
    std::vector<std::string> names;
    names.reserve(servers.size());
    for (const auto& s : servers)
        names.push_back(s.name());
    return names;
}

}  // namespace

ShardedRouter::ShardedRouter(const std::vector<ServerAddress>& servers,
                             PoolOptions options,
                             HashMode mode)
    : ring_(names_of(servers), mode) {
    pools_.reserve(servers.size());
    for (const auto& s : servers)
        pools_.push_back(std::make_unique<ConnectionPool>(s, options));
}

ConnectionPool& ShardedRouter::pool_for(std::string_view routing_key) const noexcept {
    return *pools_[ring_.node_for(routing_key)];
}

void ShardedRouter::execute(std::span<const Request> requests,
                            std::span<Response> responses,
                            const ExecContext& ctx) {
    if (requests.size() == 1) {
        execute_on_pool(pool_for(requests[0].key.route()), requests, responses, ctx);
        return;
    }
    std::vector<ConnectionPool*> pools(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        pools[i] = &pool_for(requests[i].key.route());
    }
    execute_on_pools(requests, pools, responses, ctx);
}

std::vector<ServerCounters> ShardedRouter::get_counters() const {
    std::vector<ServerCounters> out;
    out.reserve(pools_.size());
    for (const auto& p : pools_)
        out.push_back({p->name(), "primary", p->counters()});
    return out;
}

}  // namespace meta_memcache
