#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/net/connection.hpp>
#include <meta_memcache/impl/net/exchange.hpp>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#if META_MEMCACHE_HAVE_TLS
#include <asio/ssl/context.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

namespace meta_memcache::detail {

namespace connection_impl {

inline void on_fork_child() noexcept {
    g_fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct ForkHook {
    ForkHook() { pthread_atfork(nullptr, nullptr, &on_fork_child); }
};

inline int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

inline void set_blocking(int fd, bool blocking) {
    const int fl = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, blocking ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK));
}

[[noreturn]] inline void fail(errc code, const std::string& name, const std::string& what) {
    throw_error(code, what, name);
}

/// Waits for `events` on fd until the deadline; false on timeout.
inline bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int ms = remaining_ms(deadline);
        if (ms == 0 && Clock::now() >= deadline)
            return false;
        const int rc = ::poll(&p, 1, ms);
        if (rc > 0)
            return true;
        if (rc == 0)
            return false;
        if (errno != EINTR)
            return true;  // let the next I/O call report the error
    }
}

/// Connects a socket with asio under the deadline (resolve included) and returns its fd.
inline int connect_socket(const ServerAddress& server,
                          const std::string& name,
                          std::chrono::milliseconds timeout,
                          Clock::time_point deadline) {
    asio::io_context io;
    asio::error_code result = asio::error::would_block;
    auto run = [&](auto& socket) {
        io.run_for(deadline - Clock::now());
        if (!io.stopped()) {
            asio::error_code ignored;
            socket.close(ignored);
            io.run();
            fail(errc::timeout, name,
                 "connect did not complete within " + std::to_string(timeout.count()) + " ms");
        }
        if (result) {
            fail(errc::connection_failed, name, "connect failed: " + result.message());
        }
        asio::error_code ec;
        const int fd = socket.release(ec);
        if (ec)
            fail(errc::connection_failed, name, "socket release failed: " + ec.message());
        return fd;
    };
    if (!server.unix_path.empty()) {
        asio::local::stream_protocol::socket socket(io);
        socket.async_connect(asio::local::stream_protocol::endpoint(server.unix_path),
                             [&](const asio::error_code& ec) { result = ec; });
        return run(socket);
    }
    asio::ip::tcp::socket socket(io);
    asio::error_code addr_ec;
    const auto address = asio::ip::make_address(server.host, addr_ec);
    if (!addr_ec) {
        socket.async_connect(asio::ip::tcp::endpoint(address, server.port),
                             [&](const asio::error_code& ec) { result = ec; });
        return run(socket);
    }
    asio::ip::tcp::resolver resolver(io);
    resolver.async_resolve(
        server.host, std::to_string(server.port),
        [&](const asio::error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
            if (ec) {
                result = ec;
                return;
            }
            asio::async_connect(
                socket, results,
                [&](const asio::error_code& cec, const asio::ip::tcp::endpoint&) { result = cec; });
        });
    io.run_for(deadline - Clock::now());
    if (!io.stopped()) {
        resolver.cancel();
        asio::error_code ignored;
        socket.close(ignored);
        io.run();
        fail(errc::timeout, name,
             "resolve and connect did not complete within " + std::to_string(timeout.count()) +
                 " ms");
    }
    if (result) {
        fail(errc::connection_failed, name, "connect failed: " + result.message());
    }
    asio::error_code ec;
    const int fd = socket.release(ec);
    if (ec)
        fail(errc::connection_failed, name, "socket release failed: " + ec.message());
    return fd;
}

#if META_MEMCACHE_HAVE_TLS

// A socket BIO that never raises SIGPIPE and never blocks: OpenSSL's own uses write().
inline int bio_write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    const auto n =
        socket_calls::send_bytes(static_cast<int>(BIO_get_fd(b, nullptr)), data,
                                 static_cast<std::size_t>(len), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_write(b);
    }
    return static_cast<int>(n);
}

inline int bio_read(BIO* b, char* data, int len) {
    BIO_clear_retry_flags(b);
    const auto n = socket_calls::recv_bytes(static_cast<int>(BIO_get_fd(b, nullptr)), data,
                                            static_cast<std::size_t>(len), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_read(b);
    }
    return static_cast<int>(n);
}

inline int bio_puts(BIO* b, const char* s) {
    return bio_write(b, s, static_cast<int>(std::strlen(s)));
}

