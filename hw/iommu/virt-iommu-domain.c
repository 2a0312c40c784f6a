/*
 * virt-iommu: domains, their mappings, and which endpoint uses which
 *
 * A DMA or DMA_FQ domain owns an IOVA allocator (iova/, as Linux's
 * iova_domain) and an interval tree of mappings (QEMU's util/interval-tree,
 * an augmented red-black tree), so that a lookup of any byte or range finds
 * the mappings overlapping it in O(log n), each mapping's tree node inside
 * it: one allocation per mapping and removal without a second search.
 * (A GTree keyed by interval, as virtio-iommu's, cost a compare callback
 * per level, a second search to remove and a node allocation: 20% of a
 * MAP_FIXED+UNMAP pair, 25% with 4095 mappings live.)
 *
 * Device-allocated IOVAs (MAP) come from the allocator's per-CPU caches
 * with the CPU the device names (VirtIOMMUDomainsConfig.cpu: the vCPU that
 * rang the doorbell); guest-chosen ones (MAP_FIXED) are reserved in it, so
 * the two never collide.
 *
 * Strict DMA domains invalidate the IOTLB and free the IOVA when UNMAP
 * completes.  DMA_FQ domains, as Linux's flush queue, park unmapped IOVAs
 * in a queue and free them only after one batched IOTLB invalidation, run
 * when the queue is full or a virtual-clock timer expires: a stale IOTLB
 * entry may translate until then, so the IOVA must not be reused before.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "iova/iova.h"
#include "qemu/host-utils.h"
#include "qemu/interval-tree.h"
#include "qemu/timer.h"
#include "trace.h"
#include "virt-iommu-domain.h"

/* [first, last] in bytes; two overlapping intervals compare equal. */
typedef struct VirtIOMMUInterval {
    uint64_t first;
    uint64_t last;
} VirtIOMMUInterval;

typedef struct VirtIOMMUMapping {
    IntervalTreeNode node;      /* the IOVA range: [start, last] in bytes */
    uint64_t gpa;
    uint32_t perms;             /* VIRT_IOMMU_PERM_* */
    bool fixed;                 /* MAP_FIXED: reserved, not allocated */
} VirtIOMMUMapping;

/* Unmapped ranges strict-checks remembers per domain */
#define VIRT_IOMMU_UNMAPPED_HISTORY 64

/* A range UNMAP removed, and when (virtual ns, with strict-checks) */
typedef struct VirtIOMMUUnmapped {
    VirtIOMMUInterval range;
    int64_t when_ns;
} VirtIOMMUUnmapped;

/* An IOVA range to give back to the allocator, in pages */
typedef struct VirtIOMMUIovaRange {
    uint64_t pfn;
    uint64_t pages;
    bool fixed;                 /* reserved by MAP_FIXED */
} VirtIOMMUIovaRange;

struct VirtIOMMUDomain {
    VirtIOMMUDomains *ds;
    uint32_t id;
    uint8_t type;               /* VIRT_IOMMU_DOMAIN_* */
    unsigned endpoints;         /* attached requester IDs */
    IovaDomain *iova;           /* DMA and DMA_FQ domains only */
    QEMUTimer *trim_timer;      /* runs the allocator's depot trim */
    IntervalTreeRoot mappings;  /* of VirtIOMMUMapping.node */
    uint64_t nr_mappings;       /* in @mappings */
    GArray *fq;                 /* DMA_FQ: VirtIOMMUIovaRange to free */
    /* strict-checks: the last ranges unmapped, oldest overwritten */
    VirtIOMMUUnmapped unmapped[VIRT_IOMMU_UNMAPPED_HISTORY];
    uint64_t unmapped_next;
    QEMUTimer *fq_timer;        /* DMA_FQ: flushes a partial batch */
    uint64_t fq_flushes;
    /*
     * MAP_FIXED ranges are reserved in @iova only once a MAP has had the
     * device allocate in this domain, so that a domain used with MAP_FIXED
     * alone, as Linux drivers use an IOMMU, never pays for reservations.
     */
    bool fixed_reserved;
};

/* The newest unmapped range overlapping [first, last], or NULL. */
static VirtIOMMUUnmapped *virt_iommu_recently_unmapped(VirtIOMMUDomain *d,
                                                       uint64_t first,
                                                       uint64_t last)
{
    unsigned n = MIN(d->unmapped_next, VIRT_IOMMU_UNMAPPED_HISTORY);

    for (unsigned i = 1; i <= n; i++) {
        VirtIOMMUUnmapped *u = &d->unmapped[(d->unmapped_next - i) %
                                            VIRT_IOMMU_UNMAPPED_HISTORY];

        if (u->range.first <= last && first <= u->range.last) {
            return u;
        }
    }
    return NULL;
}

