// SPDX-License-Identifier: GPL-2.0-or-later
//
// domain.hpp - C++ API of the virt-iommu IOVA allocator.
//
// One iova::Domain is one IOVA space.  Its semantics are those of Linux
// drivers/iommu/iova.c (so results and tuning carry over), with a search
// tree that is O(log n) in the worst case instead of Linux's cached-node
// walk; docs/devel/iova.rst lists every difference and its reason.
//
// Units: every pfn and size is in granules (1 granule = `granule` bytes).
// Ranges are inclusive: [pfn_lo, pfn_hi].  Limits are inclusive pfns.
// Time (trim delay) is in nanoseconds of a clock the caller chooses.
//
// The library starts no threads and no timers: CPUs are indexes the caller
// passes in, and depot trimming is requested through Options::schedule_trim.
//
// Thread-safety: every member function may be called concurrently, except
// the destructor, which the caller serialises against all other calls.
// Locks, always taken in this order (never the reverse):
//     per-CPU lock (ascending CPU index when several)
//  -> depot lock of a size class (ascending class when several)
//  -> tree lock.
// The schedule_trim hook is called with no lock held.
//
// Errors are values (Status / Result<T>), never exceptions, except that
// std::bad_alloc may escape the constructor, alloc(), alloc_fast(),
// reserve(), stats() and check_invariants() when the process is out of
// memory (alloc/alloc_fast/reserve then change nothing); the C API (iova.h)
// maps it to IOVA_ERR_NOMEM.  Frees, flushes, trims and the destructor never
// allocate and never throw.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace iova {

// Same numeric values as IovaStatus in iova.h.
enum class Status : int {
    ok = 0,
    invalid = -1,   // bad argument (size 0, size above the space, bad cpu...)
    no_space = -2,  // nothing free satisfies the request right now
    not_found = -3, // no live range holds that pfn
    no_memory = -4, // internal allocation failed (std::bad_alloc)
    exists = -5,    // reserve() overlaps an allocated (not reserved) range
};

// Static name of a status ("ok", "invalid", ...).
const char* to_string(Status s) noexcept;

// A value or a non-ok Status (C++20 has no std::expected).  A plain pair
// rather than a std::variant: for Result<uint64_t> it is two registers, so
// the fast path returns it without a trip through memory.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)), status_(Status::ok) {} // NOLINT
    Result(Status error) : status_(error) {}                            // NOLINT

    bool ok() const noexcept { return status_ == Status::ok; }
    explicit operator bool() const noexcept { return ok(); }
    // The value; only meaningful when ok().
    const T& value() const& { return value_; }
    const T& operator*() const& { return value_; }
    const T* operator->() const { return &value_; }
    // Status::ok when there is a value.
    Status status() const noexcept { return status_; }
    T value_or(T fallback) const { return ok() ? value_ : fallback; }

private:
    T value_{};
    Status status_;
};

// A live range as find()/reserve() report it.
struct Range {
    std::uint64_t pfn_lo; // first granule
    std::uint64_t pfn_hi; // last granule (inclusive)
    bool reserved;        // made by reserve(), not by an allocation
    friend bool operator==(const Range&, const Range&) = default;
};

// Construction options (granule and start pfn are constructor arguments).
struct Options {
    // CPU indexes passed to the fast path are 0 .. ncpus - 1; also the
    // depot length each size class may keep before trimming (as Linux's
    // num_online_cpus()).  >= 1.
    unsigned ncpus = 1;
    // pfns per magazine (Linux IOVA_MAG_SIZE: 127).  >= 1.
    unsigned mag_size = 127;
    // Largest size (granules) the rcache caches; a power of two, 1 .. 2^31.
    // Linux: 32 (IOVA_RANGE_CACHE_MAX_SIZE 6 -> sizes up to 2^5).
    std::uint64_t max_cached_size = 32;
    // Delay before a requested depot trim, ns (Linux: 100 ms).
    std::uint64_t trim_delay_ns = 100'000'000;
    // "Please call trim_depot() after delay_ns ns."  Called with no lock
    // held, possibly from any thread calling free_fast() or trim_depot();
    // never after the destructor has started.  May be empty: then the depot
    // is trimmed only when the caller calls trim_depot() on its own.
    std::function<void(std::uint64_t delay_ns)> schedule_trim;
};

