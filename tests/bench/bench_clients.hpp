#pragma once

// The three clients the benchmarks compare, behind one small interface:
//
//   ours          meta_memcache::CacheClient (get, set, multi_get, multi_get_visit), one
//                 client shared by every thread, as an application would;
//   libmemcached  libmemcached 1.1.4 (text protocol, TCP_NODELAY, ketama weighted (MD5)
//                 placement), one memcached_st per thread: its fastest way to share;
//   raw           the floor: blocking sockets sending exactly the bytes our client sends
//                 (captured from it at setup by a recording server), reading until each
//                 answer is complete. No parsing beyond finding where an answer ends.
//
// Everything here is benchmark code: libmemcached is found with pkg-config and linked into
// the benchmark programs only.

#include <meta_memcache/meta_memcache.hpp>

#include <libmemcached/memcached.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bench {

enum class ClientKind { ours, libmemcached, raw };

inline const char* name_of(ClientKind k) {
    switch (k) {
        case ClientKind::ours:
            return "meta_memcache";
        case ClientKind::libmemcached:
            return "libmemcached";
        case ClientKind::raw:
            return "raw";
    }
    return "?";
}

inline ClientKind parse_client(std::string_view s) {
    if (s == "ours" || s == "meta_memcache")
        return ClientKind::ours;
    if (s == "libmemcached")
        return ClientKind::libmemcached;
    if (s == "raw")
        return ClientKind::raw;
    throw std::runtime_error("unknown client: " + std::string(s));
}

[[noreturn]] inline void die(const std::string& what) {
    throw std::runtime_error(what);
}

/// Command-line options of the benchmark programs.
struct Args {
    std::map<std::string, std::string, std::less<>> kv;

    /// Reads `--name=value` (or `--flag`) arguments from argv[first] on.
    Args(int argc, char** argv, int first) {
        for (int i = first; i < argc; ++i) {
            std::string_view a = argv[i];
            if (a.substr(0, 2) != "--")
                bench::die("bad argument: " + std::string(a));
            a.remove_prefix(2);
            const auto eq = a.find('=');
            kv[std::string(a.substr(0, eq))] =
                eq == std::string_view::npos ? "1" : std::string(a.substr(eq + 1));
        }
    }
    [[nodiscard]] std::string str(const std::string& k, const std::string& def) const {
        const auto it = kv.find(k);
        return it == kv.end() ? def : it->second;
    }
    [[nodiscard]] std::size_t num(const std::string& k, std::size_t def) const {
        const auto it = kv.find(k);
        return it == kv.end() ? def : static_cast<std::size_t>(std::stoull(it->second));
    }
};

inline std::vector<meta_memcache::ServerAddress> parse_servers(std::string_view csv) {
    std::vector<meta_memcache::ServerAddress> out;
    while (!csv.empty()) {
        const auto comma = csv.find(',');
        out.push_back(meta_memcache::ServerAddress::parse(csv.substr(0, comma)));
        csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
    }
    if (out.empty())
        die("no servers given");
    return out;
}

/// The pool options every benchmark uses: room for 8 threads' connections to stay open
/// (the default keeps 3 idle and would close and reopen the others on every call).
/// Our client as benchmarked: values sent as they are, like libmemcached and the raw loop
/// send them (zstd from 128 bytes is the default; compressing would make the comparison
/// about zstd, not the client).
inline meta_memcache::ClientOptions client_options() {
    meta_memcache::ClientOptions o;
    o.serializer = std::make_shared<meta_memcache::Serializer>(
        meta_memcache::SerializerOptions{.compression = meta_memcache::Compression::none});
    return o;
}

inline meta_memcache::PoolOptions pool_options() {
    meta_memcache::PoolOptions o;
    o.max_pool_size = 8;
    return o;
}

// ---- a blocking socket ----------------------------------------------------------------------

inline int connect_tcp(const meta_memcache::ServerAddress& s) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(s.port);
    if (::inet_pton(AF_INET, s.host.c_str(), &a.sin_addr) != 1)
        die("raw client: not an IPv4 address: " + s.host);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
        die("raw client: connect failed to " + s.endpoint());
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

inline void send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0)
            die("raw client: send failed");
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// Length of the complete meta answer at the start of `in`, or 0 when more is needed.
inline std::size_t answer_length(std::string_view in) {
    const auto nl = in.find('\n');
    if (nl == std::string_view::npos)
        return 0;
    std::size_t need = nl + 1;
    if (in.size() > 3 && in[0] == 'V' && in[1] == 'A' && in[2] == ' ') {
        std::size_t size = 0;
        const char* b = in.data() + 3;
        std::from_chars(b, in.data() + nl, size);
        need += size + 2;
    }
    return in.size() >= need ? need : 0;
}

