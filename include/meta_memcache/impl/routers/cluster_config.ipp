// ElastiCache's cluster configuration: the answer of a configuration endpoint to `config
// get cluster` (or `get AmazonElastiCache:cluster`), parsed into a ClusterConfig.

#include <meta_memcache/auto_discovery_router.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/routers/cluster_config.hpp>

#include <algorithm>
#include <charconv>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace meta_memcache {

namespace detail {

namespace cluster_config_impl {

[[noreturn]] inline void malformed(const std::string& why, const std::string& server) {
    throw ProtocolError("malformed cluster configuration: " + why, server);
}

inline bool is_error_line(std::string_view line) noexcept {
    return line == "ERROR" || line.starts_with("ERROR ") || line.starts_with("CLIENT_ERROR") ||
           line.starts_with("SERVER_ERROR");
}

template <class T>
inline bool parse_number(std::string_view text, T& out) noexcept {
    if (text.empty() || text.size() > 20)
        return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

/// Splits on `sep`, dropping empty parts when `skip_empty`.
inline std::vector<std::string_view> split(std::string_view text, char sep, bool skip_empty) {
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

inline bool has_control_bytes(std::string_view text) noexcept {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F;
    });
}

inline ClusterNode parse_node(std::string_view text, const std::string& server) {
    const auto fields = split(text, '|', false);
    if (fields.size() != 3)
        malformed("node " + quoted_excerpt(text) + " is not host|ip|port", server);
    ClusterNode node;
    node.host = std::string(fields[0]);
    std::string_view ip = fields[1];
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']')
        ip = ip.substr(1, ip.size() - 2);
    node.ip = std::string(ip);
    if (node.host.empty() && node.ip.empty())
        malformed("node " + quoted_excerpt(text) + " has neither a host name nor an ip", server);
    if (has_control_bytes(node.host) || has_control_bytes(node.ip))
        malformed("node " + quoted_excerpt(text) + " has control characters", server);
    std::uint32_t port = 0;
    if (!parse_number(fields[2], port) || port == 0 || port > 65535)
        malformed("node " + quoted_excerpt(text) + " has a bad port " + quoted_excerpt(fields[2]),
                  server);
    node.port = static_cast<std::uint16_t>(port);
    return node;
}

}  // namespace cluster_config_impl

META_MEMCACHE_DECL std::string quoted_excerpt(std::string_view text) {
    constexpr std::size_t max = 80;
    std::string out = "\"";
    out.append(text.substr(0, max));
    if (text.size() > max)
        out += "...";
    out += '"';
    return out;
}

META_MEMCACHE_DECL ClusterConfig parse_cluster_answer(std::string_view answer,
                                                      const std::string& server) {
    using namespace cluster_config_impl;
    const std::size_t eol = answer.find("\r\n");
    if (eol == std::string_view::npos)
        malformed("no complete first line in " + quoted_excerpt(answer), server);
    const std::string_view header = answer.substr(0, eol);
    if (is_error_line(header)) {
        throw ServerError(
            header.starts_with("SERVER_ERROR") ? errc::server_error : errc::client_error,
            "the configuration endpoint answered " + quoted_excerpt(header) +
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
        malformed("unexpected first line " + quoted_excerpt(header) +
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
        malformed("bytes after END: " + quoted_excerpt(rest.substr(end_line + 5)), server);
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
        malformed("no node list after version " + quoted_excerpt(lines[0]), server);
    if (lines.size() > 2)
        malformed("unexpected line " + quoted_excerpt(lines[2]) + " after the node list", server);

    ClusterConfig out;
    if (!parse_number(lines[0], out.version))
        malformed("version " + quoted_excerpt(lines[0]) + " is not a number", server);
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

}  // namespace detail

META_MEMCACHE_DECL ClusterConfig parse_cluster_config(std::string_view answer) {
    return detail::parse_cluster_answer(answer, {});
}

META_MEMCACHE_DECL ServerAddress ClusterNode::address(bool use_ip) const {
    ServerAddress a;
    a.host = use_ip && !ip.empty() ? ip : (host.empty() ? ip : host);
    a.port = port;
    return a;
}

META_MEMCACHE_DECL std::vector<ServerAddress> ClusterConfig::addresses(bool use_ip) const {
    std::vector<ServerAddress> out;
    out.reserve(nodes.size());
    for (const auto& n : nodes)
        out.push_back(n.address(use_ip));
    return out;
}

}  // namespace meta_memcache
