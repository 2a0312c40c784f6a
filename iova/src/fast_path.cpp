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

Result<std::uint64_t> Domain::alloc_fast(std::uint64_t size,
                                         std::uint64_t limit_pfn, unsigned cpu,
                                         bool flush_rcache)
{
    Impl& d = *impl_;
    if (cpu >= d.opts.ncpus || size == 0 || size > d.max_pfn - d.start_pfn + 1) {
        return Status::invalid;
    }
    const std::uint64_t limit = std::min(limit_pfn, d.max_pfn);
    // Cached sizes are rounded up to a power of two, as Linux does: a
    // cached range is reused for any request of its class, so it must be
    // as big as the largest of them, and freeing it back later finds the
    // same class from the unrounded size.
    const bool cacheable = size <= d.opts.max_cached_size;
    if (cacheable) {
        size = detail::pow2_ceil(size);
        const unsigned cls = detail::order_ceil(size);
        // Only a cached range that ends at or below the limit will do.
        if (limit >= size - 1) {
            const std::uint64_t pfn = d.rcache.get(cls, limit - (size - 1), cpu);
            if (pfn != detail::Rcache::kMiss) {
                return pfn;
            }
        } else {
            d.rcache.note_miss(cls, cpu);
        }
    }
    const std::uint64_t align = detail::pow2_ceil(size);
    for (;;) {
        Result<std::uint64_t> r = Status::no_space;
        {
            std::lock_guard<std::mutex> g(d.tree_lock);
            r = d.alloc_locked(size, align, limit);
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

Status Domain::free_fast(std::uint64_t pfn, std::uint64_t size,
                         unsigned cpu) noexcept
{
    Impl& d = *impl_;
    if (cpu >= d.opts.ncpus || size == 0) {
        return Status::invalid;
    }
    if (size > d.opts.max_cached_size) {
        return free(pfn).status();
    }
    const std::uint64_t csize = detail::pow2_ceil(size);
    // Cheap sanity checks (no tree lookup, the pfn is otherwise trusted):
    // alloc_fast() only returns size-aligned pfns inside the space.
    if (pfn < d.start_pfn || pfn > d.max_pfn || (pfn & (csize - 1)) != 0) {
        return Status::invalid;
    }
    switch (d.rcache.put(detail::order_ceil(csize), pfn, cpu)) {
    case detail::Rcache::PutResult::cached:
        return Status::ok;
    case detail::Rcache::PutResult::depot_over:
        d.request_trim();
        return Status::ok;
    case detail::Rcache::PutResult::no_memory:
        break;
    }
    // No magazine could be allocated: degrade as Linux, to the tree.
    return free(pfn).status();
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

void Domain::flush_rcaches() noexcept
{
    Impl& d = *impl_;
    for (unsigned c = 0; c < d.opts.ncpus; ++c) {
        d.rcache.flush_cpu(c);
    }
    d.rcache.flush_depots();
    d.rcache_flushes.fetch_add(1, std::memory_order_relaxed);
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
