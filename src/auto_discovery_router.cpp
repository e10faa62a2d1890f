// ElastiCache auto-discovery: the configuration endpoint's answer, the poller, and the
// node-list swaps on the ShardedRouter.

#include <meta_memcache/auto_discovery_router.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/net/connection.hpp>

#include <poll.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

namespace meta_memcache {

using detail::Clock;
using detail::IoStatus;

// ---- the answer ------------------------------------------------------------------------

namespace {

constexpr std::string_view config_request = "config get cluster\r\n";
constexpr std::string_view legacy_request = "get AmazonElastiCache:cluster\r\n";
/// Far above any real configuration (a node is under 100 bytes; clusters have at most a
/// few hundred): a bound on what a broken endpoint can make us buffer.
constexpr std::size_t max_answer_size = 1024 * 1024;

[[noreturn]] void malformed(const std::string& why, const std::string& server) {
    throw ProtocolError("malformed cluster configuration: " + why, server);
}

/// `text`, quoted and cut for an error message.
std::string quoted(std::string_view text) {
    constexpr std::size_t max = 80;
    std::string out = "\"";
    out.append(text.substr(0, max));
    if (text.size() > max)
        out += "...";
    out += '"';
    return out;
}

bool is_error_line(std::string_view line) noexcept {
    return line == "ERROR" || line.starts_with("ERROR ") || line.starts_with("CLIENT_ERROR") ||
           line.starts_with("SERVER_ERROR");
}

template <class T>
bool parse_number(std::string_view text, T& out) noexcept {
    if (text.empty() || text.size() > 20)
        return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

/// Splits on `sep`, dropping empty parts when `skip_empty`.
std::vector<std::string_view> split(std::string_view text, char sep, bool skip_empty) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = text.find(sep, start);
        const std::string_view part =
            text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start);
        if (!part.empty() || !skip_empty)
            out.push_back(part);
        if (at == std::string_view::npos)
            return out;
        start = at + 1;
    }
}

bool has_control_bytes(std::string_view text) noexcept {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F;
    });
}

ClusterNode parse_node(std::string_view text, const std::string& server) {
    const auto fields = split(text, '|', false);
    if (fields.size() != 3)
        malformed("node " + quoted(text) + " is not host|ip|port", server);
    ClusterNode node;
    node.host = std::string(fields[0]);
    std::string_view ip = fields[1];
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']')
        ip = ip.substr(1, ip.size() - 2);
    node.ip = std::string(ip);
    if (node.host.empty() && node.ip.empty())
        malformed("node " + quoted(text) + " has neither a host name nor an ip", server);
    if (has_control_bytes(node.host) || has_control_bytes(node.ip))
        malformed("node " + quoted(text) + " has control characters", server);
    std::uint32_t port = 0;
    if (!parse_number(fields[2], port) || port == 0 || port > 65535)
        malformed("node " + quoted(text) + " has a bad port " + quoted(fields[2]), server);
    node.port = static_cast<std::uint16_t>(port);
    return node;
}

