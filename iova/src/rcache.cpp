// SPDX-License-Identifier: GPL-2.0-or-later
//
// rcache.cpp - per-CPU magazines and per-class depots (see rcache.hpp).
#include "rcache.hpp"

#include "iova/domain.hpp"
#include "range_tree.hpp"

#include <new>
#include <unordered_set>
#include <utility>

namespace iova::detail {

Rcache::Rcache(unsigned ncpus, unsigned mag_size, unsigned nclasses,
               PfnSink& sink)
    : ncpus_(ncpus), mag_size_(mag_size), nclasses_(nclasses), sink_(sink),
      cpus_(std::make_unique<CpuCache[]>(ncpus)),
      depots_(std::make_unique<Depot[]>(nclasses))
{
}

MagazinePtr Rcache::new_magazine() noexcept
{
    try {
        auto m = Magazine::make(mag_size_);
        mags_allocated_.fetch_add(1, std::memory_order_relaxed);
        return m;
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

void Rcache::free_magazine(MagazinePtr m) noexcept
{
    if (m) {
        mags_freed_.fetch_add(1, std::memory_order_relaxed);
    }
}

unsigned Rcache::drain(Magazine& m) noexcept
{
    const unsigned n = m.size();
    if (n) {
        sink_.release(m);
        m.clear();
    }
    return n;
}

std::uint64_t Rcache::get(unsigned cls, std::uint64_t max_lo, unsigned cpu) noexcept
{
    CpuCache& c = cpus_[cpu];
    // Counted as freed under the lock, deleted after it is dropped: a
    // stats() or check between the two would otherwise see a magazine
    // that is allocated yet reachable from nowhere (the concurrency test
    // caught it: "magazine count 40 != allocated - freed 41").
    MagazinePtr spent;
    std::uint64_t pfn = kMiss;
    {
        CpuLock::FastGuard g(c.lock);
        Slot& s = c.slots[cls];
        Magazine* m = nullptr;
        if (s.loaded && !s.loaded->empty()) {
            m = s.loaded.get();
        } else if (s.prev && !s.prev->empty()) {
            std::swap(s.loaded, s.prev);
            m = s.loaded.get();
        } else {
            Depot& d = depots_[cls];
            std::lock_guard<std::mutex> dg(d.lock);
            if (!d.mags.empty()) {
                // The empty loaded magazine is dropped: the depot one
                // replaces it (as Linux); prev stays.
                spent = std::move(s.loaded);
                if (spent) {
                    mags_freed_.fetch_add(1, std::memory_order_relaxed);
                }
                s.loaded = d.mags.pop();
                m = s.loaded.get();
            }
        }
        if (m) {
            pfn = m->pop_at_most(max_lo, kMiss);
        }
        if (pfn != kMiss) {
            ++s.hits;
        } else {
            ++c.misses[cls];
        }
    }
    return pfn;
}

Rcache::PutResult Rcache::put(unsigned cls, std::uint64_t pfn, unsigned cpu) noexcept
{
    CpuCache& c = cpus_[cpu];
    bool over = false;
    CpuLock::FastGuard g(c.lock);
    Slot& s = c.slots[cls];
    if (!s.loaded) {
        s.loaded = new_magazine();
        if (!s.loaded) {
            return PutResult::no_memory;
        }
    }
    if (s.loaded->full()) {
        if (s.prev && !s.prev->full()) {
            std::swap(s.loaded, s.prev);
        } else if (!s.prev) {
            s.prev = new_magazine();
            if (!s.prev) {
                return PutResult::no_memory;
            }
            std::swap(s.loaded, s.prev);
        } else {
            // Both full: the loaded one goes to the depot.  If no new
            // magazine can be had, the pfn goes back to the tree instead
            // (the caller does that), as Linux does.
            MagazinePtr fresh = new_magazine();
            if (!fresh) {
                return PutResult::no_memory;
            }
            Depot& d = depots_[cls];
            {
                std::lock_guard<std::mutex> dg(d.lock);
                d.mags.push(std::move(s.loaded));
                over = d.mags.size() > ncpus_;
            }
            s.loaded = std::move(fresh);
        }
    }
    s.loaded->push(pfn);
    ++s.pushes;
    return over ? PutResult::depot_over : PutResult::cached;
}

void Rcache::note_miss(unsigned cls, unsigned cpu) noexcept
{
    CpuCache& c = cpus_[cpu];
    std::lock_guard<CpuLock> g(c.lock);
    ++c.misses[cls];
}

bool Rcache::flush_cpu(unsigned cpu) noexcept
{
    CpuCache& c = cpus_[cpu];
    unsigned returned = 0;
    std::lock_guard<CpuLock> g(c.lock);
    for (unsigned cls = 0; cls < nclasses_; ++cls) {
        Slot& s = c.slots[cls];
        for (MagazinePtr* m : {&s.loaded, &s.prev}) {
            if (*m) {
                const unsigned n = drain(**m);
                returned += n;
                c.flushed += n;
                free_magazine(std::move(*m));
            }
        }
    }
    return returned > 0;
}

void Rcache::flush_depots() noexcept
{
    for (unsigned cls = 0; cls < nclasses_; ++cls) {
        Depot& d = depots_[cls];
        std::lock_guard<std::mutex> g(d.lock);
        while (MagazinePtr m = d.mags.pop()) {
            d.cached -= drain(*m);
            free_magazine(std::move(m));
        }
    }
}

Rcache::TrimResult Rcache::trim() noexcept
{
    TrimResult r;
    for (unsigned cls = 0; cls < nclasses_; ++cls) {
        Depot& d = depots_[cls];
        std::lock_guard<std::mutex> g(d.lock);
        if (d.mags.size() > ncpus_) {
            MagazinePtr m = d.mags.pop();
            d.cached -= drain(*m);
            free_magazine(std::move(m));
            ++r.trimmed;
        }
        if (d.mags.size() > ncpus_) {
            r.still_over = true;
        }
    }
    return r;
}

Rcache::AllLocks::AllLocks(const Rcache& r) : r_(r)
{
    for (unsigned c = 0; c < r_.ncpus_; ++c) {
        r_.cpus_[c].lock.lock();
    }
    for (unsigned cls = 0; cls < r_.nclasses_; ++cls) {
        r_.depots_[cls].lock.lock();
    }
}

Rcache::AllLocks::~AllLocks()
{
    for (unsigned cls = r_.nclasses_; cls-- > 0;) {
        r_.depots_[cls].lock.unlock();
    }
    for (unsigned c = r_.ncpus_; c-- > 0;) {
        r_.cpus_[c].lock.unlock();
    }
}

std::int64_t Rcache::cpu_cached(unsigned cpu) const noexcept
{
    const CpuCache& c = cpus_[cpu];
    // Unsigned: the counters wrap alike, and the difference is exact.
    std::uint64_t n = 0;
    for (unsigned cls = 0; cls < nclasses_; ++cls) {
        n += c.slots[cls].pushes - c.slots[cls].hits;
    }
    return static_cast<std::int64_t>(n - c.flushed);
}

void Rcache::fill(Stats& s) const
{
    s.mags_allocated = mags_allocated();
    s.mags_freed = mags_freed();
    s.mags_live = s.mags_allocated - s.mags_freed;
    s.depot_mags_per_class.assign(nclasses_, 0);
    s.hits_per_class.assign(nclasses_, 0);
    s.misses_per_class.assign(nclasses_, 0);
    std::int64_t cached = 0;
    s.mags_reachable = 0;
    for (unsigned c = 0; c < ncpus_; ++c) {
        cached += cpu_cached(c);
        for (unsigned cls = 0; cls < nclasses_; ++cls) {
            const Slot& slot = cpus_[c].slots[cls];
            s.hits_per_class[cls] += slot.hits;
            s.misses_per_class[cls] += cpus_[c].misses[cls];
            s.mags_reachable += (slot.loaded != nullptr) + (slot.prev != nullptr);
        }
    }
    s.depot_mags = 0;
    s.rcache_hits = s.rcache_misses = 0;
    for (unsigned cls = 0; cls < nclasses_; ++cls) {
        cached += depots_[cls].cached;
        s.depot_mags_per_class[cls] = depots_[cls].mags.size();
        s.depot_mags += depots_[cls].mags.size();
        // Walked, not the length counter: see Stats::mags_reachable.
        depots_[cls].mags.for_each([&](const Magazine&) { ++s.mags_reachable; });
        s.rcache_hits += s.hits_per_class[cls];
        s.rcache_misses += s.misses_per_class[cls];
    }
    s.cached_pfns = static_cast<std::uint64_t>(cached);
}

bool Rcache::check(const RangeTree& tree, std::string* why) const
{
    auto fail = [&](std::string msg) {
        if (why) {
            *why = std::move(msg);
        }
        return false;
    };
    std::unordered_set<std::uint64_t> seen;
    std::uint64_t mags = 0;
    std::int64_t held = 0;
    std::string err;
    auto visit = [&](const Magazine& m, unsigned cls) {
        ++mags;
        held += m.size();
        const std::uint64_t size = std::uint64_t{1} << cls;
        for (unsigned i = 0; i < m.size(); ++i) {
            const std::uint64_t pfn = m.pfn(i);
            if (!err.empty()) {
                return;
            }
            if (!seen.insert(pfn).second) {
                err = "pfn " + std::to_string(pfn) + " cached twice";
                return;
            }
            const auto r = tree.find(pfn);
            if (!r || r->lo != pfn || r->reserved || r->hi - r->lo + 1 != size) {
                err = "cached pfn " + std::to_string(pfn) +
                      " is not a live allocated range of " +
                      std::to_string(size) + " granules";
            }
        }
    };
    std::int64_t counted = 0;
    for (unsigned c = 0; c < ncpus_; ++c) {
        counted += cpu_cached(c);
        for (unsigned cls = 0; cls < nclasses_; ++cls) {
            const Slot& s = cpus_[c].slots[cls];
            if (s.loaded) {
                visit(*s.loaded, cls);
            }
            if (s.prev) {
                visit(*s.prev, cls);
            }
        }
    }
    for (unsigned cls = 0; cls < nclasses_; ++cls) {
        counted += depots_[cls].cached;
        std::size_t len = 0;
        depots_[cls].mags.for_each([&](const Magazine& m) {
            ++len;
            if (!m.full() && err.empty()) {
                err = "depot of class " + std::to_string(cls) +
                      " holds a magazine that is not full";
            }
            visit(m, cls);
        });
        if (len != depots_[cls].mags.size()) {
            return fail("depot length counter is wrong");
        }
    }
    if (!err.empty()) {
        return fail(err);
    }
    if (mags != mags_allocated() - mags_freed()) {
        return fail("magazine count " + std::to_string(mags) +
                    " != allocated - freed " +
                    std::to_string(mags_allocated() - mags_freed()));
    }
    if (held != counted) {
        return fail("cached pfn counters say " + std::to_string(counted) +
                    ", magazines hold " + std::to_string(held));
    }
    return true;
}

} // namespace iova::detail
