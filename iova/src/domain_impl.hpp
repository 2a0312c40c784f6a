// SPDX-License-Identifier: GPL-2.0-or-later
//
// domain_impl.hpp - the state behind iova::Domain, shared by domain.cpp
// (operations), fast_path.cpp (rcache glue) and introspect.cpp (stats and
// invariant checks).
#pragma once

#include "iova/domain.hpp"
#include "range_tree.hpp"
#include "rcache.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>

namespace iova {

struct Domain::Impl final : detail::PfnSink {
    Impl(std::uint64_t granule, std::uint64_t start_pfn, Options options);

    // Returns a flushed magazine's pfns to the tree (takes the tree lock).
    void release(const detail::Magazine& m) noexcept override;

    // Slow-path allocation with the tree lock held.  align is 1 or
    // pow2_ceil(size); limit <= max_pfn.  May throw std::bad_alloc (nothing
    // changes then).
    Result<std::uint64_t> alloc_locked(std::uint64_t size, std::uint64_t align,
                                       std::uint64_t limit);
    // Removes the range holding pfn with the tree lock held.
    Result<Range> free_locked(std::uint64_t pfn) noexcept;
    // alloc_fast() and free_fast() whenever their inline common case
    // (Rcache::try_get/try_put) does not apply: the whole algorithm,
    // argument checks included.  Out of line so that the common case stays
    // a small leaf function.
    [[gnu::noinline]] Result<std::uint64_t> alloc_fast_slow(std::uint64_t size,
                                                            std::uint64_t limit_pfn,
                                                            unsigned cpu,
                                                            bool flush_rcache);
    [[gnu::noinline]] Status free_fast_slow(std::uint64_t pfn, std::uint64_t size,
                                            unsigned cpu) noexcept;
    // Domain::free()'s status, from free_fast_slow().
    Status free_to_tree(std::uint64_t pfn) noexcept;
    // Returns every cached pfn to the tree (Domain::flush_rcaches()).
    void flush_rcaches() noexcept;
    // start_pfn <= pfn <= max_pfn, in one compare (a pfn below start_pfn
    // wraps above span).
    bool in_space(std::uint64_t pfn) const noexcept
    {
        return pfn - start_pfn < span;
    }
    // Asks the caller for a trim run unless one is already pending.
    void request_trim() noexcept;

    // Configuration (immutable).
    const std::uint64_t granule;
    const unsigned shift;           // log2(granule)
    const std::uint64_t start_pfn;
    const std::uint64_t max_pfn;    // (2^64 - 1) >> shift
    const std::uint64_t span;       // pfns in the space: max_pfn - start_pfn + 1
    const std::uint64_t dma_32bit_pfn; // 2^32 >> shift
    const Options opts;
    const unsigned nclasses;        // log2(max_cached_size) + 1

    // Guarded by tree_lock.
    mutable std::mutex tree_lock;
    detail::RangeTree tree;
    // Linux's max32_alloc_size, split in two so that it is exact (see
    // alloc_locked): the smallest size known not to fit anywhere in the
    // 32-bit window, unaligned and size-aligned; dma_32bit_pfn = unknown.
    std::uint64_t max32_size;
    std::uint64_t max32_aligned_size;
    std::uint64_t max32_fast_fails = 0;
    std::uint64_t stale_cached_pfns = 0;

    detail::Rcache rcache;

    // True from a schedule_trim request until trim_depot() starts.
    std::atomic<bool> trim_pending{false};
    std::atomic<std::uint64_t> depot_trims{0};
    std::atomic<std::uint64_t> rcache_flushes{0};
    std::atomic<std::uint64_t> cpu_flushes{0};
};

} // namespace iova
