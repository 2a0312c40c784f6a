/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: the integer types Linux's iova.c and rbtree use, over the C
 * library's.  Part of the userspace build of drivers/iommu/iova.c for the
 * allocator comparison (tests/bench/linux-iova, docs/devel/performance.rst).
 */
#ifndef KSHIM_LINUX_TYPES_H
#define KSHIM_LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef uint64_t dma_addr_t;  /* bytes, as on a 64-bit kernel */
typedef unsigned int gfp_t;   /* allocation flags; the shim ignores them */

/* A hash-list link; iova_domain embeds one for the CPU-hotplug callback. */
struct hlist_node {
    struct hlist_node *next, **pprev;
};

#endif
