/*
 * dma-testdev: SR-IOV PCIe DMA test endpoint (device state)
 *
 * The PF and each VF carry the same DMA engine (register block, single
 * operations and a descriptor ring); the PF adds the SR-IOV capability.
 * The guest ABI is in dma-testdev-regs.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_DMA_TESTDEV_H
#define HW_IOMMU_DMA_TESTDEV_H

#include "exec/memory.h"
#include "hw/pci/pci_device.h"
#include "hw/iommu/dma-testdev-regs.h"
#include "qom/object.h"

#define TYPE_DMA_TESTDEV    "dma-testdev"
#define TYPE_DMA_TESTDEV_VF "dma-testdev-vf"

OBJECT_DECLARE_SIMPLE_TYPE(DmaTestdevState, DMA_TESTDEV)
OBJECT_DECLARE_SIMPLE_TYPE(DmaTestdevVFState, DMA_TESTDEV_VF)

/*
 * The PF's shadow IOTLB (x-shadow-iotlb, dma-testdev-shadow.c): filled by
 * IOMMU map/unmap notifications and replays, as vhost and VFIO are.
 */
typedef struct DmaTestdevShadow {
    MemoryListener listener;
    struct IOVATree *entries;   /* NULL: not in use */
    QLIST_HEAD(, DmaTestdevShadowNotifier) notifiers;
    bool deviotlb;              /* also ask for device-IOTLB notifications */
    uint64_t min_page_size;     /* bytes, as the IOMMU region reports it */
    uint32_t refused;           /* notifiers the IOMMU refused */
    uint64_t maps;              /* MAP notifications, replays included */
    uint64_t unmaps;
} DmaTestdevShadow;

typedef struct DmaTestdevEngine {
    PCIDevice *pci;         /* the function whose requester ID DMA uses */
    DmaTestdevShadow *shadow; /* translates DMA when active; may be NULL */
    MemoryRegion bar;       /* BAR0: regs, MSI-X table and PBA */
    MemoryRegion regs;

    uint64_t src;
    uint64_t dst;
    uint32_t len;
    uint32_t op;
    uint32_t pattern;
    uint32_t control;
    uint32_t status;
    uint32_t error;
    uint64_t result;
    uint64_t fault_addr;
    uint64_t ring_base;
    uint32_t ring_size;
    uint32_t ring_head;
    uint32_t ring_tail;
    uint64_t completed_ops;
    uint64_t completed_bytes;
    uint64_t error_count;
} DmaTestdevEngine;

struct DmaTestdevState {
    PCIDevice parent_obj;
    DmaTestdevEngine engine;
    DmaTestdevShadow shadow;
    bool shadow_iotlb;
    Notifier shadow_start;      /* starts the shadow at machine init done */

    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t vf_device_id;
    uint16_t total_vfs;
    uint16_t vf_offset;
    uint16_t vf_stride;
};

struct DmaTestdevVFState {
    PCIDevice parent_obj;
    DmaTestdevEngine engine;
};

/*
 * Sets up BAR0 of @pci (registers plus MSI-X table and PBA) and
 * registers it as a 32-bit memory BAR on the PF; a VF's BAR0 is placed
 * by the PF's SR-IOV capability instead.
 */
bool dma_testdev_engine_realize(DmaTestdevEngine *e, PCIDevice *pci,
                                Error **errp);
void dma_testdev_engine_unrealize(DmaTestdevEngine *e);
void dma_testdev_engine_reset(DmaTestdevEngine *e);

extern const VMStateDescription vmstate_dma_testdev_engine;

/*
 * Starts filling @sh from the IOMMU regions that appear in @as; release
 * with dma_testdev_shadow_destroy() (which accepts one never started).
 */
void dma_testdev_shadow_init(DmaTestdevShadow *sh, AddressSpace *as);
void dma_testdev_shadow_destroy(DmaTestdevShadow *sh);
/* True while an IOMMU region translates the device's DMA. */
bool dma_testdev_shadow_active(DmaTestdevShadow *sh);
/*
 * Translates [@addr, @addr + @len) (bytes, within one shadow entry) for
 * a write or a read; false if no entry allows it.
 */
bool dma_testdev_shadow_translate(DmaTestdevShadow *sh, uint64_t addr,
                                  uint32_t len, bool write, uint64_t *gpa);

#endif /* HW_IOMMU_DMA_TESTDEV_H */