static bool virt_iommu_type_translates(uint8_t type)
{
    return type == VIRT_IOMMU_DOMAIN_DMA || type == VIRT_IOMMU_DOMAIN_DMA_FQ;
}

/* The mapping of @d with the lowest IOVA overlapping [first, last] */
static VirtIOMMUMapping *virt_iommu_mapping_first(VirtIOMMUDomain *d,
                                                  uint64_t first,
                                                  uint64_t last)
{
    IntervalTreeNode *n = interval_tree_iter_first(&d->mappings, first, last);

    return n ? container_of(n, VirtIOMMUMapping, node) : NULL;
}

/* The mapping after @m, in IOVA order, overlapping [first, last] */
static VirtIOMMUMapping *virt_iommu_mapping_next(VirtIOMMUMapping *m,
                                                 uint64_t first,
                                                 uint64_t last)
{
    IntervalTreeNode *n = interval_tree_iter_next(&m->node, first, last);

    return n ? container_of(n, VirtIOMMUMapping, node) : NULL;
}

/* Bytes covered by @m (its interval is inclusive) */
static uint64_t virt_iommu_mapping_size(const VirtIOMMUMapping *m)
{
    return m->node.last - m->node.start + 1;
}

#define VIRT_IOMMU_FOREACH_MAPPING(m, d) \
    for (VirtIOMMUMapping *m = virt_iommu_mapping_first(d, 0, UINT64_MAX); \
         m; m = virt_iommu_mapping_next(m, 0, UINT64_MAX))

static unsigned virt_iommu_page_shift(VirtIOMMUDomains *ds)
{
    return ctz64(ds->cfg.page_size);
}

static unsigned virt_iommu_domain_cpu(VirtIOMMUDomains *ds)
{
    return ds->cfg.cpu(ds->cfg.opaque);
}

void virt_iommu_domains_cpu_dead(VirtIOMMUDomains *ds, unsigned cpu)
{
    for (uint32_t i = 0; i < ds->cfg.max_domains; i++) {
        if (ds->domains[i] && ds->domains[i]->iova) {
            iova_cpu_dead(ds->domains[i]->iova, cpu);
        }
    }
}

static void virt_iommu_trim_timer_cb(void *opaque)
{
    VirtIOMMUDomain *d = opaque;

    trace_virt_iommu_depot_trim(d->id);
    iova_trim_depot(d->iova);
}

/* The allocator asks for its depot trim work; the virtual clock runs it. */
static void virt_iommu_schedule_trim(void *opaque, uint64_t delay_ns)
{
    VirtIOMMUDomain *d = opaque;

    if (!timer_pending(d->trim_timer)) {
        timer_mod(d->trim_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + delay_ns);
    }
}

static bool virt_iommu_domain_init_iova(VirtIOMMUDomain *d)
{
    VirtIOMMUDomains *ds = d->ds;
    unsigned shift = virt_iommu_page_shift(ds);
    IovaConfig cfg = {
        .granule = ds->cfg.page_size,
        /* IOVA 0 is never handed out: a zero address is a likely bug. */
        .start_pfn = 1,
        .ncpus = ds->cfg.ncpus,
        .mag_size = ds->cfg.mag_size,
        .schedule_trim = virt_iommu_schedule_trim,
        .opaque = d,
    };

    if (iova_domain_new(&cfg, &d->iova) != IOVA_OK) {
        return false;
    }
    d->fixed_reserved = false;
    d->trim_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                 virt_iommu_trim_timer_cb, d);
    /* MSI writes are never translated: no IOVA may land there. */
    if (VIRT_IOMMU_MSI_BASE <= virt_iommu_aperture_end(ds->cfg.iova_bits)) {
        iova_reserve(d->iova, VIRT_IOMMU_MSI_BASE >> shift,
                     (VIRT_IOMMU_MSI_BASE + VIRT_IOMMU_MSI_SIZE - 1) >> shift);
    }
    return true;
}

static void virt_iommu_iova_release(VirtIOMMUDomain *d,
                                    const VirtIOMMUIovaRange *r)
{
    if (r->fixed) {
        if (d->fixed_reserved) {
            iova_free(d->iova, r->pfn);
        }
    } else {
        iova_free_fast(d->iova, r->pfn, r->pages, virt_iommu_domain_cpu(d->ds));
    }
}

static VirtIOMMUIovaRange virt_iommu_mapping_iova(VirtIOMMUDomain *d,
                                                  VirtIOMMUMapping *m)
{
    unsigned shift = virt_iommu_page_shift(d->ds);

    return (VirtIOMMUIovaRange) {
        .pfn = m->node.start >> shift,
        .pages = virt_iommu_mapping_size(m) >> shift,
        .fixed = m->fixed,
    };
}

