/*
 * dma-testdev from user space: one function's register block and ring
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef DMATEST_H
#define DMATEST_H

#include "hugemem.h"
#include "pci-sysfs.h"
#include "hw/iommu/dma-testdev-regs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dmadev {
    struct pci_func fn;
    volatile uint32_t *bar;
    size_t bar_len;
    uint16_t rid;
};

/*
 * Enable the function at @addr, make it bus master, map its BAR0 and check
 * MAGIC.  Returns 0, or -1 with a message on stdout.
 */
int dmadev_open(struct dmadev *d, const char *addr);
/* Unmap BAR0 and disable the function (decoding and bus master off). */
void dmadev_close(struct dmadev *d);

uint32_t dmadev_rd32(struct dmadev *d, unsigned off);
uint64_t dmadev_rd64(struct dmadev *d, unsigned off);

/*
 * One operation through the DB_OP doorbell.  Returns the ERROR register
 * (0: done); *fault_addr gets FAULT_ADDR.
 */
uint32_t dmadev_run(struct dmadev *d, uint32_t op, uint64_t src,
                    uint64_t dst, uint32_t len, uint32_t pattern,
                    uint64_t *fault_addr);

/*
 * Run @n descriptors (n < ring entries) through the ring at @ring, whose
 * bus address is @ring_bus, from index 0.  The descriptors' status and
 * result are written back into @descs.  Returns the ERROR register.
 */
uint32_t dmadev_ring(struct dmadev *d, const struct dmabuf *ring,
                     uint64_t ring_bus, unsigned entries,
                     DmaTestdevDesc *descs, unsigned n);

/* CRC-32C as the device computes it (check value 0xe3069283). */
uint32_t crc32c(const volatile uint8_t *p, size_t len);

#endif /* DMATEST_H */
