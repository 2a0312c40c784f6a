/*
 * iova.h - C API of the virt-iommu IOVA allocator
 *
 * A thin C interface over iova::Domain (iova/domain.hpp) for QEMU device
 * code, which is C.  The semantics are those of Linux drivers/iommu/iova.c:
 * ranges are inclusive [pfn_lo, pfn_hi] in granule units, allocation is
 * top-down below an inclusive limit pfn, optionally size-aligned.
 *
 * Units: pfns and sizes are in granules (IovaConfig.granule bytes each);
 * delays are nanoseconds of a clock the caller chooses.  The library starts
 * no threads and no timers: CPU indexes are passed in, and depot trimming
 * is requested through IovaConfig.schedule_trim.
 *
 * Thread-safety: every function may be called concurrently on the same
 * domain, except iova_domain_free(), which the caller must serialise
 * against all other calls on that domain.  Internally: per-CPU locks, then
 * per-size-class depot locks, then the tree lock, always in that order.
 * docs/devel/iova.rst describes the design and every difference from Linux.
 *
 * Errors: functions return IOVA_OK (0) or a negative IovaStatus; no C++
 * exception ever crosses this interface.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef IOVA_IOVA_H
#define IOVA_IOVA_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of an allocator call; negative values are errors. */
typedef enum IovaStatus {
    IOVA_OK = 0,
    IOVA_ERR_INVAL = -1,   /* bad argument: size 0, range inverted, ... */
    IOVA_ERR_NOSPC = -2,   /* no free range satisfies the request */
    IOVA_ERR_NOENT = -3,   /* no allocated range holds that pfn */
    IOVA_ERR_NOMEM = -4,   /* internal memory allocation failed */
    IOVA_ERR_EXIST = -5,   /* range overlaps an allocated (not reserved) one */
} IovaStatus;

/** Opaque handle to one IOVA space; owned by the caller of iova_domain_new. */
typedef struct IovaDomain IovaDomain;

/**
 * Asks the caller to run iova_trim_depot() on @domain after @delay_ns
 * nanoseconds (of whatever clock the caller chooses).  Called with no
 * allocator lock held, from the thread that called iova_free_fast() or
 * iova_trim_depot(); never from iova_domain_free().  While a request is
 * pending (until iova_trim_depot() starts) no new one is made; should one
 * arrive anyway, one run is enough.
 */
typedef void (*IovaScheduleTrim)(void *opaque, uint64_t delay_ns);

/** Construction parameters; zero-initialise and set what you need. */
typedef struct IovaConfig {
    uint64_t granule;        /* bytes per pfn, a power of two >= 4096 */
    uint64_t start_pfn;      /* lowest pfn ever handed out (>= 1) */
    unsigned ncpus;          /* CPU indexes are 0..ncpus-1; 0 means 1 */
    unsigned mag_size;       /* pfns per magazine; 0 means 127 (Linux) */
    unsigned max_cached_size;/* largest rcache size class in granules,
                                a power of two; 0 means 32 */
    uint64_t trim_delay_ns;  /* depot trim period; 0 means 100 ms */
    IovaScheduleTrim schedule_trim; /* may be NULL: trim only on demand */
    void *opaque;            /* passed to schedule_trim */
} IovaConfig;

/** Counters of one domain; "live" values are exact, not estimates. */
typedef struct IovaStats {
    uint64_t live_ranges;      /* allocated + reserved ranges in the tree */
    uint64_t reserved_ranges;  /* of which reserved */
    uint64_t live_pfns;        /* granules covered by live_ranges */
    uint64_t mags_allocated;   /* magazines ever allocated */
    uint64_t mags_freed;       /* magazines ever freed */
    uint64_t mags_live;        /* mags_allocated - mags_freed */
    /*
     * Magazines found by walking every CPU's and depot's lists under their
     * locks, counted apart from the two counters: != mags_live is a leak.
     */
    uint64_t mags_reachable;
    uint64_t depot_mags;       /* full magazines in all depots */
    uint64_t cached_pfns;      /* IOVAs held by magazines and depots */
    uint64_t rcache_hits;
    uint64_t rcache_misses;
    uint64_t depot_trims;      /* magazines freed by trim_depot */
    uint64_t rcache_flushes;   /* full flushes (alloc retry, explicit) */
    uint64_t cpu_flushes;      /* cpu_dead calls that returned IOVAs */
    /* rcache_hits/misses count only cacheable alloc_fast requests. */
} IovaStats;

/**
 * Creates a domain.  On success stores a new handle in *@out, which the
 * caller releases with iova_domain_free().  Returns IOVA_ERR_INVAL for a
 * granule that is not a power of two >= 4096, start_pfn 0 or above the
 * highest pfn, or a max_cached_size that is not a power of two (at most
 * 2^31); IOVA_ERR_NOMEM if memory runs out.  The highest pfn is
 * (2^64 - 1) / granule and the 32-bit boundary 2^32 / granule.
 */
