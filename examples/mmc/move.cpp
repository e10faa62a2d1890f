// mmc warm: copies the keys listed on stdin from one cluster to another, keeping each
// value's remaining TTL and client flags. Keys are read in batches with one meta_multiget
// (all servers at once) and written in one fan-out per batch.

#include "commands.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace mmc {

namespace {

using Clock = std::chrono::steady_clock;

struct Tally {
    std::uint64_t keys = 0;
    std::uint64_t copied = 0;   ///< stored in the new cluster
    std::uint64_t present = 0;  ///< already in the new cluster (add mode): left as it was
    std::uint64_t missing = 0;  ///< not in the old cluster (or about to expire)
    std::uint64_t skipped = 0;  ///< lease placeholders and stale values
    std::uint64_t failed = 0;   ///< a server failed on either side
};

void report(const Tally& t, Clock::time_point start, bool done) {
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(
        stderr,
        "mmc warm: %s%llu keys: %llu copied, %llu present, %llu missing, %llu skipped, "
        "%llu failed (%.0f keys/s)\n",
        done ? "done, " : "", static_cast<unsigned long long>(t.keys),
        static_cast<unsigned long long>(t.copied), static_cast<unsigned long long>(t.present),
        static_cast<unsigned long long>(t.missing), static_cast<unsigned long long>(t.skipped),
        static_cast<unsigned long long>(t.failed),
        secs > 0 ? static_cast<double>(t.keys) / secs : 0.0);
}

class Warmer {
public:
    Warmer(mm::CacheClient& from, mm::CacheClient& to, bool overwrite)
        : from_(from), to_(to), overwrite_(overwrite) {}

    void copy(const std::vector<std::string>& keys, Tally& tally) {
        const std::vector<mm::KeyView> views(keys.begin(), keys.end());
        const mm::FailureHandling no_raise{.raise_on_server_error = false,
                                           .track_write_failures = false};
        const std::vector<mm::ReadResponse> found = from_.meta_multiget(
            views, {.return_client_flag = true, .return_value = true, .return_ttl = true},
            no_raise);
        std::vector<mm::Request> writes;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const auto* v = std::get_if<mm::Value>(&found[i]);
            if (v == nullptr) {
                const auto* miss = std::get_if<mm::Miss>(&found[i]);
                ++(miss != nullptr && miss->is_error() ? tally.failed : tally.missing);
                continue;
            }
            if (v->flags.stale || v->flags.win.has_value()) {
                ++tally.skipped;  // a placeholder or a stale value: not worth keeping
                continue;
            }
            // -1: never expires; 0 (or less): expiring this second, not worth copying.
            const std::int64_t ttl = v->flags.ttl.value_or(-1);
            if (ttl == 0 || ttl < -1) {
                ++tally.missing;
                continue;
            }
            mm::Request w;
            w.command = mm::MetaCommand::set;
            w.key = views[i];
            w.value = v->data;
            w.flags.cache_ttl = ttl == -1 ? 0 : ttl;
            w.flags.client_flag = v->flags.client_flag.value_or(0);
            if (!overwrite_)
                w.flags.mode = mm::Mode::add;
            writes.push_back(w);
        }
        std::vector<mm::Response> stored(writes.size());
        const mm::ExecContext ctx{.track_write_failures = false,
                                  .max_item_size = to_.options().max_item_size};
        try {
            to_.router().execute(writes, stored, ctx);
        } catch (const mm::InvalidInputError&) {
            // A value the new cluster cannot take (over its item size): one by one.
            for (std::size_t i = 0; i < writes.size(); ++i) {
                try {
                    to_.router().execute({&writes[i], 1}, {&stored[i], 1}, ctx);
                } catch (const mm::InvalidInputError& e) {
                    std::fprintf(stderr, "mmc warm: %.*s: %s\n",
                                 static_cast<int>(writes[i].key.key.size()),
                                 writes[i].key.key.data(), e.what());
                    stored[i] = mm::NotStored{std::make_exception_ptr(e)};
                }
            }
        }
        for (const mm::Response& r : stored) {
            if (std::holds_alternative<mm::Success>(r))
                ++tally.copied;
            else if (std::holds_alternative<mm::NotStored>(r) && !mm::is_error_response(r))
                ++tally.present;
            else
                ++tally.failed;
        }
        tally.keys += keys.size();
    }

private:
    mm::CacheClient& from_;
    mm::CacheClient& to_;
    bool overwrite_;
};

}  // namespace

int warm_command(const Args& args) {
    allow_options(args, {"--from", "--to", "--to-mode", "--overwrite", "--batch"});
    if (args.has("--servers"))
        throw UsageError("warm: give --from OLD and --to NEW, not --servers");
    if (!args.operands.empty())
        throw UsageError("warm: keys are read from stdin, one per line, not from arguments");
    const auto from_list = args.value("--from");
    const auto to_list = args.value("--to");
    if (!from_list || !to_list)
        throw UsageError("warm: needs --from OLD and --to NEW");
    const auto batch = static_cast<std::size_t>(
        args.has("--batch") ? parse_int(*args.value("--batch"), "--batch", 1, 10000) : 100);
    const mm::PoolOptions pool = pool_options_of(args);
    auto from =
        mm::cache_client_from_servers(parse_servers(*from_list, "--from"), pool, {}, mode_of(args));
    auto to = mm::cache_client_from_servers(
        parse_servers(*to_list, "--to"), pool, {},
        args.has("--to-mode") ? mode_of(args, "--to-mode") : mode_of(args));

    Warmer warmer(from, to, args.has("--overwrite"));
    Tally tally;
    const auto start = Clock::now();
    auto last_report = start;
    std::vector<std::string> keys;
    keys.reserve(batch);
    auto flush = [&] {
        warmer.copy(keys, tally);
        keys.clear();
        if (Clock::now() - last_report >= std::chrono::seconds(1)) {
            report(tally, start, false);
            last_report = Clock::now();
        }
    };
    for (std::string line; std::getline(std::cin, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty())
            continue;
        keys.push_back(std::move(line));
        if (keys.size() == batch)
            flush();
    }
    if (!keys.empty())
        flush();
    report(tally, start, true);
    return tally.failed == 0 ? exit_ok : exit_server;
}

}  // namespace mmc
