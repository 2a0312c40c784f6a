/*
 * virt-iommu: rings in guest memory and the device's own DMA
 *
 * The bottom of the device: the command and event queues are both rings
 * of fixed-size entries that the device reads and writes through its own
 * bus-master address space, which it never translates itself.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_RING_H
#define HW_IOMMU_VIRT_IOMMU_RING_H

#include "exec/memory.h"

/* A ring in guest memory (see VIRT_IOMMU_REG_CMDQ_BASE) */
typedef struct VirtIOMMUQueue {
    uint64_t base;              /* guest-physical, bytes */
    uint32_t log2size;          /* log2 of entries */
    uint32_t head;              /* entry index */
    uint32_t tail;              /* entry index */
} VirtIOMMUQueue;

/*
 * True if @q's base and size are usable for entries of @entry bytes: at
 * least two entries (one slot always stays empty), at most
 * VIRT_IOMMU_QUEUE_MAX_LOG2, the base aligned to the ring's size (at least
 * 4 KiB).
 */
bool virt_iommu_queue_config_ok(const VirtIOMMUQueue *q, size_t entry);

/* The mask that wraps an entry index of @q. */
static inline uint32_t virt_iommu_queue_mask(const VirtIOMMUQueue *q)
{
    return (1u << q->log2size) - 1;
}

/*
 * Reads or writes @len bytes at guest-physical @addr through @as, the
 * device's bus-master address space, only where that is RAM: a guest that
 * points a ring at MMIO (the device's own registers included) gets
 * MEMTX_DECODE_ERROR instead of device registers written from inside the
 * command or translation path.  BQL held.
 */
MemTxResult virt_iommu_ram_read(AddressSpace *as, uint64_t addr, void *buf,
                                uint64_t len);
MemTxResult virt_iommu_ram_write(AddressSpace *as, uint64_t addr,
                                 const void *buf, uint64_t len);

/*
 * A ring held mapped for the length of one batch of the device's accesses
 * to it (a doorbell's commands): when the whole ring is RAM in one block
 * of host memory, an entry is read and written through @host, without
 * the two address space lookups that each virt_iommu_ram_read() or
 * virt_iommu_ram_write() makes; else @host is NULL and every access takes
 * those checked paths.  Map and unmap within one BQL section: nothing
 * changes the memory map in between.
 */
typedef struct VirtIOMMURingMap {
    AddressSpace *as;
    uint64_t base;              /* guest-physical, bytes */
    uint8_t *host;              /* the ring, or NULL */
    hwaddr len;                 /* bytes mapped */
    bool written;
} VirtIOMMURingMap;

/* Maps @q, of entries of @entry bytes, through @as (see above). */
void virt_iommu_ring_map(VirtIOMMURingMap *m, AddressSpace *as,
                         const VirtIOMMUQueue *q, size_t entry);
/* Ends the mapping; what was written is marked dirty (migration, TCG). */
void virt_iommu_ring_unmap(VirtIOMMURingMap *m);

/*
 * As virt_iommu_ram_read() and virt_iommu_ram_write(), for @len bytes at
 * guest-physical @addr inside the ring @m maps (or anywhere, unmapped).
 */
MemTxResult virt_iommu_ring_read(const VirtIOMMURingMap *m, uint64_t addr,
                                 void *buf, uint64_t len);
MemTxResult virt_iommu_ring_write(VirtIOMMURingMap *m, uint64_t addr,
                                  const void *buf, uint64_t len);

#endif /* HW_IOMMU_VIRT_IOMMU_RING_H */
