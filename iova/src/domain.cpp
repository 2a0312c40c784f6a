// SPDX-License-Identifier: GPL-2.0-or-later
//
// domain.cpp - construction and the slow path (alloc, free, find, reserve).
#include "domain_impl.hpp"

#include "bits.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace iova {

const char* to_string(Status s) noexcept
{
    switch (s) {
    case Status::ok:
        return "ok";
    case Status::invalid:
        return "invalid argument";
    case Status::no_space:
        return "no space";
    case Status::not_found:
        return "not found";
    case Status::no_memory:
        return "out of memory";
    case Status::exists:
        return "overlaps an allocated range";
    }
    return "unknown status";
}

namespace {

constexpr unsigned kMaxCpus = 1u << 16;
constexpr unsigned kMaxMagSize = 1u << 20;
constexpr std::uint64_t kMaxCachedSize = std::uint64_t{1} << 31;

unsigned shift_of(std::uint64_t granule) noexcept
{
    return static_cast<unsigned>(std::countr_zero(granule));
}

} // namespace

Status Domain::validate(std::uint64_t granule, std::uint64_t start_pfn,
                        const Options& o) noexcept
{
    if (!std::has_single_bit(granule) || granule < 4096) {
        return Status::invalid;
    }
    const std::uint64_t max_pfn = UINT64_MAX >> shift_of(granule);
    if (start_pfn == 0 || start_pfn > max_pfn) {
        return Status::invalid;
    }
    if (o.ncpus == 0 || o.ncpus > kMaxCpus || o.mag_size == 0 ||
        o.mag_size > kMaxMagSize || !std::has_single_bit(o.max_cached_size) ||
        o.max_cached_size > kMaxCachedSize) {
        return Status::invalid;
    }
    return Status::ok;
}

Domain::Impl::Impl(std::uint64_t granule_, std::uint64_t start_pfn_,
                   Options options)
    : granule(granule_), shift(shift_of(granule_)), start_pfn(start_pfn_),
      max_pfn(UINT64_MAX >> shift), span(max_pfn - start_pfn + 1),
      dma_32bit_pfn(shift >= 32 ? (shift == 32 ? 1 : 0)
                                : std::uint64_t{1} << (32 - shift)),
      opts(std::move(options)),
      nclasses(detail::order_floor(opts.max_cached_size) + 1),
      tree(start_pfn, max_pfn), max32_size(dma_32bit_pfn),
      max32_aligned_size(dma_32bit_pfn),
      rcache(opts.ncpus, opts.mag_size, nclasses, *this)
{
}

Domain::Domain(std::uint64_t granule, std::uint64_t start_pfn, Options options)
{
    if (validate(granule, start_pfn, options) != Status::ok) {
        throw std::invalid_argument("iova::Domain: bad granule, start_pfn "
                                    "or options");
    }
    impl_ = std::make_unique<Impl>(granule, start_pfn, std::move(options));
}

Domain::~Domain()
{
    // Everything cached goes back to the tree first, through the same
    // accounted paths as a flush, then the tree and the (now empty)
    // magazines are destroyed with the Impl.  No hook is called here.
    for (unsigned c = 0; c < impl_->opts.ncpus; ++c) {
        impl_->rcache.flush_cpu(c);
    }
    impl_->rcache.flush_depots();
}

// Allocation, top-down as Linux's __alloc_and_insert_iova_range(), but the
// search is RangeTree::alloc(): exact and O(log n) in the worst case.
//
// max32_alloc_size: Linux remembers the size of the last failed request and
// refuses 32-bit requests at least that big until something below 4 GiB is
// freed.  Linux records every failure, even one that only failed because of
// a low limit or of alignment, so it can refuse requests that would fit.
// Here a failure is recorded only when the search covered the whole 32-bit
// window (limit >= dma_32bit_pfn - 1), and unaligned and size-aligned
// failures are kept apart: an unaligned failure of size s proves every
// request of size >= s fails there; a size-aligned failure proves it only
// for size-aligned requests (a larger aligned size has a coarser
// alignment, so any fit for it would also fit the smaller one).  The fast
// failure is thus never wrong, and the reset (any free below
// dma_32bit_pfn) is Linux's.
Result<std::uint64_t> Domain::Impl::alloc_locked(std::uint64_t size,
                                                 std::uint64_t align,
                                                 std::uint64_t limit)
{
    const bool in32 = limit < dma_32bit_pfn;
    const std::uint64_t known_bad =
        align > 1 ? std::min(max32_size, max32_aligned_size) : max32_size;
    if (in32 && size >= known_bad) {
        ++max32_fast_fails;
        return Status::no_space;
    }
    tree.reserve_for_insert(); // may throw; nothing changed yet
    const std::optional<std::uint64_t> pfn = tree.alloc(size, align, limit);
    if (!pfn) {
        if (dma_32bit_pfn > 0 && limit >= dma_32bit_pfn - 1) {
            std::uint64_t& m = align > 1 ? max32_aligned_size : max32_size;
            m = std::min(m, size);
        }
        return Status::no_space;
    }
    return *pfn;
}

