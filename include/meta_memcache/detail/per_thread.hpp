#pragma once

// State kept per thread inside shared objects, so that the hot path of one thread writes
// no memory another thread's hot path writes: each thread that uses the library gets a
// small number (its slot, reused after it exits), and a PerThread<T> holds one T per slot,
// each on its own cache line. A thread reads and writes its own T without locks; others
// only read it (counters summed) or take from it with an atomic exchange (a pool taking
// back a parked connection).

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

namespace meta_memcache::detail {

/// How many threads at once get a slot; the others share a slower path.
inline constexpr std::size_t max_thread_slots = 256;
/// What thread_slot() returns to a thread that got none.
inline constexpr std::size_t no_thread_slot = max_thread_slots;

namespace per_thread_impl {

/// Which slots are taken. Never destroyed: threads may exit after static destructors ran.
inline std::array<std::atomic<bool>, max_thread_slots> taken{};

/// The calling thread's slot + 1; 0 before it asked for one.
inline thread_local std::size_t slot_plus_one = 0;

/// Gives the slot back when the thread exits.
struct SlotOwner {
    std::size_t slot = no_thread_slot;
    SlotOwner() = default;
    SlotOwner(const SlotOwner&) = delete;
    SlotOwner& operator=(const SlotOwner&) = delete;
    SlotOwner(SlotOwner&&) = delete;
    SlotOwner& operator=(SlotOwner&&) = delete;
    ~SlotOwner() {
        slot_plus_one = no_thread_slot + 1;  // anything that runs later gets no slot
        if (slot < max_thread_slots)
            taken[slot].store(false, std::memory_order_release);
    }
};

[[gnu::noinline]] inline std::size_t assign() noexcept {
    thread_local SlotOwner owner;
    for (std::size_t s = 0; s < max_thread_slots; ++s) {
        bool expected = false;
        if (!taken[s].load(std::memory_order_relaxed) &&
            taken[s].compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
            owner.slot = s;
            slot_plus_one = s + 1;
            return s;
        }
    }
    slot_plus_one = no_thread_slot + 1;
    return no_thread_slot;
}

}  // namespace per_thread_impl

/// The calling thread's slot, in [0, max_thread_slots), or no_thread_slot.
[[nodiscard, gnu::always_inline]] inline std::size_t thread_slot() noexcept {
    const std::size_t s = per_thread_impl::slot_plus_one;
    if (s != 0) [[likely]]
        return s - 1;
    return per_thread_impl::assign();
}

/// One T per thread slot, each on its own cache line, allocated 32 slots at a time on
/// first use. T must be default-constructible; a slot's T lives as long as the PerThread.
template <class T>
class PerThread {
public:
    PerThread() = default;
    PerThread(const PerThread&) = delete;
    PerThread& operator=(const PerThread&) = delete;
    PerThread(PerThread&&) = delete;
    PerThread& operator=(PerThread&&) = delete;
    ~PerThread() {
        for (auto& c : chunks_)
            std::unique_ptr<Cell[]>(c.load(std::memory_order_acquire));
    }

    /// The T of `slot`, or null for no_thread_slot.
    [[nodiscard, gnu::always_inline]] T* get(std::size_t slot) {
        if (slot >= max_thread_slots)
            return nullptr;
        Cell* cells = chunks_[slot / chunk].load(std::memory_order_acquire);
        if (cells == nullptr) [[unlikely]]
            cells = allocate(slot / chunk);
        return &cells[slot % chunk].value;
    }
    /// The calling thread's T, or null when it has no slot.
    [[nodiscard, gnu::always_inline]] T* mine() { return get(thread_slot()); }

    /// Calls f(T&) for every T allocated so far (other threads may be using theirs).
    template <class F>
    void for_each(F&& f) const {
        for (const auto& c : chunks_) {
            Cell* cells = c.load(std::memory_order_acquire);
            if (cells == nullptr)
                continue;
            for (std::size_t k = 0; k < chunk; ++k)
                f(cells[k].value);
        }
    }

private:
    static constexpr std::size_t chunk = 32;
    struct alignas(64) Cell {
        T value{};
    };

    [[gnu::noinline]] Cell* allocate(std::size_t c) {
        auto fresh = std::make_unique<Cell[]>(chunk);
        Cell* expected = nullptr;
        if (chunks_[c].compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel))
            return fresh.release();
        return expected;  // another thread was first
    }

    std::array<std::atomic<Cell*>, max_thread_slots / chunk> chunks_{};
};

}  // namespace meta_memcache::detail
