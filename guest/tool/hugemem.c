/*
 * Guest memory with known guest-physical addresses, from user space
 *
 * The demo has no kernel driver, so it needs memory that (a) stays where it
 * is while devices DMA into it and (b) whose guest-physical address it can
 * tell the IOMMU.  Huge pages give both: the kernel command line reserves
 * them at boot (hugepages=N), a MAP_HUGETLB mapping is never swapped,
 * migrated or split, and each 2 MiB page is physically contiguous, so one
 * lookup in /proc/self/pagemap (root only: other users read PFN 0) gives
 * the address of every byte in it.  MAP_POPULATE faults the pages in
 * before we ask, since pagemap reports only present pages.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "hugemem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGEMAP_PRESENT     (1ull << 63)
#define PAGEMAP_PFN_MASK    ((1ull << 55) - 1)
#define MAX_PAGES           64

static struct {
    uint8_t *va;
    uint64_t gpa;
} pages[MAX_PAGES];
static unsigned npages_mapped;
static size_t hpage_size;
static unsigned cur_page, base_page;
static size_t cur_off, base_off;

/* "Hugepagesize:     2048 kB" from /proc/meminfo; 2 MiB if absent. */
static size_t read_hpage_size(void)
{
    char line[128];
    unsigned long kb = 2048;
    FILE *f = fopen("/proc/meminfo", "r");

    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1) {
                break;
            }
        }
        fclose(f);
    }
    return (size_t)kb << 10;
}

static int virt_to_phys(int fd, const void *va, uint64_t *gpa)
{
    long psize = sysconf(_SC_PAGESIZE);
    uint64_t entry;
    off_t off = (uintptr_t)va / psize * sizeof(entry);

    if (pread(fd, &entry, sizeof(entry), off) != sizeof(entry)) {
        return -1;
    }
    if (!(entry & PAGEMAP_PRESENT) || !(entry & PAGEMAP_PFN_MASK)) {
        return -1;
    }
    *gpa = (entry & PAGEMAP_PFN_MASK) * psize;
    return 0;
}

int hugemem_init(unsigned npages)
{
    uint8_t *va;
    int fd;

    if (npages == 0 || npages > MAX_PAGES) {
        fprintf(stderr, "hugemem: %u pages: 1..%u\n", npages, MAX_PAGES);
        return -1;
    }
    hpage_size = read_hpage_size();
    va = mmap(NULL, npages * hpage_size, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE |
              MAP_LOCKED, -1, 0);
    if (va == MAP_FAILED) {
        fprintf(stderr, "hugemem: mmap of %u huge pages: %s (is hugepages=N "
                "on the kernel command line?)\n", npages, strerror(errno));
        return -1;
    }
    fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "hugemem: /proc/self/pagemap: %s\n", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < npages; i++) {
        pages[i].va = va + i * hpage_size;
        /* Touch it, as MAP_POPULATE may be ignored when memory is short. */
        pages[i].va[0] = 0;
        if (virt_to_phys(fd, pages[i].va, &pages[i].gpa) < 0 ||
            pages[i].gpa % hpage_size) {
            fprintf(stderr, "hugemem: no guest-physical address for huge "
                    "page %u (not root?)\n", i);
            close(fd);
            return -1;
        }
    }
    close(fd);
    npages_mapped = npages;
    base_page = 0;
    base_off = 0;
    hugemem_reset();
    return 0;
}

size_t hugemem_page_size(void)
{
    return hpage_size;
}

unsigned hugemem_pages(void)
{
    return npages_mapped;
}

int hugemem_alloc(size_t len, size_t align, struct dmabuf *buf)
{
    if (len == 0 || len > hpage_size || align > hpage_size ||
        (align & (align - 1))) {
        return -1;
    }
    while (cur_page < npages_mapped) {
        size_t off = (cur_off + align - 1) & ~(align - 1);

        if (off + len <= hpage_size) {
            buf->va = pages[cur_page].va + off;
            buf->gpa = pages[cur_page].gpa + off;
            buf->len = len;
            memset((void *)buf->va, 0, len);
            cur_off = off + len;
            return 0;
        }
        cur_page++;
        cur_off = 0;
    }
    return -1;
}

void hugemem_keep(void)
{
    base_page = cur_page;
    base_off = cur_off;
}

void hugemem_reset(void)
{
    cur_page = base_page;
    cur_off = base_off;
}