/// parse_cluster_config, with errors naming `server`.
ClusterConfig parse_answer(std::string_view answer, const std::string& server) {
    const std::size_t eol = answer.find("\r\n");
    if (eol == std::string_view::npos)
        malformed("no complete first line in " + quoted(answer), server);
    const std::string_view header = answer.substr(0, eol);
    if (is_error_line(header)) {
        throw ServerError(
            header.starts_with("SERVER_ERROR") ? errc::server_error : errc::client_error,
            "the configuration endpoint answered " + quoted(header) +
                ": it does not know `config get cluster` (not ElastiCache?)",
            server);
    }
    if (header == "END")
        malformed("no configuration in the answer (END alone)", server);
    const auto tokens = split(header, ' ', false);
    const bool config = tokens.size() == 4 && tokens[0] == "CONFIG" && tokens[1] == "cluster";
    const bool value =
        tokens.size() == 4 && tokens[0] == "VALUE" && tokens[1] == "AmazonElastiCache:cluster";
    std::uint64_t number = 0;
    if ((!config && !value) || !parse_number(tokens[2], number) ||
        !parse_number(tokens[3], number)) {
        malformed("unexpected first line " + quoted(header) +
                      " (expected CONFIG cluster <flags> <bytes>)",
                  server);
    }
    // The payload runs to the END line, whatever <bytes> says.
    const std::string_view rest = answer.substr(eol + 2);
    std::size_t end_line = 0;  // where the END line starts in `rest`
    if (!rest.starts_with("END\r\n")) {
        const std::size_t at = rest.find("\nEND\r\n");
        if (at == std::string_view::npos)
            malformed("no END line", server);
        end_line = at + 1;
    }
    if (end_line + 5 != rest.size())
        malformed("bytes after END: " + quoted(rest.substr(end_line + 5)), server);
    std::vector<std::string_view> lines;
    for (std::string_view line : split(rest.substr(0, end_line), '\n', true)) {
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        if (!line.empty())
            lines.push_back(line);
    }
    if (lines.empty())
        malformed("no version line", server);
    if (lines.size() == 1)
        malformed("no node list after version " + quoted(lines[0]), server);
    if (lines.size() > 2)
        malformed("unexpected line " + quoted(lines[2]) + " after the node list", server);

    ClusterConfig out;
    if (!parse_number(lines[0], out.version))
        malformed("version " + quoted(lines[0]) + " is not a number", server);
    std::set<std::string> seen;
    for (const std::string_view text : split(lines[1], ' ', true)) {
        ClusterNode node = parse_node(text, server);
        const std::string id = node.address().endpoint();
        if (!seen.insert(id).second)
            malformed("node " + id + " is listed twice", server);
        out.nodes.push_back(std::move(node));
    }
    if (out.nodes.empty())
        malformed("empty node list", server);
    return out;
}

}  // namespace

ClusterConfig parse_cluster_config(std::string_view answer) {
    return parse_answer(answer, {});
}

ServerAddress ClusterNode::address(bool use_ip) const {
    ServerAddress a;
    a.host = use_ip && !ip.empty() ? ip : (host.empty() ? ip : host);
    a.port = port;
    return a;
}

std::vector<ServerAddress> ClusterConfig::addresses(bool use_ip) const {
    std::vector<ServerAddress> out;
    out.reserve(nodes.size());
    for (const auto& n : nodes)
        out.push_back(n.address(use_ip));
    return out;
}

// ---- talking to the endpoint -----------------------------------------------------------

namespace {

/// Waits for `events` on fd until the deadline.
/// @throws TimeoutError when the deadline passes first.
void wait_for(int fd, short events, Clock::time_point deadline, const std::string& name) {
    for (;;) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0)
            throw TimeoutError("the configuration endpoint did not answer in time", name);
        pollfd p{fd, events, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
        if (rc > 0 || (rc < 0 && errno != EINTR))
            return;  // ready, or an error the next I/O call reports
    }
}

[[noreturn]] void lost(const detail::IoResult& r, const std::string& name) {
    throw TransportError(errc::connection_closed,
                         r.status == IoStatus::eof
                             ? std::string("the configuration endpoint closed the connection")
                             : "configuration request failed: " +
                                   std::string(std::generic_category().message(r.error)),
                         name);
}

/// Whether `answer` holds a whole answer to a configuration request.
bool complete(std::string_view answer) noexcept {
    const std::size_t eol = answer.find("\r\n");
    if (eol == std::string_view::npos)
        return false;
    const std::string_view header = answer.substr(0, eol);
    if (header.starts_with("CONFIG ") || header.starts_with("VALUE "))
        return answer.find("\nEND\r\n", eol) != std::string_view::npos;
    return true;  // one line: END, ERROR, ... (anything else is for the parser to reject)
}

/// Sends `request` and reads the answer up to its end, before `deadline`.
std::string exchange(detail::Connection& conn,
                     std::string_view request,
                     Clock::time_point deadline,
                     const std::string& name) {
    std::size_t sent = 0;
    while (sent < request.size()) {
        iovec iov{const_cast<char*>(request.data() + sent), request.size() - sent};
        const auto r = conn.write_some(&iov, 1);
        if (r.status == IoStatus::ok)
            sent += r.bytes;
        else if (r.status == IoStatus::would_block)
            wait_for(conn.fd(), r.want_read ? POLLIN : POLLOUT, deadline, name);
        else
            lost(r, name);
    }
    std::string answer;
    char buf[4096];
    for (;;) {
        const auto r = conn.read_some(buf, sizeof buf);
        if (r.status == IoStatus::ok) {
            answer.append(buf, r.bytes);
            if (complete(answer))
                return answer;
            if (answer.size() > max_answer_size) {
                throw ProtocolError("the configuration endpoint's answer is over " +
                                        std::to_string(max_answer_size) + " bytes",
                                    name);
            }
        } else if (r.status == IoStatus::would_block) {
            wait_for(conn.fd(), r.want_write ? POLLOUT : POLLIN, deadline, name);
        } else {
            lost(r, name);
        }
    }
}

