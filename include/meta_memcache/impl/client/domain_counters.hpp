#pragma once

// Hits and misses per key domain, counted without shared writes: each thread adds to its
// own counters (PerThread), get_counters() sums them. Domains are found without a lock:
// the list of domains is immutable once published, and a new domain publishes a new list.

#include <meta_memcache/detail/per_thread.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache::detail {

/// How a read ended for the caller.
enum class ReadOutcome : std::uint8_t {
    hit,
    miss,
    undecodable,  ///< a miss: the stored bytes could not be decoded
};

/// A domain's counts, summed.
struct DomainCounts {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;       ///< undecodable values included
    std::uint64_t undecodable = 0;  ///< of the misses
};

/// One domain's hits and misses.
class DomainCounter {
public:
    [[gnu::always_inline]] void count(ReadOutcome outcome) noexcept {
        if (Cell* c = cells_.mine()) [[likely]] {
            bump(outcome == ReadOutcome::hit ? c->hits : c->misses);
            if (outcome == ReadOutcome::undecodable)
                bump(c->undecodable);
        } else {
            (outcome == ReadOutcome::hit ? shared_hits_ : shared_misses_)
                .fetch_add(1, std::memory_order_relaxed);
            if (outcome == ReadOutcome::undecodable)
                shared_undecodable_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    /// Adds a call's counts (see DomainTally).
    void add(const DomainCounts& n) noexcept {
        if (Cell* c = cells_.mine()) {
            bump(c->hits, n.hits);
            bump(c->misses, n.misses);
            bump(c->undecodable, n.undecodable);
        } else {
            shared_hits_.fetch_add(n.hits, std::memory_order_relaxed);
            shared_misses_.fetch_add(n.misses, std::memory_order_relaxed);
            shared_undecodable_.fetch_add(n.undecodable, std::memory_order_relaxed);
        }
    }
    /// The counts summed over every thread.
    [[nodiscard]] DomainCounts read() const {
        DomainCounts out{shared_hits_.load(std::memory_order_relaxed),
                         shared_misses_.load(std::memory_order_relaxed),
                         shared_undecodable_.load(std::memory_order_relaxed)};
        cells_.for_each([&](const Cell& c) {
            out.hits += c.hits.load(std::memory_order_relaxed);
            out.misses += c.misses.load(std::memory_order_relaxed);
            out.undecodable += c.undecodable.load(std::memory_order_relaxed);
        });
        return out;
    }

private:
    struct Cell {
        std::atomic<std::uint64_t> hits{0};
        std::atomic<std::uint64_t> misses{0};
        std::atomic<std::uint64_t> undecodable{0};
    };
    /// Only this thread writes its cell: no read-modify-write needed.
    static void bump(std::atomic<std::uint64_t>& n, std::uint64_t by = 1) noexcept {
        n.store(n.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    }
    PerThread<Cell> cells_;
    std::atomic<std::uint64_t> shared_hits_{0};  ///< threads without a slot
    std::atomic<std::uint64_t> shared_misses_{0};
    std::atomic<std::uint64_t> shared_undecodable_{0};
};

/// The counters of every domain a client has seen ("" is the keys without one).
class DomainTable {
public:
    [[gnu::always_inline]] DomainCounter& operator[](std::string_view name) {
        if (name.empty()) [[likely]]
            return none_;
        return find_or_add(name);
    }
    /// Every domain's counts, "" included.
    [[nodiscard]] std::map<std::string, DomainCounts> read() const {
        std::map<std::string, DomainCounts> out;
        out[""] = none_.read();
        if (const List* list = list_.load(std::memory_order_acquire)) {
            for (const Named* d : list->entries)
                out[d->name] = d->counter.read();
        }
        return out;
    }

private:
    struct Named {
        std::string name;
        DomainCounter counter;
    };
    struct List {
        std::vector<Named*> entries;
    };

    DomainCounter& find_or_add(std::string_view name) {
        if (const List* list = list_.load(std::memory_order_acquire)) {
            for (Named* d : list->entries) {
                if (d->name == name)
                    return d->counter;
            }
        }
        return add(name);
    }

    DomainCounter& add(std::string_view name) {
        std::lock_guard lk(mu_);
        const List* current = list_.load(std::memory_order_relaxed);
        if (current != nullptr) {
            for (Named* d : current->entries) {
                if (d->name == name)
                    return d->counter;  // another thread added it meanwhile
            }
        }
        auto& named = all_.emplace_back(std::make_unique<Named>());
        named->name = std::string(name);
        auto next = std::make_unique<List>();
        if (current != nullptr)
            next->entries = current->entries;
        next->entries.push_back(named.get());
        // Readers may still be scanning the old list: every list lives as long as the table.
        list_.store(next.get(), std::memory_order_release);
        lists_.push_back(std::move(next));
        return named->counter;
    }

    DomainCounter none_;
    std::atomic<const List*> list_{nullptr};
    std::mutex mu_;
    std::vector<std::unique_ptr<Named>> all_;
    std::vector<std::unique_ptr<List>> lists_;
};

/// A call's hits and misses, added to the table once per run of keys of one domain (not
/// once per key).
class DomainTally {
public:
    explicit DomainTally(DomainTable& table) noexcept : table_(table) {}
    DomainTally(const DomainTally&) = delete;
    DomainTally& operator=(const DomainTally&) = delete;
    DomainTally(DomainTally&&) = delete;
    DomainTally& operator=(DomainTally&&) = delete;
    ~DomainTally() {
        try {
            flush();
        } catch (...) {  // NOLINT(bugprone-empty-catch): a new domain's entry failed to allocate
        }
    }

    [[gnu::always_inline]] void count(std::string_view domain, bool hit) {
        if (domain.size() != domain_.size() || (!domain.empty() && domain != domain_))
            [[unlikely]] {
            switch_to(domain);
        }
        ++(hit ? n_.hits : n_.misses);
    }
    void count(std::string_view domain, ReadOutcome outcome) {
        if (domain.size() != domain_.size() || domain != domain_) {
            flush();
            domain_ = domain;
        }
        ++(outcome == ReadOutcome::hit ? n_.hits : n_.misses);
        if (outcome == ReadOutcome::undecodable)
            ++n_.undecodable;
    }
    void flush() {
        if (n_.hits + n_.misses != 0)
            table_[domain_].add(n_);
        n_ = {};
    }

private:
    [[gnu::noinline]] void switch_to(std::string_view domain) {
        flush();
        domain_ = domain;
    }

    DomainTable& table_;
    std::string_view domain_{};
    DomainCounts n_{};
};

}  // namespace meta_memcache::detail
