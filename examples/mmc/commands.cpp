// mmc's key commands (get, set, del, touch, incr), where, stats and flush.

#include "commands.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>

namespace mmc {

namespace {

void need_operands(const Args& args, std::size_t min, std::size_t max, const char* what) {
    if (args.operands.size() < min)
        throw UsageError(args.command + ": missing " + what);
    if (args.operands.size() > max)
        throw UsageError(args.command + ": too many arguments (expected " + what + ")");
}

mm::CacheClient client_of(const Args& args) {
    return mm::cache_client_from_servers(servers_of(args), pool_options_of(args), {},
                                         mode_of(args));
}

int not_found(const std::string& key, const char* what = "not found") {
    std::fprintf(stderr, "mmc: %s: %s\n", key.c_str(), what);
    return exit_miss;
}

void print_bytes(std::string_view bytes) {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
}

/// The message of the failure a Miss / NotStored stands for.
std::string error_text(const mm::Response& r) {
    std::exception_ptr ep;
    if (const auto* m = std::get_if<mm::Miss>(&r))
        ep = m->error;
    if (const auto* n = std::get_if<mm::NotStored>(&r))
        ep = n->error;
    try {
        if (ep)
            std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "failed";
}

/// Keys from the operands, else one per line from stdin.
std::vector<std::string> keys_of(const Args& args) {
    if (!args.operands.empty())
        return args.operands;
    std::vector<std::string> keys;
    for (std::string line; std::getline(std::cin, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (!line.empty())
            keys.push_back(std::move(line));
    }
    if (keys.empty())
        throw UsageError(args.command + ": missing KEY (as arguments or one per line on stdin)");
    return keys;
}

std::string describe(const mm::ServerAddress& s) {
    return s.alias.empty() ? s.name() : s.name() + " (" + s.endpoint() + ")";
}

/// Runs `op` on each key in turn. A miss (op returns false) is reported and counted; a
/// server failure is reported, naming the key and its server, and the other keys still go.
/// The exit code: 3 when a key failed, else 1 when one missed, else 0.
int each_key(const std::vector<std::string>& keys,
             const std::function<bool(const std::string&)>& op) {
    bool missed = false;
    bool failed = false;
    for (const std::string& key : keys) {
        try {
            if (!op(key)) {
                not_found(key);
                missed = true;
            }
        } catch (const mm::InvalidInputError&) {
            throw;
        } catch (const mm::Error& e) {
            std::fprintf(stderr, "mmc: %s: failed on %s: %s\n", key.c_str(),
                         e.server().empty() ? "its server" : e.server().c_str(),
                         e.message().c_str());
            failed = true;
        }
    }
    return failed ? exit_server : missed ? exit_miss : exit_ok;
}

}  // namespace

int get_command(const Args& args) {
    allow_options(args, {"--info", "--raw"});
    need_operands(args, 1, std::numeric_limits<std::size_t>::max(), "KEY");
    auto cache = client_of(args);
    if (args.has("--info")) {
        // What is stored, without reading the value or bumping the key in the LRU.
        const mm::RequestFlags info{.return_client_flag = true,
                                    .return_cas_token = true,
                                    .return_ttl = true,
                                    .return_size = true,
                                    .return_last_access = true,
                                    .return_fetched = true,
                                    .no_update_lru = true};
        return each_key(args.operands, [&](const std::string& key) {
            const mm::ReadResponse r = cache.meta_get(key, info);
            const auto* hit = std::get_if<mm::Success>(&r);
            if (hit == nullptr)
                return false;
            const mm::ResponseFlags& f = hit->flags;
            std::printf("%s ttl=%lld flags=%u size=%u cas=%llu last_access=%u fetched=%s%s\n",
                        key.c_str(), static_cast<long long>(f.ttl.value_or(0)),
                        f.client_flag.value_or(0), f.real_size.value_or(0),
                        static_cast<unsigned long long>(f.cas_token.value_or(0)),
                        f.last_access.value_or(0), f.fetched.value_or(false) ? "yes" : "no",
                        f.stale ? " stale" : (f.win ? " placeholder" : ""));
            return true;
        });
    }
    // One key: its exact bytes, with a newline only for a terminal (unless --raw). Several:
    // "KEY<TAB>VALUE" lines.
    const bool one = args.operands.size() == 1;
    if (args.has("--raw") && !one)
        throw UsageError("get: --raw takes one KEY");
    const bool newline = !args.has("--raw") && isatty(STDOUT_FILENO) == 1;
    return each_key(args.operands, [&](const std::string& key) {
        const std::optional<std::string> v = cache.get(key);
        if (!v)
            return false;
        if (!one)
            std::printf("%s\t", key.c_str());
        print_bytes(*v);
        if (!one || newline)
            std::putchar('\n');
        std::fflush(stdout);
        return true;
    });
}

int set_command(const Args& args) {
    allow_options(args, {"--ttl"});
    need_operands(args, 2, 2, "KEY VALUE");
    const std::int64_t ttl = ttl_of(args).value_or(0);
    std::string value = args.operands[1];
    if (value == "-")  // the value from stdin, byte for byte
        value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    auto cache = client_of(args);
    return cache.set(args.operands[0], value, ttl) ? exit_ok
                                                   : not_found(args.operands[0], "not stored");
}

int del_command(const Args& args) {
    allow_options(args, {});
    need_operands(args, 1, std::numeric_limits<std::size_t>::max(), "KEY");
    auto cache = client_of(args);
    return each_key(args.operands, [&](const std::string& key) { return cache.del(key); });
}

int touch_command(const Args& args) {
    allow_options(args, {"--ttl"});
    need_operands(args, 1, std::numeric_limits<std::size_t>::max(), "KEY");
    const auto ttl = ttl_of(args);
    if (!ttl)
        throw UsageError("touch: missing --ttl SECONDS");
    auto cache = client_of(args);
    return each_key(args.operands, [&](const std::string& key) { return cache.touch(key, *ttl); });
}

int incr_command(const Args& args) {
    allow_options(args, {});
    need_operands(args, 1, 2, "KEY [DELTA]");
    const std::int64_t delta =
        args.operands.size() == 2
            ? parse_int(args.operands[1], "delta", -std::numeric_limits<std::int64_t>::max(),
                        std::numeric_limits<std::int64_t>::max())
            : 1;
    auto cache = client_of(args);
    const std::optional<std::uint64_t> v = cache.delta_and_get(args.operands[0], delta);
    if (!v)
        return not_found(args.operands[0]);
    std::printf("%llu\n", static_cast<unsigned long long>(*v));
    return exit_ok;
}

int where_command(const Args& args) {
    allow_options(args, {"--to", "--to-mode"});
    const std::vector<mm::ServerAddress> servers = servers_of(args);
    const mm::HashRing ring(servers, mode_of(args));
    const std::vector<std::string> keys = keys_of(args);
    const auto to_list = args.value("--to");
    if (!to_list) {
        if (args.has("--to-mode"))
            throw UsageError("where: --to-mode needs --to");
        for (const std::string& key : keys)
            std::printf("%s -> %s\n", key.c_str(), describe(servers[ring.node_for(key)]).c_str());
        return exit_ok;
    }
    // Where each key is now and where it goes with the other list (or mode).
    const std::vector<mm::ServerAddress> to = parse_servers(*to_list, "--to");
    const mm::HashRing to_ring(to,
                               args.has("--to-mode") ? mode_of(args, "--to-mode") : mode_of(args));
    std::size_t moves = 0;
    for (const std::string& key : keys) {
        const mm::ServerAddress& now = servers[ring.node_for(key)];
        const mm::ServerAddress& then = to[to_ring.node_for(key)];
        const bool moved = now.endpoint() != then.endpoint();
        if (moved)
            ++moves;
        std::printf("%s -> %s%s\n", key.c_str(), describe(now).c_str(),
                    moved ? (" => " + describe(then)).c_str() : " (stays)");
    }
    std::printf("%zu of %zu keys move\n", moves, keys.size());
    return exit_ok;
}

int stats_command(const Args& args) {
    allow_options(args, {"--all"});
    need_operands(args, 0, 1, "at most one GROUP");
    const std::string group = args.operands.empty() ? "" : args.operands[0];
    const bool all = args.has("--all") || !group.empty();
    auto router =
        std::make_shared<mm::ShardedRouter>(servers_of(args), pool_options_of(args), mode_of(args));
    static constexpr std::string_view summary[] = {
        "version",     "uptime",   "curr_connections", "total_connections", "curr_items",
        "total_items", "bytes",    "limit_maxbytes",   "evictions",         "cmd_get",
        "cmd_set",     "get_hits", "get_misses",
    };
    int rc = exit_ok;
    for (const mm::ServerAddress& server : router->servers()) {
        const std::shared_ptr<mm::ConnectionPool> pool = router->pool_named(server.name());
        std::printf("%s\n", describe(server).c_str());

        // A probe: one meta no-op (mn), timed; it changes none of the server's counters.
        mm::Request probe;
        probe.command = mm::MetaCommand::noop;
        std::array<mm::Request, 1> reqs{probe};
        std::array<mm::Response, 1> resps;
        const auto t0 = std::chrono::steady_clock::now();
        mm::execute_on_pool(*pool, reqs, resps, mm::ExecContext{});
        const std::chrono::duration<double, std::milli> took =
            std::chrono::steady_clock::now() - t0;
        if (mm::is_error_response(resps[0])) {
            std::printf("  %-22s failed: %s\n", "probe", error_text(resps[0]).c_str());
            rc = exit_server;
        } else {
            std::printf("  %-22s ok in %.2f ms\n", "probe", took.count());
            try {
                const mm::ServerStats stats = pool->stats(group);
                if (all) {
                    for (const auto& [name, value] : stats.entries)
                        std::printf("  %-22s %s\n", name.c_str(), value.c_str());
                } else {
                    for (std::string_view name : summary) {
                        if (const auto value = stats.get(name))
                            std::printf("  %-22.*s %.*s\n", static_cast<int>(name.size()),
                                        name.data(), static_cast<int>(value->size()),
                                        value->data());
                    }
                }
            } catch (const mm::InvalidInputError&) {
                throw;
            } catch (const mm::Error& e) {
                std::printf("  %-22s failed: %s\n", "stats", e.what());
                rc = exit_server;
            }
        }
        const mm::PoolCounters c = pool->counters();
        const std::pair<const char*, std::uint64_t> counters[] = {
            {"established", c.established},
            {"available", c.available},
            {"active", c.active},
            {"total_created", c.total_created},
            {"total_errors", c.total_errors},
            {"timeouts", c.timeouts},
            {"mark_downs", c.mark_downs},
            {"fast_failures", c.fast_failures},
        };
        for (const auto& [name, value] : counters)
            std::printf("  pool.%-17s %llu\n", name, static_cast<unsigned long long>(value));
        std::printf("  pool.%-17s %s\n", "marked_down", c.marked_down ? "yes" : "no");
    }
    return rc;
}

int flush_command(const Args& args) {
    allow_options(args, {"--server", "--yes"});
    need_operands(args, 0, 0, "no arguments");
    std::vector<mm::ServerAddress> servers;
    if (const auto one = args.value("--server")) {
        servers = parse_servers(*one, "--server");
        if (servers.size() != 1)
            throw UsageError("flush: --server takes one server");
    } else {
        servers = servers_of(args);
    }
    if (!args.has("--yes")) {
        throw UsageError("flush: erases every key on " + std::to_string(servers.size()) +
                         " server(s); add --yes to do it");
    }
    int rc = exit_ok;
    for (const mm::ServerAddress& server : servers) {
        mm::ConnectionPool pool(server, pool_options_of(args));
        try {
            pool.flush_all();
            std::printf("%s: flushed\n", describe(server).c_str());
        } catch (const mm::InvalidInputError&) {
            throw;
        } catch (const mm::Error& e) {
            std::fprintf(stderr, "mmc: %s: flush failed: %s\n", describe(server).c_str(),
                         e.message().c_str());
            rc = exit_server;
        }
    }
    return rc;
}

}  // namespace mmc
