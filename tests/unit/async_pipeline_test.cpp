// The asynchronous client's connection state machine (detail/async_pipeline.hpp) without a
// socket: batches written one after another are answered in order, every answer checked
// with its opaque, at every split of the server's bytes; timed-out and cancelled requests
// never desync the connection.

#include <meta_memcache/detail/async_pipeline.hpp>

#include "catch.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace meta_memcache;
using namespace meta_memcache::detail;

namespace {

/// What a call's requests got.
class Recorder final : public ResultSink {
public:
    void answer(std::size_t i, const ResponseHeader& h, std::string_view value) override {
        got[i] = h.code == ResponseCode::value ? std::string(value) : code_name(h.code);
    }
    std::string& large_value(std::size_t i, const ResponseHeader&) override { return got[i]; }
    void fail(std::size_t i, const Failure& f) override {
        got[i] = "fail:" + std::to_string(static_cast<int>(f.code));
    }
    static std::string code_name(ResponseCode c) {
        switch (c) {
            case ResponseCode::miss:
                return "EN";
            case ResponseCode::header:
                return "HD";
            default:
                return "other";
        }
    }
    std::vector<std::string> got;
};

class TestCall final : public AsyncCall {
public:
    TestCall(MetaCommand cmd, std::vector<std::string> names, bool quiet = false)
        : names_(std::move(names)) {
        requests.reserve(names_.size());
        for (const std::string& k : names_) {
            RequestFlags f;
            f.return_value = cmd == MetaCommand::get;
            f.no_reply = quiet;
            requests.push_back(Request{cmd, KeyView(k), cmd == MetaCommand::set ? "v" : "", f});
        }
        rec.got.resize(names_.size());
        reset_remaining();
    }
    ResultSink& sink() noexcept override { return rec; }
    void abort(std::error_code ec) override { aborted = ec; }

    std::vector<std::string> names_;
    Recorder rec;
    int completions = 0;
    std::error_code aborted;

protected:
    void finish() override { ++completions; }
};

class Route final : public AsyncFailureRoute {
public:
    void failed(const std::shared_ptr<AsyncCall>& call,
                std::uint32_t i,
                const Failure& f) override {
        call->sink().fail(i, f);
        call->request_done();
    }
};

std::shared_ptr<TestCall> get_call(std::string key) {
    return std::make_shared<TestCall>(MetaCommand::get, std::vector<std::string>{std::move(key)});
}

AsyncPipeline make_pipeline() {
    return AsyncPipeline("test:1", 1024, 1024 * 1024, ParserLimits{});
}

const auto far = AsyncClock::now() + std::chrono::hours(1);

/// Feeds `bytes` to `p` in pieces of `step` bytes; false on a desync.
bool feed(AsyncPipeline& p, std::string_view bytes, std::size_t step, Route& route) {
    while (!bytes.empty()) {
        const auto space = p.read_space();
        const std::size_t n = std::min({step, bytes.size(), space.size()});
        std::memcpy(space.data(), bytes.data(), n);
        bytes.remove_prefix(n);
        if (!p.received(n, route))
            return false;
    }
    return true;
}

std::string written(AsyncPipeline& p) {
    WriteBuffer& w = p.encode_queued("");
    std::string out;
    for (const WriteBuffer::Segment& s : w.segments())
        out.append(s.ext != nullptr ? s.ext : w.data() + s.offset, s.size);
    return out;
}

}  // namespace

TEST_CASE("pipelined batches are answered in order, each answer to its own request",
          "[async][unit]") {
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{1000}}) {
        AsyncPipeline p = make_pipeline();
        Route route;
        auto a = std::make_shared<TestCall>(MetaCommand::get, std::vector<std::string>{"a", "b"});
        auto c = get_call("c");
        p.push(a, 0, far);
        p.push(a, 1, far);
        CHECK(written(p) == "mg a v O1\r\nmg b v O2\r\n");
        p.push(c, 0, far);  // a second write while the first is answered
        CHECK(written(p) == "mg c v O3\r\n");
        CHECK(p.in_flight() == 3);
        REQUIRE(feed(p, "VA 1 O1\r\nA\r\nEN O2\r\nVA 2 O3\r\nCC\r\n", step, route));
        CHECK(a->rec.got == std::vector<std::string>{"A", "EN"});
        CHECK(c->rec.got == std::vector<std::string>{"CC"});
        CHECK(a->completions == 1);
        CHECK(c->completions == 1);
        CHECK(p.idle());
    }
}

