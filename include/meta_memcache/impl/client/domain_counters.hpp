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

/// One domain's hits and misses.
class DomainCounter {
public:
    void count(bool hit) noexcept {
        if (Cell* c = cells_.mine()) {
            std::atomic<std::uint64_t>& n = hit ? c->hits : c->misses;
            n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        } else {
            (hit ? shared_hits_ : shared_misses_).fetch_add(1, std::memory_order_relaxed);
        }
    }
    void add(std::uint64_t hits, std::uint64_t misses) noexcept {
        if (Cell* c = cells_.mine()) {
            c->hits.store(c->hits.load(std::memory_order_relaxed) + hits,
                          std::memory_order_relaxed);
            c->misses.store(c->misses.load(std::memory_order_relaxed) + misses,
                            std::memory_order_relaxed);
        } else {
            shared_hits_.fetch_add(hits, std::memory_order_relaxed);
            shared_misses_.fetch_add(misses, std::memory_order_relaxed);
        }
    }
    /// (hits, misses) summed over every thread.
    [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> read() const {
        std::uint64_t hits = shared_hits_.load(std::memory_order_relaxed);
        std::uint64_t misses = shared_misses_.load(std::memory_order_relaxed);
        cells_.for_each([&](const Cell& c) {
            hits += c.hits.load(std::memory_order_relaxed);
            misses += c.misses.load(std::memory_order_relaxed);
        });
        return {hits, misses};
    }

private:
    struct Cell {
        std::atomic<std::uint64_t> hits{0};
        std::atomic<std::uint64_t> misses{0};
    };
    PerThread<Cell> cells_;
    std::atomic<std::uint64_t> shared_hits_{0};  ///< threads without a slot
    std::atomic<std::uint64_t> shared_misses_{0};
};

/// The counters of every domain a client has seen ("" is the keys without one).
class DomainTable {
public:
    DomainCounter& operator[](std::string_view name) {
        if (name.empty())
            return none_;
        if (const List* list = list_.load(std::memory_order_acquire)) {
            for (Named* d : list->entries) {
                if (d->name == name)
                    return d->counter;
            }
        }
        return add(name);
    }

    /// Every domain's (hits, misses), "" included.
    [[nodiscard]] std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> read() const {
        std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
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

    void count(std::string_view domain, bool hit) {
        if (domain.size() != domain_.size() || domain != domain_) {
            flush();
            domain_ = domain;
        }
        ++(hit ? hits_ : misses_);
    }
    void flush() {
        if (hits_ + misses_ != 0)
            table_[domain_].add(hits_, misses_);
        hits_ = misses_ = 0;
    }

private:
    DomainTable& table_;
    std::string_view domain_{};
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

}  // namespace meta_memcache::detail
