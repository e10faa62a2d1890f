// MirrorRouter: writes to every replica in one fan-out; reads from the replicas in order,
// repairing the ones that missed.

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/fallback_router.hpp>
#include <meta_memcache/mirror_router.hpp>

#include <algorithm>

namespace meta_memcache {

namespace detail::mirror_router_impl {

inline bool conditional(const Request& r) noexcept {
    return r.command == MetaCommand::set && (r.flags.cas_token || r.flags.mark_stale ||
                                             (r.flags.mode && *r.flags.mode != Mode::set));
}

/// An answer that reached its server and was understood (not a failure marker).
inline bool answered(const Response& r) noexcept {
    return !is_error_response(r);
}

}  // namespace detail::mirror_router_impl

META_MEMCACHE_DECL MirrorRouter::MirrorRouter(std::vector<std::shared_ptr<Router>> replicas,
                                              MirrorOptions options)
    : replicas_(std::move(replicas)), options_(options) {
    if (replicas_.size() < 2)
        throw InvalidInputError("MirrorRouter needs at least two replicas");
    for (const auto& r : replicas_) {
        if (!r)
            throw InvalidInputError("MirrorRouter: a replica is null");
    }
    // Reads: replica 0, then 1, ... (the fallback router's read path, without its write
    // routing: writes never reach it).
    FallbackOptions fo;
    fo.copy_on_hit = options_.repair_on_read;
    fo.invalidate_old_on_write = false;
    std::shared_ptr<Router> chain = replicas_.back();
    for (std::size_t i = replicas_.size() - 1; i-- > 0;) {
        chain = std::make_shared<FallbackRouter>(replicas_[i], chain, fo);
    }
    reads_ = std::move(chain);
}

META_MEMCACHE_DECL void MirrorRouter::execute(std::span<const Request> requests,
                                              std::span<Response> responses,
                                              const ExecContext& ctx) {
    std::vector<Request> reads;
    std::vector<std::size_t> read_at;
    std::vector<std::size_t> writes;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        if (requests[i].command == MetaCommand::get && requests[i].flags.return_value) {
            reads.push_back(requests[i]);
            read_at.push_back(i);
        } else {
            writes.push_back(i);  // ms, md, ma, and mg touches: every replica
        }
    }
    if (!reads.empty()) {
        std::vector<Response> out(reads.size());
        reads_->execute(reads, out, ctx);
        for (std::size_t k = 0; k < reads.size(); ++k)
            responses[read_at[k]] = std::move(out[k]);
    }
    if (!writes.empty())
        write(requests, writes, responses, ctx);
}

