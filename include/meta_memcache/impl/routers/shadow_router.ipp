// ShadowRouter: a share of the keys (by a hash of the routing key) also sent to a shadow
// fleet by a worker thread, off the caller's path.

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/shadow_router.hpp>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL  // NOLINT(readability-identifier-naming): xxHash's switch
#endif
#include <xxhash.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace meta_memcache {

namespace detail::shadow_router_impl {

/// A request with its own copies of the key and value, for the worker.
struct OwnedRequest {
    MetaCommand command;
    std::string key;
    std::string routing_key;
    std::string domain;
    std::string value;
    RequestFlags flags;
};

}  // namespace detail::shadow_router_impl

struct ShadowRouter::Impl {
    using OwnedRequest = detail::shadow_router_impl::OwnedRequest;

    std::shared_ptr<Router> shadow;
    ShadowOptions options;
    std::uint64_t threshold = 0;  // keys whose hash is below this are shadowed

    mutable std::mutex mu;
    std::condition_variable wake;
    std::condition_variable idle;
    std::deque<OwnedRequest> queue;
    bool busy = false;
    bool stopping = false;
    bool finished = false;  ///< the worker has returned from run()
    ShadowCounters counters;
    std::thread worker;

    void run() {
        std::unique_lock lk(mu);
        for (;;) {
            wake.wait(lk, [&] { return stopping || !queue.empty(); });
            if (stopping) {
                finished = true;
                idle.notify_all();
                return;
            }
            std::vector<OwnedRequest> batch;
            while (!queue.empty() && batch.size() < 256) {
                batch.push_back(std::move(queue.front()));
                queue.pop_front();
            }
            busy = true;
            lk.unlock();
            ShadowCounters seen;
            execute_batch(batch, seen);
            lk.lock();
            busy = false;
            counters.requests += seen.requests;
            counters.hits += seen.hits;
            counters.misses += seen.misses;
            counters.failures += seen.failures;
            counters.total_latency += seen.total_latency;
            if (queue.empty())
                idle.notify_all();
        }
    }

    void execute_batch(const std::vector<OwnedRequest>& batch, ShadowCounters& seen) {
        std::vector<Request> reqs;
        reqs.reserve(batch.size());
        for (const OwnedRequest& o : batch) {
            reqs.push_back(
                Request{o.command, KeyView(o.key, o.routing_key, o.domain), o.value, o.flags});
        }
        std::vector<Response> out(reqs.size());
        ExecContext ctx;
        ctx.track_write_failures = false;
        const auto t0 = std::chrono::steady_clock::now();
        try {
            shadow->execute(reqs, out, ctx);
        } catch (const std::exception&) {
            seen.failures += reqs.size();
            seen.requests += reqs.size();
            return;
        }
        seen.total_latency += std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - t0);
        for (std::size_t i = 0; i < reqs.size(); ++i) {
            ++seen.requests;
            if (is_error_response(out[i])) {
                ++seen.failures;
            } else if (reqs[i].command == MetaCommand::get) {
                const auto* v = std::get_if<Value>(&out[i]);
                const bool placeholder = v != nullptr && v->data.empty() && v->flags.win == false;
                const bool hit =
                    (v != nullptr && !placeholder) || std::holds_alternative<Success>(out[i]);
                (hit ? seen.hits : seen.misses) += 1;
            }
        }
    }
};

META_MEMCACHE_DECL ShadowRouter::ShadowRouter(std::shared_ptr<Router> primary,
                                              std::shared_ptr<Router> shadow,
                                              ShadowOptions options)
    : primary_(std::move(primary)), impl_(std::make_shared<Impl>()) {
    if (!primary_ || !shadow)
        throw InvalidInputError("ShadowRouter needs two routers");
    if (!(options.fraction >= 0.0 && options.fraction <= 1.0)) {
        throw InvalidInputError("ShadowOptions: fraction must be within 0..1");
    }
    impl_->shadow = std::move(shadow);
    impl_->options = options;
    // Compare the hash's top 53 bits with fraction * 2^53 (exact for the double).
    impl_->threshold = static_cast<std::uint64_t>(options.fraction * 9007199254740992.0);
    // The worker keeps the Impl (and the shadow router) alive for as long as it runs.
    impl_->worker = std::thread([impl = impl_] { impl->run(); });
}

META_MEMCACHE_DECL ShadowRouter::~ShadowRouter() {
    bool finished = false;
    {
        std::unique_lock lk(impl_->mu);
        impl_->stopping = true;
        impl_->counters.dropped += impl_->queue.size();
        impl_->queue.clear();
        impl_->wake.notify_all();
        finished = impl_->idle.wait_for(lk, impl_->options.shutdown_timeout,
                                        [&] { return impl_->finished; });
    }
    if (finished) {
        impl_->worker.join();
    } else {
        impl_->worker.detach();  // still in a shadow batch; it exits when that returns
    }
}

META_MEMCACHE_DECL bool ShadowRouter::is_shadowed(KeyView key) const noexcept {
    const std::string_view route = key.route();
    return (XXH3_64bits(route.data(), route.size()) >> 11) < impl_->threshold;
}

META_MEMCACHE_DECL void ShadowRouter::execute(std::span<const Request> requests,
                                              std::span<Response> responses,
                                              const ExecContext& ctx) {
    using namespace detail::shadow_router_impl;
    primary_->execute(requests, responses, ctx);
    if (impl_->threshold == 0)
        return;
    std::vector<OwnedRequest> copies;
    for (const Request& r : requests) {
        if (r.command == MetaCommand::arithmetic)
            continue;
        if (r.command != MetaCommand::get && !impl_->options.shadow_writes)
            continue;
        if (!is_shadowed(r.key))
            continue;
        OwnedRequest o{r.command,
                       std::string(r.key.key),
                       std::string(r.key.routing_key),
                       std::string(r.key.domain),
                       std::string(r.value),
                       r.flags};
        o.flags.cas_token.reset();  // the primary's token means nothing to the shadow
        o.flags.vivify_on_miss_ttl.reset();
        o.flags.recache_ttl.reset();
        o.flags.mark_stale = o.flags.mark_stale && r.command == MetaCommand::del;
        o.flags.no_reply = false;
        copies.push_back(std::move(o));
    }
    if (copies.empty())
        return;
    {
        std::lock_guard lk(impl_->mu);
        for (auto& c : copies) {
            if (impl_->queue.size() >= impl_->options.queue_limit) {
                ++impl_->counters.dropped;
                continue;
            }
            impl_->queue.push_back(std::move(c));
        }
    }
    impl_->wake.notify_one();
}

META_MEMCACHE_DECL ShadowCounters ShadowRouter::shadow_counters() const {
    std::lock_guard lk(impl_->mu);
    return impl_->counters;
}

META_MEMCACHE_DECL void ShadowRouter::flush() {
    std::unique_lock lk(impl_->mu);
    impl_->idle.wait(lk, [&] { return impl_->queue.empty() && !impl_->busy; });
}

META_MEMCACHE_DECL std::vector<ServerCounters> ShadowRouter::get_counters() const {
    std::vector<ServerCounters> out = primary_->get_counters();
    append_counters(out, *impl_->shadow, "shadow");
    return out;
}

META_MEMCACHE_DECL bool ShadowRouter::default_raise_on_server_error() const {
    return primary_->default_raise_on_server_error();
}

}  // namespace meta_memcache