TEST_CASE("an answer carrying another request's opaque is a desync", "[async][unit]") {
    AsyncPipeline p = make_pipeline();
    Route route;
    auto a = std::make_shared<TestCall>(MetaCommand::get, std::vector<std::string>{"a", "b"});
    p.push(a, 0, far);
    p.push(a, 1, far);
    (void)written(p);
    CHECK_FALSE(feed(p, "EN O2\r\n", 100, route));
    CHECK(p.error().find("opaque") != std::string_view::npos);
    p.fail_all(Failure{errc::protocol_error, "desync", "test:1"}, route);
    CHECK(a->rec.got[0] == "fail:" + std::to_string(static_cast<int>(errc::protocol_error)));
    CHECK(a->completions == 1);
}

TEST_CASE("a timed-out request's late answer is dropped and the next request gets its own",
          "[async][unit]") {
    AsyncPipeline p = make_pipeline();
    Route route;
    const auto now = AsyncClock::now();
    auto slow = get_call("s");
    auto next = get_call("n");
    p.push(slow, 0, now + std::chrono::milliseconds(10));
    (void)written(p);
    p.push(next, 0, now + std::chrono::milliseconds(500));
    (void)written(p);
    bool close = false;
    CHECK(p.expire(now + std::chrono::milliseconds(20), "late", route, close) == 1);
    CHECK_FALSE(close);
    CHECK(slow->rec.got[0] == "fail:" + std::to_string(static_cast<int>(errc::timeout)));
    CHECK(slow->completions == 1);
    CHECK(p.next_deadline() == now + std::chrono::milliseconds(500));
    // The server answers both at last: the first answer is thrown away.
    REQUIRE(feed(p, "VA 4 O1\r\nSLOW\r\nVA 4 O2\r\nNEXT\r\n", 5, route));
    CHECK(slow->rec.got[0] == "fail:" + std::to_string(static_cast<int>(errc::timeout)));
    CHECK(next->rec.got[0] == "NEXT");
    CHECK(p.idle());
}

TEST_CASE("a cancelled request still queued is never sent; one in flight has its answer dropped",
          "[async][unit]") {
    AsyncPipeline p = make_pipeline();
    Route route;
    auto sent = get_call("x");
    auto queued = get_call("y");
    auto kept = get_call("z");
    p.push(sent, 0, far);
    (void)written(p);
    p.push(queued, 0, far);
    p.push(kept, 0, far);
    sent->finished = true;  // what cancelling does
    queued->finished = true;
    CHECK(written(p) == "mg z v O2\r\n");
    REQUIRE(feed(p, "VA 1 O1\r\nX\r\nVA 1 O2\r\nZ\r\n", 2, route));
    CHECK(sent->rec.got[0].empty());
    CHECK(queued->rec.got[0].empty());
    CHECK(kept->rec.got[0] == "Z");
    CHECK(p.idle());
}

TEST_CASE("the fences of quiet writes are drained before the next batch's answers",
          "[async][unit]") {
    AsyncPipeline p = make_pipeline();
    Route route;
    auto quiet =
        std::make_shared<TestCall>(MetaCommand::set, std::vector<std::string>{"q1", "q2"}, true);
    p.push(quiet, 0, far);
    p.push(quiet, 1, far);
    CHECK(written(p) == "ms q1 1 q O1\r\nv\r\nmn\r\nms q2 1 q O2\r\nv\r\nmn\r\n");
    auto get = get_call("g");
    p.push(get, 0, far);
    CHECK(written(p) == "mg g v O3\r\n");
    // A quiet write's success is silent: only its fence comes, then the get's answer.
    REQUIRE(feed(p, "MN\r\nMN\r\nVA 1 O3\r\nG\r\n", 1, route));
    CHECK(quiet->completions == 1);
    CHECK(quiet->rec.got == std::vector<std::string>{"HD", "HD"});
    CHECK(get->rec.got[0] == "G");
    CHECK(p.idle());
}

