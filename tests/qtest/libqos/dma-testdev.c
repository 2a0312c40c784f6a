/*
 * libqos driver for dma-testdev
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "../libqtest.h"
#include "standard-headers/linux/pci_regs.h"
#include "pcie-ecam.h"
#include "dma-testdev.h"

/* VF BAR0 size: the SR-IOV capability strides VF BARs by it */
#define VF_BAR_SIZE DMA_TESTDEV_BAR0_SIZE

void qdma_testdev_pf_init(QDmaTestdevPF *pf, QPCIBus *bus, int devfn)
{
    memset(pf, 0, sizeof(*pf));
    pf->fn.dev = qpci_device_find(bus, devfn);
    g_assert_nonnull(pf->fn.dev);
    qpci_device_enable(pf->fn.dev);
    pf->fn.bar = qpci_iomap(pf->fn.dev, 0, NULL);
    pf->fn.bar_addr = pf->fn.bar.addr;

    qpcie_ecam_enable(bus);
    pf->sriov = qpcie_ecam_find_ext_cap(bus, devfn, PCI_EXT_CAP_ID_SRIOV);
    g_assert_cmphex(pf->sriov, !=, 0);
    pf->total_vfs = qdma_testdev_sriov_readw(pf, PCI_SRIOV_TOTAL_VF);
    pf->vf_offset = qdma_testdev_sriov_readw(pf, PCI_SRIOV_VF_OFFSET);
    pf->vf_stride = qdma_testdev_sriov_readw(pf, PCI_SRIOV_VF_STRIDE);
}

void qdma_testdev_pf_cleanup(QDmaTestdevPF *pf)
{
    qpci_iounmap(pf->fn.dev, pf->fn.bar);
    g_free(pf->fn.dev);
    pf->fn.dev = NULL;
}

uint32_t qdma_testdev_readl(QDmaTestdev *d, uint32_t reg)
{
    return qpci_io_readl(d->dev, d->bar, reg);
}

uint64_t qdma_testdev_readq(QDmaTestdev *d, uint32_t reg)
{
    return qpci_io_readq(d->dev, d->bar, reg);
}

void qdma_testdev_writel(QDmaTestdev *d, uint32_t reg, uint32_t value)
{
    qpci_io_writel(d->dev, d->bar, reg, value);
}

void qdma_testdev_writeq(QDmaTestdev *d, uint32_t reg, uint64_t value)
{
    qpci_io_writeq(d->dev, d->bar, reg, value);
}

static uint32_t check_status(QDmaTestdev *d)
{
    uint32_t err = qdma_testdev_readl(d, DMA_TESTDEV_REG_ERROR);

    /* The device is synchronous: BUSY or IDLE here would be a bug. */
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_STATUS), ==,
                     err ? DMA_TESTDEV_ST_ERROR : DMA_TESTDEV_ST_DONE);
    return err;
}

uint32_t qdma_testdev_run(QDmaTestdev *d, uint32_t op, uint64_t src,
                          uint64_t dst, uint32_t len, uint32_t pattern)
{
    qdma_testdev_writeq(d, DMA_TESTDEV_REG_SRC, src);
    qdma_testdev_writeq(d, DMA_TESTDEV_REG_DST, dst);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_LEN, len);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_OP, op);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_PATTERN, pattern);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_OP);
    return check_status(d);
}

static void desc_to_le(uint8_t *buf, const DmaTestdevDesc *desc)
{
    memset(buf, 0, DMA_TESTDEV_DESC_SIZE);
    stl_le_p(buf + DMA_TESTDEV_DESC_OP, desc->op);
    stl_le_p(buf + DMA_TESTDEV_DESC_FLAGS, desc->flags);
    stq_le_p(buf + DMA_TESTDEV_DESC_SRC, desc->src);
    stq_le_p(buf + DMA_TESTDEV_DESC_DST, desc->dst);
    stl_le_p(buf + DMA_TESTDEV_DESC_LEN, desc->len);
    stl_le_p(buf + DMA_TESTDEV_DESC_PATTERN, desc->pattern);
}

