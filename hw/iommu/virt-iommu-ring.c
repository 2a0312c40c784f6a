/*
 * virt-iommu: rings in guest memory and the device's own DMA
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "system/dma.h"
#include "virt-iommu-ring.h"

bool virt_iommu_queue_config_ok(const VirtIOMMUQueue *q, size_t entry)
{
    uint64_t bytes;

    if (q->log2size < 1 || q->log2size > VIRT_IOMMU_QUEUE_MAX_LOG2) {
        return false;
    }
    bytes = entry << q->log2size;
    return !(q->base & (MAX(bytes, 4096) - 1));
}

static bool virt_iommu_is_ram(AddressSpace *as, uint64_t addr, uint64_t len,
                              bool is_write)
{
    if (addr + len - 1 < addr) {
        return false;
    }
    RCU_READ_LOCK_GUARD();
    while (len) {
        hwaddr xlat, l = len;
        MemoryRegion *mr = address_space_translate(as, addr, &xlat, &l,
                                                   is_write,
                                                   MEMTXATTRS_UNSPECIFIED);

        if (!memory_access_is_direct(mr, is_write, MEMTXATTRS_UNSPECIFIED)) {
            return false;
        }
        addr += l;
        len -= l;
    }
    return true;
}

MemTxResult virt_iommu_ram_read(AddressSpace *as, uint64_t addr, void *buf,
                                uint64_t len)
{
    if (!virt_iommu_is_ram(as, addr, len, false)) {
        return MEMTX_DECODE_ERROR;
    }
    return dma_memory_read(as, addr, buf, len, MEMTXATTRS_UNSPECIFIED);
}

MemTxResult virt_iommu_ram_write(AddressSpace *as, uint64_t addr,
                                 const void *buf, uint64_t len)
{
    if (!virt_iommu_is_ram(as, addr, len, true)) {
        return MEMTX_DECODE_ERROR;
    }
    return dma_memory_write(as, addr, buf, len, MEMTXATTRS_UNSPECIFIED);
}

void virt_iommu_ring_map(VirtIOMMURingMap *m, AddressSpace *as,
                         const VirtIOMMUQueue *q, size_t entry)
{
    hwaddr bytes = (hwaddr)entry << q->log2size;

    *m = (VirtIOMMURingMap) { .as = as, .base = q->base };
    if (!virt_iommu_is_ram(as, q->base, bytes, true)) {
        return;
    }
    m->len = bytes;
    m->host = address_space_map(as, q->base, &m->len, true,
                                MEMTXATTRS_UNSPECIFIED);
    if (m->host && m->len < bytes) {
        /* RAM, but not one block of host memory */
        address_space_unmap(as, m->host, m->len, true, 0);
        m->host = NULL;
    }
}

void virt_iommu_ring_unmap(VirtIOMMURingMap *m)
{
    if (m->host) {
        address_space_unmap(m->as, m->host, m->len, true,
                            m->written ? m->len : 0);
        m->host = NULL;
    }
}

static bool virt_iommu_ring_holds(const VirtIOMMURingMap *m, uint64_t addr,
                                  uint64_t len)
{
    return m->host && addr >= m->base && len <= m->len &&
           addr - m->base <= m->len - len;
}

MemTxResult virt_iommu_ring_read(const VirtIOMMURingMap *m, uint64_t addr,
                                 void *buf, uint64_t len)
{
    if (!virt_iommu_ring_holds(m, addr, len)) {
        return virt_iommu_ram_read(m->as, addr, buf, len);
    }
    memcpy(buf, m->host + (addr - m->base), len);
    return MEMTX_OK;
}

MemTxResult virt_iommu_ring_write(VirtIOMMURingMap *m, uint64_t addr,
                                  const void *buf, uint64_t len)
{
    if (!virt_iommu_ring_holds(m, addr, len)) {
        return virt_iommu_ram_write(m->as, addr, buf, len);
    }
    memcpy(m->host + (addr - m->base), buf, len);
    m->written = true;
    return MEMTX_OK;
}
