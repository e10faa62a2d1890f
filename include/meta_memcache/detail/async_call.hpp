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
#include <utility>
#include <vector>

namespace meta_memcache::detail {

/// A completion kept with its outcome, to run later in the same turn of the event loop
/// (AsyncInlineCompletions).
class AsyncDeferredCompletion {
public:
    AsyncDeferredCompletion() = default;
    AsyncDeferredCompletion(const AsyncDeferredCompletion&) = delete;
    AsyncDeferredCompletion& operator=(const AsyncDeferredCompletion&) = delete;
    AsyncDeferredCompletion(AsyncDeferredCompletion&&) = delete;
    AsyncDeferredCompletion& operator=(AsyncDeferredCompletion&&) = delete;

    /// Runs the handler with the kept outcome now (`now`), or posts it to its executor;
    /// either way frees the object.
    virtual void run(bool now) = 0;

    AsyncDeferredCompletion* next_deferred = nullptr;

protected:
    ~AsyncDeferredCompletion() = default;
};

/// The completions of the answers one read handed out, on the one thread running an
/// io_context (concurrency hint 1): collected while the answers are handed out, then run
/// inline, one after another, once the connection is done with them (as asio::dispatch
/// runs a handler whose executor is the one running). Never while an operation is being
/// initiated: only completions made inside a Collect scope are kept, and the scope is not
/// open while the handlers run. Only handlers whose executor is that io_context's are kept.
class AsyncInlineCompletions {
public:
    /// Collects the completions for handlers running on `context` (the io_context).
    explicit AsyncInlineCompletions(const void* context) noexcept : context_(context) {}
    AsyncInlineCompletions(const AsyncInlineCompletions&) = delete;
    AsyncInlineCompletions& operator=(const AsyncInlineCompletions&) = delete;
    AsyncInlineCompletions(AsyncInlineCompletions&&) = delete;
    AsyncInlineCompletions& operator=(AsyncInlineCompletions&&) = delete;
    ~AsyncInlineCompletions() { post_all(); }

    /// The list collecting on this thread now, if any.
    [[nodiscard]] static AsyncInlineCompletions* current() noexcept { return current_ref(); }
    /// Whether a handler running on `context` may be kept.
    [[nodiscard]] bool accepts(const void* context) const noexcept {
        return context != nullptr && context == context_;
    }
    void push(AsyncDeferredCompletion* c) noexcept {
        c->next_deferred = nullptr;
        if (tail_ == nullptr)
            head_ = c;
        else
            tail_->next_deferred = c;
        tail_ = c;
    }
    [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }

    /// Runs every kept handler, in order (and those kept meanwhile). When one throws, the
    /// rest are posted to their executors and the exception goes on.
    void run_all() {
        while (AsyncDeferredCompletion* c = pop()) {
            try {
                c->run(true);
            } catch (...) {
                post_all();
                throw;
            }
        }
    }

    /// Collects on this thread while alive.
    class Collect {
    public:
        explicit Collect(AsyncInlineCompletions& list) noexcept
            : previous_(std::exchange(current_ref(), &list)) {}
        Collect(const Collect&) = delete;
        Collect& operator=(const Collect&) = delete;
        Collect(Collect&&) = delete;
        Collect& operator=(Collect&&) = delete;
        ~Collect() { current_ref() = previous_; }

    private:
        AsyncInlineCompletions* previous_;
    };

private:
    AsyncDeferredCompletion* pop() noexcept {
        AsyncDeferredCompletion* c = head_;
        if (c != nullptr) {
            head_ = c->next_deferred;
            if (head_ == nullptr)
                tail_ = nullptr;
        }
        return c;
    }
    void post_all() noexcept {
        while (AsyncDeferredCompletion* c = pop()) {
            try {
                c->run(false);
            } catch (...) {  // no memory to post it: the handler is lost with its outcome
            }
        }
    }
    static AsyncInlineCompletions*& current_ref() noexcept {
        thread_local AsyncInlineCompletions* list = nullptr;
        return list;
    }

    const void* context_;
    AsyncDeferredCompletion* head_ = nullptr;
    AsyncDeferredCompletion* tail_ = nullptr;
};

/// Receives the outcome of an asynchronous command: posts the caller's completion handler
/// (with the error code and the value) to the handler's executor, or keeps it for the
/// AsyncInlineCompletions collecting on this thread. Either call frees the object (it owns
/// its memory), so exactly one of them is made, once.
template <class T>
class AsyncCompletion : public AsyncDeferredCompletion {
public:
    AsyncCompletion() = default;
    AsyncCompletion(const AsyncCompletion&) = delete;
    AsyncCompletion& operator=(const AsyncCompletion&) = delete;
    AsyncCompletion(AsyncCompletion&&) = delete;
    AsyncCompletion& operator=(AsyncCompletion&&) = delete;

    /// Hands the outcome to the caller's handler.
    virtual void complete(std::error_code ec, T&& value) = 0;
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
    /// Every request is a plain read (mg with f v, validated at initiation): written with
    /// put_plain_read, without the general encoder.
    bool plain_reads = false;
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
    void deliver(std::error_code ec, T&& result) {
        if (AsyncCompletion<T>* c = std::exchange(completion, nullptr))
            c->complete(ec, std::move(result));
    }
};

}  // namespace meta_memcache::detail
