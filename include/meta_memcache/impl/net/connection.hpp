#pragma once

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/impl/net/socket_calls.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/server_address.hpp>

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache::detail {

using Clock = std::chrono::steady_clock;

/// Clock::now() read with one clock_gettime call, without the standard library's wrapper
/// around it (its steady_clock is CLOCK_MONOTONIC on Linux): for the per-request idle check.
[[nodiscard, gnu::always_inline]] inline Clock::time_point clock_now() noexcept {
#if defined(__linux__) && (defined(__GLIBCXX__) || defined(_LIBCPP_VERSION))
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
#else
    return Clock::now();
#endif
}

/// Outcome of one non-blocking transport call.
enum class IoStatus : std::uint8_t { ok, would_block, eof, error };

struct IoResult {
    IoStatus status = IoStatus::ok;
    std::size_t bytes = 0;
    int error = 0;            ///< errno (or a TLS error note in tls_error) when status == error
    bool want_write = false;  ///< TLS: the read must wait for the socket to be writable
    bool want_read = false;   ///< TLS: the write must wait for the socket to be readable
};

class TlsContext;

/// One socket to one server (TCP, unix or TLS) with its reusable buffers.
/// Not thread-safe: the pool hands a connection to one request at a time.
class Connection {
public:
    /// Connects, completes the TLS handshake and authenticates, all before `deadline`.
    /// @throws TransportError (connection_failed, timeout, tls_error, authentication_failed)
    static std::unique_ptr<Connection> open(const ServerAddress& server,
                                            const std::string& name,
                                            const PoolOptions& options,
                                            TlsContext* tls,
                                            Clock::time_point deadline);

    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    Connection(Connection&&) = delete;
    Connection& operator=(Connection&&) = delete;

    /// Writes as much of `iov` as the socket takes now (never blocks, never SIGPIPEs).
    IoResult write_some(const iovec* iov, int iovcnt) noexcept;
    /// The same for one run of bytes (one send()).
    [[gnu::always_inline]] IoResult write_some(const char* data, std::size_t n) noexcept {
        if (ssl_ == nullptr) [[likely]]
            return write_plain(data, n);
        return write_some_again(data, n);
    }
    /// write_some() on a connection known not to be TLS.
    [[gnu::always_inline]] IoResult write_plain(const char* data, std::size_t n) noexcept {
        const ssize_t sent = socket_calls::send_bytes(fd_, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0) [[likely]]
            return {IoStatus::ok, static_cast<std::size_t>(sent), 0, false};
        return write_some_again(data, n);
    }
    /// Reads what is there now, into `buf`.
    IoResult read_some(char* buf, std::size_t n) noexcept;
    /// Plain sockets: one blocking read bounded by the socket's receive timeout (the
    /// request's recv_timeout), so a prompt answer costs one system call. TLS: read_some.
    [[gnu::always_inline]] IoResult read_wait(char* buf, std::size_t n) noexcept {
        if (ssl_ == nullptr) [[likely]]
            return read_wait_plain(buf, n);
        return read_some(buf, n);
    }
    /// read_wait() on a connection known not to be TLS.
    [[gnu::always_inline]] IoResult read_wait_plain(char* buf, std::size_t n) noexcept {
        const ssize_t got = socket_calls::recv_bytes(fd_, buf, n, 0);
        if (got > 0) [[likely]]
            return {IoStatus::ok, static_cast<std::size_t>(got), 0, false};
        return read_wait_ended(got);
    }
    /// Writes all of `bytes`, waiting in poll() while the socket is full. would_block: the
    /// deadline passed first. For the classic-protocol exchanges (authentication, stats).
    IoResult write_all(std::string_view bytes, Clock::time_point deadline) noexcept;
    /// Appends the bytes that arrive next (at least one, waiting in poll() until the
    /// deadline) to `out`. would_block: the deadline passed first.
    IoResult read_more(std::string& out, Clock::time_point deadline);
    /// True when the server closed the connection while idle, or sent bytes nobody asked
    /// for (answers to earlier no_reply writes, `pending_fences`, are expected). One
    /// non-blocking peek.
    [[nodiscard]] bool looks_dead() noexcept;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] bool is_tls() const noexcept { return ssl_ != nullptr; }

    // Reusable per-connection state, owned here so requests allocate nothing.
    std::vector<char> rbuf;       ///< read buffer, read_buffer_size bytes
    std::size_t rpos = 0;         ///< first unconsumed byte in rbuf
    std::size_t rend = 0;         ///< end of the bytes read into rbuf
    WriteBuffer wbuf;             ///< the batch being written (only grows)
    unsigned pending_fences = 0;  ///< mn answers still to drain (no_reply writes)
    ResponseHeader hit_header = BatchDecoder::hit_header();  ///< the decoder's, kept
    Clock::time_point last_used{};      ///< when the connection was last released
    std::uint64_t fork_generation = 0;  ///< the process generation that opened it
    bool bound = false;                 ///< kept by one thread between its requests (see the pool)

private:
    Connection(int fd, void* ssl, std::size_t read_buffer_size);
    /// write_some(data, n) over TLS, or after a send() that failed (errno says why).
    IoResult write_some_again(const char* data, std::size_t n) noexcept;
    /// read_wait's outcome for a recv() that returned `got` <= 0 (errno says why).
    static IoResult read_wait_ended(ssize_t got) noexcept;

    int fd_ = -1;
    void* ssl_ = nullptr;  // SSL*, kept opaque so OpenSSL stays in connection.cpp
};

/// A TLS client context (asio::ssl::context over OpenSSL) shared by a pool's connections.
class TlsContext {
public:
    /// @throws TransportError(tls_error) when a CA, certificate or key cannot be loaded.
    explicit TlsContext(const TlsOptions& options);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    TlsContext(TlsContext&&) = delete;
    TlsContext& operator=(TlsContext&&) = delete;

    struct Impl;
    Impl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

namespace connection_impl {
inline std::atomic<std::uint64_t> g_fork_generation{0};
}  // namespace connection_impl

/// Incremented in every child process after fork(); a connection from an older
/// generation belongs to the parent and is never used. (The first call installs the
/// fork hook; every pool makes it when it is built.)
std::uint64_t fork_generation() noexcept;
/// fork_generation() where it has been called before (a pool exists): one load.
[[nodiscard]] inline std::uint64_t known_fork_generation() noexcept {
    return connection_impl::g_fork_generation.load(std::memory_order_relaxed);
}

}  // namespace meta_memcache::detail