inline long bio_ctrl(BIO* b, int cmd, long num, void* ptr) {
    switch (cmd) {
        case BIO_C_SET_FD:
            // The fd is kept in the BIO's data pointer, as OpenSSL's own socket BIO keeps it.
            BIO_set_data(b,
                         reinterpret_cast<void*>(  // NOLINT(performance-no-int-to-ptr)
                             static_cast<std::intptr_t>(*static_cast<int*>(ptr))));
            BIO_set_init(b, 1);
            return 1;
        case BIO_C_GET_FD: {
            const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
            if (ptr != nullptr)
                *static_cast<int*>(ptr) = fd;
            return fd;
        }
        case BIO_CTRL_FLUSH:
            return 1;
        default:
            (void)num;
            return 0;
    }
}

inline BIO_METHOD* nosigpipe_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m =
            BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                         "meta_memcache socket");
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_puts(m, bio_puts);
        BIO_meth_set_ctrl(m, bio_ctrl);
        return m;
    }();
    return method;
}

inline std::string tls_error_text() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty())
            out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown TLS error" : out;
}

#endif  // META_MEMCACHE_HAVE_TLS

/// What a recv() that returned `got` means. Empty: interrupted by a signal, try again
/// (unless `interrupt_is_wait`, when that reads as "would block").
inline std::optional<IoResult> recv_outcome(ssize_t got, bool interrupt_is_wait) noexcept {
    if (got > 0)
        return IoResult{IoStatus::ok, static_cast<std::size_t>(got), 0, false};
    if (got == 0)
        return IoResult{IoStatus::eof, 0, 0, false};
    if (errno == EINTR && !interrupt_is_wait)
        return std::nullopt;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return IoResult{IoStatus::would_block, 0, 0, false};
    return IoResult{IoStatus::error, 0, errno, false};
}

}  // namespace connection_impl

META_MEMCACHE_DECL std::uint64_t fork_generation() noexcept {
    using namespace connection_impl;
    static const ForkHook hook;
    return g_fork_generation.load(std::memory_order_relaxed);
}

#if META_MEMCACHE_HAVE_TLS
struct TlsContext::Impl {
    asio::ssl::context ctx{asio::ssl::context::tls_client};
    TlsOptions options;
};

META_MEMCACHE_DECL TlsContext::TlsContext(const TlsOptions& options)
    : impl_(std::make_unique<Impl>()) {
    impl_->options = options;
    auto& ctx = impl_->ctx;
    asio::error_code ec;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1,
                    ec);
    if (options.verify_peer) {
        ctx.set_verify_mode(asio::ssl::verify_peer, ec);
        if (!options.ca_file.empty()) {
            ctx.load_verify_file(options.ca_file, ec);
            if (ec) {
                throw TransportError(errc::tls_error,
                                     "cannot load CA file " + options.ca_file + ": " + ec.message(),
                                     {});
            }
        } else {
            ctx.set_default_verify_paths(ec);
        }
    } else {
        ctx.set_verify_mode(asio::ssl::verify_none, ec);
    }
    if (!options.cert_file.empty()) {
        ctx.use_certificate_chain_file(options.cert_file, ec);
        if (ec) {
            throw TransportError(
                errc::tls_error,
                "cannot load certificate " + options.cert_file + ": " + ec.message(), {});
        }
        ctx.use_private_key_file(options.key_file.empty() ? options.cert_file : options.key_file,
                                 asio::ssl::context::pem, ec);
        if (ec) {
            throw TransportError(
                errc::tls_error,
                "cannot load private key " + options.key_file + ": " + ec.message(), {});
        }
    }
}
#else
struct TlsContext::Impl {};
META_MEMCACHE_DECL TlsContext::TlsContext(const TlsOptions&) {
    throw InvalidInputError("TLS requested but meta_memcache was built without TLS support");
}
#endif
META_MEMCACHE_DECL TlsContext::~TlsContext() = default;

META_MEMCACHE_DECL Connection::Connection(int fd, void* ssl, std::size_t read_buffer_size)
    : rbuf(read_buffer_size), fork_generation(detail::fork_generation()), fd_(fd), ssl_(ssl) {
    static_cast<void>(wbuf.room(1024));
}

