/*
 * libqos driver for virt-iommu
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "virt-iommu.h"

void qvirt_iommu_init(QVirtIOMMU *v, QPCIBus *bus, int devfn)
{
    v->dev = qpci_device_find(bus, devfn);
    g_assert_nonnull(v->dev);
    qpci_device_enable(v->dev);
    v->bar = qpci_iomap(v->dev, 0, &v->bar_size);
}

void qvirt_iommu_cleanup(QVirtIOMMU *v)
{
    qpci_iounmap(v->dev, v->bar);
    g_free(v->dev);
    v->dev = NULL;
}

uint32_t qvirt_iommu_readl(QVirtIOMMU *v, uint32_t offset)
{
    return qpci_io_readl(v->dev, v->bar, offset);
}

uint64_t qvirt_iommu_readq(QVirtIOMMU *v, uint32_t offset)
{
    return qpci_io_readq(v->dev, v->bar, offset);
}

void qvirt_iommu_writel(QVirtIOMMU *v, uint32_t offset, uint32_t value)
{
    qpci_io_writel(v->dev, v->bar, offset, value);
}
