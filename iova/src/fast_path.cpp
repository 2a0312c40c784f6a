// SPDX-License-Identifier: GPL-2.0-or-later
//
// fast_path.cpp - alloc_fast/free_fast and the rcache maintenance calls
// (cpu_dead, flush, depot trim), as Linux's alloc_iova_fast() family.
#include "domain_impl.hpp"

#include "bits.hpp"

#include <algorithm>

namespace iova {

void Domain::Impl::request_trim() noexcept
{
    // One pending request is enough: trim_depot() clears the flag when it
    // starts and asks again itself while a depot stays too long.
    if (!opts.schedule_trim || trim_pending.exchange(true)) {
        return;
    }
    try {
        opts.schedule_trim(opts.trim_delay_ns);
    } catch (...) {
        // The hook failed to schedule: let a later push ask again.
        trim_pending.store(false);
    }
}

Result<std::uint64_t> Domain::Impl::alloc_fast_slow(std::uint64_t size,
                                                    std::uint64_t limit_pfn,
                                                    unsigned cpu,
                                                    bool flush_rcache)
{
    if (cpu >= opts.ncpus || size == 0 || size > span) {
        return Status::invalid;
    }
    const std::uint64_t limit = std::min(limit_pfn, max_pfn);
    // Cached sizes are rounded up to a power of two, as Linux does: a
    // cached range is reused for any request of its class, so it must be
    // as big as the largest of them, and freeing it back later finds the
    // same class from the unrounded size.
    if (size <= opts.max_cached_size) {
        size = detail::pow2_ceil(size);
        const unsigned cls = detail::order_ceil(size);
        // Only a cached range that ends at or below the limit will do.
        if (limit >= size - 1) {
            const std::uint64_t pfn = rcache.get(cls, limit - (size - 1), cpu);
            if (pfn != detail::Rcache::kMiss) {
                return pfn;
            }
        } else {
            rcache.note_miss(cls, cpu);
        }
    }
    const std::uint64_t align = detail::pow2_ceil(size);
    for (;;) {
        Result<std::uint64_t> r = Status::no_space;
        {
            std::lock_guard<std::mutex> g(tree_lock);
            r = alloc_locked(size, align, limit);
        }
        if (r.ok() || !flush_rcache) {
            return r;
        }
        // Exhausted, perhaps only because IOVAs sit in caches: return
        // them all to the tree and try once more (as Linux).
        flush_rcache = false;
        flush_rcaches();
    }
}

Result<std::uint64_t> Domain::alloc_fast(std::uint64_t size,
                                         std::uint64_t limit_pfn, unsigned cpu,
                                         bool flush_rcache)
{
    Impl& d = *impl_;
    // The common case, a hit in the loaded magazine, without a call;
    // anything else, errors included, is decided by alloc_fast_slow().
    // size - 1 < max_cached_size also rejects size 0.  Neither the size
    // nor the limit needs checking against the space here: every cached
    // range of the class lies inside it, so a size above the space or a
    // limit above max_pfn finds what the slow path's checks would let it.
    if (cpu < d.opts.ncpus && size - 1 < d.opts.max_cached_size) {
        const unsigned cls = detail::order_ceil(size);
        const std::uint64_t last = (std::uint64_t{1} << cls) - 1;
        std::uint64_t pfn;
        if (limit_pfn >= last &&
            d.rcache.try_get(cls, limit_pfn - last, cpu, pfn)) {
            return pfn;
        }
    }
    return d.alloc_fast_slow(size, limit_pfn, cpu, flush_rcache);
}

Status Domain::Impl::free_to_tree(std::uint64_t pfn) noexcept
{
    std::lock_guard<std::mutex> g(tree_lock);
    return free_locked(pfn).status();
}

Status Domain::Impl::free_fast_slow(std::uint64_t pfn, std::uint64_t size,
                                    unsigned cpu) noexcept
{
    if (cpu >= opts.ncpus || size == 0) {
        return Status::invalid;
    }
    if (size > opts.max_cached_size) {
        return free_to_tree(pfn);
    }
    const std::uint64_t csize = detail::pow2_ceil(size);
    // Cheap sanity checks (no tree lookup, the pfn is otherwise trusted):
    // alloc_fast() only returns size-aligned pfns inside the space.
    if (!in_space(pfn) || (pfn & (csize - 1)) != 0) {
        return Status::invalid;
    }
    switch (rcache.put(detail::order_ceil(csize), pfn, cpu)) {
    case detail::Rcache::PutResult::cached:
        return Status::ok;
    case detail::Rcache::PutResult::depot_over:
        request_trim();
        return Status::ok;
    case detail::Rcache::PutResult::no_memory:
        break;
    }
    // No magazine could be allocated: degrade as Linux, to the tree.
    return free_to_tree(pfn);
}

Status Domain::free_fast(std::uint64_t pfn, std::uint64_t size,
                         unsigned cpu) noexcept
{
    Impl& d = *impl_;
    // As alloc_fast(): the common case here, the rest in free_fast_slow().
    if (cpu < d.opts.ncpus && size - 1 < d.opts.max_cached_size) {
        const unsigned cls = detail::order_ceil(size);
        const std::uint64_t mask = (std::uint64_t{1} << cls) - 1;
        // Inside the space and size-aligned, as free_fast_slow() checks.
        if (d.in_space(pfn) && (pfn & mask) == 0 &&
            d.rcache.try_put(cls, pfn, cpu)) {
            return Status::ok;
        }
    }
    return d.free_fast_slow(pfn, size, cpu);
}

void Domain::cpu_dead(unsigned cpu) noexcept
{
    Impl& d = *impl_;
    if (cpu >= d.opts.ncpus) {
        return;
    }
    if (d.rcache.flush_cpu(cpu)) {
        d.cpu_flushes.fetch_add(1, std::memory_order_relaxed);
    }
}

void Domain::Impl::flush_rcaches() noexcept
{
    for (unsigned c = 0; c < opts.ncpus; ++c) {
        rcache.flush_cpu(c);
    }
    rcache.flush_depots();
    rcache_flushes.fetch_add(1, std::memory_order_relaxed);
}

void Domain::flush_rcaches() noexcept
{
    impl_->flush_rcaches();
}

void Domain::trim_depot() noexcept
{
    Impl& d = *impl_;
    d.trim_pending.store(false);
    const detail::Rcache::TrimResult r = d.rcache.trim();
    d.depot_trims.fetch_add(r.trimmed, std::memory_order_relaxed);
    if (r.still_over) {
        d.request_trim();
    }
}

} // namespace iova