META_MEMCACHE_DECL Connection::~Connection() {
#if META_MEMCACHE_HAVE_TLS
    if (ssl_ != nullptr) {
        SSL_free(static_cast<SSL*>(ssl_));  // no close_notify: the socket may be gone
    }
#endif
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

META_MEMCACHE_DECL std::unique_ptr<Connection> Connection::open(const ServerAddress& server,
                                                                const std::string& name,
                                                                const PoolOptions& options,
                                                                TlsContext* tls,
                                                                Clock::time_point deadline) {
    using namespace connection_impl;
    const int fd = connect_socket(server, name, options.connection_timeout, deadline);
    std::unique_ptr<Connection> conn(new Connection(fd, nullptr, options.read_buffer_size));
    if (server.unix_path.empty() && options.no_delay) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    // The first read of a request blocks in the kernel, bounded by recv_timeout, so a
    // prompt answer needs no poll(); every other wait is a poll() under the deadline.
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(options.recv_timeout);
    timeval tv{static_cast<time_t>(us.count() / 1000000),
               static_cast<suseconds_t>(us.count() % 1000000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    set_blocking(fd, true);

    if (tls != nullptr) {
#if META_MEMCACHE_HAVE_TLS
        auto& timpl = tls->impl();
        SSL* ssl = SSL_new(timpl.ctx.native_handle());
        if (ssl == nullptr)
            fail(errc::tls_error, name, "SSL_new: " + tls_error_text());
        conn->ssl_ = ssl;
        BIO* bio = BIO_new(nosigpipe_method());
        int bfd = fd;
        BIO_ctrl(bio, BIO_C_SET_FD, 0, &bfd);
        SSL_set_bio(ssl, bio, bio);
        const std::string& sni =
            timpl.options.server_name.empty() ? server.host : timpl.options.server_name;
        if (!sni.empty() && server.unix_path.empty()) {
            asio::error_code ec;
            asio::ip::make_address(sni, ec);
            if (ec) {  // SNI is for names only (SSL_set_tlsext_host_name, without its C cast)
                SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char*>(sni.c_str()));
            }
            if (timpl.options.verify_peer) {
                if (!ec) {
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni.c_str());
                } else {
                    SSL_set1_host(ssl, sni.c_str());
                }
            }
        }
        for (;;) {
            ERR_clear_error();
            const int rc = SSL_connect(ssl);
            if (rc == 1)
                break;
            const int err = SSL_get_error(ssl, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
                if (!wait_fd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
                    fail(errc::timeout, name,
                         "TLS handshake did not complete within " +
                             std::to_string(options.connection_timeout.count()) + " ms");
                }
                continue;
            }
            std::string why = tls_error_text();
            const long verify = SSL_get_verify_result(ssl);
            if (verify != X509_V_OK) {
                why = std::string("certificate verification failed: ") +
                      X509_verify_cert_error_string(verify);
            }
            fail(errc::tls_error, name, "TLS handshake failed: " + why);
        }
#else
        fail(errc::tls_error, name, "built without TLS support");
#endif
    }

    if (!options.auth.username.empty()) {
        // One request and its one-line answer, alone on the connection (memcached 1.6.18
        // drops replies to requests pipelined before authentication).
        const auto exchange = [&](const std::string& req) {
            Exchanged x = detail::exchange(*conn, req, AnswerEnd::line, deadline,
                                           options.connection_timeout, 1024);
            if (!x.ok) {
                fail(x.code == errc::protocol_error ? errc::protocol_error
                     : x.timed_out()                ? errc::timeout
                                                    : errc::connection_closed,
                     name, "during authentication: " + x.message);
            }
            x.answer.resize(x.answer.size() - 2);  // the answer's one line, without "\r\n"
            return x.answer;
        };
        // ASCII auth is a fake `set auth`: sent to a server without -Y it would store the
        // credentials as an ordinary key anyone can read. A lone `mn` first tells the two
        // apart: a server that wants authentication refuses it.
        const std::string check = exchange("mn\r\n");
        if (check == "CLIENT_ERROR unauthenticated") {
            const std::string payload = options.auth.username + " " + options.auth.password;
            const std::string answer = exchange("set auth 0 0 " + std::to_string(payload.size()) +
                                                "\r\n" + payload + "\r\n");
            if (answer != "STORED") {
                fail(errc::authentication_failed, name,
                     "server refused the credentials of user \"" + options.auth.username +
                         "\": " + answer);
            }
        } else if (check != "MN") {
            fail(errc::protocol_error, name,
                 "unexpected answer to the authentication check: " + check);
        }
        // "MN": the server asks for no authentication; the credentials are not sent.
    }
    return conn;
}

META_MEMCACHE_DECL IoResult Connection::write_some(const iovec* v, int iovcnt) noexcept {
#if META_MEMCACHE_HAVE_TLS
    if (ssl_ != nullptr) {
        auto* ssl = static_cast<SSL*>(ssl_);
        // SSL_write takes one buffer; write the first non-empty segment.
        int i = 0;
        while (i < iovcnt && v[i].iov_len == 0)
            ++i;
        if (i == iovcnt)
            return {IoStatus::ok, 0, 0, false};
        ERR_clear_error();
        std::size_t written = 0;
        const int rc = SSL_write_ex(ssl, v[i].iov_base, v[i].iov_len, &written);
        if (rc == 1)
            return {IoStatus::ok, written, 0, false};
        const int err = SSL_get_error(ssl, rc);
        if (err == SSL_ERROR_WANT_WRITE)
            return {IoStatus::would_block, 0, 0, false};
        if (err == SSL_ERROR_WANT_READ)
            return {IoStatus::would_block, 0, 0, false, true};
        if (err == SSL_ERROR_ZERO_RETURN)
            return {IoStatus::eof, 0, 0, false};
        return {IoStatus::error, 0, errno ? errno : EPROTO, false};
    }
#endif
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(v);
    msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
    for (;;) {
        const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return {IoStatus::ok, static_cast<std::size_t>(n), 0, false};
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return {IoStatus::would_block, 0, 0, false};
        return {IoStatus::error, 0, errno, false};
    }
}

META_MEMCACHE_DECL IoResult Connection::write_some_again(const char* data, std::size_t n) noexcept {
    if (ssl_ != nullptr) {
        iovec v{const_cast<char*>(data), n};
        return write_some(&v, 1);
    }
    // errno says why the send() before failed; a signal's interruption is sent again.
    for (;;) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return {IoStatus::would_block, 0, 0, false};
        if (errno != EINTR)
            return {IoStatus::error, 0, errno, false};
        const ssize_t sent = socket_calls::send_bytes(fd_, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0)
            return {IoStatus::ok, static_cast<std::size_t>(sent), 0, false};
    }
}