/// A blocking connection reading meta answers into one reusable buffer.
class RawConn {
public:
    explicit RawConn(const meta_memcache::ServerAddress& s, std::size_t buffer = 256 * 1024)
        : fd_(connect_tcp(s)), buf_(buffer) {}
    ~RawConn() { ::close(fd_); }
    RawConn(const RawConn&) = delete;
    RawConn& operator=(const RawConn&) = delete;

    void send(std::string_view bytes) { send_all(fd_, bytes); }

    /// Reads until `count` answers are complete; returns how many were values (VA).
    std::size_t read_answers(std::size_t count) {
        std::size_t values = 0;
        while (count > 0) {
            const std::string_view avail(buf_.data() + pos_, end_ - pos_);
            const std::size_t n = answer_length(avail);
            if (n != 0) {
                values += avail[0] == 'V' ? 1U : 0U;
                pos_ += n;
                --count;
                continue;
            }
            if (pos_ == end_) {
                pos_ = end_ = 0;
            } else if (end_ == buf_.size()) {
                std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
                end_ -= pos_;
                pos_ = 0;
            }
            const ssize_t got = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
            if (got <= 0)
                die("raw client: recv failed");
            end_ += static_cast<std::size_t>(got);
        }
        return values;
    }

private:
    int fd_;
    std::vector<char> buf_;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
};

// ---- capturing what our client sends ----------------------------------------------------

/// A loopback server that records every request it gets and answers EN to mg, HD to ms
/// and MN to mn: point a CacheClient at it to learn the exact bytes it sends.
class Recorder {
public:
    Recorder() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        socklen_t len = sizeof a;
        if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listen_fd_, 4) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            die("recorder: cannot listen");
        }
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~Recorder() {
        ::shutdown(listen_fd_, SHUT_RDWR);
        ::close(listen_fd_);
        thread_.join();
    }
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    /// Every request received since the last take(), one string each.
    std::vector<std::string> take() {
        std::lock_guard lk(mu_);
        return std::exchange(requests_, {});
    }

private:
    void serve() {
        for (;;) {
            const int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd < 0)
                return;
            std::string in;
            char chunk[65536];
            for (;;) {
                const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
                if (got <= 0)
                    break;
                in.append(chunk, static_cast<std::size_t>(got));
                std::string replies;
                for (;;) {
                    const auto nl = in.find("\r\n");
                    if (nl == std::string::npos)
                        break;
                    std::size_t need = nl + 2;
                    if (in.compare(0, 3, "ms ") == 0) {
                        // ms <key> <datalen> ...
                        const auto sp1 = in.find(' ', 3);
                        std::size_t datalen = 0;
                        std::from_chars(in.data() + sp1 + 1, in.data() + nl, datalen);
                        need += datalen + 2;
                        replies += "HD\r\n";
                    } else if (in.compare(0, 3, "mn\r") == 0) {
                        replies += "MN\r\n";
                    } else {
                        replies += "EN\r\n";
                    }
                    if (in.size() < need) {
                        replies.resize(replies.size() - 4);
                        break;
                    }
                    {
                        std::lock_guard lk(mu_);
                        requests_.push_back(in.substr(0, need));
                    }
                    in.erase(0, need);
                }
                if (!replies.empty())
                    send_all(fd, replies);
            }
            ::close(fd);
        }
    }

    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::vector<std::string> requests_;
};

// ---- what a benchmark runs ----------------------------------------------------------------

/// The keys and values of one benchmark, and the bytes the raw client sends for them.
struct Workload {
    std::vector<meta_memcache::ServerAddress> servers;
    std::string key;    ///< the key of get and set
    std::string value;  ///< its value
    std::vector<std::string> mget_keys;

    std::string raw_get;                      ///< our client's get request for `key`
    std::string raw_set;                      ///< our client's set request for `key`
    std::vector<std::string> raw_mget_batch;  ///< per server: its keys' requests, in order
    std::vector<std::size_t> raw_mget_count;  ///< per server: how many
    meta_memcache::HashMode mode;             ///< our client's (and the raw loop's) ring

