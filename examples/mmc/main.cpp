// mmc: a command-line client for memcached fleets, built on meta_memcache.
// See docs/mmc.md, or `mmc --help` and `mmc COMMAND --help`.

#include "cli.hpp"
#include "commands.hpp"

#include <cstdio>
#include <exception>
#include <string_view>

namespace {

using namespace mmc;

constexpr std::string_view main_help = R"txt(usage: mmc [OPTIONS] COMMAND [ARGS...]

A command-line client for memcached over the meta protocol, placing keys exactly as
meta_memcache (and meta-memcache-py) do.

commands:
  get KEY...                      print values (--info: TTL, flags, size, CAS instead;
                                  --raw: the exact bytes, no newline)
  set KEY VALUE [--ttl N]         store a value (VALUE - reads it from stdin)
  del KEY...                      delete keys
  touch KEY... --ttl N            set new TTLs
  incr KEY [DELTA]                add DELTA (default 1; negative subtracts), print the result
  where KEY...                    which server each key maps to (no connection)
  stats [GROUP]                   probe each server; its pool counters and own stats
  dump SERVER                     list a server's keys: "KEY<TAB>EXPIRY<TAB>SIZE" lines
  warm --from OLD --to NEW        copy the keys listed on stdin, keeping TTLs and flags
  drain SERVER [--to NEW]         copy a server's keys to their new owners, in the background
  flush --yes [--server S]        erase every key on the servers (or on S)

options (every command):
  --servers LIST   servers, "host:port[ alias][ weight=N],..."; default $MEMCACHE_SERVERS
  --mode MODE      hash mode: uhashring (default), ketama, libmemcached_ketama, libmc_md5,
                   libmc_crc32, libmc_fnv1_32, libmc_fnv1a_32, xxhash
  --timeout MS     connect and request deadline in milliseconds (default 1000)
  -h, --help       this help; `mmc COMMAND --help` for a command's
  --version        the version
  --               ends the options (for a key that starts with -, a negative number)

exit codes:
  0  done
  1  a key was not found, or not stored
  2  usage error: bad arguments or input, nothing sent
  3  server error: unreachable, timed out, or it answered an error (for several keys: the
     others were still done; each failed key is named on stderr with its server)
)txt";

struct Command {
    std::string_view name;
    int (*run)(const Args&);
    std::string_view help;
};

