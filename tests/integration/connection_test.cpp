// One connection's transports and failure modes: faults only an in-process server can
// produce (silence, a close mid-value, garbage), TLS against memcached -Z with
// certificates made at test time, ASCII authentication (-Y), IPv6, unix sockets, and the
// mn fence of a no_reply write.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "fault_server.hpp"
#include "io_test_helpers.hpp"
#include "memcached_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;
using iotest::counters_of;
using iotest::Ms;
using iotest::thrown_by;

namespace {

/// The last complete request line of `input` (the fault server sees one per request).
std::string last_line(const std::string& input) {
    if (input.size() < 2 || input.compare(input.size() - 2, 2, "\r\n") != 0)
        return {};
    const auto start = input.rfind("\r\n", input.size() - 3);
    return input.substr(start == std::string::npos ? 0 : start + 2);
}

/// Answers a request for a key containing `poison` with `bad`, any other with a miss.
mmtest::FaultServer::Script poisoned(std::string poison, std::string bad) {
    return [poison, bad](const std::string& input, bool&) -> std::string {
        const std::string line = last_line(input);
        if (line.empty())
            return {};
        return line.find(poison) != std::string::npos ? bad : std::string("EN\r\n");
    };
}

/// A temporary directory, removed with everything in it.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/mmtest-tls-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

/// A CA, a server certificate it signed (for 127.0.0.1 and localhost), and an unrelated
/// CA, made with the openssl command line once per test run.
struct Certificates {
    TempDir dir;
    std::string ca = dir.file("ca.pem");
    std::string other_ca = dir.file("other-ca.pem");
    std::string cert = dir.file("server.pem");
    std::string key = dir.file("server.key");
    bool ok = false;