/* The batched invalidation: only after it may the queued IOVAs be reused */
static void virt_iommu_fq_flush(VirtIOMMUDomain *d)
{
    trace_virt_iommu_fq_flush(d->id, d->fq->len);
    virt_iommu_iotlb_invalidate(d->ds->cfg.iotlb, d->id, 0, UINT64_MAX);
    for (guint i = 0; i < d->fq->len; i++) {
        virt_iommu_iova_release(d, &g_array_index(d->fq, VirtIOMMUIovaRange,
                                                  i));
    }
    g_array_set_size(d->fq, 0);
    timer_del(d->fq_timer);
    d->fq_flushes++;
}

static void virt_iommu_fq_timer_cb(void *opaque)
{
    virt_iommu_fq_flush(opaque);
}

static void virt_iommu_fq_init(VirtIOMMUDomain *d)
{
    d->fq = g_array_new(false, false, sizeof(VirtIOMMUIovaRange));
    d->fq_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, virt_iommu_fq_timer_cb, d);
}

static void virt_iommu_fq_destroy(VirtIOMMUDomain *d)
{
    if (d->fq) {
        virt_iommu_fq_flush(d);
        timer_free(d->fq_timer);
        g_array_free(d->fq, true);
        d->fq = NULL;
        d->fq_timer = NULL;
    }
}

/* Takes @m out of translation; its IOVA is freed now or after a flush. */
static void virt_iommu_mapping_remove(VirtIOMMUDomain *d, VirtIOMMUMapping *m)
{
    VirtIOMMUDomains *ds = d->ds;
    VirtIOMMUIovaRange r = virt_iommu_mapping_iova(d, m);
    uint64_t size = virt_iommu_mapping_size(m);

    trace_virt_iommu_unmap(d->id, m->node.start, size);
    d->unmapped[d->unmapped_next++ % VIRT_IOMMU_UNMAPPED_HISTORY] =
        (VirtIOMMUUnmapped) {
            .range = { m->node.start, m->node.last },
            .when_ns = ds->cfg.strict_checks ?
                       qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) : 0,
        };
    ds->cfg.notify(ds->cfg.opaque, d, m->node.start, size, m->gpa, m->perms,
                   false);
    if (d->fq) {
        g_array_append_val(d->fq, r);
        if (d->fq->len >= ds->cfg.fq_size) {
            virt_iommu_fq_flush(d);
        } else if (!timer_pending(d->fq_timer)) {
            timer_mod(d->fq_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                      ds->cfg.fq_timeout_ms * SCALE_MS);
        }
    } else {
        /* Strict: nobody may use the IOVA once UNMAP completes. */
        virt_iommu_iotlb_invalidate(ds->cfg.iotlb, d->id, m->node.start,
                                    m->node.last);
        virt_iommu_iova_release(d, &r);
    }
    interval_tree_remove(&m->node, &d->mappings);
    g_free(m);
    d->nr_mappings--;
    ds->nr_mappings--;
}

/*
 * Returns a translating domain to no mappings and no allocator, every
 * IOVA given back first so the allocator's accounting stays exact.
 */
static void virt_iommu_domain_teardown(VirtIOMMUDomain *d)
{
    VirtIOMMUMapping *m;

    if (!d->iova) {
        return;
    }
    while ((m = virt_iommu_mapping_first(d, 0, UINT64_MAX))) {
        virt_iommu_mapping_remove(d, m);
    }
    virt_iommu_fq_destroy(d);
    virt_iommu_iotlb_invalidate(d->ds->cfg.iotlb, d->id, 0, UINT64_MAX);
    /* No trim may run on a freed allocator (cancel_delayed_work_sync) */
    timer_free(d->trim_timer);
    d->trim_timer = NULL;
    iova_domain_free(d->iova);
    d->iova = NULL;
}

/* Gives a domain of type d->type what that type needs. */
static bool virt_iommu_domain_setup(VirtIOMMUDomain *d)
{
    if (!virt_iommu_type_translates(d->type)) {
        return true;
    }
    if (!virt_iommu_domain_init_iova(d)) {
        return false;
    }
    if (d->type == VIRT_IOMMU_DOMAIN_DMA_FQ) {
        virt_iommu_fq_init(d);
    }
    return true;
}

static void virt_iommu_domain_destroy(VirtIOMMUDomain *d)
{
    virt_iommu_domain_teardown(d);
    g_free(d);
}

VirtIOMMUDomain *virt_iommu_domain_get(VirtIOMMUDomains *ds, uint32_t id)
{
    return id >= 1 && id <= ds->cfg.max_domains ? ds->domains[id - 1] : NULL;
}

VirtIOMMUDomain *virt_iommu_domain_of(VirtIOMMUDomains *ds, uint16_t rid)
{
    return g_hash_table_lookup(ds->attached, GUINT_TO_POINTER(rid));
}

uint32_t virt_iommu_domain_id(VirtIOMMUDomain *d)
{
    return d->id;
}

