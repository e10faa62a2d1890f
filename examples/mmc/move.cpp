// mmc dump, warm and drain: a server's key listing, and copying keys to their new owners
// with the library's KeyMover (remaining TTL and client flags kept, at a bounded rate),
// with a progress line on a terminal and a summary at the end.

#include "commands.hpp"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mmc {

namespace {

using Clock = std::chrono::steady_clock;

unsigned long long ull(std::uint64_t v) {
    return static_cast<unsigned long long>(v);
}

/// The mover's options from --rate, --bytes-rate, --batch and --overwrite.
mm::KeyMoverOptions mover_options(const Args& args) {
    mm::KeyMoverOptions o;
    if (const auto rate = args.value("--rate"))
        o.keys_per_second = static_cast<double>(parse_int(*rate, "--rate (keys/s)", 1, 10'000'000));
    if (const auto rate = args.value("--bytes-rate")) {
        o.bytes_per_second =
            static_cast<double>(parse_int(*rate, "--bytes-rate (bytes/s)", 1, 1LL << 40));
    }
    if (const auto batch = args.value("--batch"))
        o.batch_size = static_cast<std::size_t>(parse_int(*batch, "--batch", 1, 10000));
    o.overwrite = args.has("--overwrite");
    return o;
}

/// "12 copied, 3 present, ..." for a progress line and the summary.
std::string tally(const mm::KeyMoverCounters& c) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%llu copied, %llu present, %llu missing, %llu skipped, %llu failed",
                  ull(c.copied), ull(c.present), ull(c.gone), ull(c.skipped()), ull(c.failed));
    return line;
}

/// Runs `copy` on a thread of its own while this one prints a progress line at most once
/// a second (on a terminal only: a log gets the summary alone), then the summary. The
/// exit code: 3 when keys failed. Rethrows what `copy` threw.
int run_with_progress(const char* what, mm::KeyMover& mover, const std::function<void()>& copy) {
    const auto start = Clock::now();
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    std::exception_ptr error;
    std::thread worker([&] {
        try {
            copy();
        } catch (...) {
            error = std::current_exception();
        }
        const std::lock_guard lk(mu);
        finished = true;
        cv.notify_all();
    });
    const bool terminal = isatty(STDERR_FILENO) == 1;
    const auto rate = [&](const mm::KeyMoverCounters& c) {
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        return secs > 0 ? static_cast<double>(c.done()) / secs : 0.0;
    };
    {
        std::unique_lock lk(mu);
        while (!cv.wait_for(lk, std::chrono::seconds(1), [&] { return finished; })) {
            if (!terminal)
                continue;
            const mm::KeyMoverCounters c = mover.counters();
            std::fprintf(stderr, "\rmmc %s: %.0f keys/s, %llu of %llu keys: %s, %.1f%% moved ",
                         what, rate(c), ull(c.done()), ull(c.listed), tally(c).c_str(),
                         100.0 * c.share_moved());
        }
    }
    worker.join();
    if (terminal)
        std::fputc('\n', stderr);
    if (error)
        std::rethrow_exception(error);
    const mm::KeyMoverCounters c = mover.counters();
    std::fprintf(stderr,
                 "mmc %s: done, %llu keys: %s (%llu placeholders, %llu stale, %llu expiring, "
                 "%llu unplaceable, %llu too large), %.1f%% moved, %.0f keys/s\n",
                 what, ull(c.listed), tally(c).c_str(), ull(c.skipped_lease), ull(c.skipped_stale),
                 ull(c.skipped_expiring), ull(c.skipped_unplaced), ull(c.skipped_too_large),
                 100.0 * c.share_moved(), rate(c));
    return c.failed == 0 ? exit_ok : exit_server;
}

/// The ring of --servers and the node of `name` in it. @throws UsageError when it is not
/// one of them.
std::size_t node_named(const std::vector<mm::ServerAddress>& servers, const std::string& name) {
    for (std::size_t i = 0; i < servers.size(); ++i) {
        if (servers[i].name() == name || servers[i].endpoint() == name)
            return i;
    }
    throw UsageError("drain: \"" + name + "\" is not one of the servers (by alias or host:port)");
}

/// A key of a `mmc dump` line ("KEY<TAB>EXPIRY<TAB>SIZE"), or the whole line.
std::string key_of_line(std::string line) {
    for (int field = 0; field < 2; ++field) {
        const std::size_t tab = line.rfind('\t');
        if (tab == std::string::npos)
            return line;
        const std::string_view number = std::string_view(line).substr(tab + 1);
        if (number.empty() || number.find_first_not_of("-0123456789") != std::string::npos)
            return line;
        line.resize(tab);
    }
    return line;
}

}  // namespace

