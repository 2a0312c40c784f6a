/*
 * virt-iommu: the IOTLB
 *
 * A small direct-mapped cache of page translations keyed by (domain, IOVA
 * page), in front of every DMA and DMA_FQ domain's mappings.  A bottom
 * layer: it knows nothing of domains beyond their IDs.  BQL held.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_IOTLB_H
#define HW_IOMMU_VIRT_IOMMU_IOTLB_H

/* One cached translation of one page */
typedef struct VirtIOMMUIOTLBEntry {
    uint64_t iova;              /* page-aligned */
    uint64_t gpa;               /* page-aligned */
    uint32_t domain;            /* 0: entry unused */
    uint16_t perms;             /* VIRT_IOMMU_PERM_* */
    bool stale_reported;        /* strict-checks reported it once */
} VirtIOMMUIOTLBEntry;

typedef struct VirtIOMMUIOTLB {
    VirtIOMMUIOTLBEntry *entries; /* [size] */
    uint32_t size;              /* entries, 1..65536 */
    uint64_t page_size;         /* bytes, a power of two */
    uint64_t hits;
    uint64_t misses;
    uint64_t invalidations;     /* entries dropped */
} VirtIOMMUIOTLB;

/* Allocates @size empty entries for pages of @page_size bytes. */
void virt_iommu_iotlb_init(VirtIOMMUIOTLB *t, uint32_t size,
                           uint64_t page_size);
/* Drops every entry and zeroes the counters. */
void virt_iommu_iotlb_reset(VirtIOMMUIOTLB *t);
/* Frees the entries; @t may be zero-filled (never initialised). */
void virt_iommu_iotlb_destroy(VirtIOMMUIOTLB *t);

/* Looks up the page holding @iova of @domain; true on a hit. */
bool virt_iommu_iotlb_lookup(VirtIOMMUIOTLB *t, uint32_t domain,
                             uint64_t iova, uint64_t *gpa, uint32_t *perms);
/* Caches the translation of the page holding @iova. */
void virt_iommu_iotlb_insert(VirtIOMMUIOTLB *t, uint32_t domain,
                             uint64_t iova, uint64_t gpa, uint32_t perms);
/*
 * Marks the entry of @domain holding @iova as reported stale; true if it
 * exists and was not marked before.
 */
bool virt_iommu_iotlb_mark_stale(VirtIOMMUIOTLB *t, uint32_t domain,
                                 uint64_t iova);
/*
 * Drops the entries of @domain (every domain if 0) whose page lies in
 * [@first, @last] (bytes, inclusive).
 */
void virt_iommu_iotlb_invalidate(VirtIOMMUIOTLB *t, uint32_t domain,
                                 uint64_t first, uint64_t last);

#endif /* HW_IOMMU_VIRT_IOMMU_IOTLB_H */
