/*
 * libqos: PCI Express extended configuration space (ECAM) on q35
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "pcie-ecam.h"

/* q35 MCH (hw/pci-host/q35.c): PCIEXBAR at 0x60, 64 bits */
#define MCH_DEVFN               0
#define MCH_PCIEXBAR            0x60
#define MCH_PCIEXBAR_EN         0x1     /* length field 0: 256 buses */

#define PCIE_EXT_CAP_START      0x100
#define PCIE_EXT_CAP_MAX        ((0x1000 - PCIE_EXT_CAP_START) / 4)

static uint64_t ecam_addr(int devfn, uint16_t offset)
{
    g_assert_cmpint(devfn, >=, 0);
    g_assert_cmpint(devfn, <, 0x10000);
    g_assert_cmpuint(offset, <, 0x1000);
    /* bus << 20 | device << 15 | function << 12 */
    return QPCIE_ECAM_BASE | (uint64_t)devfn << 12 | offset;
}

void qpcie_ecam_enable(QPCIBus *bus)
{
    /* Order matters: the window moves when the low dword's enable is set. */
    bus->config_writel(bus, MCH_DEVFN, MCH_PCIEXBAR + 4, 0);
    bus->config_writel(bus, MCH_DEVFN, MCH_PCIEXBAR,
                       (uint32_t)QPCIE_ECAM_BASE | MCH_PCIEXBAR_EN);
}

uint8_t qpcie_ecam_readb(QPCIBus *bus, int devfn, uint16_t offset)
{
    return qtest_readb(bus->qts, ecam_addr(devfn, offset));
}

uint16_t qpcie_ecam_readw(QPCIBus *bus, int devfn, uint16_t offset)
{
    return qtest_readw(bus->qts, ecam_addr(devfn, offset));
}

uint32_t qpcie_ecam_readl(QPCIBus *bus, int devfn, uint16_t offset)
{
    return qtest_readl(bus->qts, ecam_addr(devfn, offset));
}

void qpcie_ecam_writeb(QPCIBus *bus, int devfn, uint16_t offset,
                       uint8_t value)
{
    qtest_writeb(bus->qts, ecam_addr(devfn, offset), value);
}

void qpcie_ecam_writew(QPCIBus *bus, int devfn, uint16_t offset,
                       uint16_t value)
{
    qtest_writew(bus->qts, ecam_addr(devfn, offset), value);
}

void qpcie_ecam_writel(QPCIBus *bus, int devfn, uint16_t offset,
                       uint32_t value)
{
    qtest_writel(bus->qts, ecam_addr(devfn, offset), value);
}

uint16_t qpcie_ecam_find_ext_cap(QPCIBus *bus, int devfn, uint16_t id)
{
    uint16_t pos = PCIE_EXT_CAP_START;

    /* Each header is at least 4 bytes, so this many steps cover 4 KiB. */
    for (int i = 0; i < PCIE_EXT_CAP_MAX && pos >= PCIE_EXT_CAP_START; i++) {
        uint32_t header = qpcie_ecam_readl(bus, devfn, pos);

        if (header == 0 || header == 0xffffffff) {
            return 0;
        }
        if ((header & 0xffff) == id) {
            return pos;
        }
        pos = (header >> 20) & 0xffc;
    }
    return 0;
}