int dump_command(const Args& args) {
    allow_options(args, {});
    if (args.operands.size() != 1)
        throw UsageError("dump: needs one SERVER (host:port)");
    const std::vector<mm::ServerAddress> server = parse_servers(args.operands[0], "SERVER");
    if (server.size() != 1)
        throw UsageError("dump: needs one SERVER (host:port)");
    mm::ConnectionPool pool(server[0], pool_options_of(args));
    std::uint64_t unlisted = 0;
    mm::dump_keys(pool, [&](mm::DumpedKey&& k) {
        if (k.key.find_first_of("\r\n") != std::string::npos) {
            ++unlisted;  // cannot be told apart from the next line
            return;
        }
        std::fwrite(k.key.data(), 1, k.key.size(), stdout);
        std::printf("\t%lld\t%llu\n", static_cast<long long>(k.expiry), ull(k.size));
    });
    if (unlisted > 0) {
        std::fprintf(stderr, "mmc dump: %llu keys with a line break in them not listed\n",
                     ull(unlisted));
    }
    return exit_ok;
}

int warm_command(const Args& args) {
    allow_options(
        args, {"--from", "--to", "--to-mode", "--overwrite", "--batch", "--rate", "--bytes-rate"});
    if (args.has("--servers"))
        throw UsageError("warm: give --from OLD and --to NEW, not --servers");
    if (!args.operands.empty())
        throw UsageError("warm: keys are read from stdin, one per line, not from arguments");
    const auto from_list = args.value("--from");
    const auto to_list = args.value("--to");
    if (!from_list || !to_list)
        throw UsageError("warm: needs --from OLD and --to NEW");
    const mm::KeyMoverOptions options = mover_options(args);
    const mm::PoolOptions pool = pool_options_of(args);
    auto from = std::make_shared<mm::ShardedRouter>(parse_servers(*from_list, "--from"), pool,
                                                    mode_of(args));
    auto to = std::make_shared<mm::ShardedRouter>(
        parse_servers(*to_list, "--to"), pool,
        args.has("--to-mode") ? mode_of(args, "--to-mode") : mode_of(args));
    mm::KeyMover mover(to, options);
    return run_with_progress("warm", mover, [&] {
        // Keys as they come, a batch at a time (stdin may be a dump still running).
        std::vector<std::string> keys;
        std::vector<mm::KeyView> views;
        const auto copy = [&] {
            views.assign(keys.begin(), keys.end());
            mover.copy_keys(*from, views);
            keys.clear();
        };
        for (std::string line; std::getline(std::cin, line) && !mover.stopped();) {
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            if (line.empty())
                continue;
            keys.push_back(key_of_line(std::move(line)));
            if (keys.size() == options.batch_size)
                copy();
        }
        copy();
    });
}

int drain_command(const Args& args) {
    allow_options(args, {"--to", "--to-mode", "--overwrite", "--batch", "--rate", "--bytes-rate"});
    if (args.operands.size() != 1)
        throw UsageError("drain: needs one SERVER, one of --servers");
    const std::vector<mm::ServerAddress> servers = servers_of(args);
    const std::size_t node = node_named(servers, args.operands[0]);
    const mm::KeyMoverOptions options = mover_options(args);
    const mm::PoolOptions pool = pool_options_of(args);
    auto ring = std::make_shared<mm::ShardedRouter>(servers, pool, mode_of(args));
    const std::string name = servers[node].name();
    if (const auto to_list = args.value("--to")) {
        // To a new cluster: the keys the ring places on SERVER, to their owner there.
        auto to = std::make_shared<mm::ShardedRouter>(
            parse_servers(*to_list, "--to"), pool,
            args.has("--to-mode") ? mode_of(args, "--to-mode") : mode_of(args));
        mm::KeyMover mover(to, options);
        const std::shared_ptr<const mm::HashRing> placement = ring->ring();
        return run_with_progress("drain", mover, [&] {
            mover.move_server(*ring->pool_named(name), placement.get(), node);
        });
    }
    if (args.has("--to-mode"))
        throw UsageError("drain: --to-mode needs --to");
    if (servers.size() < 2)
        throw UsageError("drain: the last server has nowhere to go; give --to NEW");
    // Within the ring: each key to the server that owns it once SERVER is gone.
    const auto drain = std::make_shared<mm::DrainingRouter>(ring, name);
    mm::KeyMover mover(drain->ring(), options);
    return run_with_progress("drain", mover, [&] { mover.move_drained(*drain); });
}

}  // namespace mmc
