// FallbackRouter: reads that miss on the new cluster answered from the old one (and copied
// over); writes to the new one.

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/fallback_router.hpp>

#include <vector>

namespace meta_memcache {

namespace detail::fallback_router_impl {

/// A value worth copying: real data, not a lease placeholder, not stale, not a win.
inline bool copyable(const Value& v) noexcept {
    if (v.flags.stale || v.flags.win.has_value())
        return false;
    return true;
}

inline bool is_miss(const Response& r) noexcept {
    return std::holds_alternative<Miss>(r);
}

}  // namespace detail::fallback_router_impl

META_MEMCACHE_DECL FallbackRouter::FallbackRouter(std::shared_ptr<Router> new_cluster,
                                                  std::shared_ptr<Router> old_cluster,
                                                  FallbackOptions options)
    : new_(std::move(new_cluster)), old_(std::move(old_cluster)), options_(options) {
    if (!new_ || !old_)
        throw InvalidInputError("FallbackRouter needs two routers");
}

META_MEMCACHE_DECL void FallbackRouter::execute(std::span<const Request> requests,
                                                std::span<Response> responses,
                                                const ExecContext& ctx) {
    using namespace detail::fallback_router_impl;
    // 1. Everything goes to the new cluster; reads without their lease flag (N), so a miss
    //    there is a miss we can look up in the old cluster first.
    std::vector<Request> first(requests.begin(), requests.end());
    std::vector<bool> wants_lease(requests.size(), false);
    for (std::size_t i = 0; i < first.size(); ++i) {
        if (first[i].command == MetaCommand::get && first[i].flags.vivify_on_miss_ttl) {
            wants_lease[i] = true;
            first[i].flags.vivify_on_miss_ttl.reset();
        }
    }
    new_->execute(first, responses, ctx);

    // 2. The old cluster: reads that missed (with v), and every delete / invalidation;
    //    with invalidate_old_on_write, a delete for every write too.
    std::vector<Request> old_reqs;
    std::vector<std::size_t> old_for;  // index into requests
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const Request& r = requests[i];
        if (r.command == MetaCommand::get && r.flags.return_value && is_miss(responses[i])) {
            Request q{MetaCommand::get, r.key, {}, {}};
            q.flags.return_value = true;
            q.flags.return_ttl = true;
            q.flags.return_client_flag = true;
            q.flags.return_size = r.flags.return_size;
            q.flags.return_last_access = r.flags.return_last_access;
            q.flags.return_fetched = r.flags.return_fetched;
            q.flags.return_key = r.flags.return_key;
            q.flags.opaque = r.flags.opaque;
            old_reqs.push_back(q);
            old_for.push_back(i);
        } else if (r.command == MetaCommand::del ||
                   (r.command == MetaCommand::set && options_.invalidate_old_on_write)) {
            // No CAS crosses clusters; a mark-stale delete stays one (with its TTL).
            Request d{MetaCommand::del, r.key, {}, {}};
            if (r.command == MetaCommand::del) {
                d.flags.mark_stale = r.flags.mark_stale;
                d.flags.cache_ttl = r.flags.cache_ttl;
            }
            old_reqs.push_back(d);
            old_for.push_back(i);
        }
    }
    if (old_reqs.empty())
        return;
    std::vector<Response> old_out(old_reqs.size());
    old_->execute(old_reqs, old_out, ctx);

    // 3. Hits in the old cluster answer the read and are copied into the new one.
    std::vector<Request> copies;
    std::vector<std::size_t> lease_again;
    for (std::size_t k = 0; k < old_reqs.size(); ++k) {
        const std::size_t i = old_for[k];
        if (old_reqs[k].command != MetaCommand::get) {
            // A delete of a key only the old cluster had: it was there, and is gone now.
            if (requests[i].command == MetaCommand::del &&
                std::holds_alternative<Miss>(responses[i]) && !is_error_response(responses[i]) &&
                std::holds_alternative<Success>(old_out[k])) {
                responses[i] = Success{};
            }
            continue;
        }
        auto* v = std::get_if<Value>(&old_out[k]);
        if (v == nullptr || !copyable(*v)) {
            if (wants_lease[i])
                lease_again.push_back(i);
            continue;
        }
        Value answer = std::move(*v);
        answer.flags.cas_token.reset();  // a CAS of the old cluster means nothing in the new
        const std::int64_t ttl = answer.flags.ttl.value_or(0);
        const std::uint32_t client_flag = answer.flags.client_flag.value_or(0);
        responses[i] = std::move(answer);
        if (options_.copy_on_hit) {
            // The bytes stay in responses[i] (a span that does not move) until sent.
            Request c{MetaCommand::set, requests[i].key, std::get<Value>(responses[i]).data, {}};
            c.flags.mode = Mode::add;
            c.flags.no_reply = true;
            c.flags.client_flag = client_flag;
            c.flags.cache_ttl = detail::ttl_to_store(ttl);  // (-1: never expires)
            copies.push_back(c);
        }
    }
    if (!copies.empty()) {
        std::vector<Response> ignored(copies.size());
        ExecContext copy_ctx = ctx;
        copy_ctx.track_write_failures = false;  // a failed warm-up copy needs no invalidation
        new_->execute(copies, ignored, copy_ctx);
    }
    // 4. Reads that wanted a lease and found nothing anywhere take it in the new cluster.
    if (!lease_again.empty()) {
        std::vector<Request> leases;
        leases.reserve(lease_again.size());
        for (std::size_t i : lease_again)
            leases.push_back(requests[i]);
        std::vector<Response> out(leases.size());
        new_->execute(leases, out, ctx);
        for (std::size_t k = 0; k < lease_again.size(); ++k) {
            responses[lease_again[k]] = std::move(out[k]);
        }
    }
}

META_MEMCACHE_DECL std::vector<ServerCounters> FallbackRouter::get_counters() const {
    std::vector<ServerCounters> out;
    append_counters(out, *new_, "new");
    append_counters(out, *old_, "old");
    return out;
}

META_MEMCACHE_DECL bool FallbackRouter::default_raise_on_server_error() const {
    return new_->default_raise_on_server_error();
}

}  // namespace meta_memcache
