// GutterRouter: requests that failed on the wire sent again to a gutter pool, TTLs capped;
// is_transport_failure tells those failures from server-reported errors.

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/ephemeral_router.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/gutter_router.hpp>

#include <exception>
#include <vector>

namespace meta_memcache {

META_MEMCACHE_DECL bool is_transport_failure(const Response& r) noexcept {
    std::exception_ptr e;
    errc code{};
    if (const auto* m = std::get_if<Miss>(&r)) {
        e = m->error;
        code = m->code;
    }
    if (const auto* n = std::get_if<NotStored>(&r)) {
        e = n->error;
        code = n->code;
    }
    if (!e)
        return false;
    if (code != errc{})  // the library's failures carry their code: no rethrow
        return detail::Failure::is_transport_code(code);
    try {  // a failure a router of the caller's own built without its code
        std::rethrow_exception(e);
    } catch (const TransportError&) {
        return true;
    } catch (...) {
        return false;
    }
}

META_MEMCACHE_DECL GutterRouter::GutterRouter(std::shared_ptr<Router> primary,
                                              std::shared_ptr<Router> gutter,
                                              std::int64_t gutter_ttl)
    : primary_(std::move(primary)), gutter_(std::move(gutter)), gutter_ttl_(gutter_ttl) {
    if (!primary_ || !gutter_)
        throw InvalidInputError("GutterRouter needs two routers");
    if (gutter_ttl_ <= 0)
        throw InvalidInputError("GutterRouter: gutter_ttl must be positive");
}

META_MEMCACHE_DECL void GutterRouter::execute(std::span<const Request> requests,
                                              std::span<Response> responses,
                                              const ExecContext& ctx) {
    primary_->execute(requests, responses, ctx);
    std::vector<std::size_t> failed;
    for (std::size_t i = 0; i < responses.size(); ++i) {
        if (is_transport_failure(responses[i]))
            failed.push_back(i);
    }
    if (failed.empty())
        return;
    std::vector<Request> again;
    again.reserve(failed.size());
    for (std::size_t i : failed) {
        again.push_back(requests[i]);
        cap_ttls(again.back().flags, gutter_ttl_);
    }
    std::vector<Response> out(failed.size());
    ExecContext gctx = ctx;
    gctx.track_write_failures = false;  // the primary's failure was reported already
    gutter_->execute(again, out, gctx);
    for (std::size_t k = 0; k < failed.size(); ++k)
        responses[failed[k]] = std::move(out[k]);
}

META_MEMCACHE_DECL std::vector<ServerCounters> GutterRouter::get_counters() const {
    std::vector<ServerCounters> out = primary_->get_counters();
    append_counters(out, *gutter_, "gutter");
    return out;
}

META_MEMCACHE_DECL bool GutterRouter::default_raise_on_server_error() const {
    return primary_->default_raise_on_server_error();
}

}  // namespace meta_memcache