/// What the endpoint said: a configuration, or that it does not know the command.
struct Fetched {
    std::optional<ClusterConfig> config{};  ///< empty: the endpoint answered ERROR
    std::string refusal{};                  ///< its answer then
};

Fetched fetch(const ServerAddress& endpoint,
              const std::string& name,
              const PoolOptions& options,
              detail::TlsContext* tls) {
    auto conn = detail::Connection::open(endpoint, name, options, tls,
                                         Clock::now() + options.connection_timeout);
    std::string answer = exchange(*conn, config_request, Clock::now() + options.recv_timeout, name);
    if (answer.starts_with("ERROR")) {
        // Engines before 1.4.14 keep the configuration under a key; stock memcached has
        // nothing there (END).
        Fetched refused{std::nullopt, answer.substr(0, answer.find("\r\n"))};
        std::string legacy;
        try {
            legacy = exchange(*conn, legacy_request, Clock::now() + options.recv_timeout, name);
        } catch (const TransportError&) {
            return refused;  // it said ERROR already; hanging up on the key is no worse
        }
        if (!legacy.starts_with("VALUE "))
            return refused;
        answer = std::move(legacy);
    }
    return Fetched{parse_answer(answer, name), {}};
}

std::string describe(const std::vector<ServerAddress>& servers) {
    std::string out;
    for (const auto& s : servers) {
        if (!out.empty())
            out += ", ";
        out += s.name();
    }
    return out;
}

}  // namespace

// ---- the router -------------------------------------------------------------------------

struct AutoDiscoveryRouter::Impl {
    Impl(ServerAddress endpoint_, AutoDiscoveryOptions options_)
        : endpoint(std::move(endpoint_)), name(endpoint.name()), options(std::move(options_)) {}

    void log(const std::string& line) const noexcept {
        if (!options.log)
            return;
        try {
            options.log(line);
        } catch (...) {
            // A logger's failure must not stop the discovery.
        }
    }

    /// One poll: asks the endpoint, applies a newer list. Callers hold refresh_mutex.
    bool poll() {
        {
            std::lock_guard lk(state_mutex);
            ++status.polls;
        }
        try {
            const bool applied = apply(fetch(endpoint, name, options.pool_options, tls.get()));
            std::lock_guard lk(state_mutex);
            status.last_error.clear();
            return applied;
        } catch (const std::exception& e) {
            {
                std::lock_guard lk(state_mutex);
                ++status.failed_polls;
                status.last_error = e.what();
            }
            log(std::string("cluster configuration poll failed, keeping the node list: ") +
                e.what());
            throw;
        }
    }

    bool apply(Fetched fetched) {
        if (!fetched.config) {
            std::lock_guard lk(state_mutex);
            if (status.endpoint_fallback)
                return false;  // still stock memcached: nothing changes
            throw ServerError(errc::client_error,
                              "the configuration endpoint now answers " + quoted(fetched.refusal) +
                                  " to `config get cluster`",
                              name);
        }
        const ClusterConfig& config = *fetched.config;
        std::optional<std::uint64_t> current;  // set when this version is not newer
        {
            std::lock_guard lk(state_mutex);
            if (status.config_version && config.version <= *status.config_version) {
                current = status.config_version;
                if (config.version < *current)
                    ++status.stale;
            }
        }
        if (current) {
            if (config.version < *current) {
                log("ignored cluster configuration version " + std::to_string(config.version) +
                    " (older than " + std::to_string(*current) + ")");
            }
            return false;
        }
        auto servers = config.addresses(options.use_ip);
        const std::string nodes = describe(servers);
        sharded->set_servers(std::move(servers));
        {
            std::lock_guard lk(state_mutex);
            status.config_version = config.version;
            status.endpoint_fallback = false;
            ++status.updates;
        }
        log("applied cluster configuration version " + std::to_string(config.version) + ": " +
            nodes);
        return true;
    }

    void run_poller() {
        std::unique_lock lk(stop_mutex);
        while (!stop_cv.wait_for(lk, options.poll_interval, [this] { return stopping; })) {
            lk.unlock();
            try {
                std::lock_guard refresh(refresh_mutex);
                (void)poll();
            } catch (const std::exception&) {
                // Recorded in status and logged; the next poll tries again.
            }
            lk.lock();
        }
    }