    Workload(std::vector<meta_memcache::ServerAddress> s,
             std::size_t value_size,
             std::size_t mget_count,
             const std::string& tag,
             meta_memcache::HashMode hash = meta_memcache::HashMode::uhashring)
        : servers(std::move(s)), key("bench:" + tag + ":one"), value(value_size, 'v'), mode(hash) {
        for (std::size_t i = 0; i < mget_count; ++i)
            mget_keys.push_back("bench:" + tag + ":k" + std::to_string(i));
        capture();
    }

private:
    void capture() {
        Recorder rec;
        {
            auto c = meta_memcache::cache_client_from_servers(
                {meta_memcache::ServerAddress::parse("127.0.0.1:" + std::to_string(rec.port()))},
                {}, client_options());
            (void)c.get(key);
            auto got = rec.take();
            if (got.size() != 1)
                die("recorder: expected one get request");
            raw_get = got[0];
            (void)c.set(key, value, 0);
            got = rec.take();
            if (got.size() != 1)
                die("recorder: expected one set request");
            raw_set = got[0];
            if (!mget_keys.empty()) {
                std::vector<meta_memcache::KeyView> views(mget_keys.begin(), mget_keys.end());
                (void)c.multi_get(views);
                got = rec.take();
                if (got.size() != mget_keys.size())
                    die("recorder: expected one request per multi_get key");
                const meta_memcache::HashRing ring(servers, mode);
                raw_mget_batch.assign(servers.size(), {});
                raw_mget_count.assign(servers.size(), 0);
                for (std::size_t i = 0; i < mget_keys.size(); ++i) {
                    const std::size_t n = ring.node_for(mget_keys[i]);
                    raw_mget_batch[n] += got[i];
                    ++raw_mget_count[n];
                }
            }
        }
    }
};

/// One thread's handle on a client.
class Driver {
public:
    virtual ~Driver() = default;
    /// The value's size (0 on a miss).
    virtual std::size_t get() = 0;
    virtual bool set() = 0;
    /// How many of the keys were hits.
    virtual std::size_t multi_get() = 0;
    /// multi_get with each hit handed to a visitor, no string per value (our client only).
    virtual std::size_t multi_get_visit() { die("multi_get_visit: our client only"); }
    /// Whether multi_get hands out each hit in an allocation of its own (a std::string
    /// beyond the small-string buffer) rather than in a buffer the client reuses.
    [[nodiscard]] virtual bool multi_get_owns_values() const noexcept { return false; }
};

class OursDriver final : public Driver {
public:
    OursDriver(meta_memcache::CacheClient& c, const Workload& w)
        : c_(c), w_(w), views_(w.mget_keys.begin(), w.mget_keys.end()) {}
    std::size_t get() override {
        const auto v = c_.get(w_.key);
        return v ? v->size() : 0;
    }
    bool set() override { return c_.set(w_.key, w_.value, 0); }
    std::size_t multi_get() override {
        const auto vs = c_.multi_get(views_);
        std::size_t hits = 0;
        for (const auto& v : vs)
            hits += v ? 1U : 0U;
        return hits;
    }
    std::size_t multi_get_visit() override {
        std::size_t bytes = 0;
        const std::size_t hits =
            c_.multi_get_visit(views_, [&](std::size_t, std::string_view v) { bytes += v.size(); });
        return bytes == hits * w_.value.size() ? hits : 0;
    }
    [[nodiscard]] bool multi_get_owns_values() const noexcept override {
        return w_.value.size() > std::string().capacity();
    }

private:
    meta_memcache::CacheClient& c_;
    const Workload& w_;
    std::vector<meta_memcache::KeyView> views_;
};

inline memcached_st* libmemcached_client(const Workload& w) {
    memcached_st* mc = memcached_create(nullptr);
    if (mc == nullptr)
        die("memcached_create failed");
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);  // MD5 ketama
    for (const auto& s : w.servers) {
        if (memcached_server_add(mc, s.host.c_str(), s.port) != MEMCACHED_SUCCESS)
            die("memcached_server_add failed");
    }
    return mc;
}

class LibmemcachedDriver final : public Driver {
public:
    explicit LibmemcachedDriver(const Workload& w) : w_(w), mc_(libmemcached_client(w)) {
        for (const auto& k : w.mget_keys) {
            keys_.push_back(k.c_str());
            lengths_.push_back(k.size());
        }
        memcached_result_create(mc_, &result_);
    }
    ~LibmemcachedDriver() override {
        memcached_result_free(&result_);
        memcached_free(mc_);
    }
    LibmemcachedDriver(const LibmemcachedDriver&) = delete;
    LibmemcachedDriver& operator=(const LibmemcachedDriver&) = delete;

