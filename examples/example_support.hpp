#pragma once

// What the examples share: the server list from MEMCACHE_SERVERS, keys unique to a run,
// and expect(), which prints each claim an example makes and makes it exit non-zero when
// one does not hold (CTest runs every example against throwaway servers).

#include <meta_memcache/meta_memcache.hpp>

#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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

/// True while something accepts TCP connections at `server` (a connect is not refused).
inline bool accepts_connections(const meta_memcache::ServerAddress& server) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(server.host.c_str(), std::to_string(server.port).c_str(), &hints, &found) !=
        0)
        return false;
    bool accepted = false;
    for (addrinfo* a = found; a != nullptr && !accepted; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        accepted = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
        ::close(fd);
    }
    ::freeaddrinfo(found);
    return accepted;
}

/// Kills the memcached whose pid run_example.sh put at `index` in MEMCACHE_PIDS (and whose
/// address is at `index` in MEMCACHE_SERVERS) and waits until its port refuses connections:
/// its main thread can be gone (a zombie) while its other threads still hold the listening
/// socket. Exits with status 2 without MEMCACHE_PIDS.
inline void kill_server(std::size_t index) {
    const char* env = std::getenv("MEMCACHE_PIDS");
    const std::vector<std::string> pids = split_list(env != nullptr ? env : "");
    const auto servers = servers_from_env(index + 1);
    if (index >= pids.size()) {
        std::fprintf(stderr,
                     "this example kills a server: run it through examples/run_example.sh\n");
        std::exit(2);
    }
    const pid_t pid = static_cast<pid_t>(std::stol(pids[index]));
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 500 && accepts_connections(servers[index]); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace example
