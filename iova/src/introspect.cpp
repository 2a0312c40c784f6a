// SPDX-License-Identifier: GPL-2.0-or-later
//
// introspect.cpp - exact statistics and the invariant checker.
#include "domain_impl.hpp"

namespace iova {

Stats Domain::stats() const
{
    const Impl& d = *impl_;
    Stats s;
    detail::Rcache::AllLocks all(d.rcache);
    std::lock_guard<std::mutex> g(d.tree_lock);
    d.rcache.fill(s);
    s.live_ranges = d.tree.ranges();
    s.reserved_ranges = d.tree.reserved_ranges();
    s.live_pfns = d.tree.pfns();
    s.depot_trims = d.depot_trims.load(std::memory_order_relaxed);
    s.rcache_flushes = d.rcache_flushes.load(std::memory_order_relaxed);
    s.cpu_flushes = d.cpu_flushes.load(std::memory_order_relaxed);
    s.max32_fast_fails = d.max32_fast_fails;
    s.stale_cached_pfns = d.stale_cached_pfns;
    return s;
}

bool Domain::check_invariants(std::string* why) const
{
    const Impl& d = *impl_;
    detail::Rcache::AllLocks all(d.rcache);
    std::lock_guard<std::mutex> g(d.tree_lock);
    if (!d.tree.check(why)) {
        return false;
    }
    if (d.max32_size > d.dma_32bit_pfn || d.max32_aligned_size > d.dma_32bit_pfn) {
        if (why) {
            *why = "max32_alloc_size above dma_32bit_pfn";
        }
        return false;
    }
    return d.rcache.check(d.tree, why);
}

} // namespace iova
