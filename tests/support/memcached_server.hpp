#pragma once

// Real memcached processes for tests: each test starts its own on free loopback ports and
// may stop, pause (SIGSTOP), resume and restart them on the same port. A server dies with
// its owner object, and with the test process itself (PR_SET_PDEATHSIG), even on a crash.

#include <meta_memcache/server_address.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mmtest {

struct ServerOptions {
    std::vector<std::string> extra_args;  ///< e.g. {"-I", "2m"}, {"-Y", authfile}
    bool unix_socket = false;             ///< listen on a unix socket instead of TCP
    unsigned memory_mb = 64;              ///< -m
    unsigned threads = 2;                 ///< -t
    bool tls = false;                     ///< the extra_args carry -Z options (connect check
                                          ///< then only waits for the TCP accept)
    std::string host = "127.0.0.1";       ///< the IPv4 address to listen on (-l)
    std::vector<std::string> launcher;    ///< run through this, e.g. {"ip", "netns", "exec",
                                          ///< "ns1"}; it must exec memcached in its place
};

/// True when the memcached binary the tests were configured with exists.
bool memcached_available();
/// The memcached binary used.
std::string memcached_path();

class MemcachedServer {
public:
    explicit MemcachedServer(ServerOptions options = {});
    ~MemcachedServer();
    MemcachedServer(const MemcachedServer&) = delete;
    MemcachedServer& operator=(const MemcachedServer&) = delete;

    /// Starts the process (on the same port when restarting) and waits until it accepts.
    void start();
    /// Kills the process (SIGKILL) and reaps it.
    void stop();
    /// stop() then start() on the same port.
    void restart();
    /// SIGSTOP: the process keeps its sockets but answers nothing.
    void pause();
    /// SIGCONT.
    void resume();

    [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
    [[nodiscard]] bool paused() const noexcept { return paused_; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] const std::string& unix_path() const noexcept { return unix_path_; }
    [[nodiscard]] const std::string& host() const noexcept { return options_.host; }
    /// Where to connect, optionally with an alias.
    [[nodiscard]] meta_memcache::ServerAddress address(std::string alias = {}) const;

    /// Sends raw bytes on a new connection and reads until the answer ends with `until`
    /// (or 2 s pass). For checking server state independently of the client under test.
    std::string raw(std::string_view request, std::string_view until = "\r\n") const;
    /// raw(), repeated for up to `timeout` until `done(answer)`: for effects of quiet writes
    /// sent on another connection, which the server applies a moment later.
    std::string raw_until(
        std::string_view request,
        const std::function<bool(const std::string&)>& done,
        std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;
    /// Stores `value` under `key` with `client_flag` and a 60 s TTL through a raw ms, as
    /// another client would; true when stored.
    bool raw_set(std::string_view key, std::string_view value, std::uint32_t client_flag) const;
    /// The value of `key` read with the classic `get`, or nothing on a miss.
    [[nodiscard]] std::optional<std::string> raw_get(std::string_view key) const;
    /// The remaining TTL of `key` in seconds (-1: never expires), read with a raw mg, or
    /// nothing on a miss.
    [[nodiscard]] std::optional<long> raw_ttl(std::string_view key) const;
    /// `stats` as name -> value.
    [[nodiscard]] std::string stat(std::string_view name) const;

private:
    void spawn();
    bool wait_ready(std::chrono::milliseconds timeout) const;

    ServerOptions options_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::string unix_path_;
    bool paused_ = false;
};

/// Several servers, each private to the test.
class MemcachedCluster {
public:
    explicit MemcachedCluster(std::size_t n, ServerOptions options = {});
    MemcachedServer& operator[](std::size_t i) { return *servers_[i]; }
    [[nodiscard]] std::size_t size() const noexcept { return servers_.size(); }
    [[nodiscard]] std::vector<meta_memcache::ServerAddress> addresses() const;

private:
    std::vector<std::unique_ptr<MemcachedServer>> servers_;
};

/// A key unique to this test run (so tests never see each other's data).
std::string unique_key(std::string_view base);

/// `n` pseudo-random bytes (incompressible, so compression leaves them as they are).
std::string random_bytes(std::size_t n, unsigned seed = 1);

/// A free TCP port on 127.0.0.1 (bound and released).
std::uint16_t free_port();

}  // namespace mmtest