TEST_CASE("a lost connection fails what was written and keeps what was not", "[async][unit]") {
    AsyncPipeline p = make_pipeline();
    Route route;
    auto written_call = get_call("w");
    auto waiting = get_call("u");
    p.push(written_call, 0, far);
    (void)written(p);
    p.push(waiting, 0, far);
    REQUIRE(feed(p, "VA 3 O1\r\nab", 100, route));  // half an answer, then the connection dies
    p.fail_all(Failure{errc::connection_closed, "closed", "test:1"}, route);
    CHECK(written_call->rec.got[0] ==
          "fail:" + std::to_string(static_cast<int>(errc::connection_closed)));
    CHECK(waiting->completions == 0);
    CHECK(p.has_queued());
    // On the next connection the queued request goes out and is answered.
    CHECK(written(p) == "mg u v O2\r\n");
    REQUIRE(feed(p, "EN O2\r\n", 100, route));
    CHECK(waiting->rec.got[0] == "EN");
}

/// The failure of a connection the server closed.
const Failure closed_by_server{errc::connection_closed, "closed", "test:1"};

/// Has `p`'s connection answer one get (O1): it is a reused connection from then on.
void answer_one(AsyncPipeline& p, Route& route) {
    auto first = get_call("a");
    p.push(first, 0, far);
    CHECK(written(p) == "mg a v O1\r\n");
    REQUIRE(feed(p, "EN O1\r\n", 100, route));
}

TEST_CASE("a reused connection closed before answering sends its idempotent requests again, once",
          "[async][unit]") {
    AsyncPipeline p = make_pipeline();
    Route route;
    const std::string failed = "fail:" + std::to_string(static_cast<int>(errc::connection_closed));
    answer_one(p, route);
    // Then a get, a delta (not idempotent) and a queued get; the server closes unanswered.
    auto get = get_call("g");
    auto delta = std::make_shared<TestCall>(MetaCommand::arithmetic, std::vector<std::string>{"n"});
    auto queued = get_call("q");
    p.push(get, 0, far);
    p.push(delta, 0, far);
    (void)written(p);
    p.push(queued, 0, far);
    CHECK(p.retry_or_fail_all(closed_by_server, route) == 1);
    CHECK(get->completions == 0);
    CHECK(delta->rec.got[0] == failed);
    // On the next connection the get goes out again, ahead of the queued one.
    CHECK(written(p) == "mg g v O4\r\nmg q v O5\r\n");
    // Closed unanswered again: the get is not sent a third time; the queued get is, once.
    CHECK(p.retry_or_fail_all(closed_by_server, route) == 1);
    CHECK(get->rec.got[0] == failed);
    CHECK(written(p) == "mg q v O6\r\n");
    REQUIRE(feed(p, "EN O6\r\n", 100, route));
    CHECK(queued->rec.got[0] == "EN");
}

TEST_CASE("a request whose answer had begun, or on a new connection, is not sent again",
          "[async][unit]") {
    Route route;
    // A new connection: nothing received yet, so a close is no proof of a stale one.
    AsyncPipeline fresh_pipe = make_pipeline();
    auto fresh = get_call("f");
    fresh_pipe.push(fresh, 0, far);
    (void)written(fresh_pipe);
    CHECK(fresh_pipe.retry_or_fail_all(closed_by_server, route) == 0);
    CHECK(fresh->completions == 1);
    // Bytes came after the write: the request may have been answered in part.
    AsyncPipeline p = make_pipeline();
    answer_one(p, route);
    auto begun = get_call("b");
    p.push(begun, 0, far);
    (void)written(p);
    REQUIRE(feed(p, "VA 3 O2\r\nab", 100, route));
    CHECK(p.retry_or_fail_all(closed_by_server, route) == 0);
    CHECK(begun->completions == 1);
    CHECK_FALSE(p.has_queued());
}
