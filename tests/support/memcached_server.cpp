#include "memcached_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#ifndef MMTEST_MEMCACHED
#define MMTEST_MEMCACHED "/usr/bin/memcached"
#endif

namespace mmtest {

namespace {

int connect_to(const std::string& host, std::uint16_t port, const std::string& unix_path) {
    if (!unix_path.empty()) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, unix_path.c_str(), sizeof sa.sun_path - 1);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0)
            return fd;
        ::close(fd);
        return -1;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0)
        return fd;
    ::close(fd);
    return -1;
}

}  // namespace

bool memcached_available() {
    return ::access(MMTEST_MEMCACHED, X_OK) == 0;
}
std::string memcached_path() {
    return MMTEST_MEMCACHED;
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        throw std::runtime_error("free_port: bind failed");
    }
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    ::close(fd);
    return ntohs(sa.sin_port);
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t r = rng();
        for (std::size_t b = 0; b < 8 && i + b < n; ++b) {
            out[i + b] = static_cast<char>((r >> (8 * b)) & 0xff);
        }
    }
    return out;
}

std::string unique_key(std::string_view base) {
    static std::atomic<unsigned> counter{0};
    return std::string(base) + ":" + std::to_string(::getpid()) + ":" +
           std::to_string(counter.fetch_add(1));
}

MemcachedServer::MemcachedServer(ServerOptions options) : options_(std::move(options)) {
    if (options_.unix_socket) {
        static std::atomic<unsigned> n{0};
        unix_path_ = "/tmp/mmtest-" + std::to_string(::getpid()) + "-" +
                     std::to_string(n.fetch_add(1)) + ".sock";
    }
    start();
}

MemcachedServer::~MemcachedServer() {
    try {
        stop();
    } catch (...) {
    }
    if (!unix_path_.empty())
        ::unlink(unix_path_.c_str());
}

void MemcachedServer::spawn() {
    std::vector<std::string> args = options_.launcher;
    args.insert(args.end(), {memcached_path(), "-U", "0", "-m", std::to_string(options_.memory_mb),
                             "-t", std::to_string(options_.threads), "-c", "4096"});
    if (!unix_path_.empty()) {
        args.insert(args.end(), {"-s", unix_path_, "-a", "0700"});
    } else {
        args.insert(args.end(), {"-l", options_.host, "-p", std::to_string(port_)});
    }
    if (::geteuid() == 0)
        args.insert(args.end(), {"-u", "root"});
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        // Child: die with the test process, keep quiet, become memcached.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent)
            ::_exit(1);
        const int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    paused_ = false;
}

bool MemcachedServer::wait_ready(std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_)
            return false;  // it exited
        const int fd = connect_to(options_.host, port_, unix_path_);
        if (fd >= 0) {
            // Complete one request, so the server has accepted (and counted) this
            // connection before the test starts; a TLS port only needs the TCP accept.
            bool answered = options_.tls;
            if (!answered && ::send(fd, "mn\r\n", 4, MSG_NOSIGNAL) == 4) {
                pollfd p{fd, POLLIN, 0};
                char buf[16];
                answered = ::poll(&p, 1, 2000) == 1 && ::recv(fd, buf, sizeof buf, 0) > 0;
            }
            ::close(fd);
            if (answered)
                return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

void MemcachedServer::start() {
    if (running())
        return;
    const bool keep_port = port_ != 0;
    for (int attempt = 0; attempt < 10; ++attempt) {
        if (!keep_port && unix_path_.empty())
            port_ = free_port();
        if (!unix_path_.empty())
            ::unlink(unix_path_.c_str());
        spawn();
        if (wait_ready(std::chrono::seconds(5)))
            return;
        // Port taken (or the process failed): reap and try again.
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        if (keep_port)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("memcached did not start (port " + std::to_string(port_) + ")");
}

void MemcachedServer::stop() {
    if (!running())
        return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    paused_ = false;
}

void MemcachedServer::restart() {
    stop();
    start();
}

void MemcachedServer::pause() {
    if (running() && !paused_) {
        ::kill(pid_, SIGSTOP);
        // The signal is delivered asynchronously: wait until the process has stopped, so
        // nothing sent after pause() returns is answered.
        int status = 0;
        while (::waitpid(pid_, &status, WUNTRACED) < 0 && errno == EINTR) {
        }
        paused_ = true;
    }
}

void MemcachedServer::resume() {
    if (running() && paused_) {
        ::kill(pid_, SIGCONT);
        paused_ = false;
    }
}

meta_memcache::ServerAddress MemcachedServer::address(std::string alias) const {
    meta_memcache::ServerAddress a;
    if (!unix_path_.empty()) {
        a.unix_path = unix_path_;
        a.port = 0;
    } else {
        a.host = options_.host;
        a.port = port_;
    }
    a.alias = std::move(alias);
    return a;
}

std::string MemcachedServer::raw(std::string_view request, std::string_view until) const {
    const int fd = connect_to(options_.host, port_, unix_path_);
    if (fd < 0)
        throw std::runtime_error("raw: cannot connect");
    std::size_t sent = 0;
    while (sent < request.size()) {
        const auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += static_cast<std::size_t>(n);
    }
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
        if (out.size() >= until.size() &&
            out.compare(out.size() - until.size(), until.size(), until) == 0) {
            break;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0)
            continue;
        char buf[65536];
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

std::string MemcachedServer::raw_until(std::string_view request,
                                       const std::function<bool(const std::string&)>& done,
                                       std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string answer = raw(request);
    while (!done(answer) && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        answer = raw(request);
    }
    return answer;
}

bool MemcachedServer::raw_set(std::string_view key,
                              std::string_view value,
                              std::uint32_t client_flag) const {
    return raw("ms " + std::string(key) + " " + std::to_string(value.size()) + " T60 F" +
               std::to_string(client_flag) + "\r\n" + std::string(value) + "\r\n") == "HD\r\n";
}

std::optional<std::string> MemcachedServer::raw_get(std::string_view key) const {
    const std::string out = raw("get " + std::string(key) + "\r\n", "END\r\n");
    if (out.rfind("VALUE ", 0) != 0)
        return std::nullopt;
    const auto nl = out.find("\r\n");
    const auto last_space = out.rfind(' ', nl);
    const std::size_t len = std::stoul(out.substr(last_space + 1, nl - last_space - 1));
    return out.substr(nl + 2, len);
}

std::optional<long> MemcachedServer::raw_ttl(std::string_view key) const {
    const std::string r = raw("mg " + std::string(key) + " t\r\n");
    const auto t = r.find(" t");
    if (r.rfind("HD", 0) != 0 || t == std::string::npos)
        return std::nullopt;
    return std::stol(r.substr(t + 2));
}

std::string MemcachedServer::stat(std::string_view name) const {
    const std::string out = raw("stats\r\n", "END\r\n");
    const std::string needle = "STAT " + std::string(name) + " ";
    const auto at = out.find(needle);
    if (at == std::string::npos)
        return {};
    const auto start = at + needle.size();
    return out.substr(start, out.find("\r\n", start) - start);
}

MemcachedCluster::MemcachedCluster(std::size_t n, ServerOptions options) {
    for (std::size_t i = 0; i < n; ++i)
        servers_.push_back(std::make_unique<MemcachedServer>(options));
}

std::vector<meta_memcache::ServerAddress> MemcachedCluster::addresses() const {
    std::vector<meta_memcache::ServerAddress> out;
    for (const auto& s : servers_)
        out.push_back(s->address());
    return out;
}

}  // namespace mmtest
