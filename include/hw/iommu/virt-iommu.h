/*
 * virt-iommu: a paravirtual PCI IOMMU whose IOVA space is managed by the
 * C++ allocator in iova/.  Device state shared by the files of hw/iommu/.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_H
#define HW_IOMMU_VIRT_IOMMU_H

#include "exec/memory.h"
#include "hw/pci/pci_device.h"
#include "qom/object.h"

#define TYPE_VIRT_IOMMU "virt-iommu"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMMUState, VIRT_IOMMU)

#define TYPE_VIRT_IOMMU_MEMORY_REGION "virt-iommu-memory-region"

/*
 * The DMA view of one endpoint (one bus/devfn pair as PCI presents it to
 * the IOMMU).  Created on first use by the PCI core, lives as long as the
 * device; the requester ID is derived at access time because firmware
 * renumbers buses after the endpoint is created.
 */
typedef struct VirtIOMMUEndpoint {
    VirtIOMMUState *s;
    PCIBus *bus;
    uint8_t devfn;
    AddressSpace as;
    MemoryRegion root;          /* container that @as renders */
    IOMMUMemoryRegion iommu_mr; /* translated view, enabled when !bypass */
    MemoryRegion bypass_mr;     /* alias of system memory, when bypass */
    MemoryRegion msi_mr;        /* MSI window, never translated */
} VirtIOMMUEndpoint;

struct VirtIOMMUState {
    PCIDevice parent_obj;

    MemoryRegion regs;          /* BAR0 */
    GHashTable *buses;          /* PCIBus * -> VirtIOMMUEndpoint *[256] */

    /* Guest-visible state */
    uint32_t control;           /* VIRT_IOMMU_REG_CONTROL */

    /* Properties */
    uint16_t vendor_id;
    uint16_t device_id;
    uint64_t page_size;         /* bytes; the IOVA granule */
    uint8_t iova_bits;          /* input address width, 32..64 */
};

/* virt-iommu-as.c: per-endpoint address spaces */

/* Makes @s the IOMMU of @bus; fails if that bus already has one. */
bool virt_iommu_as_setup(VirtIOMMUState *s, PCIBus *bus, Error **errp);

/* True when endpoints see untranslated system memory. */
bool virt_iommu_bypass(VirtIOMMUState *s);

/* Applies virt_iommu_bypass() to every endpoint's address space. */
void virt_iommu_as_update(VirtIOMMUState *s);

#endif /* HW_IOMMU_VIRT_IOMMU_H */
