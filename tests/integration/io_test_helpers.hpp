#pragma once

// Helpers shared by the connection and pool tests: timing a call, catching the error it
// throws, reading a pool's counters, and watching a memcached's connection stats over one
// persistent connection (so watching adds no connections of its own).

#include <meta_memcache/meta_memcache.hpp>

#include "memcached_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace iotest {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

/// How long `f()` took.
template <class F>
Ms time_of(F&& f) {
    const auto t0 = Clock::now();
    std::forward<F>(f)();
    return std::chrono::duration_cast<Ms>(Clock::now() - t0);
}

/// What a call threw: the errc and message of a meta_memcache::Error, or nothing.
struct Thrown {
    std::optional<meta_memcache::errc> code;
    std::string message;
    bool marked_down = false;  ///< it was a ServerMarkedDownError
    bool timeout = false;      ///< it was a TimeoutError
    bool protocol = false;     ///< it was a ProtocolError
    Ms took{0};
};

template <class F>
Thrown thrown_by(F&& f) {
    Thrown out;
    const auto t0 = Clock::now();
    try {
        std::forward<F>(f)();
    } catch (const meta_memcache::Error& e) {
        out.code = e.error();
        out.message = e.what();
        out.marked_down = dynamic_cast<const meta_memcache::ServerMarkedDownError*>(&e) != nullptr;
        out.timeout = dynamic_cast<const meta_memcache::TimeoutError*>(&e) != nullptr;
        out.protocol = dynamic_cast<const meta_memcache::ProtocolError*>(&e) != nullptr;
    }
    out.took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
    return out;
}

/// The counters of a client's first (usually only) server.
inline meta_memcache::PoolCounters counters_of(const meta_memcache::CacheClient& c) {
    return c.get_counters().servers.at(0).counters;
}

/// True when the pool's connection counts are consistent with each other.
inline bool consistent(const meta_memcache::PoolCounters& c) {
    return c.available + c.active == c.established && c.established <= c.total_created;
}

/// One persistent connection to a TCP memcached for reading `stats`.
class StatsConnection {
public:
    /// Connects, then waits until the server has counted the connection MemcachedServer's
    /// start() made to see it ready: memcached counts a connection on the worker thread
    /// it hands it to, so a just-started server may count it after this one.
    explicit StatsConnection(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            ::close(fd_);
            throw std::runtime_error("StatsConnection: cannot connect");
        }
        const auto until = Clock::now() + Ms(2000);
        while (stat("total_connections") < 2 && Clock::now() < until) {
            ::usleep(1000);
        }
    }
    ~StatsConnection() { ::close(fd_); }
    StatsConnection(const StatsConnection&) = delete;
    StatsConnection& operator=(const StatsConnection&) = delete;

    /// One `stats` value as a number.
    long long stat(const std::string& name) {
        const std::string req = "stats\r\n";
        if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
            throw std::runtime_error("StatsConnection: send failed");
        std::string out;
        while (out.size() < 5 || out.compare(out.size() - 5, 5, "END\r\n") != 0) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 2000) <= 0)
                throw std::runtime_error("StatsConnection: no answer");
            char buf[8192];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0)
                throw std::runtime_error("StatsConnection: closed");
            out.append(buf, static_cast<std::size_t>(n));
        }
        const std::string needle = "STAT " + name + " ";
        const auto at = out.find(needle);
        if (at == std::string::npos)
            throw std::runtime_error("StatsConnection: no stat " + name);
        return std::stoll(out.substr(at + needle.size()));
    }

private:
    int fd_ = -1;
};

/// Pool options with short deadlines for tests.
inline meta_memcache::PoolOptions quick_options() {
    meta_memcache::PoolOptions o;
    o.connection_timeout = Ms(1000);
    o.recv_timeout = Ms(1000);
    o.mark_down_period = Ms(1000);
    return o;
}

}  // namespace iotest
