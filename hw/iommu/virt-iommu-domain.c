/*
 * virt-iommu: domains, their mappings, and which endpoint uses which
 *
 * A DMA or DMA_FQ domain owns an IOVA allocator (iova/, as Linux's
 * iova_domain) and a GTree of mappings keyed by IOVA interval, so that a
 * lookup of any byte finds the mapping holding it (the interval-key trick
 * of virtio-iommu).  Device-allocated IOVAs (MAP) come from the allocator's
 * per-CPU caches with the vCPU index as the CPU; guest-chosen ones
 * (MAP_FIXED) are reserved in it, so the two never collide.
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
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "hw/iommu/virt-iommu.h"
#include "hw/pci/pci.h"
#include "iova/iova.h"
#include "qemu/timer.h"
#include "trace.h"

/* [first, last] in bytes; two overlapping intervals compare equal. */
typedef struct VirtIOMMUInterval {
    uint64_t first;
    uint64_t last;
} VirtIOMMUInterval;

typedef struct VirtIOMMUMapping {
    VirtIOMMUInterval range;    /* also the GTree key */
    uint64_t gpa;
    uint32_t perms;             /* VIRT_IOMMU_PERM_* */
    bool fixed;                 /* MAP_FIXED: reserved, not allocated */
} VirtIOMMUMapping;

/* Unmapped ranges strict-checks remembers per domain */
#define VIRT_IOMMU_UNMAPPED_HISTORY 64

/* An IOVA range to give back to the allocator, in pages */
typedef struct VirtIOMMUIovaRange {
    uint64_t pfn;
    uint64_t pages;
    bool fixed;                 /* reserved by MAP_FIXED */
} VirtIOMMUIovaRange;

