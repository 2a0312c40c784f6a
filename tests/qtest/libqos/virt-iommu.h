/*
 * libqos driver for virt-iommu
 *
 * Finds the device on a PCI bus, enables it and maps BAR0; register
 * accessors use the offsets of hw/iommu/virt-iommu-regs.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_VIRT_IOMMU_H
#define QOS_VIRT_IOMMU_H

#include "pci.h"
#include "hw/iommu/virt-iommu-regs.h"

typedef struct QVirtIOMMU {
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t bar_size;      /* bytes, as sized by the BAR probe */
} QVirtIOMMU;

/*
 * Finds virt-iommu at @devfn on @bus, enables memory decoding and bus
 * mastering and maps BAR0.  Fails the test if no function is there.
 * Release with qvirt_iommu_cleanup().
 */
void qvirt_iommu_init(QVirtIOMMU *v, QPCIBus *bus, int devfn);
void qvirt_iommu_cleanup(QVirtIOMMU *v);

uint32_t qvirt_iommu_readl(QVirtIOMMU *v, uint32_t offset);
uint64_t qvirt_iommu_readq(QVirtIOMMU *v, uint32_t offset);
void qvirt_iommu_writel(QVirtIOMMU *v, uint32_t offset, uint32_t value);

#endif /* QOS_VIRT_IOMMU_H */
