#include "fault_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

namespace mmtest {

namespace {

/// What a script returns to start an endless stream of the bytes after it. (Spelled in
/// two literals: "\x01E..." would read as the one character \x1E.)
constexpr std::string_view endless_marker =
    "\x01"
    "ENDLESS:";

/// The connection a script is called for (scripts run on the server's thread).
thread_local std::uint64_t t_connection = 0;

struct Peer {
    std::uint64_t id = 0;  ///< serial number of the connection, from 1
    std::string input;
    std::string output;
    bool close_after = false;
    bool endless = false;
};

/// A listening socket on a free loopback port, and a pipe to wake the serving thread.
void listen_on_loopback(const char* who, int& listen_fd, std::uint16_t& port, int (&wake)[2]) {
    listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(listen_fd, 64) != 0) {
        throw std::runtime_error(std::string(who) + ": cannot listen");
    }
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
    if (::pipe(wake) != 0)
        throw std::runtime_error(std::string(who) + ": pipe failed");
}

/// Wakes the serving thread, joins it and closes the sockets.
void shut_down(std::thread& thread, int listen_fd, int (&wake)[2]) {
    const char c = 'x';
    (void)::write(wake[1], &c, 1);
    thread.join();
    ::close(listen_fd);
    ::close(wake[0]);
    ::close(wake[1]);
}

meta_memcache::ServerAddress loopback(std::uint16_t port) {
    meta_memcache::ServerAddress a;
    a.host = "127.0.0.1";
    a.port = port;
    return a;
}

}  // namespace

FaultServer::FaultServer(Script script) : script_(std::move(script)) {
    listen_on_loopback("FaultServer", listen_fd_, port_, wake_);
    thread_ = std::thread([this] { run(); });
}

FaultServer::~FaultServer() {
    shut_down(thread_, listen_fd_, wake_);
}

meta_memcache::ServerAddress FaultServer::address() const {
    return loopback(port_);
}

std::string FaultServer::received() const {
    std::lock_guard lk(mu_);
    return received_;
}

void FaultServer::run() {
    std::map<int, Peer> peers;
    for (;;) {
        std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (auto& [fd, p] : peers) {
            short ev = POLLIN;
            if (!p.output.empty() || p.endless)
                ev |= POLLOUT;
            fds.push_back({fd, ev, 0});
        }
        if (::poll(fds.data(), fds.size(), 1000) < 0)
            continue;
        if (fds[0].revents != 0)
            break;
        if (fds[1].revents & POLLIN) {
            const int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd >= 0) {
                ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
                peers[fd] = Peer{};
                peers[fd].id = accepted_.fetch_add(1) + 1;
            }
        }
        for (std::size_t i = 2; i < fds.size(); ++i) {
            const int fd = fds[i].fd;
            auto it = peers.find(fd);
            if (it == peers.end())
                continue;
            Peer& p = it->second;
            bool drop = false;
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                char buf[65536];
                const auto n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) {
                    drop = true;
                } else {
                    p.input.append(buf, static_cast<std::size_t>(n));
                    {
                        std::lock_guard lk(mu_);
                        received_.append(buf, static_cast<std::size_t>(n));
                    }
                    bool close = false;
                    t_connection = p.id;
                    std::string out = script_(p.input, close);
                    if (out.rfind(endless_marker, 0) == 0) {
                        // Whole units, 64 KiB or more: what is sent rotates to the back,
                        // so a partial send never breaks the pattern.
                        p.endless = true;
                        const std::string unit = out.substr(endless_marker.size());
                        p.output.clear();
                        while (p.output.size() < 65536)
                            p.output += unit;
                    } else {
                        p.output += out;
                    }
                    p.close_after = p.close_after || close;
                }
            }
            if (!drop && (fds[i].revents & POLLOUT) && !p.output.empty()) {
                const auto n = ::send(fd, p.output.data(), p.output.size(), MSG_NOSIGNAL);
                if (n < 0) {
                    drop = true;
                } else if (!p.endless) {
                    p.output.erase(0, static_cast<std::size_t>(n));
                } else {
                    std::rotate(p.output.begin(), p.output.begin() + n, p.output.end());
                }
            }
            if (!drop && p.close_after && p.output.empty())
                drop = true;
            if (drop) {
                ::close(fd);
                peers.erase(it);
            }
        }
    }
    for (auto& [fd, p] : peers)
        ::close(fd);
}

FaultServer::Script FaultServer::stall() {
    return [](const std::string&, bool&) { return std::string(); };
}

FaultServer::Script FaultServer::answer(std::string bytes) {
    // Lines answered so far, per connection.
    auto answered = std::make_shared<std::map<std::uint64_t, std::size_t>>();
    return [bytes, answered](const std::string& input, bool&) {
        std::size_t& done = (*answered)[t_connection];
        std::size_t lines = 0;
        for (std::size_t pos = input.find("\r\n"); pos != std::string::npos;
             pos = input.find("\r\n", pos + 2)) {
            ++lines;
        }
        std::string out;
        for (; done < lines; ++done)
            out += bytes;
        return out;
    };
}

FaultServer::Script FaultServer::close_after(std::string bytes, std::size_t n) {
    return [bytes, n](const std::string& input, bool& close) {
        if (input.find("\r\n") == std::string::npos)
            return std::string();
        close = true;
        return bytes.substr(0, n);
    };
}

FaultServer::Script FaultServer::endless(std::string unit) {
    return [unit](const std::string& input, bool&) {
        if (input.find("\r\n") == std::string::npos)
            return std::string();
        return std::string(endless_marker) + unit;
    };
}

}  // namespace mmtest

