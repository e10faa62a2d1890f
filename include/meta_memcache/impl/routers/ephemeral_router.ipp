// EphemeralRouter: every request through another router with its TTLs capped (cap_ttls).

#include <meta_memcache/config.hpp>
#include <meta_memcache/ephemeral_router.hpp>
#include <meta_memcache/error.hpp>

#include <vector>

namespace meta_memcache {

META_MEMCACHE_DECL void cap_ttls(RequestFlags& flags, std::int64_t max_ttl) noexcept {
    for (auto* ttl : {&flags.cache_ttl, &flags.recache_ttl, &flags.vivify_on_miss_ttl}) {
        if (*ttl && (**ttl == 0 || **ttl > max_ttl))
            *ttl = max_ttl;
    }
}

META_MEMCACHE_DECL EphemeralRouter::EphemeralRouter(std::shared_ptr<Router> inner,
                                                    std::int64_t max_ttl)
    : inner_(std::move(inner)), max_ttl_(max_ttl) {
    if (!inner_)
        throw InvalidInputError("EphemeralRouter needs a router");
    if (max_ttl_ <= 0)
        throw InvalidInputError("EphemeralRouter: max_ttl must be positive");
}

META_MEMCACHE_DECL void EphemeralRouter::execute(std::span<const Request> requests,
                                                 std::span<Response> responses,
                                                 const ExecContext& ctx) {
    if (requests.size() == 1) {
        Request r = requests[0];
        cap_ttls(r.flags, max_ttl_);
        inner_->execute(std::span<const Request>(&r, 1), responses, ctx);
        return;
    }
    std::vector<Request> capped(requests.begin(), requests.end());
    for (Request& r : capped)
        cap_ttls(r.flags, max_ttl_);
    inner_->execute(capped, responses, ctx);
}

META_MEMCACHE_DECL std::vector<ServerCounters> EphemeralRouter::get_counters() const {
    return inner_->get_counters();
}

META_MEMCACHE_DECL bool EphemeralRouter::default_raise_on_server_error() const {
    return inner_->default_raise_on_server_error();
}

}  // namespace meta_memcache
