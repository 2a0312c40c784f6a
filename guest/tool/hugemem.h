/*
 * Guest memory with known guest-physical addresses, from user space
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HUGEMEM_H
#define HUGEMEM_H

#include <stddef.h>
#include <stdint.h>

/* A piece of memory as the CPU sees it and as a bus master addresses it. */
struct dmabuf {
    volatile void *va;
    uint64_t gpa;
    size_t len;
};

/*
 * Map @npages huge pages (the default huge page size, 2 MiB on x86), pin
 * them and learn their guest-physical addresses from /proc/self/pagemap.
 * Returns 0, or -1 with a message on stderr.
 */
int hugemem_init(unsigned npages);

/* Huge page size and count actually mapped. */
size_t hugemem_page_size(void);
unsigned hugemem_pages(void);

/*
 * Carve @len bytes aligned to @align (a power of two, at most the huge
 * page size) out of the mapped pages, zeroed; never crossing a huge page,
 * so the range is physically contiguous.  Returns 0 or -1 (exhausted).
 * There is no free: the demo carves what it needs per step and calls
 * hugemem_reset() between steps, which frees everything carved since the
 * last hugemem_keep() (the IOMMU's queues are kept for the whole run).
 */
int hugemem_alloc(size_t len, size_t align, struct dmabuf *buf);
void hugemem_keep(void);
void hugemem_reset(void);

#endif /* HUGEMEM_H */