static void desc_from_le(DmaTestdevDesc *desc, const uint8_t *buf)
{
    desc->op = ldl_le_p(buf + DMA_TESTDEV_DESC_OP);
    desc->flags = ldl_le_p(buf + DMA_TESTDEV_DESC_FLAGS);
    desc->src = ldq_le_p(buf + DMA_TESTDEV_DESC_SRC);
    desc->dst = ldq_le_p(buf + DMA_TESTDEV_DESC_DST);
    desc->len = ldl_le_p(buf + DMA_TESTDEV_DESC_LEN);
    desc->pattern = ldl_le_p(buf + DMA_TESTDEV_DESC_PATTERN);
    desc->status = ldl_le_p(buf + DMA_TESTDEV_DESC_STATUS);
    desc->result = ldq_le_p(buf + DMA_TESTDEV_DESC_RESULT);
}

uint32_t qdma_testdev_run_ring_at(QDmaTestdev *d, uint64_t gpa,
                                  uint64_t bus_addr, uint32_t size,
                                  DmaTestdevDesc *descs, uint32_t n)
{
    QTestState *qts = d->dev->bus->qts;
    uint8_t buf[DMA_TESTDEV_DESC_SIZE];
    uint32_t err = DMA_TESTDEV_ERR_NONE;
    uint32_t kicks = 0;

    g_assert_cmpuint(n, <, size);
    qtest_memset(qts, gpa, 0, size * DMA_TESTDEV_DESC_SIZE);
    for (uint32_t i = 0; i < n; i++) {
        desc_to_le(buf, &descs[i]);
        qtest_memwrite(qts, gpa + i * DMA_TESTDEV_DESC_SIZE, buf,
                       sizeof(buf));
    }

    qdma_testdev_writeq(d, DMA_TESTDEV_REG_RING_BASE, bus_addr);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_SIZE, size);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_HEAD, 0);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_TAIL, n);
    while (qdma_testdev_readl(d, DMA_TESTDEV_REG_RING_HEAD) != n) {
        /* Each kick consumes at least one descriptor or fails. */
        g_assert_cmpuint(kicks++, <=, n);
        qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
        err = check_status(d);
        if (err) {
            break;
        }
    }

    for (uint32_t i = 0; i < n; i++) {
        qtest_memread(qts, gpa + i * DMA_TESTDEV_DESC_SIZE, buf,
                      sizeof(buf));
        desc_from_le(&descs[i], buf);
    }
    return err;
}

uint32_t qdma_testdev_run_ring(QDmaTestdev *d, QGuestAllocator *alloc,
                               uint32_t size, DmaTestdevDesc *descs,
                               uint32_t n)
{
    /* The allocator aligns to pages, which covers the 64-byte rule. */
    uint64_t ring = guest_alloc(alloc, size * DMA_TESTDEV_DESC_SIZE);
    uint32_t err = qdma_testdev_run_ring_at(d, ring, ring, size, descs, n);

    guest_free(alloc, ring);
    return err;
}

uint16_t qdma_testdev_sriov_readw(QDmaTestdevPF *pf, uint16_t reg)
{
    return qpcie_ecam_readw(pf->fn.dev->bus, pf->fn.dev->devfn,
                            pf->sriov + reg);
}

void qdma_testdev_sriov_writew(QDmaTestdevPF *pf, uint16_t reg,
                               uint16_t value)
{
    qpcie_ecam_writew(pf->fn.dev->bus, pf->fn.dev->devfn, pf->sriov + reg,
                      value);
}

int qdma_testdev_vf_devfn(QDmaTestdevPF *pf, uint16_t index)
{
    return pf->fn.dev->devfn + pf->vf_offset + index * pf->vf_stride;
}

