// MigrationRouter: an origin and a destination fleet, each call routed by the mode its
// MigrationSchedule says is in force.

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/migrating_cache_client.hpp>

#include <random>

namespace meta_memcache {

namespace detail::migration_router_impl {

inline bool is_touch(const Request& r) noexcept {
    return r.command == MetaCommand::get && !r.flags.return_value && r.flags.cache_ttl;
}

inline bool is_write(const Request& r) noexcept {
    return r.command == MetaCommand::set || r.command == MetaCommand::del || is_touch(r);
}

/// A write whose effect depends on the state of the fleet it runs on.
inline bool conditional(const Request& r) noexcept {
    return r.flags.cas_token || r.flags.mark_stale || (r.flags.mode && *r.flags.mode != Mode::set);
}

inline double uniform() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace detail::migration_router_impl

META_MEMCACHE_DECL MigrationMode
MigrationSchedule::mode_at(std::chrono::system_clock::time_point now) const noexcept {
    MigrationMode mode = MigrationMode::only_origin;
    auto best = std::chrono::system_clock::time_point::min();
    bool found = false;
    for (const auto& [m, start] : steps) {
        if (start <= now && (!found || start >= best)) {
            mode = m;
            best = start;
            found = true;
        }
    }
    return mode;
}

META_MEMCACHE_DECL MigrationRouter::MigrationRouter(std::shared_ptr<Router> origin,
                                                    std::shared_ptr<Router> destination,
                                                    MigrationSchedule schedule,
                                                    MigrationOptions options)
    : origin_(std::move(origin)),
      destination_(std::move(destination)),
      schedule_(std::move(schedule)),
      options_(std::move(options)) {
    if (!origin_ || !destination_)
        throw InvalidInputError("MigrationRouter needs two routers");
    if (options_.default_read_backfill_ttl < 0) {
        throw InvalidInputError("MigrationOptions: default_read_backfill_ttl cannot be negative");
    }
}

META_MEMCACHE_DECL MigrationMode MigrationRouter::current_mode() const {
    return schedule_.mode_at(options_.clock ? options_.clock() : std::chrono::system_clock::now());
}

META_MEMCACHE_DECL void MigrationRouter::execute(std::span<const Request> requests,
                                                 std::span<Response> responses,
                                                 const ExecContext& ctx) {
    using namespace detail::migration_router_impl;
    const MigrationMode mode = current_mode();
    const bool dual = mode != MigrationMode::only_origin && mode != MigrationMode::only_destination;
    const bool dest_primary = mode >= MigrationMode::use_destination_update_origin;
    Router& primary = dest_primary ? *destination_ : *origin_;
    Router& secondary = dest_primary ? *origin_ : *destination_;

    // Modes 3 and 4: a sample of read calls copies its hits over, which needs each value's
    // remaining TTL and client flag: ask for them (t f) on those calls only.
    const double pct = mode == MigrationMode::populate_writes_and_reads_1pct    ? 0.01
                       : mode == MigrationMode::populate_writes_and_reads_10pct ? 0.10
                                                                                : 0.0;
    const bool sampled = pct > 0 && (options_.random ? options_.random() : uniform()) < pct;
    if (sampled) {
        std::vector<Request> reads(requests.begin(), requests.end());
        for (Request& r : reads) {
            if (r.command == MetaCommand::get && r.flags.return_value) {
                r.flags.return_ttl = true;
                r.flags.return_client_flag = true;
            }
        }
        primary.execute(reads, responses, ctx);
    } else {
        primary.execute(requests, responses, ctx);
    }
    if (!dual)
        return;

    // Writes follow on the secondary side, without anything fleet-specific.
    std::vector<Request> follow;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const Request& r = requests[i];
        if (!is_write(r))
            continue;
        if (r.command == MetaCommand::set && conditional(r)) {
            if (!std::holds_alternative<Success>(responses[i]))
                continue;  // nothing changed
            follow.push_back(Request{MetaCommand::del, r.key, {}, {}});
            continue;
        }
        Request s = r;
        s.flags.cas_token.reset();
        if (r.command == MetaCommand::del)
            s.flags.mark_stale = r.flags.mark_stale;
        follow.push_back(s);
    }

    // Modes 3 and 4: on a sample of read calls, copy the primary's hits over.
    if (sampled) {
        for (std::size_t i = 0; i < requests.size(); ++i) {
            const Request& r = requests[i];
            const auto* v = std::get_if<Value>(&responses[i]);
            if (r.command != MetaCommand::get || v == nullptr || v->flags.win || v->flags.stale) {
                continue;
            }
            Request c{MetaCommand::set, r.key, v->data, {}};
            c.flags.mode = Mode::add;
            c.flags.no_reply = true;
            c.flags.client_flag = v->flags.client_flag.value_or(0);
            const std::int64_t ttl = v->flags.ttl.value_or(options_.default_read_backfill_ttl);
            c.flags.cache_ttl = ttl < 0 ? 0 : ttl;
            follow.push_back(c);
        }
    }
    if (follow.empty())
        return;
    std::vector<Response> ignored(follow.size());
    secondary.execute(follow, ignored, ctx);
}

META_MEMCACHE_DECL std::vector<ServerCounters> MigrationRouter::get_counters() const {
    std::vector<ServerCounters> out;
    append_counters(out, *origin_, "origin");
    append_counters(out, *destination_, "destination");
    return out;
}

META_MEMCACHE_DECL bool MigrationRouter::default_raise_on_server_error() const {
    return origin_->default_raise_on_server_error();
}

}  // namespace meta_memcache