    std::size_t get() override {
        std::size_t len = 0;
        std::uint32_t flags = 0;
        memcached_return_t rc = MEMCACHED_SUCCESS;
        char* v = memcached_get(mc_, w_.key.data(), w_.key.size(), &len, &flags, &rc);
        if (v == nullptr) {
            if (rc != MEMCACHED_NOTFOUND)
                die(std::string("memcached_get: ") + memcached_strerror(mc_, rc));
            return 0;
        }
        std::free(v);
        return len;
    }
    bool set() override {
        const memcached_return_t rc = memcached_set(mc_, w_.key.data(), w_.key.size(),
                                                    w_.value.data(), w_.value.size(), 0, 16);
        return rc == MEMCACHED_SUCCESS;
    }
    std::size_t multi_get() override {
        memcached_return_t rc = memcached_mget(mc_, keys_.data(), lengths_.data(), keys_.size());
        if (rc != MEMCACHED_SUCCESS)
            die(std::string("memcached_mget: ") + memcached_strerror(mc_, rc));
        std::size_t hits = 0;
        while (memcached_fetch_result(mc_, &result_, &rc) != nullptr)
            ++hits;
        return hits;
    }
    /// Stores every multi_get key where libmemcached's placement looks for it.
    void populate() {
        if (memcached_set(mc_, w_.key.data(), w_.key.size(), w_.value.data(), w_.value.size(), 0,
                          16) != MEMCACHED_SUCCESS) {
            die("libmemcached: populate failed");
        }
        for (const auto& k : w_.mget_keys) {
            if (memcached_set(mc_, k.data(), k.size(), w_.value.data(), w_.value.size(), 0, 16) !=
                MEMCACHED_SUCCESS) {
                die("libmemcached: populate failed");
            }
        }
    }

private:
    const Workload& w_;
    memcached_st* mc_;
    memcached_result_st result_{};
    std::vector<const char*> keys_;
    std::vector<std::size_t> lengths_;
};

class RawDriver final : public Driver {
public:
    explicit RawDriver(const Workload& w) : w_(w) {
        for (const auto& s : w.servers)
            conns_.push_back(std::make_unique<RawConn>(s));
        // get and set go where our client sends `key`.
        const meta_memcache::HashRing ring(w.servers, w.mode);
        one_ = ring.node_for(w.key);
    }
    std::size_t get() override {
        RawConn& c = *conns_[one_];
        c.send(w_.raw_get);
        return c.read_answers(1) == 1 ? w_.value.size() : 0;
    }
    bool set() override {
        RawConn& c = *conns_[one_];
        c.send(w_.raw_set);
        c.read_answers(1);
        return true;
    }
    std::size_t multi_get() override {
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            if (w_.raw_mget_count[i] != 0)
                conns_[i]->send(w_.raw_mget_batch[i]);
        }
        std::size_t hits = 0;
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            if (w_.raw_mget_count[i] != 0)
                hits += conns_[i]->read_answers(w_.raw_mget_count[i]);
        }
        return hits;
    }

private:
    const Workload& w_;
    std::vector<std::unique_ptr<RawConn>> conns_;
    std::size_t one_ = 0;
};

/// Owns what the drivers of one client kind share (our CacheClient).
class ClientSet {
public:
    /// `options`: our client's (client_options(), with a hot cache or an observer added).
    ClientSet(ClientKind kind,
              const Workload& w,
              meta_memcache::ClientOptions options = client_options())
        : kind_(kind), w_(w) {
        if (kind == ClientKind::ours) {
            ours_.emplace(meta_memcache::cache_client_from_servers(w.servers, pool_options(),
                                                                   std::move(options), w.mode));
        }
    }
    std::unique_ptr<Driver> driver() const {
        switch (kind_) {
            case ClientKind::ours:
                return std::make_unique<OursDriver>(*ours_, w_);
            case ClientKind::libmemcached:
                return std::make_unique<LibmemcachedDriver>(w_);
            case ClientKind::raw:
                return std::make_unique<RawDriver>(w_);
        }
        return nullptr;
    }
    [[nodiscard]] ClientKind kind() const noexcept { return kind_; }

private:
    ClientKind kind_;
    const Workload& w_;
    mutable std::optional<meta_memcache::CacheClient> ours_;
};

/// Stores the workload's values where every client looks for them.
inline void populate(const Workload& w) {
    auto c = meta_memcache::cache_client_from_servers(w.servers, pool_options(), client_options(),
                                                      w.mode);
    if (!c.set(w.key, w.value, 0))
        die("populate: set failed");
    for (const auto& k : w.mget_keys) {
        if (!c.set(k, w.value, 0))
            die("populate: set failed");
    }
    LibmemcachedDriver(w).populate();
}

}  // namespace bench
