#pragma once

// How the synchronous driver and the pools tell a ClientObserver what happened, at no cost
// when the call has none (ExecContext::observer null: a pointer check, no clock read).
//
// A pool marks a server down or finds it back under its lock, where an observer must not
// run (it may read the counters, which take that lock): it only notes the event here, on
// the calling thread, while an observed call is under way (ObservedCall); the call hands
// the notes to its observer once it is over.

#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/observer.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache::detail {

/// A mark-down (or, with `down` false, a recovery) noted by a pool.
struct PoolEvent {
    bool down = true;
    std::string server{};
    std::string reason{};
};

/// The calling thread's notes, while `depth` observed calls are under way.
struct PoolEventLog {
    std::vector<PoolEvent> events{};
    unsigned depth = 0;
};

inline PoolEventLog& pool_event_log() noexcept {
    thread_local PoolEventLog log;
    return log;
}

/// Called by a pool when it marks `server` down (`down`) or finds it back; noted only
/// during an observed call.
inline void note_pool_event(bool down, std::string_view server, std::string_view reason) noexcept {
    PoolEventLog& log = pool_event_log();
    if (log.depth == 0)
        return;
    try {
        log.events.push_back(PoolEvent{down, std::string(server), std::string(reason)});
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory: the note is lost
    }
}

/// For the length of one driver call with an observer: collects the pools' notes, then
/// hands them to the observer. Does nothing without one.
class ObservedCall {
public:
    explicit ObservedCall(ClientObserver* observer) noexcept : observer_(observer) {
        if (observer_ != nullptr) {
            PoolEventLog& log = pool_event_log();
            start_ = log.events.size();
            ++log.depth;
        }
    }
    ObservedCall(const ObservedCall&) = delete;
    ObservedCall& operator=(const ObservedCall&) = delete;
    ObservedCall(ObservedCall&&) = delete;
    ObservedCall& operator=(ObservedCall&&) = delete;
    ~ObservedCall() {
        if (observer_ == nullptr)
            return;
        PoolEventLog& log = pool_event_log();
        --log.depth;
        // Moved out first: an observer that makes a call of its own adds notes of its own.
        std::vector<PoolEvent> mine(
            std::make_move_iterator(log.events.begin() + static_cast<std::ptrdiff_t>(start_)),
            std::make_move_iterator(log.events.end()));
        log.events.resize(start_);
        for (const PoolEvent& e : mine) {
            try {
                if (e.down) {
                    observer_->on_mark_down(e.server, e.reason);
                } else {
                    observer_->on_recovery(e.server);
                }
            } catch (...) {  // NOLINT(bugprone-empty-catch): an observer must not break a call
            }
        }
    }

private:
    ClientObserver* observer_;
    std::size_t start_ = 0;
};

/// Tells `observer` how one server's batch ended.
inline void observe_batch_end(ClientObserver& observer,
                              const ServerAddress& server,
                              std::string_view name,
                              MetaCommand command,
                              std::size_t requests,
                              bool failed,
                              errc code,
                              std::string_view reason,
                              std::chrono::steady_clock::time_point handed_out,
                              bool connected,
                              std::size_t sent,
                              std::size_t received) noexcept {
    RequestEvent e;
    e.server = name;
    if (server.unix_path.empty()) {
        e.host = server.host;
        e.port = server.port;
    }
    e.command = command;
    e.requests = requests;
    if (failed) {
        e.error = code;
        e.reason = reason;
    }
    if (connected)
        e.duration = std::chrono::steady_clock::now() - handed_out;
    e.bytes_sent = sent;
    e.bytes_received = received;
    try {
        observer.on_request_end(e);
    } catch (...) {  // NOLINT(bugprone-empty-catch): an observer must not break a call
    }
}

}  // namespace meta_memcache::detail