    ServerAddress endpoint;
    std::string name;
    AutoDiscoveryOptions options;
    std::unique_ptr<detail::TlsContext> tls{};
    std::shared_ptr<ShardedRouter> sharded{};
    std::shared_ptr<Router> front{};  ///< sharded, or a FailoverRouter over it

    std::mutex refresh_mutex;  ///< one poll at a time
    mutable std::mutex state_mutex;
    AutoDiscoveryStatus status{};

    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stopping = false;
    std::thread poller{};
};

AutoDiscoveryRouter::AutoDiscoveryRouter(ServerAddress config_endpoint,
                                         AutoDiscoveryOptions options)
    : impl_(std::make_unique<Impl>(std::move(config_endpoint), std::move(options))) {
    Impl& s = *impl_;
    if (s.options.poll_interval.count() < 0)
        throw InvalidInputError("AutoDiscoveryOptions: poll_interval cannot be negative");
    if (s.options.failover && s.options.failover->failover_ttl.count() < 0)
        throw InvalidInputError("AutoDiscoveryOptions: failover_ttl cannot be negative");
    s.options.pool_options.validate();
    if (s.options.pool_options.tls.enabled)
        s.tls = std::make_unique<detail::TlsContext>(s.options.pool_options.tls);

    // The first list: the endpoint's, or the endpoint itself when it is stock memcached.
    s.status.polls = 1;
    Fetched first = fetch(s.endpoint, s.name, s.options.pool_options, s.tls.get());
    std::vector<ServerAddress> servers;
    if (first.config) {
        servers = first.config->addresses(s.options.use_ip);
        s.status.config_version = first.config->version;
        s.log("applied cluster configuration version " + std::to_string(first.config->version) +
              ": " + describe(servers));
    } else if (s.options.fall_back_to_endpoint) {
        servers = {s.endpoint};
        s.status.endpoint_fallback = true;
        s.log("the configuration endpoint answered " + quoted(first.refusal) +
              " to `config get cluster`: using it as the only node");
    } else {
        throw ServerError(errc::client_error,
                          "the configuration endpoint answered " + quoted(first.refusal) +
                              " to `config get cluster` (not ElastiCache?); set "
                              "fall_back_to_endpoint to use it as the only node",
                          s.name);
    }
    s.sharded = std::make_shared<ShardedRouter>(servers, s.options.pool_options, s.options.mode);
    if (s.options.failover)
        s.front = std::make_shared<FailoverRouter>(s.sharded, *s.options.failover);
    else
        s.front = s.sharded;
    if (s.options.poll_interval.count() > 0)
        s.poller = std::thread([&s] { s.run_poller(); });
}

AutoDiscoveryRouter::~AutoDiscoveryRouter() {
    {
        std::lock_guard lk(impl_->stop_mutex);
        impl_->stopping = true;
    }
    impl_->stop_cv.notify_all();
    if (impl_->poller.joinable())
        impl_->poller.join();
}

void AutoDiscoveryRouter::execute(std::span<const Request> requests,
                                  std::span<Response> responses,
                                  const ExecContext& ctx) {
    impl_->front->execute(requests, responses, ctx);
}

std::vector<ServerCounters> AutoDiscoveryRouter::get_counters() const {
    return impl_->front->get_counters();
}

bool AutoDiscoveryRouter::default_raise_on_server_error() const {
    return impl_->front->default_raise_on_server_error();
}

bool AutoDiscoveryRouter::refresh_now() {
    std::lock_guard lk(impl_->refresh_mutex);
    return impl_->poll();
}

std::optional<std::uint64_t> AutoDiscoveryRouter::config_version() const {
    std::lock_guard lk(impl_->state_mutex);
    return impl_->status.config_version;
}

std::vector<ServerAddress> AutoDiscoveryRouter::servers() const {
    return impl_->sharded->servers();
}

const std::shared_ptr<ShardedRouter>& AutoDiscoveryRouter::sharded() const noexcept {
    return impl_->sharded;
}

AutoDiscoveryStatus AutoDiscoveryRouter::status() const {
    std::lock_guard lk(impl_->state_mutex);
    return impl_->status;
}

const ServerAddress& AutoDiscoveryRouter::config_endpoint() const noexcept {
    return impl_->endpoint;
}

}  // namespace meta_memcache
