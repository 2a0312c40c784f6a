// SPDX-License-Identifier: GPL-2.0-or-later
//
// reference_model.cpp - the property test's model (see the header).
#include "reference_model.hpp"

#include <algorithm>
#include <bit>

namespace iova::test {

namespace {
constexpr std::uint64_t kNone = UINT64_MAX;
}

ReferenceModel::ReferenceModel(const Config& c)
    : c_(c), nclasses_(static_cast<unsigned>(std::countr_zero(c.max_cached_size)) + 1),
      cpu_(c.ncpus, std::vector<Slot>(nclasses_)), depot_(nclasses_),
      hits_(nclasses_), misses_(nclasses_)
{
}

unsigned ReferenceModel::cls_of(std::uint64_t pow2_size) const
{
    return static_cast<unsigned>(std::countr_zero(pow2_size));
}

// Walks the gaps from the limit down and takes the first (highest) aligned
// position that fits.  Linear, obviously right.
std::uint64_t ReferenceModel::scan_top_down(std::uint64_t size,
                                            std::uint64_t align,
                                            std::uint64_t limit) const
{
    std::uint64_t top = limit; // highest pfn the next gap may use
    auto it = ranges_.upper_bound(limit);
    for (;;) {
        std::uint64_t gap_lo = c_.start_pfn;
        bool covered = false;
        if (it != ranges_.begin()) {
            const Range& r = std::prev(it)->second;
            if (r.pfn_hi >= top) {
                covered = true;
            } else {
                gap_lo = std::max(r.pfn_hi + 1, c_.start_pfn);
            }
        }
        if (!covered && top >= gap_lo && top + 1 >= size) {
            const std::uint64_t p = (top + 1 - size) / align * align;
            if (p >= gap_lo) {
                return p;
            }
        }
        if (it == ranges_.begin()) {
            return kNone;
        }
        --it;
        if (it->second.pfn_lo == 0 || it->second.pfn_lo - 1 < c_.start_pfn) {
            return kNone;
        }
        top = it->second.pfn_lo - 1;
    }
}

Result<std::uint64_t> ReferenceModel::alloc(std::uint64_t size,
                                            std::uint64_t limit, bool aligned)
{
    if (size == 0 || size > c_.max_pfn - c_.start_pfn + 1) {
        return Status::invalid;
    }
    limit = std::min(limit, c_.max_pfn);
    const std::uint64_t align = aligned ? std::bit_ceil(size) : 1;
    const std::uint64_t p = scan_top_down(size, align, limit);
    if (p == kNone) {
        return Status::no_space;
    }
    ranges_[p] = Range{p, p + size - 1, false};
    return p;
}

Result<Range> ReferenceModel::find(std::uint64_t pfn) const
{
    auto it = ranges_.upper_bound(pfn);
    if (it == ranges_.begin()) {
        return Status::not_found;
    }
    --it;
    if (it->second.pfn_hi < pfn) {
        return Status::not_found;
    }
    return it->second;
}

Result<Range> ReferenceModel::free(std::uint64_t pfn)
{
    const Result<Range> r = find(pfn);
    if (r.ok()) {
        ranges_.erase(r->pfn_lo);
    }
    return r;
}

Result<Range> ReferenceModel::reserve(std::uint64_t lo, std::uint64_t hi)
{
    if (lo > hi || hi > c_.max_pfn) {
        return Status::invalid;
    }
    std::vector<std::uint64_t> overlapped;
    std::uint64_t nlo = lo, nhi = hi;
    for (const auto& [key, r] : ranges_) {
        if (r.pfn_hi >= lo && r.pfn_lo <= hi) {
            if (!r.reserved) {
                return Status::exists;
            }
            overlapped.push_back(key);
            nlo = std::min(nlo, r.pfn_lo);
            nhi = std::max(nhi, r.pfn_hi);
        }
    }
    for (std::uint64_t key : overlapped) {
        ranges_.erase(key);
    }
    ranges_[nlo] = Range{nlo, nhi, true};
    return ranges_[nlo];
}

void ReferenceModel::release(const Mag& m)
{
    for (std::uint64_t pfn : m) {
        ranges_.erase(pfn);
    }
}

void ReferenceModel::request_trim()
{
    if (c_.has_hook && !pending_) {
        pending_ = true;
        ++hook_calls_;
    }
}

Result<std::uint64_t> ReferenceModel::alloc_fast(std::uint64_t size,
                                                 std::uint64_t limit,
                                                 unsigned cpu, bool flush_first)
{
    if (cpu >= c_.ncpus || size == 0 || size > c_.max_pfn - c_.start_pfn + 1) {
        return Status::invalid;
    }
    limit = std::min(limit, c_.max_pfn);
    if (size <= c_.max_cached_size) {
        size = std::bit_ceil(size);
        const unsigned cls = cls_of(size);
        Slot& s = cpu_[cpu][cls];
        Mag* m = nullptr;
        if (limit + 1 >= size) {
            if (s.loaded && !s.loaded->empty()) {
                m = &*s.loaded;
            } else if (s.prev && !s.prev->empty()) {
                std::swap(s.loaded, s.prev);
                m = &*s.loaded;
            } else if (!depot_[cls].empty()) {
                if (s.loaded) {
                    ++mags_freed_;
                }
                s.loaded = std::move(depot_[cls].back());
                depot_[cls].pop_back();
                m = &*s.loaded;
            }
        }
        if (m) {
            const std::uint64_t max_lo = limit + 1 - size;
            for (std::size_t i = m->size(); i-- > 0;) {
                if ((*m)[i] <= max_lo) {
                    const std::uint64_t pfn = (*m)[i];
                    (*m)[i] = m->back();
                    m->pop_back();
                    ++hits_[cls];
                    --cached_;
                    return pfn;
                }
            }
        }
        ++misses_[cls];
    }
    for (bool flush = flush_first;; flush = false) {
        Result<std::uint64_t> r = alloc(size, limit, true);
        if (r.ok() || !flush) {
            return r;
        }
        this->flush();
    }
}

Status ReferenceModel::free_fast(std::uint64_t pfn, std::uint64_t size,
                                 unsigned cpu)
{
    if (cpu >= c_.ncpus || size == 0) {
        return Status::invalid;
    }
    if (size > c_.max_cached_size) {
        return free(pfn).status();
    }
    const std::uint64_t csize = std::bit_ceil(size);
    if (pfn < c_.start_pfn || pfn > c_.max_pfn || pfn % csize != 0) {
        return Status::invalid;
    }
    const unsigned cls = cls_of(csize);
    Slot& s = cpu_[cpu][cls];
    bool over = false;
    if (!s.loaded) {
        s.loaded.emplace();
        ++mags_alloc_;
    }
    if (s.loaded->size() == c_.mag_size) {
        if (s.prev && s.prev->size() < c_.mag_size) {
            std::swap(s.loaded, s.prev);
        } else if (!s.prev) {
            s.prev.emplace();
            ++mags_alloc_;
            std::swap(s.loaded, s.prev);
        } else {
            ++mags_alloc_;
            depot_[cls].push_back(std::move(*s.loaded));
            over = depot_[cls].size() > c_.ncpus;
            s.loaded.emplace();
        }
    }
    s.loaded->push_back(pfn);
    ++cached_;
    if (over) {
        request_trim();
    }
    return Status::ok;
}

void ReferenceModel::cpu_dead(unsigned cpu)
{
    if (cpu >= c_.ncpus) {
        return;
    }
    bool returned = false;
    for (Slot& s : cpu_[cpu]) {
        for (std::optional<Mag>* m : {&s.loaded, &s.prev}) {
            if (*m) {
                returned |= !(*m)->empty();
                cached_ -= (*m)->size();
                release(**m);
                m->reset();
                ++mags_freed_;
            }
        }
    }
    if (returned) {
        ++cpu_flushes_;
    }
}

void ReferenceModel::flush()
{
    const std::uint64_t keep = cpu_flushes_;
    for (unsigned c = 0; c < c_.ncpus; ++c) {
        cpu_dead(c);
    }
    cpu_flushes_ = keep; // a full flush is not a CPU going away
    for (auto& d : depot_) {
        for (const Mag& m : d) {
            cached_ -= m.size();
            release(m);
            ++mags_freed_;
        }
        d.clear();
    }
    ++flushes_;
}

void ReferenceModel::trim()
{
    pending_ = false;
    bool still_over = false;
    for (auto& d : depot_) {
        if (d.size() > c_.ncpus) {
            cached_ -= d.back().size();
            release(d.back());
            d.pop_back();
            ++mags_freed_;
            ++trims_;
        }
        still_over |= d.size() > c_.ncpus;
    }
    if (still_over) {
        request_trim();
    }
}

bool ReferenceModel::is_cached(std::uint64_t pfn) const
{
    auto in = [pfn](const Mag& m) {
        return std::find(m.begin(), m.end(), pfn) != m.end();
    };
    for (const auto& slots : cpu_) {
        for (const Slot& s : slots) {
            if ((s.loaded && in(*s.loaded)) || (s.prev && in(*s.prev))) {
                return true;
            }
        }
    }
    for (const auto& d : depot_) {
        for (const Mag& m : d) {
            if (in(m)) {
                return true;
            }
        }
    }
    return false;
}

Stats ReferenceModel::expected_stats() const
{
    Stats s;
    for (const auto& [key, r] : ranges_) {
        ++s.live_ranges;
        s.reserved_ranges += r.reserved ? 1 : 0;
        s.live_pfns += r.pfn_hi - r.pfn_lo + 1;
    }
    s.mags_allocated = mags_alloc_;
    s.mags_freed = mags_freed_;
    s.mags_live = mags_alloc_ - mags_freed_;
    s.mags_reachable = s.mags_live; // the model loses none
    s.cached_pfns = cached_;
    s.depot_trims = trims_;
    s.rcache_flushes = flushes_;
    s.cpu_flushes = cpu_flushes_;
    s.hits_per_class = hits_;
    s.misses_per_class = misses_;
    for (unsigned cls = 0; cls < nclasses_; ++cls) {
        s.depot_mags_per_class.push_back(depot_[cls].size());
        s.depot_mags += depot_[cls].size();
        s.rcache_hits += hits_[cls];
        s.rcache_misses += misses_[cls];
    }
    return s;
}

} // namespace iova::test
