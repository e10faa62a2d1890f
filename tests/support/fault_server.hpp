#pragma once

// An in-process TCP server for the faults real memcached cannot produce: accepting and
// never answering, closing in the middle of an answer, answering garbage, lying lengths,
// endless lines. Runs on its own thread on a free loopback port.

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
    /// Answers every request line with `bytes` (garbage, lying lengths, ...).
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

}  // namespace mmtest