Result<Range> Domain::Impl::free_locked(std::uint64_t pfn) noexcept
{
    const std::optional<detail::RangeInfo> r = tree.remove(pfn);
    if (!r) {
        return Status::not_found;
    }
    if (r->lo < dma_32bit_pfn) {
        max32_size = max32_aligned_size = dma_32bit_pfn;
    }
    return Range{r->lo, r->hi, r->reserved};
}

void Domain::Impl::release(const detail::Magazine& m) noexcept
{
    std::lock_guard<std::mutex> g(tree_lock);
    for (unsigned i = 0; i < m.size(); ++i) {
        const std::uint64_t pfn = m.pfn(i);
        // A cached pfn must start a live allocated range (Linux WARNs when
        // it does not); anything else is a caller bug, counted, and the
        // tree is left alone rather than freeing someone else's range.
        const auto r = tree.find(pfn);
        if (!r || r->lo != pfn || r->reserved) {
            ++stale_cached_pfns;
            continue;
        }
        (void)free_locked(pfn);
    }
}

Result<std::uint64_t> Domain::alloc(std::uint64_t size, std::uint64_t limit_pfn,
                                    bool size_aligned)
{
    Impl& d = *impl_;
    if (size == 0 || size > d.span) {
        return Status::invalid;
    }
    const std::uint64_t align = size_aligned ? detail::pow2_ceil(size) : 1;
    const std::uint64_t limit = std::min(limit_pfn, d.max_pfn);
    std::lock_guard<std::mutex> g(d.tree_lock);
    return d.alloc_locked(size, align, limit);
}

Result<Range> Domain::free(std::uint64_t pfn) noexcept
{
    std::lock_guard<std::mutex> g(impl_->tree_lock);
    return impl_->free_locked(pfn);
}

Result<Range> Domain::find(std::uint64_t pfn) const noexcept
{
    std::lock_guard<std::mutex> g(impl_->tree_lock);
    const auto r = impl_->tree.find(pfn);
    if (!r) {
        return Status::not_found;
    }
    return Range{r->lo, r->hi, r->reserved};
}

// As Linux's reserve_iova(), overlapping reservations merge.  Linux extends
// the overlapped nodes and adds nodes for the uncovered pieces, leaving
// several adjacent nodes; here they become one node, which covers the same
// pfns.  Linux also silently grows an allocated range that a reservation
// overlaps; here that is refused (Status::exists) because the owner of the
// allocation would later free pfns it never got.
Result<Range> Domain::reserve(std::uint64_t pfn_lo, std::uint64_t pfn_hi)
{
    Impl& d = *impl_;
    if (pfn_lo > pfn_hi || pfn_hi > d.max_pfn) {
        return Status::invalid;
    }
    std::lock_guard<std::mutex> g(d.tree_lock);
    std::uint64_t lo = pfn_lo, hi = pfn_hi;
    unsigned overlaps = 0;
    std::optional<detail::RangeInfo> r = d.tree.first_overlap(pfn_lo, pfn_hi);
    std::optional<detail::RangeInfo> first = r;
    for (; r && r->lo <= pfn_hi; r = d.tree.next(r->lo)) {
        if (!r->reserved) {
            return Status::exists;
        }
        lo = std::min(lo, r->lo);
        hi = std::max(hi, r->hi);
        ++overlaps;
    }
    if (overlaps == 1 && first->lo == lo && first->hi == hi) {
        return Range{lo, hi, true}; // already reserved as a whole
    }
    d.tree.reserve_for_insert(); // may throw; nothing changed yet
    for (unsigned i = 0; i < overlaps; ++i) {
        (void)d.tree.remove(d.tree.first_overlap(pfn_lo, pfn_hi)->lo);
    }
    d.tree.insert(lo, hi, true);
    return Range{lo, hi, true};
}

std::uint64_t Domain::granule() const noexcept { return impl_->granule; }
std::uint64_t Domain::start_pfn() const noexcept { return impl_->start_pfn; }
std::uint64_t Domain::max_pfn() const noexcept { return impl_->max_pfn; }
std::uint64_t Domain::dma_32bit_pfn() const noexcept { return impl_->dma_32bit_pfn; }
unsigned Domain::ncpus() const noexcept { return impl_->opts.ncpus; }
unsigned Domain::mag_size() const noexcept { return impl_->opts.mag_size; }
std::uint64_t Domain::max_cached_size() const noexcept
{
    return impl_->opts.max_cached_size;
}
unsigned Domain::size_classes() const noexcept { return impl_->nclasses; }

} // namespace iova
