/*
 * libqos: virt-iommu and a dma-testdev PF on q35, ready for DMA tests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "malloc-pc.h"
#include "virt-iommu-rig.h"

void qvirt_iommu_rig_start(QVirtIOMMURig *r, const char *args,
                           uint32_t cmdq_log2, uint32_t evtq_log2,
                           uint32_t control)
{
    r->qts = qtest_initf("-M q35 -m 256M -nodefaults %s", args);
    r->bus = qpci_new_pc(r->qts, NULL);
    pc_alloc_init(&r->alloc, r->qts, ALLOC_NO_FLAGS);
    qvirt_iommu_init(&r->iommu, r->bus, QVIRT_IOMMU_RIG_IOMMU_DEVFN);
    qdma_testdev_pf_init(&r->pf, r->bus, QVIRT_IOMMU_RIG_PF_DEVFN);
    qvirt_iommu_start(&r->iommu, &r->alloc, cmdq_log2, evtq_log2, control);
}

void qvirt_iommu_rig_stop(QVirtIOMMURig *r)
{
    qvirt_iommu_assert_no_event(&r->iommu);
    qdma_testdev_pf_cleanup(&r->pf);
    qvirt_iommu_cleanup(&r->iommu);
    alloc_destroy(&r->alloc);
    qpci_free_pc(r->bus);
    qtest_quit(r->qts);
}
