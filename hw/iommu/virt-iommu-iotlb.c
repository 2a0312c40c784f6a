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
#include "hw/iommu/virt-iommu.h"
#include "trace.h"

static VirtIOMMUIOTLBEntry *virt_iommu_iotlb_slot(VirtIOMMUState *s,
                                                  uint32_t domain,
                                                  uint64_t page)
{
    uint64_t key = (page >> ctz64(s->page_size)) ^
                   ((uint64_t)domain * 0x9e3779b1);

    /* A mask instead of a division for the usual power-of-two sizes */
    if (is_power_of_2(s->iotlb_size)) {
        return &s->iotlb[key & (s->iotlb_size - 1)];
    }
    return &s->iotlb[key % s->iotlb_size];
}

bool virt_iommu_iotlb_lookup(VirtIOMMUState *s, uint32_t domain,
                             uint64_t iova, uint64_t *gpa, uint32_t *perms)
{
    uint64_t page = iova & ~(s->page_size - 1);
    VirtIOMMUIOTLBEntry *e = virt_iommu_iotlb_slot(s, domain, page);

    if (e->domain != domain || e->iova != page) {
        s->counters.iotlb_misses++;
        return false;
    }
    s->counters.iotlb_hits++;
    *gpa = e->gpa + (iova - page);
    *perms = e->perms;
    return true;
}

void virt_iommu_iotlb_insert(VirtIOMMUState *s, uint32_t domain,
                             uint64_t iova, uint64_t gpa, uint32_t perms)
{
    uint64_t mask = s->page_size - 1;
    VirtIOMMUIOTLBEntry *e = virt_iommu_iotlb_slot(s, domain, iova & ~mask);

    *e = (VirtIOMMUIOTLBEntry) {
        .iova = iova & ~mask,
        .gpa = gpa & ~mask,
        .domain = domain,
        .perms = perms,
    };
}

void virt_iommu_iotlb_invalidate(VirtIOMMUState *s, uint32_t domain,
                                 uint64_t first, uint64_t last)
{
    uint64_t mask = s->page_size - 1;
    uint64_t pages = ((last | mask) - (first & ~mask)) / s->page_size + 1;
    uint64_t dropped = 0;

    /*
     * A range of one domain smaller than the IOTLB (every strict UNMAP
     * of a driver's buffer): look only at the slots its pages hash to,
     * instead of scanning every entry.
     */
    if (domain && last >= first && pages < s->iotlb_size) {
        for (uint64_t p = first & ~mask; pages--; p += s->page_size) {
            VirtIOMMUIOTLBEntry *e = virt_iommu_iotlb_slot(s, domain, p);

            if (e->domain == domain && e->iova == p) {
                e->domain = 0;
                dropped++;
            }
        }
        s->counters.iotlb_invalidations += dropped;
        trace_virt_iommu_iotlb_invalidate(domain, first, last, dropped);
        return;
    }
    for (uint32_t i = 0; i < s->iotlb_size; i++) {
        VirtIOMMUIOTLBEntry *e = &s->iotlb[i];

        if (e->domain && (!domain || e->domain == domain) &&
            e->iova >= (first & ~(s->page_size - 1)) && e->iova <= last) {
            e->domain = 0;
            dropped++;
        }
    }
    s->counters.iotlb_invalidations += dropped;
    trace_virt_iommu_iotlb_invalidate(domain, first, last, dropped);
}
