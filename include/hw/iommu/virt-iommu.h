/*
 * virt-iommu: a paravirtual PCI IOMMU whose IOVA space is managed by the
 * C++ allocator in iova/.  Device state shared by the files of hw/iommu/.
 *
 * All functions here run with the BQL held (MMIO, DMA translation from
 * device emulation, timers), which serialises them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_H
#define HW_IOMMU_VIRT_IOMMU_H

#include "exec/memory.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "hw/pci/pci_device.h"
#include "qom/object.h"

#define TYPE_VIRT_IOMMU "virt-iommu"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMMUState, VIRT_IOMMU)

#define TYPE_VIRT_IOMMU_MEMORY_REGION "virt-iommu-memory-region"

/* x86's MSI window: writes here are interrupts, never translated */
#define VIRT_IOMMU_MSI_BASE 0xfee00000ULL
#define VIRT_IOMMU_MSI_SIZE 0x100000ULL

typedef struct VirtIOMMUDomain VirtIOMMUDomain;

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
    MemoryRegion msi_mr;        /* MSI window, never translated; !bypass */
    bool notified;              /* IOMMU notifiers are registered on it */
    bool rid_fixed;             /* on a root bus: @rid never changes */
    uint16_t rid;               /* requester ID, if @rid_fixed */
    /*
     * The domain of @rid as of the last virt_iommu_as_update(), which
     * every change of an attachment is followed by; used if @rid_fixed.
     */
    VirtIOMMUDomain *domain;
} VirtIOMMUEndpoint;

/* A ring in guest memory (see VIRT_IOMMU_REG_CMDQ_BASE) */
typedef struct VirtIOMMUQueue {
    uint64_t base;              /* guest-physical, bytes */
    uint32_t log2size;          /* log2 of entries */
    uint32_t head;              /* entry index */
    uint32_t tail;              /* entry index */
} VirtIOMMUQueue;

/* What makes two faults the same (see virt_iommu_fault()) */
typedef struct VirtIOMMUFaultKey {
    uint64_t page;              /* faulting IOVA, page-aligned */
    uint32_t domain;
    uint32_t access;
    uint16_t rid;
    uint8_t reason;
    bool valid;
} VirtIOMMUFaultKey;

/* One cached translation of one page (see virt-iommu-iotlb.c) */
typedef struct VirtIOMMUIOTLBEntry {
    uint64_t iova;              /* page-aligned */
    uint64_t gpa;               /* page-aligned */
    uint32_t domain;            /* 0: entry unused */
    uint32_t perms;             /* VIRT_IOMMU_PERM_* */
} VirtIOMMUIOTLBEntry;

/* Migration stream records, built by pre_save and consumed by post_load */
typedef struct VirtIOMMUMigDomain {
    uint32_t id;
    uint32_t type;
} VirtIOMMUMigDomain;

typedef struct VirtIOMMUMigMapping {
    uint64_t iova;              /* bytes */
    uint64_t last;              /* bytes, inclusive */
    uint64_t gpa;
    uint64_t pfn_lo;            /* the allocator's range holding it */
    uint64_t pfn_hi;
    uint32_t domain;
    uint32_t perms;
    uint32_t fixed;
} VirtIOMMUMigMapping;

typedef struct VirtIOMMUMigAttach {
    uint32_t rid;
    uint32_t domain;
} VirtIOMMUMigAttach;

/* Device-wide counters reported by QUERY_STATS for domain 0 */
typedef struct VirtIOMMUCounters {
    uint64_t events;
    uint64_t events_dropped;
    uint64_t iotlb_hits;
    uint64_t iotlb_misses;
    uint64_t iotlb_invalidations;
} VirtIOMMUCounters;

struct VirtIOMMUState {
    PCIDevice parent_obj;

    MemoryRegion bar0;          /* registers + MSI-X */
    MemoryRegion regs;
    GHashTable *buses;          /* PCIBus * -> VirtIOMMUEndpoint *[256] */
    VirtIOMMUDomain **domains;  /* [max_domains]; ID n is domains[n - 1] */
    GHashTable *attached;       /* requester ID -> VirtIOMMUDomain * */
    uint32_t notified_eps;      /* endpoints with IOMMU notifiers */

