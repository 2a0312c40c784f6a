// SPDX-License-Identifier: GPL-2.0-or-later
//
// c_api.cpp - iova.h over iova::Domain.  Every entry point is a boundary
// that no C++ exception may cross: std::bad_alloc becomes IOVA_ERR_NOMEM,
// anything else (there should be nothing else) IOVA_ERR_INVAL.
#include "iova/iova.h"

#include "iova/domain.hpp"

#include <memory>
#include <new>

// The opaque handle: C sees only a pointer to it.
struct IovaDomain {
    IovaDomain(std::uint64_t granule, std::uint64_t start_pfn,
               iova::Options opts)
        : domain(granule, start_pfn, std::move(opts))
    {
    }
    iova::Domain domain;
};

namespace {

static_assert(static_cast<int>(iova::Status::ok) == IOVA_OK);
static_assert(static_cast<int>(iova::Status::invalid) == IOVA_ERR_INVAL);
static_assert(static_cast<int>(iova::Status::no_space) == IOVA_ERR_NOSPC);
static_assert(static_cast<int>(iova::Status::not_found) == IOVA_ERR_NOENT);
static_assert(static_cast<int>(iova::Status::no_memory) == IOVA_ERR_NOMEM);
static_assert(static_cast<int>(iova::Status::exists) == IOVA_ERR_EXIST);

IovaStatus to_c(iova::Status s) noexcept
{
    return static_cast<IovaStatus>(static_cast<int>(s));
}

// Runs f, mapping escaping exceptions to a status.
template <class F>
IovaStatus guarded(F&& f) noexcept
{
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return IOVA_ERR_NOMEM;
    } catch (...) {
        return IOVA_ERR_INVAL;
    }
}

template <class T>
IovaStatus store(const iova::Result<T>& r, T* out) noexcept
{
    if (r.ok() && out) {
        *out = r.value();
    }
    return to_c(r.status());
}

} // namespace

