#pragma once

// In-process TCP servers for the faults real memcached cannot produce: accepting and
// never answering, closing in the middle of an answer, answering garbage, lying lengths,
// endless lines (FaultServer); and a proxy in front of a real memcached whose faults are
// switched on and off while clients use it (FaultProxy). Each runs on its own thread on a
// free loopback port.

#include <meta_memcache/server_address.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace mmtest {

class FaultServer {
public:
    /// What to answer to the bytes received so far on a connection; called whenever new
    /// bytes arrive. Return the bytes to send (may be empty). Set `close` to hang up after
    /// sending. `input` accumulates everything the client sent on this connection.
    using Script = std::function<std::string(const std::string& input, bool& close)>;

    explicit FaultServer(Script script);
    ~FaultServer();
    FaultServer(const FaultServer&) = delete;
    FaultServer& operator=(const FaultServer&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] meta_memcache::ServerAddress address() const;
    [[nodiscard]] unsigned connections() const noexcept { return accepted_.load(); }
    /// Everything received on all connections so far.
    [[nodiscard]] std::string received() const;

    /// Accepts and reads, never answers.
    static Script stall();
    /// Answers every request line with `bytes` (garbage, lying lengths, ...), on every
    /// connection.
    static Script answer(std::string bytes);
    /// Answers the first request with the first `n` bytes of `bytes`, then closes.
    static Script close_after(std::string bytes, std::size_t n);
    /// Sends an endless stream of `unit` (e.g. a line without "\r\n") once asked.
    static Script endless(std::string unit);

private:
    void run();

    Script script_;
    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::atomic<unsigned> accepted_{0};
    mutable std::mutex mu_;
    std::string received_;
    std::thread thread_;
};

/// A TCP proxy in front of a real memcached whose behaviour can be switched while clients
/// use it, so a test sees both the fault and the recovery once it ends. Every accepted
/// connection gets its own upstream connection.
class FaultProxy {
public:
    enum class Mode {
        pass,        ///< forward bytes both ways
        stall,       ///< accept, swallow requests, never answer (a hung server)
        cut_values,  ///< close a connection in the middle of the next value it answers
    };

    /// Proxies a loopback port to `upstream_port` on `upstream_host`.
    FaultProxy(std::string upstream_host, std::uint16_t upstream_port);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] meta_memcache::ServerAddress address() const;
    /// Switches the behaviour. Leaving `stall` closes the connections whose bytes were
    /// swallowed (they are out of step, as a real hung server's would be).
    void set_mode(Mode mode);
    [[nodiscard]] Mode mode() const noexcept { return mode_.load(); }
    [[nodiscard]] unsigned connections() const noexcept { return accepted_.load(); }
    /// Connections closed in the middle of a value so far.
    [[nodiscard]] unsigned cuts() const noexcept { return cuts_.load(); }

private:
    void run();

    std::string upstream_host_;
    std::uint16_t upstream_port_ = 0;
    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::atomic<Mode> mode_{Mode::pass};
    std::atomic<unsigned> accepted_{0};
    std::atomic<unsigned> cuts_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace mmtest
