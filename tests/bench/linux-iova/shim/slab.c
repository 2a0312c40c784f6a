// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kernel shim: kmem_cache (linux/slab.h).  Slots are carved in order from
 * chunks of kChunkBytes and recycled through a LIFO free list threaded
 * through the free slots, as SLUB threads its free lists.
 */
#include <stdlib.h>
#include <string.h>

#include <linux/kernel.h>
#include <linux/slab.h>

enum { kChunkBytes = 256 * 1024 };

struct kshim_chunk {
    struct kshim_chunk *next;
};

struct kmem_cache {
    spinlock_t lock;
    size_t slot;               /* bytes per object, a multiple of align */
    size_t align;              /* bytes */
    void *free;                /* free list, linked through the slots */
    char *carve, *carve_end;   /* unused tail of the newest chunk */
    struct kshim_chunk *chunks; /* every chunk, for destroy */
};

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
                                     unsigned int align, unsigned int flags,
                                     void (*ctor)(void *))
{
    struct kmem_cache *c = calloc(1, sizeof(*c));

    (void)name;
    BUG_ON(ctor != NULL);
    if (!c) {
        return NULL;
    }
    c->align = align ? align : sizeof(void *);
    if ((flags & SLAB_HWCACHE_ALIGN) && c->align < KSHIM_CACHE_LINE) {
        c->align = KSHIM_CACHE_LINE;
    }
    c->slot = (size + c->align - 1) / c->align * c->align;
    spin_lock_init(&c->lock);
    return c;
}

void kmem_cache_destroy(struct kmem_cache *cache)
{
    if (!cache) {
        return;
    }
    while (cache->chunks) {
        struct kshim_chunk *next = cache->chunks->next;

        free(cache->chunks);
        cache->chunks = next;
    }
    free(cache);
}

/* A new chunk; its first alignment unit holds the chunk list link. */
static bool add_chunk(struct kmem_cache *c)
{
    const size_t bytes = kChunkBytes > c->slot * 4 ? kChunkBytes : c->slot * 4;
    const size_t head = c->align > sizeof(struct kshim_chunk)
                            ? c->align : sizeof(struct kshim_chunk);
    struct kshim_chunk *chunk = aligned_alloc(c->align, head + bytes);

    if (!chunk) {
        return false;
    }
    chunk->next = c->chunks;
    c->chunks = chunk;
    c->carve = (char *)chunk + head;
    c->carve_end = c->carve + bytes / c->slot * c->slot;
    return true;
}

void *kmem_cache_alloc(struct kmem_cache *cache, gfp_t flags)
{
    void *obj = NULL;

    (void)flags;
    spin_lock(&cache->lock);
    if (cache->free) {
        obj = cache->free;
        cache->free = *(void **)obj;
    } else if (cache->carve != cache->carve_end || add_chunk(cache)) {
        obj = cache->carve;
        cache->carve += cache->slot;
    }
    spin_unlock(&cache->lock);
    return obj;
}

void *kmem_cache_zalloc(struct kmem_cache *cache, gfp_t flags)
{
    void *obj = kmem_cache_alloc(cache, flags);

    if (obj) {
        memset(obj, 0, cache->slot);
    }
    return obj;
}

void kmem_cache_free(struct kmem_cache *cache, void *obj)
{
    spin_lock(&cache->lock);
    *(void **)obj = cache->free;
    cache->free = obj;
    spin_unlock(&cache->lock);
}
