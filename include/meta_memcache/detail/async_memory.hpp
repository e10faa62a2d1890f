#pragma once

// Memory of the asynchronous client's operations (no asio here): a per-thread cache of
// freed blocks, so that an operation in flight (its call, its completion) reuses the memory
// of one that finished instead of going to malloc, and the small containers a call keeps
// its one request and its key in without a heap allocation of their own.

#include <meta_memcache/key.hpp>

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace meta_memcache::detail {

/// Freed blocks kept by the thread that freed them, by size class (64-byte steps up to
/// 2 KiB, at most 64 blocks a class: as many as a deep pipeline frees in one read), handed
/// out again by allocate() on that thread. Larger blocks go to operator new and delete.
class BlockCache {
public:
    static constexpr std::size_t granule = 64;
    static constexpr std::size_t classes = 32;
    static constexpr std::size_t per_class = 64;

    [[nodiscard]] static void* allocate(std::size_t bytes) {
        const std::size_t c = class_of(bytes);
        if (c == 0)
            return ::operator new(bytes);
        Slot& s = local().slots[c - 1];
        if (s.count > 0)
            return s.blocks[--s.count];
        return ::operator new(c* granule);
    }
    static void deallocate(void* p, std::size_t bytes) noexcept {
        const std::size_t c = class_of(bytes);
        if (c != 0) {
            Slot& s = local().slots[c - 1];
            if (s.count < per_class) {
                s.blocks[s.count++] = p;
                return;
            }
        }
        ::operator delete(p);
    }

private:
    struct Slot {
        std::array<void*, per_class> blocks{};
        std::size_t count = 0;
    };
    struct Cache {
        std::array<Slot, classes> slots{};
        Cache() = default;
        Cache(const Cache&) = delete;
        Cache& operator=(const Cache&) = delete;
        Cache(Cache&&) = delete;
        Cache& operator=(Cache&&) = delete;
        ~Cache() {
            for (Slot& s : slots) {
                for (std::size_t i = 0; i < s.count; ++i)
                    ::operator delete(s.blocks[i]);
            }
        }
    };

    /// 1-based size class, 0 for a block too large (or empty) to cache. Under
    /// AddressSanitizer nothing is cached, so that a use after free is still caught.
    static constexpr std::size_t class_of(std::size_t bytes) noexcept {
#if defined(__SANITIZE_ADDRESS__)
        (void)bytes;
        return 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
        (void)bytes;
        return 0;
#endif
#endif
        const std::size_t c = (bytes + granule - 1) / granule;
        return c <= classes ? c : 0;
    }
    static Cache& local() noexcept {
        thread_local Cache cache;
        return cache;
    }
};

/// A standard allocator over BlockCache (for std::allocate_shared and the completions).
template <class T>
class RecyclingAllocator {
public:
    using value_type = T;

    RecyclingAllocator() noexcept = default;
    template <class U>
    RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}  // NOLINT(*-explicit-*)

    [[nodiscard]] T* allocate(std::size_t n) {
        static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
        return static_cast<T*>(BlockCache::allocate(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { BlockCache::deallocate(p, n * sizeof(T)); }

    template <class U>
    bool operator==(const RecyclingAllocator<U>&) const noexcept {
        return true;
    }
};

/// A vector that keeps its first element inline: a call of one request needs no heap.
template <class T>
class OneOrMany {
public:
    void reserve(std::size_t n) {
        if (n > 1)
            many_.reserve(n);
    }
    void push_back(T v) {
        if (size_ == 0 && many_.capacity() == 0) {
            one_ = std::move(v);
            size_ = 1;
            return;
        }
        if (many_.empty() && size_ == 1)
            many_.push_back(std::move(one_));
        many_.push_back(std::move(v));
        size_ = many_.size();
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] T* data() noexcept { return many_.empty() ? &one_ : many_.data(); }
    [[nodiscard]] const T* data() const noexcept { return many_.empty() ? &one_ : many_.data(); }
    [[nodiscard]] T* begin() noexcept { return data(); }
    [[nodiscard]] T* end() noexcept { return data() + size_; }
    [[nodiscard]] const T* begin() const noexcept { return data(); }
    [[nodiscard]] const T* end() const noexcept { return data() + size_; }
    T& operator[](std::size_t i) noexcept { return data()[i]; }
    const T& operator[](std::size_t i) const noexcept { return data()[i]; }
    T& front() noexcept { return *data(); }
    const T& front() const noexcept { return *data(); }

private:
    T one_{};
    std::vector<T> many_;
    std::size_t size_ = 0;
};

/// The bytes of a call's keys (key, routing key, domain), copied into one buffer, inline
/// up to 64 bytes; reserve() the total first: the views handed out stay valid. Not movable.
class KeyBytes {
public:
    KeyBytes() = default;
    KeyBytes(const KeyBytes&) = delete;
    KeyBytes& operator=(const KeyBytes&) = delete;
    KeyBytes(KeyBytes&&) = delete;
    KeyBytes& operator=(KeyBytes&&) = delete;
    ~KeyBytes() = default;

    /// The bytes `k` needs.
    [[nodiscard]] static std::size_t size_of(const KeyView& k) noexcept {
        return k.key.size() + k.routing_key.size() + k.domain.size();
    }
    /// Room for `n` bytes in all (before any copy()).
    void reserve(std::size_t n) {
        if (n > cap_) {
            heap_ = std::make_unique<char[]>(n);
            base_ = heap_.get();
            cap_ = n;
        }
    }
    /// A copy of `k`, viewing this buffer.
    [[nodiscard]] KeyView copy(const KeyView& k) {
        KeyView out(put(k.key), put(k.routing_key), put(k.domain));
        out.disable_compression = k.disable_compression;
        return out;
    }

private:
    std::string_view put(std::string_view s) {
        if (s.empty())
            return {};
        if (s.size() > cap_ - used_)
            throw std::logic_error("KeyBytes: not reserved");
        char* at = base_ + used_;
        std::memcpy(at, s.data(), s.size());
        used_ += s.size();
        return {at, s.size()};
    }

    std::array<char, 64> inline_{};
    std::unique_ptr<char[]> heap_;
    char* base_ = inline_.data();
    std::size_t cap_ = inline_.size();
    std::size_t used_ = 0;
};

}  // namespace meta_memcache::detail