    /* Guest-visible state */
    uint32_t control;           /* VIRT_IOMMU_REG_CONTROL */
    uint32_t error;             /* VIRT_IOMMU_REG_ERROR */
    VirtIOMMUQueue cmdq;
    VirtIOMMUQueue evtq;
    VirtIOMMUFaultKey last_fault; /* last record written, not consumed */
    VirtIOMMUIOTLBEntry *iotlb; /* [iotlb_size], direct-mapped */
    VirtIOMMUCounters counters;
    uint32_t nr_mappings;       /* in all domains, at most max_mappings */
    int32_t mig_ndomains;
    int32_t mig_nmappings;
    int32_t mig_nattached;
    VirtIOMMUMigDomain *mig_domains;
    VirtIOMMUMigMapping *mig_mappings;
    VirtIOMMUMigAttach *mig_attached;

    /* Properties */
    uint16_t vendor_id;
    uint16_t device_id;
    uint64_t page_size;         /* bytes; the IOVA granule */
    uint8_t iova_bits;          /* input address width, 32..64 */
    uint32_t max_domains;
    uint32_t max_mappings;      /* bounds the host memory a guest can use */
    uint32_t iotlb_size;        /* entries */
    uint32_t fq_size;           /* IOVAs a DMA_FQ domain batches */
    uint32_t fq_timeout_ms;     /* virtual-clock delay of a partial batch */
    uint32_t mag_size;          /* IOVAs per rcache magazine */
    int32_t rcache_cpu;         /* test hook: rcache CPU, -1: the vCPU */
    bool strict_checks;         /* report driver mistakes as events */
};

static inline uint64_t virt_iommu_aperture_end(VirtIOMMUState *s)
{
    return s->iova_bits == 64 ? UINT64_MAX : (1ULL << s->iova_bits) - 1;
}

/* virt-iommu-as.c: per-endpoint address spaces */

/* Makes @s the IOMMU of @bus; fails if that bus already has one. */
bool virt_iommu_as_setup(VirtIOMMUState *s, PCIBus *bus, Error **errp);

/* Re-derives every endpoint's view (bypass or translated) from the state. */
void virt_iommu_as_update(VirtIOMMUState *s);

/* Tells map/unmap notifiers of every endpoint attached to @d. */
void virt_iommu_as_notify(VirtIOMMUState *s, VirtIOMMUDomain *d,
                          uint64_t iova, uint64_t size, uint64_t gpa,
                          uint32_t perms, bool map);

/* virt-iommu-domain.c: domains, mappings and attachments */

/* Runs one domain command; returns a VIRT_IOMMU_S_* status. */
uint16_t virt_iommu_domain_cmd(VirtIOMMUState *s, const VirtIOMMUCmd *cmd,
                               uint64_t *result);

/* The domain @rid is attached to, or NULL. */
VirtIOMMUDomain *virt_iommu_domain_of(VirtIOMMUState *s, uint16_t rid);

/*
 * Translates @iova for an access of @perms (VIRT_IOMMU_PERM_*, 0 for a
 * lookup) by @rid attached to @d.  Returns VIRT_IOMMU_FAULT_* or 0, and on
 * success the mapping's guest-physical address and permissions.
 */
int virt_iommu_domain_translate(VirtIOMMUState *s, VirtIOMMUDomain *d,
                                uint64_t iova, uint32_t perms,
                                uint64_t *gpa, uint32_t *map_perms);

uint32_t virt_iommu_domain_id(VirtIOMMUDomain *d);
bool virt_iommu_domain_is_identity(VirtIOMMUDomain *d);

/*
 * Detaches, and reports with an ENDPOINT_GONE record, every attached
 * endpoint whose PCI function no longer exists or is disabled.
 */
