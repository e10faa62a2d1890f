#pragma once

// mmc's command line: arguments, server lists, hash modes, numbers, and the exit codes.

#include <meta_memcache/meta_memcache.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mmc {

namespace mm = meta_memcache;

/// mmc's exit codes (docs/mmc.md).
enum ExitCode : int {
    exit_ok = 0,      ///< done
    exit_miss = 1,    ///< a key was not found, or not stored
    exit_usage = 2,   ///< bad arguments or input; nothing was sent
    exit_server = 3,  ///< a server failed (unreachable, timeout, error answer)
};

/// Bad arguments: reported with a hint to --help, exit code 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The parsed command line: options anywhere, the first other word is the command.
struct Args {
    std::string command;                                      ///< empty when none was given
    std::vector<std::string> operands;                        ///< the words after the command
    std::map<std::string, std::string, std::less<>> options;  ///< "--ttl" -> "60"; switches -> ""

    [[nodiscard]] bool has(std::string_view name) const { return options.contains(name); }
    [[nodiscard]] std::optional<std::string> value(std::string_view name) const;
};

/// Parses argv. "--name value" and "--name=value"; "--" ends the options; a word that
/// looks like a negative number ("-5") is an operand. @throws UsageError.
Args parse_args(int argc, char** argv);

/// @throws UsageError naming the first option the command does not take.
void allow_options(const Args& args, std::initializer_list<std::string_view> allowed);

/// Parses "host:port[ alias][ weight=N],..." (`what` names the list in errors).
/// @throws UsageError.
std::vector<mm::ServerAddress> parse_servers(std::string_view list, std::string_view what);

/// The servers of --servers, else of MEMCACHE_SERVERS. @throws UsageError when neither.
std::vector<mm::ServerAddress> servers_of(const Args& args);

/// A HashMode by its to_string() name. @throws UsageError listing the modes.
mm::HashMode parse_mode(std::string_view name);
/// --mode (or `option`), uhashring by default.
mm::HashMode mode_of(const Args& args, std::string_view option = "--mode");

/// A whole number in [min, max]. @throws UsageError naming `what`.
std::int64_t parse_int(std::string_view text,
                       std::string_view what,
                       std::int64_t min,
                       std::int64_t max);
/// --ttl in seconds (0 = never expires), or nothing when not given.
std::optional<std::int64_t> ttl_of(const Args& args);

/// Pool options with --timeout (milliseconds) as connect and request deadline.
mm::PoolOptions pool_options_of(const Args& args);

}  // namespace mmc
