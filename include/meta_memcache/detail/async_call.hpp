#pragma once

// One asynchronous command while it is in flight, as the asio driver sees it (no asio
// here): the requests it sends (owning their keys and values: the caller's buffers need
// not outlive the call), the result sink their answers go to, and how many are still
// out. The command's own class (async commands) turns the sink's contents into what the
// caller gets; the pipeline of each connection (async_pipeline.hpp) feeds the sink.

#include <meta_memcache/detail/async_memory.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/request.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace meta_memcache::detail {

/// Receives the outcome of an asynchronous command: posts the caller's completion handler
/// (with the error code and the value) to the handler's executor. Either call frees the
/// object (it owns its memory), so exactly one of them is made, once.
template <class T>
class AsyncCompletion {
public:
    AsyncCompletion() = default;
    AsyncCompletion(const AsyncCompletion&) = delete;
    AsyncCompletion& operator=(const AsyncCompletion&) = delete;
    AsyncCompletion(AsyncCompletion&&) = delete;
    AsyncCompletion& operator=(AsyncCompletion&&) = delete;

    /// Hands the outcome to the caller's handler.
    virtual void complete(std::error_code ec, T value) = 0;
    /// Drops the handler without calling it (the call was never completed).
    virtual void discard() noexcept = 0;

protected:
    ~AsyncCompletion() = default;
};

/// A command in flight. Used on the client's strand only, once started.
class AsyncCall {
public:
    AsyncCall() = default;
    virtual ~AsyncCall() = default;
    AsyncCall(const AsyncCall&) = delete;
    AsyncCall& operator=(const AsyncCall&) = delete;
    AsyncCall(AsyncCall&&) = delete;
    AsyncCall& operator=(AsyncCall&&) = delete;

    /// Where the answers to `requests` go (by index into `requests`).
    [[nodiscard]] virtual ResultSink& sink() noexcept = 0;
    /// Completes the command with `ec` now (cancelled, failed, invalid); answers still to
    /// come are read and dropped.
    virtual void abort(std::error_code ec) = 0;

    /// Request `i` has its answer (or its failure) in the sink. The last one finishes the
    /// command.
    void request_done() {
        if (remaining > 0)
            --remaining;
        if (remaining == 0 && !finished)
            finish_now();
    }
    /// Starts counting: every request is out.
    void reset_remaining() noexcept { remaining = requests.size(); }

    /// The requests (their keys view `keys`, a set's value views `value`); one request and
    /// a short key are stored in the call itself.
    OneOrMany<Request> requests{};
    KeyBytes keys{};
    std::string value{};
    /// Whether a failed write among the requests goes to on_write_failure.
    bool track_write_failures = true;
    /// Requests not answered yet.
    std::size_t remaining = 0;
    /// Completed (answered, failed or cancelled): later answers are dropped.
    bool finished = false;

protected:
    /// Every request is done: turns the sink's contents into the result and completes.
    virtual void finish() = 0;

    void finish_now() {
        finished = true;
        try {
            finish();
        } catch (const std::system_error& e) {  // a meta_memcache::Error: an answer out of place
            abort(e.code());
        } catch (...) {
            abort(make_error_code(errc::protocol_error));
        }
    }
};

/// A command whose caller gets a T: completes through `completion` (set by the
/// initiation, which may come after the call was built: the caller's arguments are copied
/// when the command is called, whatever the completion token).
template <class T>
class AsyncResultCall : public AsyncCall {
public:
    AsyncResultCall() = default;
    AsyncResultCall(const AsyncResultCall&) = delete;
    AsyncResultCall& operator=(const AsyncResultCall&) = delete;
    AsyncResultCall(AsyncResultCall&&) = delete;
    AsyncResultCall& operator=(AsyncResultCall&&) = delete;
    ~AsyncResultCall() override {
        if (completion != nullptr)
            completion->discard();
    }

    void abort(std::error_code ec) override { deliver(ec, T{}); }

    /// The caller's handler (owned: complete() or discard() frees it).
    AsyncCompletion<T>* completion = nullptr;
    /// Set when the input was invalid: the command completes with it, sending nothing.
    std::error_code invalid{};

protected:
    void deliver(std::error_code ec, T result) {
        if (AsyncCompletion<T>* c = std::exchange(completion, nullptr))
            c->complete(ec, std::move(result));
    }
};

}  // namespace meta_memcache::detail