void virt_iommu_domain_sweep(VirtIOMMUState *s);

/*
 * Calls @fn on the first @max mappings of domain @id in IOVA order
 * (bytes, last inclusive); returns how many it called it on.
 */
typedef void VirtIOMMUMappingFn(uint64_t iova, uint64_t last, uint64_t gpa,
                                uint32_t perms, bool fixed, void *opaque);
uint64_t virt_iommu_domain_foreach_mapping(VirtIOMMUState *s, uint32_t id,
                                           uint64_t max, VirtIOMMUMappingFn *fn,
                                           void *opaque);

/* The CPU index whose rcache the current command uses. */
unsigned virt_iommu_cpu(VirtIOMMUState *s);

/* Returns @cpu's cached IOVAs of every domain to its allocator. */
void virt_iommu_domain_cpu_dead(VirtIOMMUState *s, unsigned cpu);

/* Fills the mig_* arrays from the domains, for the migration stream. */
void virt_iommu_domain_pre_save(VirtIOMMUState *s);
/* Rebuilds domains, allocators and attachments from the mig_* arrays. */
int virt_iommu_domain_post_load(VirtIOMMUState *s);
/* Frees the mig_* arrays. */
void virt_iommu_domain_mig_free(VirtIOMMUState *s);

/* Detaches every endpoint and frees every domain (device reset). */
void virt_iommu_domain_reset(VirtIOMMUState *s);

/* virt-iommu-iotlb.c: the IOTLB in front of every DMA domain */

/* Looks up the page holding @iova of @domain; true on a hit. */
bool virt_iommu_iotlb_lookup(VirtIOMMUState *s, uint32_t domain,
                             uint64_t iova, uint64_t *gpa, uint32_t *perms);
/* Caches the translation of the page holding @iova. */
void virt_iommu_iotlb_insert(VirtIOMMUState *s, uint32_t domain,
                             uint64_t iova, uint64_t gpa, uint32_t perms);
/*
 * Drops the entries of @domain (every domain if 0) whose page lies in
 * [@first, @last] (bytes, inclusive).
 */
void virt_iommu_iotlb_invalidate(VirtIOMMUState *s, uint32_t domain,
                                 uint64_t first, uint64_t last);

/* Fills @st (host byte order) for domain @id, 0 meaning the device. */
uint16_t virt_iommu_domain_stats(VirtIOMMUState *s, uint32_t id,
                                 VirtIOMMUStats *st);

/* virt-iommu-info.c: introspection */

/* The device's state as text; the caller frees it. */
char *virt_iommu_info(VirtIOMMUState *s);

/* virt-iommu-queue.c: command and event queues */

/* Bitmap of the opcodes the device runs (VIRT_IOMMU_REG_COMMANDS). */
uint64_t virt_iommu_supported_commands(void);

/* Applies a CONTROL write's queue enable bits. */
void virt_iommu_queues_control(VirtIOMMUState *s, uint32_t old_control);

/* Runs the commands between CMDQ HEAD and TAIL. */
void virt_iommu_cmdq_run(VirtIOMMUState *s);

/*
 * Records a fault in the event queue and raises the event vector; drops
 * it and sets ERROR.EVTQ_OVERFLOW if the queue is full.
 */
void virt_iommu_fault(VirtIOMMUState *s, uint16_t rid, uint32_t domain,
                      uint64_t iova, uint32_t access, uint8_t reason);

/* Records that attached endpoint @rid vanished from @domain. */
void virt_iommu_endpoint_gone(VirtIOMMUState *s, uint16_t rid,
                              uint32_t domain);

/* strict-checks: records a refused UNMAP (VIRT_IOMMU_STRICT_*). */
void virt_iommu_strict_event(VirtIOMMUState *s, uint32_t domain,
                             uint64_t iova, uint8_t reason);

/* The guest moved EVTQ_HEAD: a repeated fault is news again. */
void virt_iommu_fault_consumed(VirtIOMMUState *s);

#endif /* HW_IOMMU_VIRT_IOMMU_H */