IovaStatus iova_domain_new(const IovaConfig *cfg, IovaDomain **out);

/**
 * Destroys @domain, returning every magazine, depot entry and range; safe
 * with a trim pending (the trim hook is not called afterwards, and a
 * scheduled run must not call iova_trim_depot() on a freed domain: the
 * caller cancels its timer first).  NULL is accepted.
 */
void iova_domain_free(IovaDomain *domain);

/**
 * Allocates @size granules (>= 1) at or below @limit_pfn (inclusive),
 * top-down: the highest position that fits; with @size_aligned, pfn_lo is
 * a multiple of @size rounded up to a power of two.  Stores pfn_lo in
 * *@pfn.  IOVA_ERR_NOSPC if nothing fits (also for a limit below
 * start_pfn), IOVA_ERR_INVAL for size 0 or a size larger than the whole
 * space, IOVA_ERR_NOMEM if memory runs out.  A limit above the highest pfn
 * is clipped to it.  Slow path: always uses the tree, O(log n) worst case.
 */
IovaStatus iova_alloc(IovaDomain *domain, uint64_t size, uint64_t limit_pfn,
                      bool size_aligned, uint64_t *pfn);

/** Frees the range (allocated or reserved, as Linux's free_iova()) that
 *  starts at or holds @pfn.  IOVA_ERR_NOENT if none does (a double free is
 *  reported, never corrupts the tree). */
IovaStatus iova_free(IovaDomain *domain, uint64_t pfn);

/** Finds the range holding @pfn; stores its bounds (inclusive) in the
 *  non-NULL outputs.  IOVA_ERR_NOENT if no range holds it. */
IovaStatus iova_find(IovaDomain *domain, uint64_t pfn,
                     uint64_t *pfn_lo, uint64_t *pfn_hi);

/**
 * Reserves [@pfn_lo, @pfn_hi] (inclusive) so it is never allocated.
 * Overlapping reservations merge into one reserved range, as in Linux's
 * reserve_iova() (which keeps the pieces as separate nodes).  Unlike Linux,
 * a reservation that overlaps an allocated range is refused with
 * IOVA_ERR_EXIST and changes nothing.  IOVA_ERR_INVAL if pfn_lo > pfn_hi
 * or pfn_hi is above the highest pfn; pfns below start_pfn may be reserved.
 */
IovaStatus iova_reserve(IovaDomain *domain, uint64_t pfn_lo, uint64_t pfn_hi);

/**
 * Allocates through CPU @cpu's rcache, falling back to the tree, as
 * Linux's alloc_iova_fast(): sizes up to max_cached_size are rounded up to
 * a power of two; the result is always size-aligned.  A cached range is
 * used only if it ends at or below @limit_pfn.  With @flush_rcache, a
 * failure returns every cached IOVA of every CPU and depot to the tree and
 * retries once.  Errors as iova_alloc(), plus IOVA_ERR_INVAL for
 * cpu >= ncpus.
 */
IovaStatus iova_alloc_fast(IovaDomain *domain, uint64_t size,
                           uint64_t limit_pfn, unsigned cpu,
                           bool flush_rcache, uint64_t *pfn);

/** Returns a range obtained from iova_alloc_fast() to CPU @cpu's rcache
 *  (or the tree if the size is not cached, or if no magazine can be
 *  allocated).  @size as passed to alloc.  The pfn is trusted, as in Linux
 *  (no tree lookup); only cheap checks are made: IOVA_ERR_INVAL for size 0,
 *  a bad cpu, or a pfn outside the space or not aligned to its size class.
 *  Freeing a pfn twice this way is not detected here;
 *  iova_check_invariants() reports it later. */
IovaStatus iova_free_fast(IovaDomain *domain, uint64_t pfn, uint64_t size,
                          unsigned cpu);

/** Returns every IOVA cached by CPU @cpu to the tree and frees its
 *  magazines (CPU hot-unplug).  A bad @cpu is ignored. */
void iova_cpu_dead(IovaDomain *domain, unsigned cpu);

/** Frees every cached IOVA of every CPU and every depot to the tree. */
void iova_flush_rcaches(IovaDomain *domain);

/** Runs one period of depot trimming (the delayed work): frees one full
 *  magazine from every size class whose depot holds more than ncpus, and
 *  asks schedule_trim again while any still does. */
void iova_trim_depot(IovaDomain *domain);

/** Copies the domain's counters into *@stats. */
void iova_get_stats(IovaDomain *domain, IovaStats *stats);

/** Verifies every internal invariant (O(n)); false means a library bug or
 *  a broken iova_free_fast() contract (or no memory to run the check). */
bool iova_check_invariants(IovaDomain *domain);

/** Human-readable name of @status, a static string. */
const char *iova_status_str(IovaStatus status);

/** Magazines alive in the whole process, across every domain, including
 *  destroyed ones: zero once every domain is gone unless one leaked. */
int64_t iova_live_magazines(void);

#ifdef __cplusplus
}
#endif

#endif /* IOVA_IOVA_H */
