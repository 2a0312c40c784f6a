/*
 * libqos driver for dma-testdev, the SR-IOV PCIe DMA test endpoint
 *
 * Maps BAR0 of the PF or of a VF, runs single operations and descriptor
 * rings, and switches VFs on and off through the PF's SR-IOV capability
 * (reached with pcie-ecam.h), using the ABI of hw/iommu/dma-testdev-regs.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_DMA_TESTDEV_H
#define QOS_DMA_TESTDEV_H

#include "libqos-malloc.h"
#include "pci.h"
#include "hw/iommu/dma-testdev-regs.h"

typedef struct QDmaTestdev {
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t bar_addr;      /* bus address of BAR0 */
} QDmaTestdev;

/*
 * The PF and what the driver knows of its SR-IOV capability.  VF BAR0s
 * get one window of TotalVFs * 4 KiB, allocated from the libqos MMIO
 * range the first time VFs are enabled and kept for the PF's life.
 */
typedef struct QDmaTestdevPF {
    QDmaTestdev fn;
    uint16_t sriov;         /* offset of the SR-IOV capability */
    uint16_t total_vfs;
    uint16_t vf_offset;
    uint16_t vf_stride;
    uint64_t vf_bar_base;   /* 0 until assigned */
} QDmaTestdevPF;

/*
 * Finds the PF at @devfn on @bus, enables memory decoding and bus
 * mastering, maps BAR0 and reads its SR-IOV capability through ECAM
 * (enabling ECAM on the way).  Release with qdma_testdev_pf_cleanup().
 */
void qdma_testdev_pf_init(QDmaTestdevPF *pf, QPCIBus *bus, int devfn);
void qdma_testdev_pf_cleanup(QDmaTestdevPF *pf);

uint32_t qdma_testdev_readl(QDmaTestdev *d, uint32_t reg);
uint64_t qdma_testdev_readq(QDmaTestdev *d, uint32_t reg);
void qdma_testdev_writel(QDmaTestdev *d, uint32_t reg, uint32_t value);
void qdma_testdev_writeq(QDmaTestdev *d, uint32_t reg, uint64_t value);

/*
 * Programs one operation, rings DB_OP and returns the ERROR register.
 * Asserts that STATUS is DONE when ERROR is NONE and ERROR otherwise.
 */
uint32_t qdma_testdev_run(QDmaTestdev *d, uint32_t op, uint64_t src,
                          uint64_t dst, uint32_t len, uint32_t pattern);

/*
 * Writes @n descriptors into a fresh ring of @size entries allocated
 * from @alloc, rings DB_RING until HEAD reaches TAIL (the device does at
 * most RING_BUDGET per doorbell) or an error stops it, and copies the
 * written-back descriptors into @descs.  Returns the ERROR register.
 * @n must be below @size.
 */
uint32_t qdma_testdev_run_ring(QDmaTestdev *d, QGuestAllocator *alloc,
                               uint32_t size, DmaTestdevDesc *descs,
                               uint32_t n);

/*
 * The same on a ring the caller provides: @size * 64 bytes at @gpa that
 * the device reaches at bus address @bus_addr (an IOVA behind an IOMMU
 * that translates, else @gpa).
 */
uint32_t qdma_testdev_run_ring_at(QDmaTestdev *d, uint64_t gpa,
                                  uint64_t bus_addr, uint32_t size,
                                  DmaTestdevDesc *descs, uint32_t n);

/* SR-IOV control, through the PF's capability in extended config space */
uint16_t qdma_testdev_sriov_readw(QDmaTestdevPF *pf, uint16_t reg);
void qdma_testdev_sriov_writew(QDmaTestdevPF *pf, uint16_t reg,
                               uint16_t value);
/* Routing ID of VF @index (bus << 8 | devfn, as libqos takes devfn) */
int qdma_testdev_vf_devfn(QDmaTestdevPF *pf, uint16_t index);

/*
 * Assigns the VF BAR0 window if not done yet, sets NumVFs to @num_vfs and
 * sets VF Enable and VF MSE.
 */
void qdma_testdev_vfs_enable(QDmaTestdevPF *pf, uint16_t num_vfs);
/* Clears VF Enable and sets NumVFs back to 0. */
void qdma_testdev_vfs_disable(QDmaTestdevPF *pf);

/*
 * Sets up @vf as VF @index of @pf (which must be enabled): enables its
 * memory decoding and bus mastering; BAR0 is at the VF BAR window plus
 * @index * 4 KiB, as the SR-IOV capability places it.
 */
void qdma_testdev_vf_init(QDmaTestdev *vf, QDmaTestdevPF *pf,
                          uint16_t index);
void qdma_testdev_vf_cleanup(QDmaTestdev *vf);

/*
 * Enables MSI-X with vector 0 unmasked and aimed at guest memory: a
 * completion interrupt then shows up as @data written at @addr.
 */
void qdma_testdev_msix_setup(QDmaTestdev *d, uint64_t addr, uint32_t data);

#endif /* QOS_DMA_TESTDEV_H */