namespace mmtest {

namespace {

/// One proxied connection: the client's socket, its upstream socket, bytes on their way.
struct Pair {
    int client = -1;
    int upstream = -1;
    std::string to_upstream;
    std::string to_client;
    bool swallowed = false;  ///< bytes were dropped while stalled: out of step
    bool closing = false;    ///< cut: close once to_client is sent
};

int connect_upstream(const std::string& host, std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return -1;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/// Where to cut `answer` so that it ends in the middle of a value block: after the
/// header of the first "VA <size>" line and half its value. npos: no value starts here.
std::size_t cut_point(const std::string& answer) {
    for (std::size_t at = 0; at < answer.size();) {
        const auto eol = answer.find("\r\n", at);
        if (eol == std::string::npos)
            return std::string::npos;
        if (answer.compare(at, 3, "VA ") == 0) {
            const std::size_t size = std::strtoul(answer.c_str() + at + 3, nullptr, 10);
            return std::min(answer.size(), eol + 2 + size / 2);
        }
        at = eol + 2;
    }
    return std::string::npos;
}

/// Sends what it can of `out` without blocking, keeping back its last `hold` bytes;
/// false when the peer is gone.
bool flush_some(int fd, std::string& out, std::size_t hold = 0) {
    if (out.size() <= hold)
        return true;
    const auto n = ::send(fd, out.data(), out.size() - hold, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK;
    out.erase(0, static_cast<std::size_t>(n));
    return true;
}

}  // namespace

FaultProxy::FaultProxy(std::string upstream_host, std::uint16_t upstream_port)
    : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port) {
    listen_on_loopback("FaultProxy", listen_fd_, port_, wake_);
    thread_ = std::thread([this] { run(); });
}

FaultProxy::~FaultProxy() {
    stop_ = true;
    shut_down(thread_, listen_fd_, wake_);
}

meta_memcache::ServerAddress FaultProxy::address() const {
    return loopback(port_);
}

void FaultProxy::set_mode(Mode mode) {
    mode_ = mode;
    const char c = 'm';
    (void)::write(wake_[1], &c, 1);
}

void FaultProxy::run() {
    std::vector<Pair> pairs;
    auto close_pair = [](Pair& p) {
        ::close(p.client);
        ::close(p.upstream);
        p.client = p.upstream = -1;
    };
    Mode last_mode = mode_.load();
    for (;;) {
        std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (const Pair& p : pairs) {
            fds.push_back(
                {p.client, static_cast<short>(POLLIN | (p.to_client.empty() ? 0 : POLLOUT)), 0});
            fds.push_back({p.upstream,
                           static_cast<short>(POLLIN | (p.to_upstream.empty() ? 0 : POLLOUT)), 0});
        }
        if (::poll(fds.data(), fds.size(), 1000) < 0)
            continue;
        if (fds[0].revents != 0) {
            char buf[64];
            (void)::read(wake_[0], buf, sizeof buf);
            if (stop_)
                break;
        }
        const Mode mode = mode_.load();
        if (last_mode == Mode::stall && mode != Mode::stall) {
            for (Pair& p : pairs) {
                if (p.swallowed)
                    close_pair(p);
            }
        }
        last_mode = mode;
        if (fds[1].revents & POLLIN) {
            const int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd >= 0) {
                accepted_.fetch_add(1);
                const int up = connect_upstream(upstream_host_, upstream_port_);
                if (up < 0) {
                    ::close(fd);  // like a server that died: the client sees a close
                } else {
                    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
                    pairs.push_back(Pair{fd, up, {}, {}, false, false});
                }
            }
        }
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            Pair& p = pairs[i];
            if (p.client < 0 || 2 + 2 * i + 1 >= fds.size())
                continue;
            const short from_client = fds[2 + 2 * i].revents;
            const short from_upstream = fds[2 + 2 * i + 1].revents;
            char buf[65536];
            bool drop = false;
            if (from_client & (POLLIN | POLLHUP | POLLERR)) {
                const auto n = ::recv(p.client, buf, sizeof buf, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    drop = true;
                } else if (n > 0 && mode == Mode::stall) {
                    p.swallowed = true;
                } else if (n > 0) {
                    p.to_upstream.append(buf, static_cast<std::size_t>(n));
                }
            }
            if (!drop && (from_upstream & (POLLIN | POLLHUP | POLLERR))) {
                const auto n = ::recv(p.upstream, buf, sizeof buf, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    drop = true;
                } else if (n > 0 && mode == Mode::stall) {
                    p.swallowed = true;
                } else if (n > 0 && !p.closing) {
                    p.to_client.append(buf, static_cast<std::size_t>(n));
                    if (mode == Mode::cut_values) {
                        const std::size_t cut = cut_point(p.to_client);
                        if (cut != std::string::npos) {
                            p.to_client.resize(cut);
                            p.closing = true;
                            cuts_.fetch_add(1);
                        }
                    }
                }
            }
            // While cutting, an answer line still incomplete stays here: it may be a VA.
            const auto eol = p.to_client.rfind("\r\n");
            const std::size_t hold = mode != Mode::cut_values || p.closing ? 0
                                     : eol == std::string::npos            ? p.to_client.size()
                                                                : p.to_client.size() - eol - 2;
            drop = drop || !flush_some(p.upstream, p.to_upstream) ||
                   !flush_some(p.client, p.to_client, hold) || (p.closing && p.to_client.empty());
            if (drop)
                close_pair(p);
        }
        pairs.erase(
            std::remove_if(pairs.begin(), pairs.end(), [](const Pair& p) { return p.client < 0; }),
            pairs.end());
    }
    for (Pair& p : pairs)
        close_pair(p);
}

}  // namespace mmtest