uint8_t virt_iommu_domain_type(VirtIOMMUDomain *d)
{
    return d->type;
}

/*
 * strict-checks, on an IOTLB hit: is the cached translation still what
 * the mappings say?  If not (unmapped in a DMA_FQ domain and not yet
 * flushed, or mapped elsewhere since), returns the virtual ns since the
 * unmap, once per IOTLB entry; else -1.
 */
static int64_t virt_iommu_stale_age(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                                    uint64_t iova, uint64_t gpa)
{
    VirtIOMMUMapping *m = virt_iommu_mapping_first(d, iova, iova);
    VirtIOMMUUnmapped *u;

    if (m && m->gpa + (iova - m->node.start) == gpa) {
        return -1;
    }
    if (!virt_iommu_iotlb_mark_stale(ds->cfg.iotlb, d->id, iova)) {
        return -1;
    }
    u = virt_iommu_recently_unmapped(d, iova, iova);
    return u ? qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) - u->when_ns : 0;
}

int virt_iommu_domain_translate(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                                uint64_t iova, uint32_t perms,
                                uint64_t *gpa, uint32_t *map_perms,
                                int64_t *stale_age_ns)
{
    VirtIOMMUMapping *m;

    *stale_age_ns = -1;
    if (d->type == VIRT_IOMMU_DOMAIN_BLOCKED) {
        return VIRT_IOMMU_FAULT_BLOCKED;
    }
    if (d->type == VIRT_IOMMU_DOMAIN_IDENTITY) {
        *gpa = iova;
        *map_perms = VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE;
        return 0;
    }
    if (virt_iommu_iotlb_lookup(ds->cfg.iotlb, d->id, iova, gpa, map_perms)) {
        if (ds->cfg.strict_checks && perms) {
            *stale_age_ns = virt_iommu_stale_age(ds, d, iova, *gpa);
        }
    } else {
        m = virt_iommu_mapping_first(d, iova, iova);
        if (!m) {
            return ds->cfg.strict_checks &&
                   virt_iommu_recently_unmapped(d, iova, iova) ?
                   VIRT_IOMMU_FAULT_UNMAPPED : VIRT_IOMMU_FAULT_NOT_MAPPED;
        }
        *gpa = m->gpa + (iova - m->node.start);
        *map_perms = m->perms;
        virt_iommu_iotlb_insert(ds->cfg.iotlb, d->id, iova, *gpa, m->perms);
    }
    return perms & ~*map_perms ? VIRT_IOMMU_FAULT_PERMISSION : 0;
}

/* Creates domain @id (free, in range) of @type; false if out of memory. */
static bool virt_iommu_domain_create(VirtIOMMUDomains *ds, uint32_t id,
                                     uint8_t type)
{
    VirtIOMMUDomain *d = g_new0(VirtIOMMUDomain, 1);

    d->ds = ds;
    d->id = id;
    d->type = type;
    if (!virt_iommu_domain_setup(d)) {
        virt_iommu_domain_destroy(d);
        return false;
    }
    ds->domains[id - 1] = d;
    trace_virt_iommu_domain_alloc(id, type);
    return true;
}

uint16_t virt_iommu_domain_alloc(VirtIOMMUDomains *ds, uint32_t type,
                                 uint32_t *id)
{
    uint32_t n;

    if (type > VIRT_IOMMU_DOMAIN_DMA_FQ) {
        return VIRT_IOMMU_S_INVALID;
    }
    for (n = 1; n <= ds->cfg.max_domains && ds->domains[n - 1]; n++) {
        /* lowest free ID, so IDs are reused as Linux reuses them */
    }
    if (n > ds->cfg.max_domains || !virt_iommu_domain_create(ds, n, type)) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    *id = n;
    return VIRT_IOMMU_S_OK;
}

uint16_t virt_iommu_domain_free(VirtIOMMUDomains *ds, VirtIOMMUDomain *d)
{
    if (d->endpoints) {
        return VIRT_IOMMU_S_BUSY;
    }
    trace_virt_iommu_domain_free(d->id, d->nr_mappings);
    ds->domains[d->id - 1] = NULL;
    virt_iommu_domain_destroy(d);
    return VIRT_IOMMU_S_OK;
}

/*
 * DMA <-> DMA_FQ keeps the allocator and the mappings and adds or drains
 * the flush queue; every other change tears the allocator and the mappings
 * down and builds what the new type needs, with the endpoints still
 * attached.
 */
