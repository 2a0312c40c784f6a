// SPDX-License-Identifier: GPL-2.0-or-later
//
// rcache.hpp - per-CPU magazines and per-class depots (Linux's rcache).
//
// For each size class c (ranges of 2^c granules) each CPU has a `loaded`
// and a `prev` magazine, and the class has one depot of full magazines:
//   get: pop from loaded; if empty, swap in prev; if that is empty too,
//        replace loaded by a full magazine from the depot.
//   put: push onto loaded; if full, swap in prev; if both are full, move
//        loaded to the depot and start a new magazine.
// Two magazines per CPU give hysteresis: a CPU alternating allocs and frees
// at a magazine boundary does not bounce magazines through the depot.
//
// Magazines are created lazily (on the first put that needs one), not for
// every CPU and class up front as Linux does: a QEMU guest may create many
// domains and most never use most classes.  A missing magazine behaves as
// an empty one.
//
// Locks: each CPU's slots are guarded by that CPU's CpuLock (a spin lock,
// cpu_lock.hpp); each class's depot by its own mutex, taken inside a CPU
// lock when needed.  Returning pfns to the tree (PfnSink::release) takes
// the tree lock inside either.
// So the order is CPU -> depot -> tree, and code that needs several CPU or
// depot locks takes them in ascending index order (AllLocks).
//
// Accounting without shared atomics on the fast path: each CPU slot counts
// the pfns pushed into and popped from (`hits`) its magazines, each CPU the
// pfns flushed from them, each depot (negatively) the pfns flushed or
// trimmed out of it; the sum is the exact number of cached pfns, whichever
// CPU's magazine holds them.  A pop and a push update one counter each, in
// the slot's line that they touch anyway.
#pragma once

#include "cpu_lock.hpp"
#include "magazine.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace iova {
struct Stats;
}

namespace iova::detail {

class RangeTree;

// Where flushed pfns go: the domain returns a magazine's pfns to its tree.
// Called with a CPU or depot lock held; takes the tree lock itself.
class PfnSink {
public:
    virtual void release(const Magazine& m) noexcept = 0;

protected:
    ~PfnSink() = default;
};

class Rcache {
public:
    // Size classes 2^0 .. 2^31 granules at most (max_cached_size <= 2^31).
    static constexpr unsigned kMaxClasses = 32;

    // Throws std::bad_alloc.
    Rcache(unsigned ncpus, unsigned mag_size, unsigned nclasses, PfnSink& sink);
    Rcache(const Rcache&) = delete;
    Rcache& operator=(const Rcache&) = delete;
    // Frees the magazines; the owner flushes them to the tree first if the
    // pfns matter.
    ~Rcache() = default;

    // Returned by get() on a miss.  pfn 0 is never cached: start_pfn >= 1
    // (Linux uses 0 the same way).
    static constexpr std::uint64_t kMiss = 0;

    // Pops a cached range of class cls starting at or below max_lo from
    // CPU cpu's magazines (or the depot), or returns kMiss.  Counts a hit
    // or a miss.
    std::uint64_t get(unsigned cls, std::uint64_t max_lo, unsigned cpu) noexcept;
    // get() and put() for the common case only, inline and without a call:
    // the calling thread owns CPU cpu's lock (cpu_lock.hpp) and the loaded
    // magazine can serve.  false: nothing changed, call get() or put().
    bool try_get(unsigned cls, std::uint64_t max_lo, unsigned cpu,
                 std::uint64_t& pfn) noexcept;
    bool try_put(unsigned cls, std::uint64_t pfn, unsigned cpu) noexcept;
    // Counts a miss of a request that no cached range could satisfy.
    void note_miss(unsigned cls, unsigned cpu) noexcept;

    enum class PutResult {
        cached,      // pfn is in a magazine
        depot_over,  // cached, and the depot now exceeds ncpus magazines
        no_memory,   // a magazine could not be allocated: pfn not cached
    };
    PutResult put(unsigned cls, std::uint64_t pfn, unsigned cpu) noexcept;

    // Returns every pfn of CPU cpu's magazines to the sink and frees the
    // magazines.  True if any pfn was returned.
    bool flush_cpu(unsigned cpu) noexcept;
    // Same for every magazine of every depot.
    void flush_depots() noexcept;

    struct TrimResult {
        unsigned trimmed = 0;  // magazines freed
        bool still_over = false; // some depot still exceeds ncpus
    };
    // Frees one magazine (pfns to the sink) from each depot longer than
    // ncpus.
    TrimResult trim() noexcept;