    Certificates() {
        const std::string d = dir.path.string();
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        std::ofstream(dir.file("ext.cnf"))
            << "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n";
        const std::string script =
            "cd " + d + " && (openssl req -x509" + ec +
            " -keyout ca.key -out ca.pem -days 2 -subj /CN=mmtest-ca"
            " && openssl req -x509" +
            ec +
            " -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=mmtest-other-ca"
            " && openssl req" +
            ec +
            " -keyout server.key -out server.csr -subj /CN=localhost"
            " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
            " -out server.pem -days 2 -extfile ext.cnf) >openssl.log 2>&1";
        ok = std::system(script.c_str()) == 0;
    }
};

const Certificates& certificates() {
    static const Certificates certs;
    return certs;
}

mmtest::ServerOptions tls_server_options(const Certificates& c) {
    mmtest::ServerOptions so;
    so.tls = true;
    so.extra_args = {"-Z", "-o", "ssl_chain_cert=" + c.cert + ",ssl_key=" + c.key};
    return so;
}

/// A memcached -Z with the test certificates, and TLS client options (no CA chosen yet).
struct TlsSetup {
    const Certificates& certs = certificates();
    mmtest::MemcachedServer server{tls_server_options(certs)};
    PoolOptions opts = [] {
        PoolOptions o = iotest::quick_options();
        o.tls.enabled = true;
        return o;
    }();
};

bool ipv6_loopback_available() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

// ---- faults ------------------------------------------------------------------------------

TEST_CASE("a server that accepts and never answers times out at recv_timeout",
          "[connection][pool][integration]") {
    mmtest::FaultServer silent(mmtest::FaultServer::stall());
    PoolOptions opts = iotest::quick_options();
    opts.recv_timeout = 400ms;
    auto cache = cache_client_from_servers({silent.address()}, opts);
    const auto r = thrown_by([&] { cache.get("k"); });
    CHECK(r.timeout);
    CHECK(r.took >= 320ms);
    CHECK(r.took <= 600ms);  // the deadline, not two of it (slack for a loaded machine)
    CHECK_THAT(r.message, Catch::Contains("no complete answer within 400 ms"));
    CHECK(silent.received().rfind("mg k ", 0) == 0);
    const PoolCounters c = counters_of(cache);
    CHECK(c.timeouts == 1);
    CHECK(c.established == 0);
    CHECK(c.total_errors == 1);
    CHECK_FALSE(c.marked_down);  // one timeout of three
}

TEST_CASE("a server that closes in the middle of a value gives a TransportError",
          "[connection][pool][integration]") {
    mmtest::FaultServer server(mmtest::FaultServer::close_after("VA 10 f0\r\n0123456789\r\n", 14));
    auto cache = cache_client_from_servers({server.address()}, iotest::quick_options());
    const auto r = thrown_by([&] { cache.get("k"); });
    REQUIRE(r.code.has_value());
    CHECK(*r.code == errc::connection_closed);
    CHECK_FALSE(r.timeout);
    CHECK_THAT(r.message, Catch::Contains("closed by the server"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.established == 0);  // discarded
    CHECK(c.total_errors == 1);
    CHECK(c.retries == 0);  // it had started answering: not retried
    CHECK(server.connections() == 1);
}

TEST_CASE("a garbage answer is a ProtocolError and the next request uses a fresh connection",
          "[connection][pool][integration]") {
    mmtest::FaultServer server(poisoned("poison", "ZZ not memcached\r\n"));
    auto cache = cache_client_from_servers({server.address()}, iotest::quick_options());
    CHECK_FALSE(cache.get("fine").has_value());
    REQUIRE(counters_of(cache).available == 1);

    const auto r = thrown_by([&] { cache.get("poison"); });
    CHECK(r.protocol);
    CHECK_THAT(r.message, Catch::Contains("unknown response code"));
    PoolCounters c = counters_of(cache);
    CHECK(c.established == 0);
    CHECK(c.total_errors == 1);

    CHECK_FALSE(cache.get("fine-again").has_value());
    c = counters_of(cache);
    CHECK(c.total_created == 2);
    CHECK(c.established == 1);
    CHECK(server.connections() == 2);
}

TEST_CASE("a value length over the item size limit is a ProtocolError, not an allocation",
          "[connection][pool][integration]") {
    mmtest::FaultServer server(poisoned("big", "VA 999999999 f0\r\n"));
    auto cache = cache_client_from_servers({server.address()}, iotest::quick_options());
    const auto r = thrown_by([&] { cache.get("big"); });
    CHECK(r.protocol);
    CHECK_THAT(r.message, Catch::Contains("over the item size limit"));
    CHECK(counters_of(cache).established == 0);
}

// ---- TLS -------------------------------------------------------------------------------

TEST_CASE("TLS with peer verification against the configured CA works",
          "[connection][pool][tls][integration]") {
    REQUIRE(certificates().ok);
    TlsSetup t;
    t.opts.tls.ca_file = t.certs.ca;

    SECTION("by IP address (the certificate's IP SAN)") {
        auto cache = cache_client_from_servers({t.server.address()}, t.opts);
        const std::string key = mmtest::unique_key("tls");
        const std::string big(100000, 'x');  // several TLS records each way
        CHECK(cache.set(key, "secret", 0));
        CHECK(cache.get(key) == std::optional<std::string>("secret"));
        CHECK(cache.set(key + ":big", big, 0));
        CHECK(cache.get(key + ":big") == std::optional<std::string>(big));
        CHECK(counters_of(cache).total_created == 1);
        CHECK(counters_of(cache).total_errors == 0);
    }
    SECTION("by host name (DNS SAN, sent as SNI)") {
        t.opts.tls.server_name = "localhost";
        auto cache = cache_client_from_servers({t.server.address()}, t.opts);
        CHECK_FALSE(cache.get(mmtest::unique_key("tls-name")).has_value());
    }
}

TEST_CASE("TLS verification failures are clear tls_errors",
          "[connection][pool][tls][integration]") {
    REQUIRE(certificates().ok);
    TlsSetup t;

    SECTION("a certificate from another CA") {
        t.opts.tls.ca_file = t.certs.other_ca;
        auto cache = cache_client_from_servers({t.server.address()}, t.opts);
        const auto r = thrown_by([&] { cache.get("k"); });
        REQUIRE(r.code.has_value());
        CHECK(*r.code == errc::tls_error);
        CHECK_THAT(r.message,
                   Catch::Contains("certificate verification failed") && Catch::Contains("issuer"));
        CHECK(counters_of(cache).marked_down);
    }
    SECTION("a certificate for another host name") {
        t.opts.tls.ca_file = t.certs.ca;
        t.opts.tls.server_name = "cache.example.com";
        auto cache = cache_client_from_servers({t.server.address()}, t.opts);
        const auto r = thrown_by([&] { cache.get("k"); });
        REQUIRE(r.code.has_value());
        CHECK(*r.code == errc::tls_error);
        CHECK_THAT(r.message, Catch::Contains("certificate verification failed") &&
                                  Catch::Contains("mismatch"));
    }
    SECTION("verification off accepts any certificate") {
        t.opts.tls.ca_file = t.certs.other_ca;
        t.opts.tls.verify_peer = false;
        auto cache = cache_client_from_servers({t.server.address()}, t.opts);
        CHECK_FALSE(cache.get(mmtest::unique_key("noverify")).has_value());
    }
}

// ---- authentication ----------------------------------------------------------------------

namespace {

/// A memcached -Y whose only user is alice, password s3cret.
struct AuthServer {
    TempDir dir;
    mmtest::MemcachedServer server{[this] {
        std::ofstream(dir.file("auth")) << "alice:s3cret\n";
        mmtest::ServerOptions so;
        so.extra_args = {"-Y", dir.file("auth")};
        return so;
    }()};
};

}  // namespace

TEST_CASE("ASCII authentication with the right password works, pipelining after it too",
          "[connection][pool][auth][integration]") {
    AuthServer a;
    const mmtest::MemcachedServer& server = a.server;
    // Unauthenticated, the server refuses everything.
    CHECK(server.raw("mn\r\n") == "CLIENT_ERROR unauthenticated\r\n");

    PoolOptions opts = iotest::quick_options();
    opts.auth = {"alice", "s3cret"};
    auto cache = cache_client_from_servers({server.address()}, opts);
    std::vector<std::string> keys;
    for (int i = 0; i < 5; ++i) {
        keys.push_back(mmtest::unique_key("auth"));
        REQUIRE(cache.set(keys.back(), "v" + std::to_string(i), 0));
    }
    // Five mg in one batch on the authenticated connection.
    std::vector<KeyView> views(keys.begin(), keys.end());
    RequestFlags f;
    f.return_value = true;
    const auto got = cache.meta_multiget(views, f);
    REQUIRE(got.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        const auto* v = std::get_if<Value>(&got[i]);
        REQUIRE(v != nullptr);
        CHECK(v->data == "v" + std::to_string(i));
    }
    CHECK(counters_of(cache).total_created == 1);
}

TEST_CASE("a wrong password fails with authentication_failed and a clear message",
          "[connection][pool][auth][integration]") {
    AuthServer a;
    const mmtest::MemcachedServer& server = a.server;
    PoolOptions opts = iotest::quick_options();
    opts.auth = {"alice", "wrong"};
    auto cache = cache_client_from_servers({server.address()}, opts);
    const auto r = thrown_by([&] { cache.get("k"); });
    REQUIRE(r.code.has_value());
    CHECK(*r.code == errc::authentication_failed);
    CHECK_THAT(r.message, Catch::Contains("refused the credentials of user \"alice\"") &&
                              Catch::Contains("authentication failure"));
    CHECK_THAT(r.message, !Catch::Contains("wrong"));  // never echo the password
    CHECK(counters_of(cache).established == 0);
}

TEST_CASE("credentials are never sent to a server that asks for no authentication",
          "[connection][pool][auth][integration]") {
    mmtest::MemcachedServer server;  // no -Y: a `set auth` would be an ordinary set
    PoolOptions opts = iotest::quick_options();
    opts.auth = {"alice", "s3cret"};
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("noauth");
    REQUIRE(cache.set(key, "v", 0));
    CHECK(cache.get(key) == std::optional<std::string>("v"));
    CHECK(counters_of(cache).total_created == 1);
    // The password did not end up in the cache, under the key ASCII auth uses.
    CHECK(server.raw("mg auth v\r\n") == "EN\r\n");
}

// ---- transports --------------------------------------------------------------------------

TEST_CASE("a server on the IPv6 loopback works", "[connection][pool][integration]") {
    if (!ipv6_loopback_available()) {
        WARN("skipped: this machine has no IPv6 loopback (::1)");
        return;
    }
    mmtest::ServerOptions so;
    so.extra_args = {"-l", "::1"};  // besides 127.0.0.1, same port
    mmtest::MemcachedServer server(so);
    ServerAddress addr = ServerAddress::parse("[::1]:" + std::to_string(server.port()));
    REQUIRE(addr.host == "::1");
    auto cache = cache_client_from_servers({addr}, iotest::quick_options());
    const std::string key = mmtest::unique_key("v6");
    CHECK(cache.set(key, "six", 0));
    CHECK(server.raw_get(key) == std::optional<std::string>("six"));  // same server, via v4
    CHECK(cache.get(key) == std::optional<std::string>("six"));
    CHECK(counters_of(cache).total_created == 1);
}

TEST_CASE("a server on a unix socket works", "[connection][pool][integration]") {
    mmtest::ServerOptions so;
    so.unix_socket = true;
    mmtest::MemcachedServer server(so);
    auto cache = cache_client_from_servers({server.address()}, iotest::quick_options());
    const std::string key = mmtest::unique_key("unix");
    const std::string big(50000, 'u');
    CHECK(cache.set(key, "local", 0));
    CHECK(cache.set(key + ":big", big, 0));
    CHECK(server.raw_get(key) == std::optional<std::string>("local"));
    CHECK(cache.get(key) == std::optional<std::string>("local"));
    CHECK(cache.get(key + ":big") == std::optional<std::string>(big));
    CHECK(counters_of(cache).total_created == 1);
}

// ---- quiet writes --------------------------------------------------------------------------

TEST_CASE("a get after a no_reply set on the same connection reads its own answer",
          "[connection][pool][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.max_pool_size = 1;
    opts.idle_check_after = 0ms;  // the pending MN must not read as a dead connection
    auto cache = cache_client_from_servers({server.address()}, opts);
    const std::string key = mmtest::unique_key("quiet");
    SetOptions quiet;
    quiet.no_reply = true;
    CHECK(cache.set(key, "one", 0, quiet));
    std::this_thread::sleep_for(20ms);  // the MN is there when the get checks out
    CHECK(cache.get(key) == std::optional<std::string>("one"));
    for (int i = 0; i < 5; ++i)
        CHECK(cache.set(key, "q" + std::to_string(i), 0, quiet));
    std::this_thread::sleep_for(20ms);
    CHECK(cache.get(key) == std::optional<std::string>("q4"));
    CHECK(server.raw_get(key) == std::optional<std::string>("q4"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.total_created == 1);  // all on one connection
    CHECK(c.closed_idle == 0);
    CHECK(c.total_errors == 0);
}

TEST_CASE("a batch larger than the socket buffers is written while its answers are read",
          "[connection][integration]") {
    // One batch of 5,000 pairs (a 4 KiB set, then a get of a 16 KiB value): 20 MB to send
    // and 80 MB to read. memcached stops reading once about 10 MB of answers wait unread,
    // so a driver that wrote the whole batch before reading any of it would never finish
    // writing (it would time out); this one reads while the socket is full.
    mmtest::ServerOptions room;
    room.memory_mb = 512;  // nothing evicted
    mmtest::MemcachedServer server(room);
    auto cache = cache_client_from_servers({server.address()}, {.recv_timeout = 30s});
    const std::string stored(16 * 1024, 'g');
    const std::string sent(4 * 1024, 's');
    constexpr std::size_t pairs = 5000;
    std::vector<std::string> read_keys;
    std::vector<std::string> write_keys;
    for (std::size_t i = 0; i < pairs; ++i) {
        read_keys.push_back(mmtest::unique_key("batch-read"));
        write_keys.push_back(mmtest::unique_key("batch-write"));
    }
    std::vector<Request> fill;
    for (const auto& k : read_keys)
        fill.push_back(
            Request{MetaCommand::set, KeyView(k), stored, RequestFlags{.cache_ttl = 60}});
    std::vector<Response> filled(fill.size());
    cache.router().execute(fill, filled, ExecContext{});
    for (const Response& r : filled)
        REQUIRE(std::holds_alternative<Success>(r));

    std::vector<Request> batch;
    for (std::size_t i = 0; i < pairs; ++i) {
        batch.push_back(
            Request{MetaCommand::set, KeyView(write_keys[i]), sent, RequestFlags{.cache_ttl = 60}});
        batch.push_back(Request{
            MetaCommand::get, KeyView(read_keys[i]), {}, RequestFlags{.return_value = true}});
    }
    std::vector<Response> out(batch.size());
    cache.router().execute(batch, out, ExecContext{});
    std::size_t stored_ok = 0;
    std::size_t read_ok = 0;
    for (std::size_t i = 0; i < out.size(); i += 2) {
        stored_ok += std::holds_alternative<Success>(out[i]) ? 1U : 0U;
        const auto* v = std::get_if<Value>(&out[i + 1]);
        read_ok += v != nullptr && v->data == stored ? 1U : 0U;
    }
    CHECK(stored_ok == pairs);
    CHECK(read_ok == pairs);
    CHECK(cache.get(write_keys.back()) == sent);
}