uint16_t virt_iommu_domain_set_type(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                                    uint32_t type)
{
    uint8_t old = d->type;

    if (type > VIRT_IOMMU_DOMAIN_DMA_FQ) {
        return VIRT_IOMMU_S_INVALID;
    }
    trace_virt_iommu_domain_set_type(d->id, old, type);
    if (old == type) {
        return VIRT_IOMMU_S_OK;
    }
    if (virt_iommu_type_translates(old) && virt_iommu_type_translates(type)) {
        d->type = type;
        if (d->type == VIRT_IOMMU_DOMAIN_DMA_FQ) {
            virt_iommu_fq_init(d);
        } else {
            virt_iommu_fq_destroy(d);
        }
        return VIRT_IOMMU_S_OK;
    }
    virt_iommu_domain_teardown(d);
    d->type = type;
    if (!virt_iommu_domain_setup(d)) {
        /* Keep a consistent domain: nothing passes until the guest acts. */
        d->type = VIRT_IOMMU_DOMAIN_BLOCKED;
        return VIRT_IOMMU_S_NO_SPACE;
    }
    return VIRT_IOMMU_S_OK;
}

void virt_iommu_domain_detach(VirtIOMMUDomains *ds, uint16_t rid)
{
    VirtIOMMUDomain *old = virt_iommu_domain_of(ds, rid);

    if (old) {
        old->endpoints--;
        g_hash_table_remove(ds->attached, GUINT_TO_POINTER(rid));
        trace_virt_iommu_detach(rid, old->id);
    }
}

void virt_iommu_domain_attach(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                              uint16_t rid)
{
    virt_iommu_domain_detach(ds, rid);
    g_hash_table_insert(ds->attached, GUINT_TO_POINTER(rid), d);
    d->endpoints++;
    trace_virt_iommu_attach(rid, d->id);
}

void virt_iommu_domains_foreach_attached(VirtIOMMUDomains *ds,
                                         VirtIOMMUAttachedFn *fn,
                                         void *opaque)
{
    GHashTableIter iter;
    gpointer rid, d;

    g_hash_table_iter_init(&iter, ds->attached);
    while (g_hash_table_iter_next(&iter, &rid, &d)) {
        fn(GPOINTER_TO_UINT(rid), ((VirtIOMMUDomain *)d)->id, opaque);
    }
}

static bool virt_iommu_range_ok(VirtIOMMUDomains *ds, uint64_t iova,
                                uint64_t size)
{
    uint64_t end = virt_iommu_aperture_end(ds->cfg.iova_bits);

    return size <= end && iova <= end - (size - 1);
}

static bool virt_iommu_overlaps_msi(uint64_t first, uint64_t last)
{
    return first < VIRT_IOMMU_MSI_BASE + VIRT_IOMMU_MSI_SIZE &&
           last >= VIRT_IOMMU_MSI_BASE;
}

static void virt_iommu_mapping_add(VirtIOMMUDomain *d, uint64_t iova,
                                   uint64_t gpa, uint64_t size,
                                   uint32_t perms, bool fixed)
{
    VirtIOMMUDomains *ds = d->ds;
    VirtIOMMUMapping *m = g_new0(VirtIOMMUMapping, 1);

    m->node.start = iova;
    m->node.last = iova + size - 1;
    m->gpa = gpa;
    m->perms = perms;
    m->fixed = fixed;
    interval_tree_insert(&m->node, &d->mappings);
    d->nr_mappings++;
    ds->nr_mappings++;
    trace_virt_iommu_map(d->id, iova, gpa, size, perms, fixed);
    ds->cfg.notify(ds->cfg.opaque, d, iova, size, gpa, perms, true);
}

/*
 * Before the first MAP of a domain: reserves its MAP_FIXED ranges so the
 * allocator cannot hand them out.  The flush queue is run first, because
 * the IOVAs parked there were never reserved and may still be in the
 * IOTLB.  False if the allocator is out of memory (nothing changed).
 */
static bool virt_iommu_reserve_fixed(VirtIOMMUDomain *d)
{
    unsigned shift = virt_iommu_page_shift(d->ds);
    VirtIOMMUMapping *failed = NULL;

    if (d->fq && d->fq->len) {
        virt_iommu_fq_flush(d);
    }
    VIRT_IOMMU_FOREACH_MAPPING(m, d) {
        if (m->fixed && iova_reserve(d->iova, m->node.start >> shift,
                                     m->node.last >> shift) != IOVA_OK) {
            failed = m;
            break;
        }
    }
    if (failed) {
        VIRT_IOMMU_FOREACH_MAPPING(m, d) {
            if (m == failed) {
                break;
            }
            if (m->fixed) {
                iova_free(d->iova, m->node.start >> shift);
            }
        }
        return false;
    }
    d->fixed_reserved = true;
    return true;
}

