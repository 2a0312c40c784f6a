/*
 * virt-iommu guest ABI: PCI identity and BAR0 register layout
 *
 * This header is the contract between the device model, the qtests and the
 * guest tool; docs/specs/virt-iommu.rst is its normative description.  It
 * depends only on <stdint.h> so that guest code can include it.
 *
 * All registers are little-endian.  32-bit registers are accessed with
 * 32-bit loads/stores; 64-bit registers with one 64-bit or two 32-bit
 * accesses (low half first).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_REGS_H
#define HW_IOMMU_VIRT_IOMMU_REGS_H

/* PCI identity (overridable with the vendor-id/device-id properties) */
/*
 * 0x1234 is the vendor ID QEMU's own test devices use (edu is 1234:11e8);
 * it is not registered to anyone, which suits a paravirtual test IOMMU.
 */
#define VIRT_IOMMU_PCI_VENDOR_ID    0x1234
#define VIRT_IOMMU_PCI_DEVICE_ID    0x1f10
#define VIRT_IOMMU_PCI_REVISION     0x01
#define VIRT_IOMMU_PCI_CLASS        0x0806  /* base system periph., IOMMU */

/* BAR0: 4 KiB of 32-bit non-prefetchable memory */
#define VIRT_IOMMU_BAR0_SIZE        0x1000

/* Identification, read-only */
#define VIRT_IOMMU_REG_MAGIC        0x000   /* 32: VIRT_IOMMU_MAGIC */
#define VIRT_IOMMU_REG_VERSION      0x004   /* 32: major << 16 | minor */
#define VIRT_IOMMU_REG_CAP          0x008   /* 64: VIRT_IOMMU_CAP_* */
#define VIRT_IOMMU_REG_PGSIZE_MASK  0x010   /* 64: bit n set: 2^n B pages */
#define VIRT_IOMMU_REG_IOVA_BITS    0x018   /* 32: input address width */
#define VIRT_IOMMU_REG_DOMAIN_TYPES 0x01c   /* 32: bit t: type t supported */

/* Control and status */
#define VIRT_IOMMU_REG_CONTROL      0x040   /* 32: RW, VIRT_IOMMU_CTRL_* */
#define VIRT_IOMMU_REG_STATUS       0x044   /* 32: RO, VIRT_IOMMU_STS_* */

#define VIRT_IOMMU_MAGIC            0x4d4f4956u /* "VIOM" in memory order */
#define VIRT_IOMMU_VERSION_MAJOR    0
#define VIRT_IOMMU_VERSION_MINOR    1
#define VIRT_IOMMU_VERSION \
    ((VIRT_IOMMU_VERSION_MAJOR << 16) | VIRT_IOMMU_VERSION_MINOR)

/* CAP bits (none defined in version 0.1: no command queue yet) */
#define VIRT_IOMMU_CAP_NONE         0x0ull

/* Domain types, numbered as the DOMAIN_TYPES bitmap's bit positions */
#define VIRT_IOMMU_DOMAIN_BLOCKED   0
#define VIRT_IOMMU_DOMAIN_IDENTITY  1
#define VIRT_IOMMU_DOMAIN_DMA       2
#define VIRT_IOMMU_DOMAIN_DMA_FQ    3

/* CONTROL bits; reset value is VIRT_IOMMU_CTRL_DEFAULT_BYPASS */
#define VIRT_IOMMU_CTRL_ENABLE          (1u << 0)
#define VIRT_IOMMU_CTRL_DEFAULT_BYPASS  (1u << 1)
#define VIRT_IOMMU_CTRL_MASK \
    (VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS)

/* STATUS bits */
#define VIRT_IOMMU_STS_ENABLED          (1u << 0)  /* CONTROL.ENABLE took */
#define VIRT_IOMMU_STS_BYPASS           (1u << 1)  /* endpoints bypass */

#endif /* HW_IOMMU_VIRT_IOMMU_REGS_H */
