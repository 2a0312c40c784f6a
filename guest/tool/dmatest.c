/*
 * dma-testdev from user space: one function's register block and ring
 *
 * The PF and every VF carry the same register block in BAR0, which sysfs
 * lets us map (resource0) as long as no kernel driver claims the region;
 * pci-pf-stub, bound to the PF for SR-IOV, claims none.  Work is
 * synchronous with the doorbell write (docs/specs/dma-testdev.rst), so
 * STATUS is final when the write returns and polling is never needed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "dmatest.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

uint32_t dmadev_rd32(struct dmadev *d, unsigned off)
{
    return le32toh(d->bar[off / 4]);
}

uint64_t dmadev_rd64(struct dmadev *d, unsigned off)
{
    uint64_t lo = dmadev_rd32(d, off);

    return lo | (uint64_t)dmadev_rd32(d, off + 4) << 32;
}

static void wr32(struct dmadev *d, unsigned off, uint32_t val)
{
    d->bar[off / 4] = htole32(val);
}

static void wr64(struct dmadev *d, unsigned off, uint64_t val)
{
    wr32(d, off, val);
    wr32(d, off + 4, val >> 32);
}

int dmadev_open(struct dmadev *d, const char *addr)
{
    uint32_t magic;

    memset(d, 0, sizeof(*d));
    if (pci_func_at(addr, &d->fn) < 0) {
        printf("     %s: not in sysfs\n", addr);
        return -1;
    }
    d->rid = pci_rid(&d->fn);
    /*
     * The enable file refuses (EBUSY) a function with a driver, such as
     * the PF under pci-pf-stub; the Command register written below turns
     * on decoding and bus mastering all the same.
     */
    if ((pci_enable(&d->fn) < 0 && errno != EBUSY) ||
        pci_set_master(&d->fn) < 0) {
        printf("     %s: enable or bus master: %s\n", addr, strerror(errno));
        return -1;
    }
    d->bar = pci_map_bar0(&d->fn, &d->bar_len);
    if (!d->bar) {
        printf("     %s: map resource0: %s\n", addr, strerror(errno));
        return -1;
    }
    magic = dmadev_rd32(d, DMA_TESTDEV_REG_MAGIC);
    if (magic != DMA_TESTDEV_MAGIC) {
        printf("     %s: magic 0x%08x, expected 0x%08x\n", addr, magic,
               DMA_TESTDEV_MAGIC);
        dmadev_close(d);
        return -1;
    }
    return 0;
}

void dmadev_close(struct dmadev *d)
{
    if (d->bar) {
        pci_unmap_bar0(d->bar, d->bar_len);
        d->bar = NULL;
        pci_disable(&d->fn);
    }
}

uint32_t dmadev_run(struct dmadev *d, uint32_t op, uint64_t src,
                    uint64_t dst, uint32_t len, uint32_t pattern,
                    uint64_t *fault_addr)
{
    wr64(d, DMA_TESTDEV_REG_SRC, src);
    wr64(d, DMA_TESTDEV_REG_DST, dst);
    wr32(d, DMA_TESTDEV_REG_LEN, len);
    wr32(d, DMA_TESTDEV_REG_OP, op);
    wr32(d, DMA_TESTDEV_REG_PATTERN, pattern);
    __sync_synchronize();
    wr32(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_OP);
    __sync_synchronize();
    if (fault_addr) {
        *fault_addr = dmadev_rd64(d, DMA_TESTDEV_REG_FAULT_ADDR);
    }
    if (dmadev_rd32(d, DMA_TESTDEV_REG_STATUS) == DMA_TESTDEV_ST_DONE) {
        return DMA_TESTDEV_ERR_NONE;
    }
    return dmadev_rd32(d, DMA_TESTDEV_REG_ERROR) ?: 0xff;
}

uint32_t dmadev_ring(struct dmadev *d, const struct dmabuf *ring,
                     uint64_t ring_bus, unsigned entries,
                     DmaTestdevDesc *descs, unsigned n)
{
    volatile DmaTestdevDesc *slot = ring->va;
    uint32_t err;

    for (unsigned i = 0; i < n; i++) {
        slot[i].op = htole32(descs[i].op);
        slot[i].flags = htole32(descs[i].flags);
        slot[i].src = htole64(descs[i].src);
        slot[i].dst = htole64(descs[i].dst);
        slot[i].len = htole32(descs[i].len);
        slot[i].pattern = htole32(descs[i].pattern);
        slot[i].status = 0;
        slot[i].result = 0;
    }
    __sync_synchronize();
    wr64(d, DMA_TESTDEV_REG_RING_BASE, ring_bus);
    wr32(d, DMA_TESTDEV_REG_RING_SIZE, entries);
    wr32(d, DMA_TESTDEV_REG_RING_HEAD, 0);
    wr32(d, DMA_TESTDEV_REG_RING_TAIL, n);
    wr32(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
    __sync_synchronize();
    err = dmadev_rd32(d, DMA_TESTDEV_REG_STATUS) == DMA_TESTDEV_ST_DONE ?
          0 : (dmadev_rd32(d, DMA_TESTDEV_REG_ERROR) ?: 0xff);
    for (unsigned i = 0; i < n; i++) {
        descs[i].status = le32toh(slot[i].status);
        descs[i].result = le64toh(slot[i].result);
    }
    return err;
}

uint32_t crc32c(const volatile uint8_t *p, size_t len)
{
    static uint32_t table[256];
    uint32_t crc = 0xffffffffu;

    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;

            for (int k = 0; k < 8; k++) {
                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            }
            table[i] = c;
        }
    }
    for (size_t i = 0; i < len; i++) {
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return crc ^ 0xffffffffu;
}