constexpr Command commands[] = {
    {"get", get_command, R"txt(usage: mmc get KEY... [--info | --raw]

Prints the value of KEY (decompressed, as stored): its exact bytes, followed by a newline
only when stdout is a terminal. For several keys, "KEY<TAB>VALUE" lines. Keys that are
missing are reported on stderr and make the exit code 1; a key whose server failed is
named on stderr with the server, the other keys are still read, and the exit code is 3.
  --raw    the value's bytes only, never a newline (one KEY)
  --info   print "KEY ttl=N flags=F size=S cas=C last_access=N fetched=yes|no" instead of
           the value, without bumping the key in the LRU (ttl=-1: never expires); a lease
           placeholder or stale value is marked as such
)txt"},
    {"set", set_command, R"txt(usage: mmc set KEY VALUE [--ttl SECONDS]

Stores VALUE (bytes; "-" reads them from stdin) under KEY. Values of more than 128 bytes
are zlib-compressed, as meta_memcache stores them. Exit code 1 when not stored.
  --ttl SECONDS   0 (default) never expires; above 30 days memcached reads a Unix time
)txt"},
    {"del", del_command, R"txt(usage: mmc del KEY...

Deletes each KEY. Exit code 1 when one was not there; 3 when a server failed (each failed
key is named with its server; the others are still deleted).
)txt"},
    {"touch", touch_command, R"txt(usage: mmc touch KEY... --ttl SECONDS

Sets a new TTL on each KEY (0: never expires). Exit code 1 when one was not there; 3 when
a server failed (the other keys are still touched).
)txt"},
    {"incr", incr_command, R"txt(usage: mmc incr KEY [DELTA]

Adds DELTA (default 1; a negative DELTA subtracts, stopping at 0) to the counter under KEY
and prints the new value (a negative DELTA goes after --: mmc incr KEY -- -5). Exit code 1
when KEY does not exist; 3 when its value is not a number.
)txt"},
    {"where", where_command, R"txt(usage: mmc where KEY... [--to LIST [--to-mode MODE]]

Prints which server each KEY maps to under --mode, with the servers' aliases and weights,
without connecting: "KEY -> NAME" (with the address in parentheses for an alias). Keys are
read from stdin, one per line, when none are given.
  --to LIST         also show where each key goes with this server list, and count the
                    keys that move to another address: "KEY -> NOW => THEN" or "(stays)"
  --to-mode MODE    the hash mode of --to (default: --mode)
)txt"},
    {"stats", stats_command, R"txt(usage: mmc stats [GROUP] [--all]

For each server: a probe (a timed meta no-op, which changes none of the server's counters),
a summary of the server's own stats (version,
uptime, connections, items, bytes, evictions, hits and misses) and the client's pool
counters. Exit code 3 when a server failed; the others are still reported.
  GROUP   a stats group instead ("settings", "items", "slabs", "conns"), printed whole
  --all   every statistic the server reports, not the summary
)txt"},
    {"dump", dump_command, R"txt(usage: mmc dump SERVER

Lists every key SERVER (host:port) holds, with lru_crawler metadump: one line per key,
"KEY<TAB>EXPIRY<TAB>SIZE", the key as bytes (as stored: base64-sent keys decoded), EXPIRY a
Unix time (-1: never), SIZE the item's size in the server. `mmc warm` reads these lines.
Keys with a line break in them are counted on stderr, not listed.
)txt"},
    {"warm", warm_command,
     R"txt(usage: mmc warm --from OLD --to NEW [--overwrite] [--rate N] [--bytes-rate N] < keys

Copies the keys listed on stdin (one per line, or `mmc dump` lines) from the OLD cluster to
the NEW one, as they are stored: the same bytes, the remaining TTL and the client flags.
Lease placeholders, stale values and values about to expire are skipped; a key already in
NEW is left as it is, so running it again copies nothing new. On a terminal a progress line
is redrawn every second; a summary goes to stderr at the end: keys read, copied, present
(already in NEW), missing (not in OLD), skipped (and why), failed. Exit code 3 when any
failed.
  --from LIST       the old cluster ("host:port[ alias][ weight=N],...")
  --to LIST         the new cluster
  --overwrite       replace values already in NEW (default: add, keep what is there)
  --rate N          at most N keys per second (default: no limit)
  --bytes-rate N    at most N value bytes per second written to NEW
  --batch N         keys per round trip (default 100)
  --mode MODE       hash mode of OLD (default uhashring); --to-mode MODE for NEW
)txt"},
    {"drain", drain_command,
     R"txt(usage: mmc drain SERVER [--to NEW] [--rate N] [--bytes-rate N]

Copies the keys SERVER (an alias or host:port of --servers) holds to the server that owns
each once SERVER leaves the ring (or, with --to, to their owner in the NEW cluster): the
keys are listed with lru_crawler metadump and copied as `mmc warm` copies them, keeping
TTLs and client flags, never overwriting a value already there. Keys the ring does not
place on SERVER by their own bytes (routing keys, long keys' digests) are counted as
unplaceable. On a terminal a progress line (keys/s, copied, skipped, failed, share moved)
is redrawn every second; the summary at the end gives the share of SERVER's keys now at
their new owner. Exit code 3 when any failed. See docs/operations.md.
  --to LIST         copy to this cluster instead of the rest of --servers
  --to-mode MODE    the hash mode of --to (default: --mode)
  --rate N          at most N keys per second (default: no limit)
  --bytes-rate N    at most N value bytes per second written
  --overwrite       replace values already at the new owner
  --batch N         keys per round trip (default 100)
)txt"},
    {"flush", flush_command, R"txt(usage: mmc flush --yes [--server S]

Erases every key on each server of --servers (flush_all), or on S alone. Refuses without
--yes. Exit code 3 when a server failed; the others are still flushed.
  --server S   one server (host:port), instead of --servers
  --yes        really erase
)txt"},
};

const Command* find_command(std::string_view name) {
    for (const Command& c : commands) {
        if (c.name == name)
            return &c;
    }
    return nullptr;
}

void print(std::string_view text, std::FILE* to = stdout) {
    std::fwrite(text.data(), 1, text.size(), to);
}

int run(int argc, char** argv) {
    Args args = parse_args(argc, argv);
    if (args.command == "help") {  // mmc help [COMMAND]
        args.command = args.operands.empty() ? "" : args.operands[0];
        args.options["--help"] = "";
    }
    if (args.command == "version" || (args.command.empty() && args.has("--version"))) {
        std::printf("mmc (meta_memcache %s)\n", meta_memcache::version_string);
        return exit_ok;
    }
    if (args.command.empty()) {
        if (args.has("--help")) {
            print(main_help);
            return exit_ok;
        }
        throw UsageError("missing COMMAND");
    }
    const Command* command = find_command(args.command);
    if (command == nullptr)
        throw UsageError("unknown command \"" + args.command + "\"");
    if (args.has("--help")) {
        print(command->help);
        return exit_ok;
    }
    return command->run(args);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "mmc: %s\nTry 'mmc --help'.\n", e.what());
        return exit_usage;
    } catch (const meta_memcache::InvalidInputError& e) {
        std::fprintf(stderr, "mmc: %s\n", e.what());
        return exit_usage;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mmc: %s\n", e.what());
        return exit_server;
    }
}