uint16_t virt_iommu_domain_map(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                               uint64_t gpa, uint64_t size, uint32_t perms,
                               uint64_t limit, uint64_t *iova)
{
    unsigned shift = virt_iommu_page_shift(ds);
    uint64_t end = virt_iommu_aperture_end(ds->cfg.iova_bits);
    uint64_t pfn;

    limit = limit ? MIN(limit, end) : end;
    if (ds->nr_mappings >= ds->cfg.max_mappings ||
        (!d->fixed_reserved && !virt_iommu_reserve_fixed(d))) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    if (iova_alloc_fast(d->iova, size >> shift, limit >> shift,
                        virt_iommu_domain_cpu(ds), true, &pfn) != IOVA_OK) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    *iova = pfn << shift;
    virt_iommu_mapping_add(d, *iova, gpa, size, perms, false);
    return VIRT_IOMMU_S_OK;
}

uint16_t virt_iommu_domain_map_fixed(VirtIOMMUDomains *ds,
                                     VirtIOMMUDomain *d, uint64_t iova,
                                     uint64_t gpa, uint64_t size,
                                     uint32_t perms)
{
    unsigned shift = virt_iommu_page_shift(ds);
    uint64_t last = iova + size - 1;
    IovaStatus st;

    if (!virt_iommu_range_ok(ds, iova, size) ||
        virt_iommu_overlaps_msi(iova, last)) {
        return VIRT_IOMMU_S_RANGE;
    }
    if (virt_iommu_mapping_first(d, iova, last)) {
        return VIRT_IOMMU_S_EXISTS;
    }
    if (ds->nr_mappings >= ds->cfg.max_mappings) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    if (!d->fixed_reserved) {
        /*
         * The allocator has nothing to clash with (see fixed_reserved),
         * but an unmapped range waiting in the flush queue may still be
         * in the IOTLB, with its old address.
         */
        if (d->fq) {
            virt_iommu_iotlb_invalidate(ds->cfg.iotlb, d->id, iova, last);
        }
        virt_iommu_mapping_add(d, iova, gpa, size, perms, true);
        return VIRT_IOMMU_S_OK;
    }
    st = iova_reserve(d->iova, iova >> shift, last >> shift);
    if (st == IOVA_ERR_EXIST) {
        /*
         * Only unmapped IOVAs can be in the way, parked in the flush queue
         * or the rcache: drain both.
         */
        if (d->fq) {
            virt_iommu_fq_flush(d);
        }
        iova_flush_rcaches(d->iova);
        st = iova_reserve(d->iova, iova >> shift, last >> shift);
    }
    if (st != IOVA_OK) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    virt_iommu_mapping_add(d, iova, gpa, size, perms, true);
    return VIRT_IOMMU_S_OK;
}

/* Refuses to split a mapping (as virtio-iommu does). */
uint16_t virt_iommu_domain_unmap(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                                 uint64_t iova, uint64_t size,
                                 uint8_t *strict)
{
    uint64_t last = iova + size - 1;
    VirtIOMMUMapping *m, *next;

    *strict = 0;
    if (!virt_iommu_range_ok(ds, iova, size)) {
        return VIRT_IOMMU_S_RANGE;
    }
    m = virt_iommu_mapping_first(d, iova, last);
    if (!m) {
        if (ds->cfg.strict_checks) {
            *strict = virt_iommu_recently_unmapped(d, iova, last) ?
                      VIRT_IOMMU_STRICT_DOUBLE_UNMAP :
                      VIRT_IOMMU_STRICT_NEVER_MAPPED;
        }
        return VIRT_IOMMU_S_NOT_MAPPED;
    }
    /*
     * Drivers unmap what they mapped, so the first mapping is usually
     * exactly the range.  Otherwise every mapping overlapping it must lie
     * inside it, checked before any is removed.
     */
    if (m->node.start != iova || m->node.last != last) {
        for (next = m; next; next = virt_iommu_mapping_next(next, iova, last)) {
            if (next->node.start < iova || next->node.last > last) {
                return VIRT_IOMMU_S_PARTIAL;
            }
        }
    }
    for (; m; m = next) {
        next = virt_iommu_mapping_next(m, iova, last);
        virt_iommu_mapping_remove(d, m);
    }
    return VIRT_IOMMU_S_OK;
}

uint16_t virt_iommu_domain_invalidate(VirtIOMMUDomains *ds,
                                      VirtIOMMUDomain *d, uint64_t iova,
                                      uint64_t size)
{
    if (size) {
        if (!virt_iommu_range_ok(ds, iova, size)) {
            return VIRT_IOMMU_S_RANGE;
        }
        virt_iommu_iotlb_invalidate(ds->cfg.iotlb, d->id, iova,
                                    iova + size - 1);
        return VIRT_IOMMU_S_OK;
    }
    /* A whole-domain invalidation is the batch a flush queue waits for. */
    if (d->fq) {
        virt_iommu_fq_flush(d);
    } else {
        virt_iommu_iotlb_invalidate(ds->cfg.iotlb, d->id, 0, UINT64_MAX);
    }
    return VIRT_IOMMU_S_OK;
}