META_MEMCACHE_DECL void MirrorRouter::write(std::span<const Request> requests,
                                            std::span<const std::size_t> which,
                                            std::span<Response> responses,
                                            const ExecContext& ctx) {
    using namespace detail::mirror_router_impl;
    const std::size_t n = replicas_.size();
    // Conditional writes decide on replica 0 first.
    std::vector<Request> first_reqs;
    std::vector<std::size_t> first_at;
    for (std::size_t i : which) {
        if (conditional(requests[i])) {
            first_reqs.push_back(requests[i]);
            first_at.push_back(i);
        }
    }
    std::vector<Response> first_out(first_reqs.size());
    if (!first_reqs.empty())
        replicas_[0]->execute(first_reqs, first_out, ctx);

    // Everything else, as (request, replica) pairs, in one go.
    std::vector<Request> fan;
    std::vector<std::size_t> fan_req;      // index into requests
    std::vector<std::size_t> fan_replica;  // which replica
    std::size_t c = 0;
    for (std::size_t i : which) {
        const Request& r = requests[i];
        if (c < first_at.size() && first_at[c] == i) {
            const Response& decided = first_out[c++];
            if (!std::holds_alternative<Success>(decided))
                continue;  // nothing changed
            Request follow = r;
            follow.flags.cas_token.reset();
            follow.flags.mark_stale = false;
            if (r.flags.mode && (*r.flags.mode == Mode::append || *r.flags.mode == Mode::prepend)) {
                follow = Request{MetaCommand::del, r.key, {}, {}};  // cannot replay safely
            } else {
                follow.flags.mode.reset();
            }
            for (std::size_t rep = 1; rep < n; ++rep) {
                fan.push_back(follow);
                fan_req.push_back(i);
                fan_replica.push_back(rep);
            }
            continue;
        }
        for (std::size_t rep = 0; rep < n; ++rep) {
            fan.push_back(r);
            fan_req.push_back(i);
            fan_replica.push_back(rep);
        }
    }
    std::vector<Response> fan_out(fan.size());
    if (!fan.empty()) {
        std::vector<ConnectionPool*> pools(fan.size());
        std::vector<std::shared_ptr<ConnectionPool>> keep(fan.size());
        bool flat = true;
        for (std::size_t k = 0; k < fan.size() && flat; ++k) {
            keep[k] = replicas_[fan_replica[k]]->pool_for_key(fan[k].key);
            pools[k] = keep[k].get();
            flat = pools[k] != nullptr;
        }
        if (flat) {
            execute_on_pools(fan, pools, fan_out, ctx);
        } else {
            for (std::size_t rep = 0; rep < n; ++rep) {
                std::vector<Request> mine;
                std::vector<std::size_t> at;
                for (std::size_t k = 0; k < fan.size(); ++k) {
                    if (fan_replica[k] == rep) {
                        mine.push_back(fan[k]);
                        at.push_back(k);
                    }
                }
                if (mine.empty())
                    continue;
                std::vector<Response> out(mine.size());
                replicas_[rep]->execute(mine, out, ctx);
                for (std::size_t m = 0; m < at.size(); ++m)
                    fan_out[at[m]] = std::move(out[m]);
            }
        }
    }

    // One answer per request, per the policy.
    c = 0;
    for (std::size_t i : which) {
        std::vector<const Response*> got(n, nullptr);
        if (c < first_at.size() && first_at[c] == i)
            got[0] = &first_out[c++];
        for (std::size_t k = 0; k < fan.size(); ++k) {
            if (fan_req[k] == i && got[fan_replica[k]] == nullptr)
                got[fan_replica[k]] = &fan_out[k];
        }
        std::size_t ok = 0;
        const Response* first_ok = nullptr;
        const Response* first_failed = nullptr;
        for (std::size_t rep = 0; rep < n; ++rep) {
            if (got[rep] == nullptr)
                continue;  // a conditional write that changed nothing
            if (answered(*got[rep])) {
                ++ok;
                if (first_ok == nullptr)
                    first_ok = got[rep];
            } else if (first_failed == nullptr) {
                first_failed = got[rep];
            }
        }
        const Response& lead = *got[0];
        if (std::find(got.begin() + 1, got.end(), nullptr) != got.end()) {
            responses[i] = lead;  // a conditional write replica 0 refused: nothing replicated
            continue;
        }
        switch (options_.write_policy) {
            case MirrorPolicy::all:
                responses[i] = first_failed != nullptr ? *first_failed : lead;
                break;
            case MirrorPolicy::majority:
                if (ok * 2 > n) {
                    responses[i] = answered(lead) ? lead : *first_ok;
                } else {
                    responses[i] = first_failed != nullptr ? *first_failed : lead;
                }
                break;
            case MirrorPolicy::first:
                responses[i] = first_ok != nullptr ? *first_ok : lead;
                break;
        }
    }
}

META_MEMCACHE_DECL std::vector<ServerCounters> MirrorRouter::get_counters() const {
    std::vector<ServerCounters> out;
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
        append_counters(out, *replicas_[i], "replica-" + std::to_string(i));
    }
    return out;
}

META_MEMCACHE_DECL bool MirrorRouter::default_raise_on_server_error() const {
    return replicas_.front()->default_raise_on_server_error();
}

}  // namespace meta_memcache
