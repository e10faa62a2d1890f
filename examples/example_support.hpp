#pragma once

// What the examples share: the server list from MEMCACHE_SERVERS, keys unique to a run,
// and expect(), which prints each claim an example makes and makes it exit non-zero when
// one does not hold (CTest runs every example against throwaway servers).

#include <meta_memcache/meta_memcache.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace example {

/// Splits "a,b,c" at the commas, dropping empty items.
inline std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t comma = list.find(',', start);
        std::string item = list.substr(start, comma - start);
        if (!item.empty())
            out.push_back(std::move(item));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return out;
}

/// The servers in MEMCACHE_SERVERS ("host:port[ alias],..."; 127.0.0.1:11211 when unset).
/// Exits with status 2 when there are fewer than `at_least`.
inline std::vector<meta_memcache::ServerAddress> servers_from_env(std::size_t at_least = 1) {
    const char* env = std::getenv("MEMCACHE_SERVERS");
    std::vector<meta_memcache::ServerAddress> out;
    for (const std::string& item :
         split_list(env != nullptr && *env != '\0' ? env : "127.0.0.1:11211"))
        out.push_back(meta_memcache::ServerAddress::parse(item));
    if (out.size() < at_least) {
        std::fprintf(stderr,
                     "this example needs %zu servers in MEMCACHE_SERVERS; run it with\n"
                     "  examples/run_example.sh $(command -v memcached) --servers %zu PROGRAM\n",
                     at_least, at_least);
        std::exit(2);
    }
    return out;
}

/// A key no earlier run (or other process) uses, so examples can run against real servers.
inline std::string unique_key(const std::string& base) {
    static const std::string run =
        std::to_string(::getpid()) + "-" +
        std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000007);
    return base + ":" + run;
}

inline bool& failed() {
    static bool f = false;
    return f;
}

/// Prints the claim with "ok" or "FAILED"; a failed claim makes exit_code() 1.
inline bool expect(bool ok, const std::string& claim) {
    std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
    if (!ok)
        failed() = true;
    return ok;
}

/// 0 when every expect() held, else 1.
inline int exit_code() {
    std::printf(failed() ? "\nsome claims did not hold\n" : "\nall claims held\n");
    return failed() ? 1 : 0;
}

/// Kills the memcached whose pid run_example.sh put at `index` in MEMCACHE_PIDS and waits
/// until it has exited (its sockets closed). Exits with status 2 without MEMCACHE_PIDS.
inline void kill_server(std::size_t index) {
    const char* env = std::getenv("MEMCACHE_PIDS");
    const std::vector<std::string> pids = split_list(env != nullptr ? env : "");
    if (index >= pids.size()) {
        std::fprintf(stderr,
                     "this example kills a server: run it through examples/run_example.sh\n");
        std::exit(2);
    }
    const pid_t pid = static_cast<pid_t>(std::stol(pids[index]));
    ::kill(pid, SIGKILL);
    // Not our child, so no waitpid: gone (or a zombie, state Z) once /proc says so.
    for (int i = 0; i < 500; ++i) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string pid_field, comm, state;
        if (!(stat >> pid_field >> comm >> state) || state == "Z" || state == "X")
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace example
