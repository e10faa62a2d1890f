#pragma once

// The one-key path's hand-over to the general driver (see one_key.hpp).

#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/impl/io/driver.ipp>
#include <meta_memcache/impl/io/one_key.hpp>

namespace meta_memcache::detail {

META_MEMCACHE_DECL void one_key_impl::take_over(ConnectionPool::Impl& pool,
                                                Lease&& lease,
                                                const AcquireError* err,
                                                const Request& request,
                                                bool encoded,
                                                std::size_t sent,
                                                const IoResult* last,
                                                ResultSink& sink,
                                                const ExecContext& ctx) {
    using namespace driver_impl;
    const std::uint32_t mask = flag_mask(request.flags);
    const bool tracked = ctx.track_write_failures && is_tracked_write(request);
    Batch b;
    b.pool = &pool;
    b.count = 1;
    b.lease = std::move(lease);
    b.sent = sent;
    Call(std::span<const Request>(&request, 1), &mask, nullptr, sink, ctx, tracked)
        .take_over(b, err, encoded, last);
}

}  // namespace meta_memcache::detail
