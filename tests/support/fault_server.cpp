#include "fault_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

namespace mmtest {

namespace {

struct Peer {
    std::string input;
    std::string output;
    bool close_after = false;
    bool endless = false;
};

}  // namespace

FaultServer::FaultServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
        throw std::runtime_error("FaultServer: cannot listen");
    }
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    if (::pipe(wake_) != 0)
        throw std::runtime_error("FaultServer: pipe failed");
    thread_ = std::thread([this] { run(); });
}

FaultServer::~FaultServer() {
    const char c = 'x';
    (void)::write(wake_[1], &c, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
}

meta_memcache::ServerAddress FaultServer::address() const {
    meta_memcache::ServerAddress a;
    a.host = "127.0.0.1";
    a.port = port_;
    return a;
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
                accepted_.fetch_add(1);
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
                    std::string out = script_(p.input, close);
                    if (out.rfind("\x01ENDLESS:", 0) == 0) {
                        p.endless = true;
                        p.output = out.substr(9);
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
    auto answered = std::make_shared<std::size_t>(0);
    return [bytes, answered](const std::string& input, bool&) {
        // One answer per complete request line received.
        std::size_t lines = 0;
        for (std::size_t pos = input.find("\r\n"); pos != std::string::npos;
             pos = input.find("\r\n", pos + 2)) {
            ++lines;
        }
        std::string out;
        while (*answered < lines) {
            out += bytes;
            ++*answered;
        }
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
        return "\x01ENDLESS:" + unit;
    };
}

}  // namespace mmtest