// Counters of one domain, exact at the instant stats() ran (it takes every
// lock).  Per-class vectors are indexed by size class: class c caches
// ranges of 2^c granules, c = 0 .. log2(max_cached_size).
struct Stats {
    std::uint64_t live_ranges = 0;     // allocated + reserved ranges
    std::uint64_t reserved_ranges = 0; // of which reserved
    std::uint64_t live_pfns = 0;       // granules covered by live_ranges
    std::uint64_t mags_allocated = 0;  // magazines ever allocated
    std::uint64_t mags_freed = 0;      // magazines ever freed
    std::uint64_t mags_live = 0;       // allocated - freed
    // Magazines found by walking every CPU's loaded/prev and every depot
    // under all their locks: a count independent of the two counters
    // above, so mags_live != mags_reachable is a leak (or a double free),
    // not a guess.
    std::uint64_t mags_reachable = 0;
    std::uint64_t depot_mags = 0;      // full magazines in all depots
    std::uint64_t cached_pfns = 0;     // ranges held by magazines and depots
    std::uint64_t rcache_hits = 0;     // alloc_fast served by the rcache
    std::uint64_t rcache_misses = 0;   // cacheable alloc_fast that missed
    std::uint64_t depot_trims = 0;     // magazines freed by trim_depot()
    std::uint64_t rcache_flushes = 0;  // full flushes (retry or explicit)
    std::uint64_t cpu_flushes = 0;     // cpu_dead() calls that freed IOVAs
    std::uint64_t max32_fast_fails = 0; // allocs refused by max32_alloc_size
    std::uint64_t stale_cached_pfns = 0; // cached pfns with no live range
                                         // when flushed: caller bugs
    std::vector<std::uint64_t> depot_mags_per_class;
    std::vector<std::uint64_t> hits_per_class;
    std::vector<std::uint64_t> misses_per_class;
};

// Magazines alive in the whole process (all domains): for leak tests.
std::int64_t live_magazines() noexcept;

class Domain {
public:
    // Creates an empty IOVA space of `granule` bytes per pfn (a power of
    // two >= 4096), handing out pfns in [start_pfn, max_pfn()] with
    // start_pfn >= 1.  dma_32bit_pfn() = 2^32 / granule.  Throws
    // std::invalid_argument if validate() would fail, std::bad_alloc.
    Domain(std::uint64_t granule, std::uint64_t start_pfn, Options options = {});

    // Status::ok if the arguments are acceptable, Status::invalid if not.
    static Status validate(std::uint64_t granule, std::uint64_t start_pfn,
                           const Options& options) noexcept;

    // Returns every cached IOVA, magazine and range.  Never calls
    // schedule_trim; a trim the caller scheduled must be cancelled before
    // (the caller owns the timer; the library cannot reach it).
    ~Domain();

    Domain(const Domain&) = delete;
    Domain& operator=(const Domain&) = delete;

    // Slow path, as Linux alloc_iova(): allocates `size` granules (>= 1)
    // ending at or below `limit_pfn` (inclusive), at the highest position
    // that fits (top-down); with size_aligned the first pfn is a multiple of
    // pow2_ceil(size).  Worst case O(log n).  Errors: invalid for size 0 or
    // size larger than the whole space; no_space if nothing fits (including
    // limit_pfn < start_pfn; requests above max_pfn() are clipped to it).
    // A 32-bit request (limit_pfn < dma_32bit_pfn()) known not to fit is
    // refused without a search (max32_alloc_size, as Linux).
    [[nodiscard]] Result<std::uint64_t> alloc(std::uint64_t size,
                                              std::uint64_t limit_pfn,
                                              bool size_aligned);

