/*
 * libqos: PCI Express extended configuration space (ECAM) on q35
 *
 * libqos's config accessors go through ports 0xcf8/0xcfc and stop at
 * offset 0xff.  The SR-IOV capability and every other extended
 * capability live above that, so tests reach them through the MCH's
 * memory-mapped configuration window (PCIEXBAR) instead.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_PCIE_ECAM_H
#define QOS_PCIE_ECAM_H

#include "pci.h"

/* Where qpcie_ecam_enable() puts the window: 256 buses, 256 MiB. */
#define QPCIE_ECAM_BASE 0xb0000000ULL

/*
 * Enables ECAM at QPCIE_ECAM_BASE by programming PCIEXBAR of the q35
 * MCH (00:00.0) on @bus.  Idempotent.
 */
void qpcie_ecam_enable(QPCIBus *bus);

/*
 * Accessors for @offset (0..0xfff) of function @devfn, which carries the
 * bus number in bits 15:8 the way libqos's own config accessors take it.
 */
uint8_t qpcie_ecam_readb(QPCIBus *bus, int devfn, uint16_t offset);
uint16_t qpcie_ecam_readw(QPCIBus *bus, int devfn, uint16_t offset);
uint32_t qpcie_ecam_readl(QPCIBus *bus, int devfn, uint16_t offset);
void qpcie_ecam_writeb(QPCIBus *bus, int devfn, uint16_t offset,
                       uint8_t value);
void qpcie_ecam_writew(QPCIBus *bus, int devfn, uint16_t offset,
                       uint16_t value);
void qpcie_ecam_writel(QPCIBus *bus, int devfn, uint16_t offset,
                       uint32_t value);

/*
 * Returns the offset of the first extended capability with @id at or
 * after the chain start 0x100, or 0 if the function has none.  The walk
 * is bounded, so a looping chain cannot hang the test.
 */
uint16_t qpcie_ecam_find_ext_cap(QPCIBus *bus, int devfn, uint16_t id);

#endif /* QOS_PCIE_ECAM_H */