    // Holds every CPU lock (ascending) then every depot lock (ascending):
    // a consistent view for stats and checks.
    class AllLocks {
    public:
        explicit AllLocks(const Rcache& r);
        ~AllLocks();
        AllLocks(const AllLocks&) = delete;
        AllLocks& operator=(const AllLocks&) = delete;

    private:
        const Rcache& r_;
    };

    // Both require AllLocks held.  fill() adds the rcache counters to s;
    // check() verifies magazines and counters and that every cached pfn is
    // an allocated (not reserved) range of its class in `tree` (whose lock
    // the caller also holds).
    void fill(Stats& s) const;
    bool check(const RangeTree& tree, std::string* why) const;

    std::uint64_t mags_allocated() const noexcept
    {
        return mags_allocated_.load(std::memory_order_relaxed);
    }
    std::uint64_t mags_freed() const noexcept
    {
        return mags_freed_.load(std::memory_order_relaxed);
    }

private:
    // 32 bytes, aligned so that one never straddles two cache lines.
    struct alignas(32) Slot {
        MagazinePtr loaded;
        MagazinePtr prev;
        std::uint64_t hits = 0;   // pfns popped
        std::uint64_t pushes = 0; // pfns pushed
    };
    // One per CPU, on its own cache line(s) so CPUs do not false-share.
    // A fast-path call touches the first line (the lock), its class's
    // slot and its magazine.
    struct alignas(64) CpuCache {
        CpuLock lock;
        std::uint64_t flushed = 0;     // pfns flushed from this CPU's slots
        Slot slots[kMaxClasses]; // nclasses used; inline: one load less
        std::uint64_t misses[kMaxClasses] = {}; // slow path only
    };
    struct alignas(64) Depot {
        std::mutex lock;
        MagazineStack mags;
        std::int64_t cached = 0; // minus pfns flushed or trimmed from here
    };

    // Runs f(slot, loaded magazine) for class cls of CPU cpu if the
    // calling thread enters that CPU's lock as its owner and the slot has a
    // loaded magazine; f's result, else false.
    template <class F>
    bool as_owner(unsigned cls, unsigned cpu, F&& f) noexcept;
    // The pfns in CPU cpu's magazines by its counters (AllLocks held).
    std::int64_t cpu_cached(unsigned cpu) const noexcept;
    MagazinePtr new_magazine() noexcept;
    void free_magazine(MagazinePtr m) noexcept;
    // Returns m's pfns to the sink and empties it; returns how many.
    unsigned drain(Magazine& m) noexcept;

    unsigned ncpus_;
    unsigned mag_size_;
    unsigned nclasses_;
    PfnSink& sink_;
    std::unique_ptr<CpuCache[]> cpus_;
    std::unique_ptr<Depot[]> depots_;
    // Rare events, updated under differing locks: atomics are simplest.
    std::atomic<std::uint64_t> mags_allocated_{0};
    std::atomic<std::uint64_t> mags_freed_{0};
};

// The fast path is defined here so that the domain's alloc_fast/free_fast
// inline it.  It is only the common case and calls nothing, so that the
// compiler keeps it a leaf: with the whole algorithm inlined, alloc_fast
// and free_fast saved and restored six registers and spilled around the
// lock on every call, a quarter of a size-1 pair.

template <class F>
[[gnu::always_inline]] inline bool Rcache::as_owner(unsigned cls, unsigned cpu,
                                                    F&& f) noexcept
{
    CpuCache& c = cpus_[cpu];
    CpuLock::OwnerGuard g(c.lock);
    if (!g) {
        return false;
    }
    Slot& s = c.slots[cls];
    Magazine* const m = s.loaded.get();
    return m != nullptr && f(s, *m);
}

[[gnu::always_inline]] inline bool Rcache::try_get(unsigned cls, std::uint64_t max_lo,
                                                   unsigned cpu,
                                                   std::uint64_t& pfn) noexcept
{
    return as_owner(cls, cpu, [&](Slot& s, Magazine& m) {
        if (m.empty() || m.top() > max_lo) {
            return false;
        }
        ++s.hits;
        pfn = m.pop_top();
        return true;
    });
}

[[gnu::always_inline]] inline bool Rcache::try_put(unsigned cls, std::uint64_t pfn,
                                                   unsigned cpu) noexcept
{
    return as_owner(cls, cpu, [&](Slot& s, Magazine& m) {
        if (m.full()) {
            return false;
        }
        m.push(pfn);
        ++s.pushes;
        return true;
    });
}

} // namespace iova::detail