extern "C" {

IovaStatus iova_domain_new(const IovaConfig* cfg, IovaDomain** out)
{
    if (!cfg || !out) {
        return IOVA_ERR_INVAL;
    }
    *out = nullptr;
    iova::Options o;
    o.ncpus = cfg->ncpus ? cfg->ncpus : 1;
    o.mag_size = cfg->mag_size ? cfg->mag_size : 127;
    o.max_cached_size = cfg->max_cached_size ? cfg->max_cached_size : 32;
    o.trim_delay_ns = cfg->trim_delay_ns ? cfg->trim_delay_ns : 100'000'000;
    if (cfg->schedule_trim) {
        IovaScheduleTrim fn = cfg->schedule_trim;
        void* opaque = cfg->opaque;
        o.schedule_trim = [fn, opaque](std::uint64_t delay_ns) {
            fn(opaque, delay_ns);
        };
    }
    if (iova::Domain::validate(cfg->granule, cfg->start_pfn, o) !=
        iova::Status::ok) {
        return IOVA_ERR_INVAL;
    }
    return guarded([&] {
        auto d = std::make_unique<IovaDomain>(cfg->granule, cfg->start_pfn,
                                              std::move(o));
        *out = d.release(); // ownership passes to the caller
        return IOVA_OK;
    });
}

void iova_domain_free(IovaDomain* domain)
{
    std::unique_ptr<IovaDomain> owned(domain); // destroys it; NULL is fine
}

IovaStatus iova_alloc(IovaDomain* domain, uint64_t size, uint64_t limit_pfn,
                      bool size_aligned, uint64_t* pfn)
{
    if (!domain || !pfn) {
        return IOVA_ERR_INVAL;
    }
    return guarded([&] {
        return store(domain->domain.alloc(size, limit_pfn, size_aligned), pfn);
    });
}

IovaStatus iova_free(IovaDomain* domain, uint64_t pfn)
{
    if (!domain) {
        return IOVA_ERR_INVAL;
    }
    return to_c(domain->domain.free(pfn).status());
}

IovaStatus iova_find(IovaDomain* domain, uint64_t pfn, uint64_t* pfn_lo,
                     uint64_t* pfn_hi)
{
    if (!domain) {
        return IOVA_ERR_INVAL;
    }
    const iova::Result<iova::Range> r = domain->domain.find(pfn);
    if (r.ok()) {
        if (pfn_lo) {
            *pfn_lo = r->pfn_lo;
        }
        if (pfn_hi) {
            *pfn_hi = r->pfn_hi;
        }
    }
    return to_c(r.status());
}

IovaStatus iova_reserve(IovaDomain* domain, uint64_t pfn_lo, uint64_t pfn_hi)
{
    if (!domain) {
        return IOVA_ERR_INVAL;
    }
    return guarded([&] {
        return to_c(domain->domain.reserve(pfn_lo, pfn_hi).status());
    });
}

IovaStatus iova_alloc_fast(IovaDomain* domain, uint64_t size,
                           uint64_t limit_pfn, unsigned cpu, bool flush_rcache,
                           uint64_t* pfn)
{
    if (!domain || !pfn) {
        return IOVA_ERR_INVAL;
    }
    return guarded([&] {
        return store(domain->domain.alloc_fast(size, limit_pfn, cpu,
                                               flush_rcache),
                     pfn);
    });
}

IovaStatus iova_free_fast(IovaDomain* domain, uint64_t pfn, uint64_t size,
                          unsigned cpu)
{
    if (!domain) {
        return IOVA_ERR_INVAL;
    }
    return to_c(domain->domain.free_fast(pfn, size, cpu));
}

void iova_cpu_dead(IovaDomain* domain, unsigned cpu)
{
    if (domain) {
        domain->domain.cpu_dead(cpu);
    }
}

void iova_flush_rcaches(IovaDomain* domain)
{
    if (domain) {
        domain->domain.flush_rcaches();
    }
}

void iova_trim_depot(IovaDomain* domain)
{
    if (domain) {
        domain->domain.trim_depot();
    }
}

void iova_get_stats(IovaDomain* domain, IovaStats* stats)
{
    if (!domain || !stats) {
        return;
    }
    *stats = IovaStats{};
    (void)guarded([&] {
        const iova::Stats s = domain->domain.stats();
        stats->live_ranges = s.live_ranges;
        stats->reserved_ranges = s.reserved_ranges;
        stats->live_pfns = s.live_pfns;
        stats->mags_allocated = s.mags_allocated;
        stats->mags_freed = s.mags_freed;
        stats->mags_live = s.mags_live;
        stats->mags_reachable = s.mags_reachable;
        stats->depot_mags = s.depot_mags;
        stats->cached_pfns = s.cached_pfns;
        stats->rcache_hits = s.rcache_hits;
        stats->rcache_misses = s.rcache_misses;
        stats->depot_trims = s.depot_trims;
        stats->rcache_flushes = s.rcache_flushes;
        stats->cpu_flushes = s.cpu_flushes;
        return IOVA_OK;
    });
}

bool iova_check_invariants(IovaDomain* domain)
{
    if (!domain) {
        return false;
    }
    bool ok = false;
    (void)guarded([&] {
        ok = domain->domain.check_invariants();
        return IOVA_OK;
    });
    return ok;
}

int64_t iova_live_magazines(void)
{
    return iova::live_magazines();
}

const char* iova_status_str(IovaStatus status)
{
    switch (status) {
    case IOVA_OK:
    case IOVA_ERR_INVAL:
    case IOVA_ERR_NOSPC:
    case IOVA_ERR_NOENT:
    case IOVA_ERR_NOMEM:
    case IOVA_ERR_EXIST:
        return iova::to_string(static_cast<iova::Status>(status));
    }
    return "unknown status";
}

} // extern "C"
