#include "cli.hpp"

#include <getopt.h>

#include <charconv>
#include <cstdlib>
#include <limits>

namespace mmc {

namespace {

/// Every long option mmc knows (getopt_long's table; `val` 0 for all: the name tells them
/// apart), and -h.
constexpr option known_options[] = {
    {"servers", required_argument, nullptr, 0},
    {"mode", required_argument, nullptr, 0},
    {"timeout", required_argument, nullptr, 0},
    {"ttl", required_argument, nullptr, 0},
    {"info", no_argument, nullptr, 0},
    {"all", no_argument, nullptr, 0},
    {"from", required_argument, nullptr, 0},
    {"to", required_argument, nullptr, 0},
    {"to-mode", required_argument, nullptr, 0},
    {"overwrite", no_argument, nullptr, 0},
    {"batch", required_argument, nullptr, 0},
    {"rate", required_argument, nullptr, 0},
    {"bytes-rate", required_argument, nullptr, 0},
    {"raw", no_argument, nullptr, 0},
    {"server", required_argument, nullptr, 0},
    {"yes", no_argument, nullptr, 0},
    {"help", no_argument, nullptr, 0},
    {"version", no_argument, nullptr, 0},
    {nullptr, 0, nullptr, 0},
};

/// True when `name` (without the dashes) is a long option mmc knows.
bool known_long(std::string_view name) {
    for (const option& o : known_options) {
        if (o.name != nullptr && o.name == name)
            return true;
    }
    return false;
}

constexpr mm::HashMode all_modes[] = {
    mm::HashMode::uhashring,      mm::HashMode::ketama,      mm::HashMode::libmemcached_ketama,
    mm::HashMode::libmc_md5,      mm::HashMode::libmc_crc32, mm::HashMode::libmc_fnv1_32,
    mm::HashMode::libmc_fnv1a_32, mm::HashMode::xxhash,
};

}  // namespace

std::optional<std::string> Args::value(std::string_view name) const {
    const auto it = options.find(name);
    if (it == options.end())
        return std::nullopt;
    return it->second;
}

Args parse_args(int argc, char** argv) {
    Args args;
    // GNU getopt_long: options anywhere ("--name value" or "--name=value"), "--" ends them;
    // the words left, in order, are the command and its operands.
    opterr = 0;
    optind = 0;  // (0: a full reset, so parse_args can run again)
    // ':' first: a missing value is reported as ':', apart from an unknown option ('?').
    static constexpr char short_options[] = ":h";
    for (;;) {
        int index = -1;
        const int c = getopt_long(argc, argv, short_options, known_options, &index);
        if (c == -1)
            break;
        if (c == 'h') {
            args.options["--help"] = "";
            continue;
        }
        if (c == 0) {
            args.options["--" + std::string(known_options[index].name)] =
                optarg != nullptr ? optarg : "";
            continue;
        }
        if (optopt >= '0' && optopt <= '9')
            throw UsageError("a negative number goes after --: mmc incr KEY -- -5");
        // The word just read (getopt_long has moved past a long option).
        const std::string word = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
        const std::string name = word.substr(0, word.find('='));
        if (c == ':')
            throw UsageError(name + " needs a value");
        if (name.starts_with("--") && name != word && known_long(name.substr(2)))
            throw UsageError(name + " takes no value");
        throw UsageError(
            "unknown option " +
            (name.starts_with("-") ? name : "-" + std::string(1, static_cast<char>(optopt))));
    }
    for (int i = optind; i < argc; ++i) {
        if (args.command.empty())
            args.command = argv[i];
        else
            args.operands.emplace_back(argv[i]);
    }
    return args;
}

void allow_options(const Args& args, std::initializer_list<std::string_view> allowed) {
    for (const auto& [name, value] : args.options) {
        bool ok =
            name == "--help" || name == "--servers" || name == "--mode" || name == "--timeout";
        for (std::string_view a : allowed)
            ok = ok || a == name;
        if (!ok)
            throw UsageError(name + " does not apply to " + args.command);
    }
}

std::vector<mm::ServerAddress> parse_servers(std::string_view list, std::string_view what) {
    std::vector<mm::ServerAddress> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t comma = list.find(',', start);
        const std::string_view item = list.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        // Words: the address, an optional alias, an optional weight=N.
        std::string text;
        std::optional<std::uint32_t> weight;
        std::size_t pos = 0;
        while (pos < item.size()) {
            const std::size_t begin = item.find_first_not_of(" \t", pos);
            if (begin == std::string_view::npos)
                break;
            const std::size_t end = std::min(item.find_first_of(" \t", begin), item.size());
            const std::string_view word = item.substr(begin, end - begin);
            if (word.substr(0, 7) == "weight=") {
                weight = static_cast<std::uint32_t>(
                    parse_int(word.substr(7), "weight in " + std::string(what), 1,
                              std::numeric_limits<std::uint32_t>::max()));
            } else {
                text += (text.empty() ? "" : " ") + std::string(word);
            }
            pos = end;
        }
        if (!text.empty()) {
            try {
                out.push_back(mm::ServerAddress::parse(text));
            } catch (const mm::InvalidInputError& e) {
                throw UsageError(std::string(what) + ": " + e.what());
            }
            out.back().weight = weight.value_or(1);
        } else if (weight) {
            throw UsageError(std::string(what) + ": weight without a server");
        }
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    if (out.empty())
        throw UsageError(std::string(what) + ": no servers");
    return out;
}

std::vector<mm::ServerAddress> servers_of(const Args& args) {
    if (const auto list = args.value("--servers"))
        return parse_servers(*list, "--servers");
    const char* env = std::getenv("MEMCACHE_SERVERS");
    if (env != nullptr && *env != '\0')
        return parse_servers(env, "MEMCACHE_SERVERS");
    throw UsageError("no servers: give --servers host:port,... or set MEMCACHE_SERVERS");
}

mm::HashMode parse_mode(std::string_view name) {
    std::string names;
    for (const mm::HashMode m : all_modes) {
        if (mm::to_string(m) == name)
            return m;
        names += (names.empty() ? "" : ", ") + std::string(mm::to_string(m));
    }
    throw UsageError("unknown hash mode \"" + std::string(name) + "\" (modes: " + names + ")");
}

mm::HashMode mode_of(const Args& args, std::string_view option) {
    const auto name = args.value(option);
    return name ? parse_mode(*name) : mm::HashMode::uhashring;
}

std::int64_t parse_int(std::string_view text,
                       std::string_view what,
                       std::int64_t min,
                       std::int64_t max) {
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc() || ptr != end || v < min || v > max) {
        throw UsageError("bad " + std::string(what) + " \"" + std::string(text) +
                         "\": a whole number from " + std::to_string(min) +
                         (max == std::numeric_limits<std::int64_t>::max()
                              ? " on"
                              : " to " + std::to_string(max)));
    }
    return v;
}

std::optional<std::int64_t> ttl_of(const Args& args) {
    const auto text = args.value("--ttl");
    if (!text)
        return std::nullopt;
    // Above 30 days memcached reads a Unix time; both are accepted as they are.
    return parse_int(*text, "TTL (seconds, 0 = never expires)", 0,
                     std::numeric_limits<std::int32_t>::max());
}

mm::PoolOptions pool_options_of(const Args& args) {
    mm::PoolOptions o;
    if (const auto ms = args.value("--timeout")) {
        const auto t =
            std::chrono::milliseconds(parse_int(*ms, "--timeout (milliseconds)", 1, 3'600'000));
        o.connection_timeout = t;
        o.recv_timeout = t;
    }
    return o;
}

}  // namespace mmc
