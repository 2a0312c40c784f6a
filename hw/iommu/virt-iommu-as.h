/*
 * virt-iommu: the DMA address space of every endpoint, and translation
 *
 * The layer below the command decoder: it calls the domain layer to
 * translate and the event writer to report faults, and is told by the
 * layers above when to re-derive the endpoints' views and what to send
 * to IOMMU notifiers.  BQL held.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_AS_H
#define HW_IOMMU_VIRT_IOMMU_AS_H

#include "exec/memory.h"
#include "hw/pci/pci_device.h"
#include "virt-iommu-domain.h"
#include "virt-iommu-events.h"

#define TYPE_VIRT_IOMMU_MEMORY_REGION "virt-iommu-memory-region"

typedef struct VirtIOMMUEndpoints VirtIOMMUEndpoints;

/*
 * The DMA view of one endpoint (one bus/devfn pair as PCI presents it to
 * the IOMMU).  Created on first use by the PCI core, lives as long as the
 * device; the requester ID is derived at access time because firmware
 * renumbers buses after the endpoint is created.
 */
typedef struct VirtIOMMUEndpoint {
    VirtIOMMUEndpoints *eps;
    PCIBus *bus;
    uint8_t devfn;
    AddressSpace as;
    MemoryRegion root;          /* container that @as renders */
    IOMMUMemoryRegion iommu_mr; /* translated view, enabled when !bypass */
    MemoryRegion bypass_mr;     /* alias of system memory, when bypass */
    MemoryRegion msi_mr;        /* MSI window, never translated; !bypass */
    bool notified;              /* IOMMU notifiers are registered on it */
    bool copying;               /* ... and one of them takes MAPs */
    bool rid_fixed;             /* on a root bus: @rid never changes */
    uint16_t rid;               /* requester ID, if @rid_fixed */
    /*
     * The domain of @rid as of the last virt_iommu_as_update(), which
     * every change of an attachment is followed by; used if @rid_fixed.
     */
    VirtIOMMUDomain *domain;
} VirtIOMMUEndpoint;

struct VirtIOMMUEndpoints {
    PCIDevice *iommu;           /* its own DMA is never translated */
    Object *owner;              /* of the memory regions */
    VirtIOMMUDomains *domains;
    VirtIOMMUEvents *events;
    uint64_t page_size;         /* bytes */
    uint32_t control;           /* CONTROL as of the last update */
    /*
     * The command queue above (ABI 0.4): @miss is called once when a
     * translated access would fault, true if commands ran that may have
     * mapped it; @copies_changed when @copying_eps goes from 0 to 1 or
     * back.  Both get @cmdq_opaque.
     */
    bool (*miss)(void *opaque);
    void (*copies_changed)(void *opaque);
    void *cmdq_opaque;
    GHashTable *buses;          /* PCIBus * -> VirtIOMMUEndpoint *[256] */
    uint32_t notified_eps;      /* endpoints with IOMMU notifiers */
    /*
     * Endpoints with MAP notifiers: they keep their own copy of the
     * translations (VFIO), so their DMA never misses here.
     */
    uint32_t copying_eps;
};

/*
 * Makes @eps (its members up to @cmdq_opaque set) the IOMMU of @bus; fails if
 * that bus already has one, with nothing allocated.
 */
bool virt_iommu_as_setup(VirtIOMMUEndpoints *eps, PCIBus *bus, Error **errp);
/* Frees every endpoint's address space (PCI exit). */
void virt_iommu_as_destroy(VirtIOMMUEndpoints *eps);

/*
 * Re-derives every endpoint's view (bypass or translated) from @control
 * (the CONTROL register) and the attachments.
 */
void virt_iommu_as_update(VirtIOMMUEndpoints *eps, uint32_t control);

/* Tells map/unmap notifiers of every endpoint attached to @d. */
void virt_iommu_as_notify(VirtIOMMUEndpoints *eps, VirtIOMMUDomain *d,
                          uint64_t iova, uint64_t size, uint64_t gpa,
                          uint32_t perms, bool map);

#endif /* HW_IOMMU_VIRT_IOMMU_AS_H */