struct VirtIOMMUDomain {
    VirtIOMMUState *s;
    uint32_t id;
    uint8_t type;               /* VIRT_IOMMU_DOMAIN_* */
    unsigned endpoints;         /* attached requester IDs */
    IovaDomain *iova;           /* DMA and DMA_FQ domains only */
    QEMUTimer *trim_timer;      /* runs the allocator's depot trim */
    GTree *mappings;            /* VirtIOMMUInterval -> VirtIOMMUMapping */
    GArray *fq;                 /* DMA_FQ: VirtIOMMUIovaRange to free */
    /* strict-checks: the last ranges unmapped, oldest overwritten */
    VirtIOMMUInterval unmapped[VIRT_IOMMU_UNMAPPED_HISTORY];
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

/* True if [first, last] overlaps a range strict-checks saw unmapped. */
static bool virt_iommu_recently_unmapped(VirtIOMMUDomain *d, uint64_t first,
                                         uint64_t last)
{
    unsigned n = MIN(d->unmapped_next, VIRT_IOMMU_UNMAPPED_HISTORY);

    for (unsigned i = 0; i < n; i++) {
        if (d->unmapped[i].first <= last && first <= d->unmapped[i].last) {
            return true;
        }
    }
    return false;
}

static bool virt_iommu_type_translates(uint8_t type)
{
    return type == VIRT_IOMMU_DOMAIN_DMA || type == VIRT_IOMMU_DOMAIN_DMA_FQ;
}

static gint virt_iommu_interval_cmp(gconstpointer a, gconstpointer b,
                                    gpointer unused)
{
    const VirtIOMMUInterval *x = a, *y = b;

    if (x->last < y->first) {
        return -1;
    }
    return y->last < x->first ? 1 : 0;
}

static unsigned virt_iommu_page_shift(VirtIOMMUState *s)
{
    return ctz64(s->page_size);
}

/* The vCPU that rang the doorbell picks the rcache, as a CPU does. */
unsigned virt_iommu_cpu(VirtIOMMUState *s)
{
    if (s->rcache_cpu >= 0) {
        return s->rcache_cpu;
    }
    return current_cpu ? current_cpu->cpu_index : 0;
}

void virt_iommu_domain_cpu_dead(VirtIOMMUState *s, unsigned cpu)
{
    for (uint32_t i = 0; i < s->max_domains; i++) {
        if (s->domains[i] && s->domains[i]->iova) {
            iova_cpu_dead(s->domains[i]->iova, cpu);
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
    VirtIOMMUState *s = d->s;
    unsigned shift = virt_iommu_page_shift(s);
    IovaConfig cfg = {
        .granule = s->page_size,
        /* IOVA 0 is never handed out: a zero address is a likely bug. */
        .start_pfn = 1,
        .ncpus = MACHINE(qdev_get_machine())->smp.max_cpus,
        .mag_size = s->mag_size,
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
    if (VIRT_IOMMU_MSI_BASE <= virt_iommu_aperture_end(s)) {
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
        iova_free_fast(d->iova, r->pfn, r->pages, virt_iommu_cpu(d->s));
    }
}

static VirtIOMMUIovaRange virt_iommu_mapping_iova(VirtIOMMUDomain *d,
                                                  VirtIOMMUMapping *m)
{
    unsigned shift = virt_iommu_page_shift(d->s);

    return (VirtIOMMUIovaRange) {
        .pfn = m->range.first >> shift,
        .pages = (m->range.last - m->range.first + 1) >> shift,
        .fixed = m->fixed,
    };
}

/* The batched invalidation: only after it may the queued IOVAs be reused */
static void virt_iommu_fq_flush(VirtIOMMUDomain *d)
{
    trace_virt_iommu_fq_flush(d->id, d->fq->len);
    virt_iommu_iotlb_invalidate(d->s, d->id, 0, UINT64_MAX);
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
    VirtIOMMUState *s = d->s;
    VirtIOMMUIovaRange r = virt_iommu_mapping_iova(d, m);
    uint64_t size = m->range.last - m->range.first + 1;

    trace_virt_iommu_unmap(d->id, m->range.first, size);
    d->unmapped[d->unmapped_next++ % VIRT_IOMMU_UNMAPPED_HISTORY] = m->range;
    virt_iommu_as_notify(s, d, m->range.first, size, m->gpa, m->perms, false);
    if (d->fq) {
        g_array_append_val(d->fq, r);
        if (d->fq->len >= s->fq_size) {
            virt_iommu_fq_flush(d);
        } else if (!timer_pending(d->fq_timer)) {
            timer_mod(d->fq_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                      s->fq_timeout_ms * SCALE_MS);
        }
    } else {
        /* Strict: nobody may use the IOVA once UNMAP completes. */
        virt_iommu_iotlb_invalidate(s, d->id, m->range.first, m->range.last);
        virt_iommu_iova_release(d, &r);
    }
    g_tree_remove(d->mappings, &m->range);
    s->nr_mappings--;
}

static gboolean virt_iommu_mapping_collect_cb(gpointer key, gpointer value,
                                              gpointer opaque)
{
    g_ptr_array_add(opaque, value);
    return false;
}

/*
 * Returns a translating domain to no mappings and no allocator, every
 * IOVA given back first so the allocator's accounting stays exact.
 */
static void virt_iommu_domain_teardown(VirtIOMMUDomain *d)
{
    g_autoptr(GPtrArray) all = g_ptr_array_new();

    if (!d->iova) {
        return;
    }
    g_tree_foreach(d->mappings, virt_iommu_mapping_collect_cb, all);
    for (guint i = 0; i < all->len; i++) {
        virt_iommu_mapping_remove(d, g_ptr_array_index(all, i));
    }
    virt_iommu_fq_destroy(d);
    virt_iommu_iotlb_invalidate(d->s, d->id, 0, UINT64_MAX);
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
    g_tree_destroy(d->mappings);
    g_free(d);
}

static VirtIOMMUDomain *virt_iommu_domain_get(VirtIOMMUState *s, uint32_t id)
{
    return id >= 1 && id <= s->max_domains ? s->domains[id - 1] : NULL;
}

VirtIOMMUDomain *virt_iommu_domain_of(VirtIOMMUState *s, uint16_t rid)
{
    return g_hash_table_lookup(s->attached, GUINT_TO_POINTER(rid));
}

uint32_t virt_iommu_domain_id(VirtIOMMUDomain *d)
{
    return d->id;
}

bool virt_iommu_domain_is_identity(VirtIOMMUDomain *d)
{
    return d->type == VIRT_IOMMU_DOMAIN_IDENTITY;
}

int virt_iommu_domain_translate(VirtIOMMUState *s, VirtIOMMUDomain *d,
                                uint64_t iova, uint32_t perms,
                                uint64_t *gpa, uint32_t *map_perms)
{
    VirtIOMMUInterval key = { iova, iova };
    VirtIOMMUMapping *m;

    if (d->type == VIRT_IOMMU_DOMAIN_BLOCKED) {
        return VIRT_IOMMU_FAULT_BLOCKED;
    }
    if (d->type == VIRT_IOMMU_DOMAIN_IDENTITY) {
        *gpa = iova;
        *map_perms = VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE;
        return 0;
    }
    if (!virt_iommu_iotlb_lookup(s, d->id, iova, gpa, map_perms)) {
        m = g_tree_lookup(d->mappings, &key);
        if (!m) {
            return s->strict_checks &&
                   virt_iommu_recently_unmapped(d, iova, iova) ?
                   VIRT_IOMMU_FAULT_UNMAPPED : VIRT_IOMMU_FAULT_NOT_MAPPED;
        }
        *gpa = m->gpa + (iova - m->range.first);
        *map_perms = m->perms;
        virt_iommu_iotlb_insert(s, d->id, iova, *gpa, m->perms);
    }
    return perms & ~*map_perms ? VIRT_IOMMU_FAULT_PERMISSION : 0;
}

/* Creates domain @id (free, in range) of @type; false if out of memory. */
static bool virt_iommu_domain_create(VirtIOMMUState *s, uint32_t id,
                                     uint8_t type)
{
    VirtIOMMUDomain *d = g_new0(VirtIOMMUDomain, 1);

    d->s = s;
    d->id = id;
    d->type = type;
    d->mappings = g_tree_new_full(virt_iommu_interval_cmp, NULL, NULL,
                                  g_free);
    if (!virt_iommu_domain_setup(d)) {
        virt_iommu_domain_destroy(d);
        return false;
    }
    s->domains[id - 1] = d;
    trace_virt_iommu_domain_alloc(id, type);
    return true;
}

static uint16_t virt_iommu_cmd_domain_alloc(VirtIOMMUState *s,
                                            const VirtIOMMUCmd *cmd,
                                            uint64_t *result)
{
    uint32_t id;

    if (cmd->arg > VIRT_IOMMU_DOMAIN_DMA_FQ) {
        return VIRT_IOMMU_S_INVALID;
    }
    for (id = 1; id <= s->max_domains && s->domains[id - 1]; id++) {
        /* lowest free ID, so IDs are reused as Linux reuses them */
    }
    if (id > s->max_domains || !virt_iommu_domain_create(s, id, cmd->arg)) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    *result = id;
    return VIRT_IOMMU_S_OK;
}

static uint16_t virt_iommu_cmd_domain_free(VirtIOMMUState *s,
                                           VirtIOMMUDomain *d)
{
    if (d->endpoints) {
        return VIRT_IOMMU_S_BUSY;
    }
    trace_virt_iommu_domain_free(d->id, g_tree_nnodes(d->mappings));
    s->domains[d->id - 1] = NULL;
    virt_iommu_domain_destroy(d);
    return VIRT_IOMMU_S_OK;
}

/*
 * As Linux changes a group's default domain: DMA <-> DMA_FQ keeps the
 * allocator and the mappings and adds or drains the flush queue; every
 * other change tears the allocator and the mappings down and builds what
 * the new type needs, with the endpoints still attached.
 */
static uint16_t virt_iommu_cmd_set_type(VirtIOMMUState *s,
                                        const VirtIOMMUCmd *cmd,
                                        VirtIOMMUDomain *d)
{
    uint8_t old = d->type;

    if (cmd->arg > VIRT_IOMMU_DOMAIN_DMA_FQ) {
        return VIRT_IOMMU_S_INVALID;
    }
    trace_virt_iommu_domain_set_type(d->id, old, cmd->arg);
    if (old == cmd->arg) {
        return VIRT_IOMMU_S_OK;
    }
    if (virt_iommu_type_translates(old) &&
        virt_iommu_type_translates(cmd->arg)) {
        d->type = cmd->arg;
        if (d->type == VIRT_IOMMU_DOMAIN_DMA_FQ) {
            virt_iommu_fq_init(d);
        } else {
            virt_iommu_fq_destroy(d);
        }
        return VIRT_IOMMU_S_OK;
    }
    virt_iommu_domain_teardown(d);
    d->type = cmd->arg;
    if (!virt_iommu_domain_setup(d)) {
        /* Keep a consistent domain: nothing passes until the guest acts. */
        d->type = VIRT_IOMMU_DOMAIN_BLOCKED;
        virt_iommu_as_update(s);
        return VIRT_IOMMU_S_NO_SPACE;
    }
    virt_iommu_as_update(s);
    return VIRT_IOMMU_S_OK;
}

static void virt_iommu_detach(VirtIOMMUState *s, uint16_t rid)
{
    VirtIOMMUDomain *old = virt_iommu_domain_of(s, rid);

    if (old) {
        old->endpoints--;
        g_hash_table_remove(s->attached, GUINT_TO_POINTER(rid));
        trace_virt_iommu_detach(rid, old->id);
    }
}

/* The PCI function with requester ID @rid, if it exists and is enabled. */
static PCIDevice *virt_iommu_find_endpoint(VirtIOMMUState *s, uint16_t rid)
{
    PCIDevice *dev = pci_find_device(pci_device_root_bus(PCI_DEVICE(s)),
                                     PCI_BUS_NUM(rid), PCI_BDF_TO_DEVFN(rid));

    /* A disabled VF stays realized but is gone for the guest. */
    return dev && dev->enabled ? dev : NULL;
}

void virt_iommu_domain_sweep(VirtIOMMUState *s)
{
    g_autoptr(GPtrArray) gone = g_ptr_array_new();
    GHashTableIter iter;
    gpointer rid;

    g_hash_table_iter_init(&iter, s->attached);
    while (g_hash_table_iter_next(&iter, &rid, NULL)) {
        if (!virt_iommu_find_endpoint(s, GPOINTER_TO_UINT(rid))) {
            g_ptr_array_add(gone, rid);
        }
    }
    for (guint i = 0; i < gone->len; i++) {
        uint16_t r = GPOINTER_TO_UINT(g_ptr_array_index(gone, i));
        VirtIOMMUDomain *d = virt_iommu_domain_of(s, r);

        virt_iommu_endpoint_gone(s, r, d->id);
        virt_iommu_detach(s, r);
    }
    if (gone->len) {
        virt_iommu_as_update(s);
    }
}

static uint16_t virt_iommu_cmd_attach(VirtIOMMUState *s,
                                      const VirtIOMMUCmd *cmd,
                                      VirtIOMMUDomain *d)
{
    PCIDevice *self = PCI_DEVICE(s);
    uint16_t rid = cmd->endpoint;

    if (cmd->endpoint > UINT16_MAX || rid == pci_requester_id(self)) {
        return VIRT_IOMMU_S_INVALID;
    }
    if (!virt_iommu_find_endpoint(s, rid)) {
        return VIRT_IOMMU_S_NO_ENDPOINT;
    }
    virt_iommu_detach(s, rid);
    g_hash_table_insert(s->attached, GUINT_TO_POINTER(rid), d);
    d->endpoints++;
    trace_virt_iommu_attach(rid, d->id);
    virt_iommu_as_update(s);
    return VIRT_IOMMU_S_OK;
}

static bool virt_iommu_range_ok(VirtIOMMUState *s, uint64_t iova,
                                uint64_t size)
{
    uint64_t end = virt_iommu_aperture_end(s);

    return size <= end && iova <= end - (size - 1);
}

static bool virt_iommu_overlaps_msi(uint64_t first, uint64_t last)
{
    return first < VIRT_IOMMU_MSI_BASE + VIRT_IOMMU_MSI_SIZE &&
           last >= VIRT_IOMMU_MSI_BASE;
}

static VirtIOMMUMapping *virt_iommu_mapping_add(VirtIOMMUDomain *d,
                                                uint64_t iova,
                                                const VirtIOMMUCmd *cmd,
                                                bool fixed)
{
    VirtIOMMUMapping *m = g_new0(VirtIOMMUMapping, 1);

    m->range.first = iova;
    m->range.last = iova + cmd->size - 1;
    m->gpa = cmd->addr;
    m->perms = cmd->arg;
    m->fixed = fixed;
    g_tree_insert(d->mappings, &m->range, m);
    d->s->nr_mappings++;
    trace_virt_iommu_map(d->id, iova, cmd->addr, cmd->size, cmd->arg, fixed);
    virt_iommu_as_notify(d->s, d, iova, cmd->size, cmd->addr, cmd->arg, true);
    return m;
}

/*
 * Before the first MAP of a domain: reserves its MAP_FIXED ranges so the
 * allocator cannot hand them out.  The flush queue is run first, because
 * the IOVAs parked there were never reserved and may still be in the
 * IOTLB.  False if the allocator is out of memory (nothing changed).
 */
static bool virt_iommu_reserve_fixed(VirtIOMMUDomain *d)
{
    g_autoptr(GPtrArray) all = g_ptr_array_new();
    unsigned shift = virt_iommu_page_shift(d->s);
    guint i;

    if (d->fq && d->fq->len) {
        virt_iommu_fq_flush(d);
    }
    g_tree_foreach(d->mappings, virt_iommu_mapping_collect_cb, all);
    for (i = 0; i < all->len; i++) {
        VirtIOMMUMapping *m = g_ptr_array_index(all, i);

        if (m->fixed && iova_reserve(d->iova, m->range.first >> shift,
                                     m->range.last >> shift) != IOVA_OK) {
            break;
        }
    }
    if (i < all->len) {
        while (i--) {
            VirtIOMMUMapping *m = g_ptr_array_index(all, i);

            if (m->fixed) {
                iova_free(d->iova, m->range.first >> shift);
            }
        }
        return false;
    }
    d->fixed_reserved = true;
    return true;
}

static uint16_t virt_iommu_cmd_map(VirtIOMMUState *s, const VirtIOMMUCmd *cmd,
                                   VirtIOMMUDomain *d, uint64_t *result)
{
    unsigned shift = virt_iommu_page_shift(s);
    uint64_t limit = cmd->limit ? cmd->limit : virt_iommu_aperture_end(s);
    uint64_t pfn;

    limit = MIN(limit, virt_iommu_aperture_end(s));
    if (s->nr_mappings >= s->max_mappings ||
        (!d->fixed_reserved && !virt_iommu_reserve_fixed(d))) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    if (iova_alloc_fast(d->iova, cmd->size >> shift, limit >> shift,
                        virt_iommu_cpu(d->s), true, &pfn) != IOVA_OK) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    *result = pfn << shift;
    virt_iommu_mapping_add(d, *result, cmd, false);
    return VIRT_IOMMU_S_OK;
}

static uint16_t virt_iommu_cmd_map_fixed(VirtIOMMUState *s,
                                         const VirtIOMMUCmd *cmd,
                                         VirtIOMMUDomain *d)
{
    unsigned shift = virt_iommu_page_shift(s);
    uint64_t last = cmd->iova + cmd->size - 1;
    VirtIOMMUInterval key = { cmd->iova, last };
    IovaStatus st;

    if (!virt_iommu_range_ok(s, cmd->iova, cmd->size) ||
        virt_iommu_overlaps_msi(cmd->iova, last)) {
        return VIRT_IOMMU_S_RANGE;
    }
    if (g_tree_lookup(d->mappings, &key)) {
        return VIRT_IOMMU_S_EXISTS;
    }
    if (s->nr_mappings >= s->max_mappings) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    if (!d->fixed_reserved) {
        /*
         * The allocator has nothing to clash with (see fixed_reserved),
         * but an unmapped range waiting in the flush queue may still be
         * in the IOTLB, with its old address.
         */
        if (d->fq) {
            virt_iommu_iotlb_invalidate(s, d->id, cmd->iova, last);
        }
        virt_iommu_mapping_add(d, cmd->iova, cmd, true);
        return VIRT_IOMMU_S_OK;
    }
    st = iova_reserve(d->iova, cmd->iova >> shift, last >> shift);
    if (st == IOVA_ERR_EXIST) {
        /*
         * Only unmapped IOVAs can be in the way, parked in the flush queue
         * or the rcache: drain both.
         */
        if (d->fq) {
            virt_iommu_fq_flush(d);
        }
        iova_flush_rcaches(d->iova);
        st = iova_reserve(d->iova, cmd->iova >> shift, last >> shift);
    }
    if (st != IOVA_OK) {
        return VIRT_IOMMU_S_NO_SPACE;
    }
    virt_iommu_mapping_add(d, cmd->iova, cmd, true);
    return VIRT_IOMMU_S_OK;
}

typedef struct VirtIOMMUUnmapScan {
    VirtIOMMUInterval range;
    GPtrArray *hits;
    bool partial;
} VirtIOMMUUnmapScan;

static gboolean virt_iommu_unmap_scan_cb(gpointer key, gpointer value,
                                         gpointer opaque)
{
    VirtIOMMUUnmapScan *scan = opaque;
    VirtIOMMUMapping *m = value;

    if (m->range.first > scan->range.last) {
        return true;
    }
    if (m->range.last >= scan->range.first) {
        if (m->range.first < scan->range.first ||
            m->range.last > scan->range.last) {
            scan->partial = true;
            return true;
        }
        g_ptr_array_add(scan->hits, m);
    }
    return false;
}

/*
 * Unmaps every mapping inside [iova, iova + size); refuses to split one
 * (as virtio-iommu does), so a partial overlap changes nothing.
 */
static uint16_t virt_iommu_cmd_unmap(VirtIOMMUState *s,
                                     const VirtIOMMUCmd *cmd,
                                     VirtIOMMUDomain *d)
{
    g_autoptr(GPtrArray) hits = g_ptr_array_new();
    VirtIOMMUUnmapScan scan = {
        .range = { cmd->iova, cmd->iova + cmd->size - 1 },
        .hits = hits,
    };
    VirtIOMMUMapping *m;

    if (!virt_iommu_range_ok(s, cmd->iova, cmd->size)) {
        return VIRT_IOMMU_S_RANGE;
    }
    /*
     * The lookup finds a mapping overlapping the range if there is one.
     * Drivers unmap what they mapped, so it is usually exactly the range
     * and nothing else can be inside: O(log n).  Only a range holding
     * several mappings needs the ordered scan.
     */
    m = g_tree_lookup(d->mappings, &scan.range);
    if (m && (m->range.first < scan.range.first ||
              m->range.last > scan.range.last)) {
        return VIRT_IOMMU_S_PARTIAL;
    }
    if (m && m->range.first == scan.range.first &&
        m->range.last == scan.range.last) {
        g_ptr_array_add(hits, m);
    } else if (m) {
        g_tree_foreach(d->mappings, virt_iommu_unmap_scan_cb, &scan);
        if (scan.partial) {
            return VIRT_IOMMU_S_PARTIAL;
        }
    }
    if (!hits->len) {
        if (s->strict_checks) {
            virt_iommu_strict_event(s, d->id, cmd->iova,
                virt_iommu_recently_unmapped(d, scan.range.first,
                                             scan.range.last) ?
                VIRT_IOMMU_STRICT_DOUBLE_UNMAP :
                VIRT_IOMMU_STRICT_NEVER_MAPPED);
        }
        return VIRT_IOMMU_S_NOT_MAPPED;
    }
    for (guint i = 0; i < hits->len; i++) {
        virt_iommu_mapping_remove(d, g_ptr_array_index(hits, i));
    }
    return VIRT_IOMMU_S_OK;
}

static uint16_t virt_iommu_cmd_invalidate(VirtIOMMUState *s,
                                          const VirtIOMMUCmd *cmd,
                                          VirtIOMMUDomain *d)
{
    switch (cmd->arg) {
    case VIRT_IOMMU_INV_DOMAIN:
        if (cmd->iova || cmd->size) {
            return VIRT_IOMMU_S_INVALID;
        }
        break;
    case VIRT_IOMMU_INV_RANGE:
        if (!cmd->size || ((cmd->size | cmd->iova) & (s->page_size - 1))) {
            return VIRT_IOMMU_S_INVALID;
        }
        if (!virt_iommu_range_ok(s, cmd->iova, cmd->size)) {
            return VIRT_IOMMU_S_RANGE;
        }
        virt_iommu_iotlb_invalidate(s, d->id, cmd->iova,
                                    cmd->iova + cmd->size - 1);
        return VIRT_IOMMU_S_OK;
    default:
        return VIRT_IOMMU_S_INVALID;
    }
    /* A whole-domain invalidation is the batch a flush queue waits for. */
    if (d->fq) {
        virt_iommu_fq_flush(d);
    } else {
        virt_iommu_iotlb_invalidate(s, d->id, 0, UINT64_MAX);
    }
    return VIRT_IOMMU_S_OK;
}

static void virt_iommu_domain_fold_stats(VirtIOMMUDomain *d,
                                         VirtIOMMUStats *st)
{
    IovaStats is = { 0 };

    st->endpoints += d->endpoints;
    st->mappings += g_tree_nnodes(d->mappings);
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

static gboolean virt_iommu_bytes_cb(gpointer key, gpointer value,
                                    gpointer opaque)
{
    VirtIOMMUMapping *m = value;

    *(uint64_t *)opaque += m->range.last - m->range.first + 1;
    return false;
}

uint16_t virt_iommu_domain_stats(VirtIOMMUState *s, uint32_t id,
                                 VirtIOMMUStats *st)
{
    VirtIOMMUDomain *d = virt_iommu_domain_get(s, id);

    memset(st, 0, sizeof(*st));
    st->domain = id;
    if (id) {
        if (!d) {
            return VIRT_IOMMU_S_NO_DOMAIN;
        }
        st->type = d->type;
        virt_iommu_domain_fold_stats(d, st);
        g_tree_foreach(d->mappings, virt_iommu_bytes_cb, &st->mapped_bytes);
        return VIRT_IOMMU_S_OK;
    }
    for (uint32_t i = 0; i < s->max_domains; i++) {
        if (s->domains[i]) {
            st->type++;
            virt_iommu_domain_fold_stats(s->domains[i], st);
            g_tree_foreach(s->domains[i]->mappings, virt_iommu_bytes_cb,
                           &st->mapped_bytes);
        }
    }
    st->events = s->counters.events;
    st->events_dropped = s->counters.events_dropped;
    st->iotlb_hits = s->counters.iotlb_hits;
    st->iotlb_misses = s->counters.iotlb_misses;
    st->iotlb_invalidations = s->counters.iotlb_invalidations;
    st->process_mags_live = iova_live_magazines();
    return VIRT_IOMMU_S_OK;
}

static bool virt_iommu_map_args_ok(VirtIOMMUState *s, const VirtIOMMUCmd *cmd)
{
    uint64_t mask = s->page_size - 1;

    return cmd->size && !(cmd->size & mask) && !(cmd->addr & mask) &&
           !(cmd->iova & mask) && cmd->addr <= UINT64_MAX - (cmd->size - 1) &&
           cmd->arg &&
           !(cmd->arg & ~(VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE));
}

uint16_t virt_iommu_domain_cmd(VirtIOMMUState *s, const VirtIOMMUCmd *cmd,
                               uint64_t *result)
{
    VirtIOMMUDomain *d;

    if (cmd->opcode == VIRT_IOMMU_CMD_DOMAIN_ALLOC) {
        return virt_iommu_cmd_domain_alloc(s, cmd, result);
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_INVALIDATE &&
        cmd->arg == VIRT_IOMMU_INV_ALL) {
        if (cmd->domain || cmd->iova || cmd->size) {
            return VIRT_IOMMU_S_INVALID;
        }
        virt_iommu_iotlb_invalidate(s, 0, 0, UINT64_MAX);
        return VIRT_IOMMU_S_OK;
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_DETACH) {
        if (cmd->endpoint > UINT16_MAX) {
            return VIRT_IOMMU_S_INVALID;
        }
        /* Also accepted after the device detached a vanished endpoint. */
        virt_iommu_detach(s, cmd->endpoint);
        virt_iommu_as_update(s);
        return VIRT_IOMMU_S_OK;
    }
    d = virt_iommu_domain_get(s, cmd->domain);
    if (!d) {
        return VIRT_IOMMU_S_NO_DOMAIN;
    }
    switch (cmd->opcode) {
    case VIRT_IOMMU_CMD_DOMAIN_FREE:
        return virt_iommu_cmd_domain_free(s, d);
    case VIRT_IOMMU_CMD_DOMAIN_SET_TYPE:
        return virt_iommu_cmd_set_type(s, cmd, d);
    case VIRT_IOMMU_CMD_ATTACH:
        return virt_iommu_cmd_attach(s, cmd, d);
    case VIRT_IOMMU_CMD_MAP:
    case VIRT_IOMMU_CMD_MAP_FIXED:
    case VIRT_IOMMU_CMD_UNMAP:
    case VIRT_IOMMU_CMD_INVALIDATE:
        if (!virt_iommu_type_translates(d->type)) {
            return VIRT_IOMMU_S_WRONG_TYPE;
        }
        break;
    default:
        g_assert_not_reached();
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_INVALIDATE) {
        return virt_iommu_cmd_invalidate(s, cmd, d);
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_UNMAP) {
        if (!cmd->size || ((cmd->size | cmd->iova) & (s->page_size - 1))) {
            return VIRT_IOMMU_S_INVALID;
        }
        return virt_iommu_cmd_unmap(s, cmd, d);
    }
    if (!virt_iommu_map_args_ok(s, cmd)) {
        return VIRT_IOMMU_S_INVALID;
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_MAP) {
        return virt_iommu_cmd_map(s, cmd, d, result);
    }
    return virt_iommu_cmd_map_fixed(s, cmd, d);
}

typedef struct VirtIOMMUMappingWalk {
    VirtIOMMUMappingFn *fn;
    void *opaque;
    uint64_t left;
    uint64_t done;
} VirtIOMMUMappingWalk;

static gboolean virt_iommu_mapping_walk_cb(gpointer key, gpointer value,
                                           gpointer opaque)
{
    VirtIOMMUMappingWalk *w = opaque;
    VirtIOMMUMapping *m = value;

    if (w->done == w->left) {
        return true;
    }
    w->fn(m->range.first, m->range.last, m->gpa, m->perms, m->fixed,
          w->opaque);
    w->done++;
    return false;
}

uint64_t virt_iommu_domain_foreach_mapping(VirtIOMMUState *s, uint32_t id,
                                           uint64_t max, VirtIOMMUMappingFn *fn,
                                           void *opaque)
{
    VirtIOMMUDomain *d = virt_iommu_domain_get(s, id);
    VirtIOMMUMappingWalk w = { fn, opaque, max, 0 };

    if (d) {
        g_tree_foreach(d->mappings, virt_iommu_mapping_walk_cb, &w);
    }
    return w.done;
}

typedef struct VirtIOMMUMigSave {
    VirtIOMMUDomain *d;
    GArray *mappings;
} VirtIOMMUMigSave;

static gboolean virt_iommu_mig_save_cb(gpointer key, gpointer value,
                                       gpointer opaque)
{
    VirtIOMMUMigSave *ms = opaque;
    VirtIOMMUMapping *m = value;
    unsigned shift = virt_iommu_page_shift(ms->d->s);
    VirtIOMMUMigMapping r = {
        .iova = m->range.first,
        .last = m->range.last,
        .gpa = m->gpa,
        .domain = ms->d->id,
        .perms = m->perms,
        .fixed = m->fixed,
    };

    /* The allocator may hold more than the mapping (sizes rounded up). */
    if (iova_find(ms->d->iova, m->range.first >> shift, &r.pfn_lo,
                  &r.pfn_hi) != IOVA_OK) {
        r.pfn_lo = m->range.first >> shift;
        r.pfn_hi = m->range.last >> shift;
    }
    g_array_append_val(ms->mappings, r);
    return false;
}

/*
 * What migrates: domains, mappings and attachments.  What does not: the
 * IOTLB, the rcache and the flush queues.  With no IOTLB entry on the
 * destination no stale translation exists, so IOVAs waiting in a flush
 * queue are simply free there.
 */
void virt_iommu_domain_pre_save(VirtIOMMUState *s)
{
    GArray *doms = g_array_new(false, false, sizeof(VirtIOMMUMigDomain));
    GArray *atts = g_array_new(false, false, sizeof(VirtIOMMUMigAttach));
    VirtIOMMUMigSave ms = {
        .mappings = g_array_new(false, false, sizeof(VirtIOMMUMigMapping)),
    };
    GHashTableIter iter;
    gpointer rid, d;

    for (uint32_t i = 0; i < s->max_domains; i++) {
        VirtIOMMUDomain *dom = s->domains[i];

        if (dom) {
            VirtIOMMUMigDomain r = { dom->id, dom->type };

            g_array_append_val(doms, r);
            ms.d = dom;
            g_tree_foreach(dom->mappings, virt_iommu_mig_save_cb, &ms);
        }
    }
    g_hash_table_iter_init(&iter, s->attached);
    while (g_hash_table_iter_next(&iter, &rid, &d)) {
        VirtIOMMUMigAttach r = { GPOINTER_TO_UINT(rid),
                                 ((VirtIOMMUDomain *)d)->id };

        g_array_append_val(atts, r);
    }
    virt_iommu_domain_mig_free(s);
    s->mig_ndomains = doms->len;
    s->mig_domains = (VirtIOMMUMigDomain *)g_array_free(doms, false);
    s->mig_nmappings = ms.mappings->len;
    s->mig_mappings = (VirtIOMMUMigMapping *)g_array_free(ms.mappings, false);
    s->mig_nattached = atts->len;
    s->mig_attached = (VirtIOMMUMigAttach *)g_array_free(atts, false);
}

void virt_iommu_domain_mig_free(VirtIOMMUState *s)
{
    g_clear_pointer(&s->mig_domains, g_free);
    g_clear_pointer(&s->mig_mappings, g_free);
    g_clear_pointer(&s->mig_attached, g_free);
    s->mig_ndomains = s->mig_nmappings = s->mig_nattached = 0;
}

/* Puts one migrated mapping back, its IOVAs taken from the allocator. */
static bool virt_iommu_mig_load_mapping(VirtIOMMUState *s,
                                        const VirtIOMMUMigMapping *r)
{
    VirtIOMMUDomain *d = virt_iommu_domain_get(s, r->domain);
    unsigned shift = virt_iommu_page_shift(s);
    VirtIOMMUInterval key = { r->iova, r->last };
    VirtIOMMUCmd cmd = {
        .addr = r->gpa,
        .size = r->last - r->iova + 1,
        .arg = r->perms,
        .iova = r->iova,
    };
    uint64_t pfn;

    if (!d || !d->iova || r->last < r->iova ||
        !virt_iommu_map_args_ok(s, &cmd) ||
        ((r->last + 1) & (s->page_size - 1)) ||
        !virt_iommu_range_ok(s, r->iova, cmd.size) ||
        r->pfn_lo > r->iova >> shift || r->pfn_hi < r->last >> shift ||
        g_tree_lookup(d->mappings, &key)) {
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
    virt_iommu_mapping_add(d, r->iova, &cmd, r->fixed);
    return true;
}

int virt_iommu_domain_post_load(VirtIOMMUState *s)
{
    for (int32_t i = 0; i < s->mig_ndomains; i++) {
        const VirtIOMMUMigDomain *r = &s->mig_domains[i];

        if (r->id < 1 || r->id > s->max_domains || s->domains[r->id - 1] ||
            r->type > VIRT_IOMMU_DOMAIN_DMA_FQ) {
            return -EINVAL;
        }
        if (!virt_iommu_domain_create(s, r->id, r->type)) {
            return -ENOMEM;
        }
        /* Every migrated MAP_FIXED range is reserved as it is loaded. */
        s->domains[r->id - 1]->fixed_reserved = true;
    }
    for (int32_t i = 0; i < s->mig_nmappings; i++) {
        if (!virt_iommu_mig_load_mapping(s, &s->mig_mappings[i])) {
            return -EINVAL;
        }
    }
    for (int32_t i = 0; i < s->mig_nattached; i++) {
        uint32_t rid = s->mig_attached[i].rid;
        VirtIOMMUDomain *d = virt_iommu_domain_get(s,
                                                   s->mig_attached[i].domain);

        if (!d || rid > UINT16_MAX || virt_iommu_domain_of(s, rid)) {
            return -EINVAL;
        }
        g_hash_table_insert(s->attached, GUINT_TO_POINTER(rid), d);
        d->endpoints++;
    }
    return 0;
}

void virt_iommu_domain_reset(VirtIOMMUState *s)
{
    g_hash_table_remove_all(s->attached);
    for (uint32_t i = 0; i < s->max_domains; i++) {
        if (s->domains[i]) {
            s->domains[i]->endpoints = 0;
            virt_iommu_cmd_domain_free(s, s->domains[i]);
        }
    }
}