void qdma_testdev_vfs_enable(QDmaTestdevPF *pf, uint16_t num_vfs)
{
    QPCIBus *bus = pf->fn.dev->bus;
    uint16_t ctrl;

    if (!pf->vf_bar_base) {
        uint64_t size = (uint64_t)pf->total_vfs * VF_BAR_SIZE;

        pf->vf_bar_base = QEMU_ALIGN_UP(bus->mmio_alloc_ptr, VF_BAR_SIZE);
        g_assert_cmphex(pf->vf_bar_base + size, <=, bus->mmio_limit);
        bus->mmio_alloc_ptr = pf->vf_bar_base + size;
        qpcie_ecam_writel(bus, pf->fn.dev->devfn,
                          pf->sriov + PCI_SRIOV_BAR, pf->vf_bar_base);
    }
    qdma_testdev_sriov_writew(pf, PCI_SRIOV_NUM_VF, num_vfs);
    ctrl = qdma_testdev_sriov_readw(pf, PCI_SRIOV_CTRL);
    qdma_testdev_sriov_writew(pf, PCI_SRIOV_CTRL,
                              ctrl | PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
}

void qdma_testdev_vfs_disable(QDmaTestdevPF *pf)
{
    uint16_t ctrl = qdma_testdev_sriov_readw(pf, PCI_SRIOV_CTRL);

    qdma_testdev_sriov_writew(pf, PCI_SRIOV_CTRL,
                              ctrl & ~(PCI_SRIOV_CTRL_VFE |
                                       PCI_SRIOV_CTRL_MSE));
    qdma_testdev_sriov_writew(pf, PCI_SRIOV_NUM_VF, 0);
}

void qdma_testdev_vf_init(QDmaTestdev *vf, QDmaTestdevPF *pf, uint16_t index)
{
    g_assert_cmphex(pf->vf_bar_base, !=, 0);
    /*
     * Not qpci_device_find(): a VF's vendor ID reads 0xffff even when
     * it is enabled (SR-IOV 1.1, 3.4.1.1), which that takes as absent.
     */
    vf->dev = g_new0(QPCIDevice, 1);
    vf->dev->bus = pf->fn.dev->bus;
    vf->dev->devfn = qdma_testdev_vf_devfn(pf, index);
    qpci_config_writew(vf->dev, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    vf->bar_addr = pf->vf_bar_base + (uint64_t)index * VF_BAR_SIZE;
    vf->bar = (QPCIBar) { .addr = vf->bar_addr };
}

void qdma_testdev_vf_cleanup(QDmaTestdev *vf)
{
    g_free(vf->dev);
    vf->dev = NULL;
}

void qdma_testdev_msix_setup(QDmaTestdev *d, uint64_t addr, uint32_t data)
{
    uint8_t cap = qpci_find_capability(d->dev, PCI_CAP_ID_MSIX, 0);
    uint32_t entry = DMA_TESTDEV_MSIX_TABLE_OFFSET;
    uint16_t ctrl;

    g_assert_cmphex(cap, !=, 0);
    g_assert_cmphex(qpci_config_readl(d->dev, cap + PCI_MSIX_TABLE), ==,
                    DMA_TESTDEV_MSIX_TABLE_OFFSET);
    qdma_testdev_writel(d, entry + PCI_MSIX_ENTRY_LOWER_ADDR, addr);
    qdma_testdev_writel(d, entry + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
    qdma_testdev_writel(d, entry + PCI_MSIX_ENTRY_DATA, data);
    qdma_testdev_writel(d, entry + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    ctrl = qpci_config_readw(d->dev, cap + PCI_MSIX_FLAGS);
    qpci_config_writew(d->dev, cap + PCI_MSIX_FLAGS,
                       (ctrl & ~PCI_MSIX_FLAGS_MASKALL) |
                       PCI_MSIX_FLAGS_ENABLE);
}
