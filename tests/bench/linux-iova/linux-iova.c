// SPDX-License-Identifier: GPL-2.0-or-later
/* Set-up and slow-path wrapper around Linux's iova.c (linux-iova.h). */
#include <linux/iova.h>
#include <linux/slab.h>

#include "linux-iova.h"

struct iova_domain *linux_iova_domain_new(unsigned long granule,
                                          unsigned long start_pfn)
{
    struct iova_domain *iovad;

    if (iova_cache_get() != 0) {
        return NULL;
    }
    iovad = kcalloc(1, sizeof(*iovad), GFP_KERNEL);
    if (!iovad) {
        iova_cache_put();
        return NULL;
    }
    init_iova_domain(iovad, granule, start_pfn);
    if (iova_domain_init_rcaches(iovad) != 0) {
        put_iova_domain(iovad);
        kfree(iovad);
        iova_cache_put();
        return NULL;
    }
    return iovad;
}

void linux_iova_domain_free(struct iova_domain *iovad)
{
    if (iovad) {
        put_iova_domain(iovad);
        kfree(iovad);
        iova_cache_put();
    }
}

unsigned long linux_iova_alloc(struct iova_domain *iovad, unsigned long size,
                               unsigned long limit_pfn, bool size_aligned)
{
    struct iova *iova = alloc_iova(iovad, size, limit_pfn, size_aligned);

    return iova ? iova->pfn_lo : 0;
}