META_MEMCACHE_DECL IoResult Connection::read_some(char* buf, std::size_t n) noexcept {
    using namespace connection_impl;
#if META_MEMCACHE_HAVE_TLS
    if (ssl_ != nullptr) {
        auto* ssl = static_cast<SSL*>(ssl_);
        ERR_clear_error();
        std::size_t got = 0;
        const int rc = SSL_read_ex(ssl, buf, n, &got);
        if (rc == 1)
            return {IoStatus::ok, got, 0, false};
        const int err = SSL_get_error(ssl, rc);
        if (err == SSL_ERROR_WANT_READ)
            return {IoStatus::would_block, 0, 0, false};
        if (err == SSL_ERROR_WANT_WRITE)
            return {IoStatus::would_block, 0, 0, true};
        if (err == SSL_ERROR_ZERO_RETURN)
            return {IoStatus::eof, 0, 0, false};
        if (err == SSL_ERROR_SYSCALL && errno == 0)
            return {IoStatus::eof, 0, 0, false};
        return {IoStatus::error, 0, errno ? errno : EPROTO, false};
    }
#endif
    for (;;) {
        if (const auto r = recv_outcome(socket_calls::recv_bytes(fd_, buf, n, MSG_DONTWAIT), false))
            return *r;
    }
}

META_MEMCACHE_DECL IoResult Connection::read_wait_ended(ssize_t got) noexcept {
    // SO_RCVTIMEO expired, or a signal came (not restarted: that could block for a whole
    // recv_timeout again): "would block", and the caller checks its deadline.
    return *connection_impl::recv_outcome(got, true);
}

META_MEMCACHE_DECL IoResult Connection::write_all(std::string_view bytes,
                                                  Clock::time_point deadline) noexcept {
    using namespace connection_impl;
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        iovec v{const_cast<char*>(bytes.data() + sent), bytes.size() - sent};
        const IoResult r = write_some(&v, 1);
        if (r.status == IoStatus::ok) {
            sent += r.bytes;
        } else if (r.status != IoStatus::would_block) {
            return r;
        } else if (!wait_fd(fd_, r.want_read ? POLLIN : POLLOUT, deadline)) {
            return {IoStatus::would_block, sent, 0, false};
        }
    }
    return {IoStatus::ok, sent, 0, false};
}

META_MEMCACHE_DECL IoResult Connection::read_more(std::string& out, Clock::time_point deadline) {
    using namespace connection_impl;
    char buf[4096];
    for (;;) {
        const IoResult r = read_some(buf, sizeof buf);
        if (r.status == IoStatus::ok) {
            out.append(buf, r.bytes);
            return r;
        }
        if (r.status != IoStatus::would_block)
            return r;
        if (!wait_fd(fd_, r.want_write ? POLLOUT : POLLIN, deadline))
            return r;
    }
}

META_MEMCACHE_DECL bool Connection::looks_dead() noexcept {
    char c = 0;
    const ssize_t got = socket_calls::recv_bytes(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (got == 0)
        return true;  // closed by the server
    if (got > 0) {
        // Stray bytes put the connection out of step, unless they are the answers to
        // earlier no_reply writes, or TLS records (a session ticket) the next read handles.
        return ssl_ == nullptr && pending_fences == 0;
    }
    return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

}  // namespace meta_memcache::detail
