/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux's IOVA allocator (drivers/iommu/iova.c, built unmodified over the
 * kernel shim in shim/) as the benchmark calls it, from C or C++.
 *
 * The fast path and the tree free are iova.c's own exported functions,
 * declared here with their kernel signatures and called directly, so that
 * Linux's fast path pays no wrapper call that virt-iommu's does not.  The
 * rest is set-up and a slow-path wrapper (linux-iova.c) that returns the
 * pfn instead of the struct iova.  pfns and sizes are in granules; limits
 * are inclusive pfns.
 */
#ifndef LINUX_IOVA_BENCH_H
#define LINUX_IOVA_BENCH_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iova_domain;

/* iova.c's own (kernel signatures). */
unsigned long alloc_iova_fast(struct iova_domain *iovad, unsigned long size,
                              unsigned long limit_pfn, bool flush_rcache);
void free_iova_fast(struct iova_domain *iovad, unsigned long pfn,
                    unsigned long size);
void free_iova(struct iova_domain *iovad, unsigned long pfn);

/*
 * A domain with rcaches, as dma-iommu sets one up (iova_cache_get,
 * init_iova_domain, iova_domain_init_rcaches); granule in bytes, at most
 * PAGE_SIZE (4 KiB).  NULL when out of memory.  kshim_init() first.
 */
struct iova_domain *linux_iova_domain_new(unsigned long granule,
                                          unsigned long start_pfn);
/* put_iova_domain, free, iova_cache_put; NULL is allowed. */
void linux_iova_domain_free(struct iova_domain *iovad);
/* alloc_iova(): the first pfn of the new range, 0 when none fits. */
unsigned long linux_iova_alloc(struct iova_domain *iovad, unsigned long size,
                               unsigned long limit_pfn, bool size_aligned);

#ifdef __cplusplus
}
#endif

#endif
