// The test harness itself: real memcached processes that tests start, stop, pause and
// restart, and that never outlive the test.

#include "catch.hpp"
#include "fault_server.hpp"
#include "memcached_server.hpp"

#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("the harness starts several private memcached servers on free ports",
          "[harness][integration]") {
    mmtest::MemcachedCluster cluster(3);
    REQUIRE(cluster.size() == 3);
    CHECK(cluster[0].port() != cluster[1].port());
    CHECK(cluster[1].port() != cluster[2].port());
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(cluster[i].raw("version\r\n").rfind("VERSION 1.6", 0) == 0);
    }
}

TEST_CASE("a stopped server is gone and a restarted one is back on the same port",
          "[harness][integration]") {
    mmtest::MemcachedServer server;
    const auto port = server.port();
    const pid_t first = server.pid();
    server.stop();
    CHECK_FALSE(server.running());
    CHECK(::kill(first, 0) != 0);  // the process is gone
    server.start();
    CHECK(server.port() == port);
    CHECK(server.raw("mn\r\n") == "MN\r\n");
}

TEST_CASE("a paused server accepts but does not answer until resumed", "[harness][integration]") {
    mmtest::MemcachedServer server;
    server.pause();
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(server.raw("mn\r\n").empty());  // raw() gives up after 2 s
    CHECK(std::chrono::steady_clock::now() - t0 >= 1900ms);
    server.resume();
    CHECK(server.raw("mn\r\n") == "MN\r\n");
}

TEST_CASE("a server object takes its process with it", "[harness][integration]") {
    pid_t pid = 0;
    {
        mmtest::MemcachedServer server;
        pid = server.pid();
        CHECK(::kill(pid, 0) == 0);
    }
    CHECK(::kill(pid, 0) != 0);
}

TEST_CASE("a server can listen on a unix socket", "[harness][integration]") {
    mmtest::ServerOptions opts;
    opts.unix_socket = true;
    mmtest::MemcachedServer server(opts);
    CHECK_FALSE(server.unix_path().empty());
    CHECK(server.raw("mn\r\n") == "MN\r\n");
}

TEST_CASE("the fault server stalls, answers garbage, or closes mid-answer",
          "[harness][integration]") {
    mmtest::FaultServer garbage(mmtest::FaultServer::answer("ZZ garbage\r\n"));
    mmtest::MemcachedServer dummy;  // (compare: a real server answers MN)
    CHECK(dummy.raw("mn\r\n") == "MN\r\n");
    CHECK(garbage.port() != 0);
    CHECK(garbage.connections() == 0);
}
