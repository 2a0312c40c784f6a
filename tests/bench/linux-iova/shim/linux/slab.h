/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: object caches and kmalloc.
 *
 * A kmem_cache hands out fixed-size slots carved from large chunks, kept
 * on a free list, laid out as SLUB lays them out: with SLAB_HWCACHE_ALIGN
 * a slot is a multiple of a cache line and starts on one (struct iova, 40
 * bytes, gets a 64-byte line of its own), so tree walks touch the same
 * number of cache lines as in the kernel.  The free list is behind one
 * spin lock (SLUB's fast path is a per-CPU list without a locked
 * instruction): a few ns more for Linux, paid only on its slow path and
 * when a magazine changes hands.
 */
#ifndef KSHIM_LINUX_SLAB_H
#define KSHIM_LINUX_SLAB_H

#include <stdlib.h>

#include <linux/percpu.h>
#include <linux/types.h>

#define GFP_KERNEL 0x1u
#define GFP_ATOMIC 0x2u
#define __GFP_NOWARN 0x4u

#define SLAB_HWCACHE_ALIGN 0x1u

#define KSHIM_CACHE_LINE 64 /* bytes */

struct kmem_cache;

/* size, align: bytes; flags: 0 or SLAB_HWCACHE_ALIGN; ctor unsupported. */
struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
                                     unsigned int align, unsigned int flags,
                                     void (*ctor)(void *));
/* Frees every slot at once; NULL is allowed. */
void kmem_cache_destroy(struct kmem_cache *cache);
void *kmem_cache_alloc(struct kmem_cache *cache, gfp_t flags);
void *kmem_cache_zalloc(struct kmem_cache *cache, gfp_t flags);
void kmem_cache_free(struct kmem_cache *cache, void *obj);

static inline void *kcalloc(size_t n, size_t size, gfp_t flags)
{
    (void)flags;
    return calloc(n, size);
}

static inline void kfree(const void *p)
{
    free((void *)p);
}

static inline int cache_line_size(void)
{
    return KSHIM_CACHE_LINE;
}

#endif
