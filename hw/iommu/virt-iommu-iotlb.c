/*
 * virt-iommu: the IOTLB
 *
 * A small direct-mapped cache of page translations keyed by (domain, IOVA
 * page), in front of every DMA and DMA_FQ domain's mappings.  It is what
 * makes the flush queue observable: after an UNMAP in a DMA_FQ domain a
 * cached entry keeps translating until the batched invalidation, as a
 * hardware IOTLB does, so an IOVA must not be reused before it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "trace.h"
#include "virt-iommu-iotlb.h"

static VirtIOMMUIOTLBEntry *virt_iommu_iotlb_slot(VirtIOMMUIOTLB *t,
                                                  uint32_t domain,
                                                  uint64_t page)
{
    uint64_t key = (page >> ctz64(t->page_size)) ^
                   ((uint64_t)domain * 0x9e3779b1);

    /* A mask instead of a division for the usual power-of-two sizes */
    if (is_power_of_2(t->size)) {
        return &t->entries[key & (t->size - 1)];
    }
    return &t->entries[key % t->size];
}

void virt_iommu_iotlb_init(VirtIOMMUIOTLB *t, uint32_t size,
                           uint64_t page_size)
{
    t->entries = g_new0(VirtIOMMUIOTLBEntry, size);
    t->size = size;
    t->page_size = page_size;
}

void virt_iommu_iotlb_reset(VirtIOMMUIOTLB *t)
{
    memset(t->entries, 0, sizeof(*t->entries) * t->size);
    t->hits = t->misses = t->invalidations = 0;
}

void virt_iommu_iotlb_destroy(VirtIOMMUIOTLB *t)
{
    g_clear_pointer(&t->entries, g_free);
}

bool virt_iommu_iotlb_lookup(VirtIOMMUIOTLB *t, uint32_t domain,
                             uint64_t iova, uint64_t *gpa, uint32_t *perms)
{
    uint64_t page = iova & ~(t->page_size - 1);
    VirtIOMMUIOTLBEntry *e = virt_iommu_iotlb_slot(t, domain, page);

    if (e->domain != domain || e->iova != page) {
        t->misses++;
        return false;
    }
    t->hits++;
    *gpa = e->gpa + (iova - page);
    *perms = e->perms;
    return true;
}

void virt_iommu_iotlb_insert(VirtIOMMUIOTLB *t, uint32_t domain,
                             uint64_t iova, uint64_t gpa, uint32_t perms)
{
    uint64_t mask = t->page_size - 1;
    VirtIOMMUIOTLBEntry *e = virt_iommu_iotlb_slot(t, domain, iova & ~mask);

    *e = (VirtIOMMUIOTLBEntry) {
        .iova = iova & ~mask,
        .gpa = gpa & ~mask,
        .domain = domain,
        .perms = perms,
    };
}

bool virt_iommu_iotlb_mark_stale(VirtIOMMUIOTLB *t, uint32_t domain,
                                 uint64_t iova)
{
    uint64_t page = iova & ~(t->page_size - 1);
    VirtIOMMUIOTLBEntry *e = virt_iommu_iotlb_slot(t, domain, page);

    if (e->domain != domain || e->iova != page || e->stale_reported) {
        return false;
    }
    e->stale_reported = true;
    return true;
}

void virt_iommu_iotlb_invalidate(VirtIOMMUIOTLB *t, uint32_t domain,
                                 uint64_t first, uint64_t last)
{
    uint64_t mask = t->page_size - 1;
    uint64_t pages = ((last | mask) - (first & ~mask)) / t->page_size + 1;
    uint64_t dropped = 0;

    /*
     * A range of one domain smaller than the IOTLB (every strict UNMAP
     * of a driver's buffer): look only at the slots its pages hash to,
     * instead of scanning every entry.
     */
    if (domain && last >= first && pages < t->size) {
        for (uint64_t p = first & ~mask; pages--; p += t->page_size) {
            VirtIOMMUIOTLBEntry *e = virt_iommu_iotlb_slot(t, domain, p);

            if (e->domain == domain && e->iova == p) {
                e->domain = 0;
                dropped++;
            }
        }
        t->invalidations += dropped;
        trace_virt_iommu_iotlb_invalidate(domain, first, last, dropped);
        return;
    }
    for (uint32_t i = 0; i < t->size; i++) {
        VirtIOMMUIOTLBEntry *e = &t->entries[i];

        if (e->domain && (!domain || e->domain == domain) &&
            e->iova >= (first & ~(t->page_size - 1)) && e->iova <= last) {
            e->domain = 0;
            dropped++;
        }
    }
    t->invalidations += dropped;
    trace_virt_iommu_iotlb_invalidate(domain, first, last, dropped);
}