    // Frees the live range holding `pfn` (allocated or reserved, as Linux's
    // free_iova()) and returns it.  not_found if no range holds pfn: a
    // double free is reported and changes nothing.  O(log n).
    Result<Range> free(std::uint64_t pfn) noexcept;

    // The live range holding `pfn`, or not_found.  O(log n).
    [[nodiscard]] Result<Range> find(std::uint64_t pfn) const noexcept;

    // Reserves [pfn_lo, pfn_hi] so it is never allocated (as Linux's
    // reserve_iova()).  Reserved ranges it overlaps are merged with it into
    // one reserved range, which is returned.  exists if it overlaps an
    // allocated range (nothing changes then); invalid if pfn_lo > pfn_hi or
    // pfn_hi > max_pfn().  pfns below start_pfn may be reserved.
    Result<Range> reserve(std::uint64_t pfn_lo, std::uint64_t pfn_hi);

    // Fast path, as Linux alloc_iova_fast(): sizes <= max_cached_size are
    // rounded up to a power of two and served from CPU `cpu`'s rcache when
    // it holds a range that ends at or below limit_pfn; otherwise (and for
    // larger sizes) a size-aligned slow-path alloc.  If that fails and
    // flush_rcache is set, every CPU's magazines and every depot are
    // returned to the tree and the alloc is retried once.  Errors as
    // alloc(), plus invalid for cpu >= ncpus.
    [[nodiscard]] Result<std::uint64_t> alloc_fast(std::uint64_t size,
                                                   std::uint64_t limit_pfn,
                                                   unsigned cpu,
                                                   bool flush_rcache);

    // Fast free, as Linux free_iova_fast(): `size` as given to alloc_fast.
    // Cacheable sizes go to CPU `cpu`'s magazines (a full magazine moves to
    // the depot, which may request a trim); others, or if a magazine cannot
    // be allocated, go to the tree like free().  The pfn is trusted, as in
    // Linux: it must come from alloc_fast() of the same size class and not
    // be freed twice (check_invariants() detects violations later).
    // Errors: invalid for size 0 or a bad cpu; not_found from the tree path.
    [[nodiscard]] Status free_fast(std::uint64_t pfn, std::uint64_t size,
                                   unsigned cpu) noexcept;

    // CPU `cpu` went away: its cached IOVAs return to the tree and its
    // magazines are freed (Linux's CPU-hotplug "dead" callback).
    void cpu_dead(unsigned cpu) noexcept;

    // Returns every cached IOVA (all CPUs, all depots) to the tree.
    void flush_rcaches() noexcept;

    // One period of depot trimming (Linux's delayed depot work): for each
    // size class whose depot holds more than ncpus magazines, frees one
    // magazine (its IOVAs return to the tree); if some depot still exceeds
    // ncpus, asks schedule_trim for another period.
    void trim_depot() noexcept;

    // Exact counters; takes every lock briefly.
    Stats stats() const;

    // Verifies every invariant (tree order, balance, augmentation, gap
    // index, no overlap; every cached pfn a live allocated range of its
    // class, cached once; magazine and pfn counters against the real
    // contents).  false means a bug in the library or a broken free_fast()
    // contract; *why (if given) then says what.  O(n); takes every lock.
    [[nodiscard]] bool check_invariants(std::string* why = nullptr) const;

    std::uint64_t granule() const noexcept;
    std::uint64_t start_pfn() const noexcept;
    // Highest pfn of the space: (2^64 - 1) / granule.
    std::uint64_t max_pfn() const noexcept;
    // First pfn at or above 4 GiB: 2^32 / granule.
    std::uint64_t dma_32bit_pfn() const noexcept;
    unsigned ncpus() const noexcept;
    unsigned mag_size() const noexcept;
    std::uint64_t max_cached_size() const noexcept;
    // Number of rcache size classes: log2(max_cached_size) + 1.
    unsigned size_classes() const noexcept;

    struct Impl; // internal; public only so the implementation files see it

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace iova