static void virt_iommu_domain_fold_stats(VirtIOMMUDomain *d,
                                         VirtIOMMUStats *st)
{
    IovaStats is = { 0 };

    st->endpoints += d->endpoints;
    st->mappings += d->nr_mappings;
    st->fq_pending += d->fq ? d->fq->len : 0;
    st->fq_flushes += d->fq_flushes;
    if (d->iova) {
        iova_get_stats(d->iova, &is);
    }
    st->iova_live_ranges += is.live_ranges;
    st->iova_reserved_ranges += is.reserved_ranges;
    st->iova_live_pfns += is.live_pfns;
    st->mags_allocated += is.mags_allocated;
    st->mags_freed += is.mags_freed;
    st->mags_live += is.mags_live;
    st->mags_reachable += is.mags_reachable;
    st->depot_mags += is.depot_mags;
    st->cached_pfns += is.cached_pfns;
    st->rcache_hits += is.rcache_hits;
    st->rcache_misses += is.rcache_misses;
    st->depot_trims += is.depot_trims;
    st->rcache_flushes += is.rcache_flushes;
    st->cpu_flushes += is.cpu_flushes;
}

static uint64_t virt_iommu_mapped_bytes(VirtIOMMUDomain *d)
{
    uint64_t bytes = 0;

    VIRT_IOMMU_FOREACH_MAPPING(m, d) {
        bytes += virt_iommu_mapping_size(m);
    }
    return bytes;
}

uint16_t virt_iommu_domains_stats(VirtIOMMUDomains *ds, uint32_t id,
                                 VirtIOMMUStats *st)
{
    VirtIOMMUDomain *d = virt_iommu_domain_get(ds, id);

    memset(st, 0, sizeof(*st));
    st->domain = id;
    if (id) {
        if (!d) {
            return VIRT_IOMMU_S_NO_DOMAIN;
        }
        st->type = d->type;
        virt_iommu_domain_fold_stats(d, st);
        st->mapped_bytes = virt_iommu_mapped_bytes(d);
        return VIRT_IOMMU_S_OK;
    }
    for (uint32_t i = 0; i < ds->cfg.max_domains; i++) {
        if (ds->domains[i]) {
            st->type++;
            virt_iommu_domain_fold_stats(ds->domains[i], st);
            st->mapped_bytes += virt_iommu_mapped_bytes(ds->domains[i]);
        }
    }
    st->process_mags_live = iova_live_magazines();
    return VIRT_IOMMU_S_OK;
}

bool virt_iommu_domain_map_args_ok(VirtIOMMUDomains *ds, uint64_t iova,
                                   uint64_t gpa, uint64_t size,
                                   uint32_t perms)
{
    uint64_t mask = ds->cfg.page_size - 1;

    return size && !(size & mask) && !(gpa & mask) && !(iova & mask) &&
           gpa <= UINT64_MAX - (size - 1) && perms &&
           !(perms & ~(VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE));
}

uint64_t virt_iommu_domain_foreach_mapping(VirtIOMMUDomains *ds, uint32_t id,
                                           uint64_t max, VirtIOMMUMappingFn *fn,
                                           void *opaque)
{
    VirtIOMMUDomain *d = virt_iommu_domain_get(ds, id);
    uint64_t done = 0;

    if (!d) {
        return 0;
    }
    VIRT_IOMMU_FOREACH_MAPPING(m, d) {
        if (done == max) {
            break;
        }
        fn(m->node.start, m->node.last, m->gpa, m->perms, m->fixed, opaque);
        done++;
    }
    return done;
}

/* Appends the migration record of @m, a mapping of @d, to @out. */
static void virt_iommu_mig_save_mapping(VirtIOMMUDomain *d,
                                        VirtIOMMUMapping *m, GArray *out)
{
    unsigned shift = virt_iommu_page_shift(d->ds);
    VirtIOMMUMigMapping r = {
        .iova = m->node.start,
        .last = m->node.last,
        .gpa = m->gpa,
        .domain = d->id,
        .perms = m->perms,
        .fixed = m->fixed,
    };

    /* The allocator may hold more than the mapping (sizes rounded up). */
    if (iova_find(d->iova, m->node.start >> shift, &r.pfn_lo,
                  &r.pfn_hi) != IOVA_OK) {
        r.pfn_lo = m->node.start >> shift;
        r.pfn_hi = m->node.last >> shift;
    }
    g_array_append_val(out, r);
}

static void virt_iommu_mig_save_attach(uint16_t rid, uint32_t domain,
                                       void *opaque)
{
    VirtIOMMUMigAttach r = { rid, domain };

    g_array_append_val((GArray *)opaque, r);
}

