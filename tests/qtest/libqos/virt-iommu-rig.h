/*
 * libqos: virt-iommu and a dma-testdev PF on q35, ready for DMA tests
 *
 * The start and stop that the device tests share: a machine with
 * virt-iommu at 04.0 and dma-testdev at 06.0, both found and enabled,
 * the IOMMU's queues running, and a guest allocator for the tests' rings
 * and buffers.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_VIRT_IOMMU_RIG_H
#define QOS_VIRT_IOMMU_RIG_H

#include "libqos-malloc.h"
#include "pci-pc.h"
#include "virt-iommu.h"
#include "dma-testdev.h"

#define QVIRT_IOMMU_RIG_IOMMU_DEVFN QPCI_DEVFN(4, 0)
#define QVIRT_IOMMU_RIG_PF_DEVFN    QPCI_DEVFN(6, 0)

typedef struct QVirtIOMMURig {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    QVirtIOMMU iommu;
    QDmaTestdevPF pf;
} QVirtIOMMURig;

/*
 * Starts QEMU with "-M q35 -m 256M -nodefaults" and @args, which must
 * place -device virt-iommu at 04.0 and -device dma-testdev at 06.0;
 * finds both, and starts the IOMMU with rings of 2^@cmdq_log2 commands
 * and 2^@evtq_log2 events and CONTROL @control.  Fails the test if a
 * device is missing.  Release with qvirt_iommu_rig_stop().
 */
void qvirt_iommu_rig_start(QVirtIOMMURig *r, const char *args,
                           uint32_t cmdq_log2, uint32_t evtq_log2,
                           uint32_t control);

/*
 * Asserts that no event record is pending (a test that expects events
 * reads them first), then releases everything and quits QEMU.
 */
void qvirt_iommu_rig_stop(QVirtIOMMURig *r);

#endif /* QOS_VIRT_IOMMU_RIG_H */
