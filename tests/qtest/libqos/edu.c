/*
 * libqos helpers for QEMU's edu device
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "edu.h"

#define EDU_REG_DMA_SRC     0x80
#define EDU_REG_DMA_DST     0x88
#define EDU_REG_DMA_CNT     0x90
#define EDU_REG_DMA_CMD     0x98
#define EDU_DMA_RUN         0x1
#define EDU_DMA_TO_PCI      0x2     /* direction: edu buffer -> bus */
#define EDU_BUF             0x40000 /* edu's internal buffer address */
#define EDU_DMA_DELAY_NS    (100 * 1000 * 1000)

void qedu_init(QEdu *edu, QPCIBus *bus, int devfn)
{
    edu->dev = qpci_device_find(bus, devfn);
    g_assert_nonnull(edu->dev);
    qpci_device_enable(edu->dev);
    edu->bar = qpci_iomap(edu->dev, 0, NULL);
}

void qedu_cleanup(QEdu *edu)
{
    qpci_iounmap(edu->dev, edu->bar);
    g_free(edu->dev);
}

static void qedu_dma(QEdu *edu, uint64_t from, uint64_t to, uint32_t len,
                     uint32_t dir)
{
    qpci_io_writeq(edu->dev, edu->bar, EDU_REG_DMA_SRC, from);
    qpci_io_writeq(edu->dev, edu->bar, EDU_REG_DMA_DST, to);
    qpci_io_writeq(edu->dev, edu->bar, EDU_REG_DMA_CNT, len);
    qpci_io_writeq(edu->dev, edu->bar, EDU_REG_DMA_CMD, EDU_DMA_RUN | dir);
    /* edu runs the transfer from a 100 ms virtual-clock timer. */
    qtest_clock_step(edu->dev->bus->qts, EDU_DMA_DELAY_NS);
    g_assert_cmphex(qpci_io_readq(edu->dev, edu->bar, EDU_REG_DMA_CMD) &
                    EDU_DMA_RUN, ==, 0);
}

void qedu_copy(QEdu *edu, uint64_t src, uint64_t dst, uint32_t len)
{
    g_assert_cmpuint(len, <=, 4096);
    qedu_dma(edu, src, EDU_BUF, len, 0);
    qedu_dma(edu, EDU_BUF, dst, len, EDU_DMA_TO_PCI);
}
