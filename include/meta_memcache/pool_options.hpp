#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace meta_memcache {

/// TLS settings for servers started with `memcached -Z`. Verification is on by default.
struct TlsOptions {
    bool enabled = false;       ///< connect with TLS
    bool verify_peer = true;    ///< verify the server certificate and host name
    std::string ca_file{};      ///< PEM CA bundle; empty: the system's default paths
    std::string cert_file{};    ///< PEM client certificate, for mutual TLS
    std::string key_file{};     ///< PEM private key of cert_file
    std::string server_name{};  ///< name to verify and send as SNI; empty: the host
};

/// ASCII authentication for servers started with `memcached -Y`. Empty username: none.
struct AuthOptions {
    std::string username{};  ///< sent as the first request of every connection
    std::string password{};
};

/// How each server's connection pool behaves. Durations accept any std::chrono unit
/// (`.recv_timeout = 500ms`, `.mark_down_period = 5s`).
struct PoolOptions {
    /// Connections opened when the pool is first used (connecting is lazy: none before).
    std::size_t initial_pool_size = 1;
    /// Idle connections kept open; more are closed when released.
    std::size_t max_pool_size = 3;
    /// Hard cap on connections open at once to one server (idle plus in use).
    std::size_t max_connections = 64;
    /// How long a caller waits for a connection when max_connections are in use;
    /// 0 fails at once with errc::pool_exhausted.
    std::chrono::milliseconds pool_wait_timeout{100};
    /// How long a server stays marked down after a failure; calls fail fast meanwhile.
    std::chrono::milliseconds mark_down_period{5000};
    /// Consecutive timeouts that mark a server down (a failed connect does at once).
    unsigned timeouts_to_mark_down = 3;
    /// Deadline for connect, TLS handshake and authentication together.
    std::chrono::milliseconds connection_timeout{1000};
    /// Deadline for a whole request: writing it and reading every response.
    std::chrono::milliseconds recv_timeout{1000};
    /// An idle connection unused for this long is checked for a server-side close before
    /// it is handed out (one non-blocking peek); 0 checks every time.
    std::chrono::milliseconds idle_check_after{1000};
    /// AsyncCacheClient only: connections per server, each carrying many requests in
    /// flight (pipelined); the synchronous client ignores it.
    std::size_t async_connections = 1;
    /// Set TCP_NODELAY on TCP connections.
    bool no_delay = true;
    /// Per-connection read buffer; a value that fits is read without any allocation
    /// besides the returned value.
    std::size_t read_buffer_size = 4096;
    /// Connections opened in a child process after fork() on first use (parent's are
    /// never used by the child).
    std::size_t after_fork_initial_pool_size = 0;
    /// TLS (servers started with -Z).
    TlsOptions tls{};
    /// ASCII authentication (servers started with -Y).
    AuthOptions auth{};

    /// @throws InvalidInputError naming the field that is out of range.
    void validate() const;
};

/// Per-server pool counters, as `CacheClient::get_counters()` reports them.
struct PoolCounters {
    std::uint64_t available = 0;      ///< idle connections in the pool
    std::uint64_t active = 0;         ///< connections in use by a request
    std::uint64_t established = 0;    ///< open connections (available + active)
    std::uint64_t total_created = 0;  ///< connections ever opened
    std::uint64_t total_errors = 0;   ///< failed connects plus connections discarded on error
    std::uint64_t timeouts = 0;       ///< requests that hit their deadline
    std::uint64_t mark_downs = 0;     ///< times the server was marked down
    std::uint64_t probes = 0;         ///< connect attempts after a mark-down period
    std::uint64_t fast_failures = 0;  ///< requests failed fast while marked down
    std::uint64_t pool_waits = 0;     ///< requests that waited for a free connection
    std::uint64_t closed_idle = 0;    ///< idle connections found closed by the server
                                      ///< when checked out (not counted as errors)
    std::uint64_t retries = 0;        ///< batches sent again on a fresh connection after a
                                      ///< reused one died before answering
    bool marked_down = false;         ///< the server is marked down right now

    friend bool operator==(const PoolCounters&, const PoolCounters&) = default;
};

}  // namespace meta_memcache