void virt_iommu_domains_save(VirtIOMMUDomains *ds, GArray *domains,
                             GArray *mappings, GArray *attached)
{
    for (uint32_t i = 0; i < ds->cfg.max_domains; i++) {
        VirtIOMMUDomain *dom = ds->domains[i];

        if (dom) {
            VirtIOMMUMigDomain r = { dom->id, dom->type };

            g_array_append_val(domains, r);
            VIRT_IOMMU_FOREACH_MAPPING(m, dom) {
                virt_iommu_mig_save_mapping(dom, m, mappings);
            }
        }
    }
    virt_iommu_domains_foreach_attached(ds, virt_iommu_mig_save_attach,
                                        attached);
}

/* Puts one migrated mapping back, its IOVAs taken from the allocator. */
static bool virt_iommu_mig_load_mapping(VirtIOMMUDomains *ds,
                                        const VirtIOMMUMigMapping *r)
{
    VirtIOMMUDomain *d = virt_iommu_domain_get(ds, r->domain);
    unsigned shift = virt_iommu_page_shift(ds);
    uint64_t size = r->last - r->iova + 1;
    uint64_t pfn;

    if (!d || !d->iova || r->last < r->iova ||
        !virt_iommu_domain_map_args_ok(ds, r->iova, r->gpa, size, r->perms) ||
        !virt_iommu_range_ok(ds, r->iova, size) ||
        r->pfn_lo > r->iova >> shift || r->pfn_hi < r->last >> shift ||
        virt_iommu_mapping_first(d, r->iova, r->last)) {
        return false;
    }
    if (r->fixed) {
        if (iova_reserve(d->iova, r->pfn_lo, r->pfn_hi) != IOVA_OK) {
            return false;
        }
    } else {
        /*
         * Top-down allocation below pfn_hi of exactly this size lands on
         * [pfn_lo, pfn_hi] when that range is free: the allocator needs
         * no "allocate here" call to be rebuilt.
         */
        if (iova_alloc(d->iova, r->pfn_hi - r->pfn_lo + 1, r->pfn_hi, false,
                       &pfn) != IOVA_OK) {
            return false;
        }
        if (pfn != r->pfn_lo) {
            iova_free(d->iova, pfn);
            return false;
        }
    }
    virt_iommu_mapping_add(d, r->iova, r->gpa, size, r->perms, r->fixed);
    return true;
}

int virt_iommu_domains_load(VirtIOMMUDomains *ds,
                            const VirtIOMMUMigDomain *domains, int32_t ndomains,
                            const VirtIOMMUMigMapping *mappings,
                            int32_t nmappings,
                            const VirtIOMMUMigAttach *attached,
                            int32_t nattached)
{
    for (int32_t i = 0; i < ndomains; i++) {
        const VirtIOMMUMigDomain *r = &domains[i];

        if (r->id < 1 || r->id > ds->cfg.max_domains ||
            ds->domains[r->id - 1] || r->type > VIRT_IOMMU_DOMAIN_DMA_FQ) {
            return -EINVAL;
        }
        if (!virt_iommu_domain_create(ds, r->id, r->type)) {
            return -ENOMEM;
        }
        /* Every migrated MAP_FIXED range is reserved as it is loaded. */
        ds->domains[r->id - 1]->fixed_reserved = true;
    }
    for (int32_t i = 0; i < nmappings; i++) {
        if (!virt_iommu_mig_load_mapping(ds, &mappings[i])) {
            return -EINVAL;
        }
    }
    for (int32_t i = 0; i < nattached; i++) {
        uint32_t rid = attached[i].rid;
        VirtIOMMUDomain *d = virt_iommu_domain_get(ds, attached[i].domain);

        if (!d || rid > UINT16_MAX || virt_iommu_domain_of(ds, rid)) {
            return -EINVAL;
        }
        g_hash_table_insert(ds->attached, GUINT_TO_POINTER(rid), d);
        d->endpoints++;
    }
    return 0;
}

void virt_iommu_domains_init(VirtIOMMUDomains *ds,
                             const VirtIOMMUDomainsConfig *cfg)
{
    ds->cfg = *cfg;
    ds->domains = g_new0(VirtIOMMUDomain *, cfg->max_domains);
    ds->attached = g_hash_table_new(NULL, NULL);
}

void virt_iommu_domains_reset(VirtIOMMUDomains *ds)
{
    g_hash_table_remove_all(ds->attached);
    for (uint32_t i = 0; i < ds->cfg.max_domains; i++) {
        if (ds->domains[i]) {
            ds->domains[i]->endpoints = 0;
            virt_iommu_domain_free(ds, ds->domains[i]);
        }
    }
}

void virt_iommu_domains_destroy(VirtIOMMUDomains *ds)
{
    if (ds->domains) {
        virt_iommu_domains_reset(ds);
        g_hash_table_destroy(ds->attached);
        g_clear_pointer(&ds->domains, g_free);
    }
}
