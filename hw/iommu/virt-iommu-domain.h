/*
 * virt-iommu: domains, their mappings, the IOVA allocators and the flush
 * queues, and which requester ID is attached to which domain
 *
 * The layer below the address spaces and the command decoder: it calls
 * only the IOTLB and the allocator (iova/).  What it must tell the layers
 * above goes out through the callbacks of VirtIOMMUDomainsConfig (a
 * mapping added or removed), return values (a VIRT_IOMMU_S_* status, a
 * strict-checks finding) and nothing else; the caller updates the
 * endpoints' views after attachments or types change.
 *
 * Every function runs with the BQL held (commands, translation, timers).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_DOMAIN_H
#define HW_IOMMU_VIRT_IOMMU_DOMAIN_H

#include "hw/iommu/virt-iommu-regs.h"
#include "virt-iommu-iotlb.h"

/* x86's MSI window: writes here are interrupts, never translated */
#define VIRT_IOMMU_MSI_BASE 0xfee00000ULL
#define VIRT_IOMMU_MSI_SIZE 0x100000ULL

typedef struct VirtIOMMUDomain VirtIOMMUDomain;

/*
 * A mapping was added (@map) or removed in @d: [@iova, @iova + @size)
 * bytes -> @gpa with @perms (VIRT_IOMMU_PERM_*).
 */
typedef void VirtIOMMUMapNotifyFn(void *opaque, VirtIOMMUDomain *d,
                                  uint64_t iova, uint64_t size, uint64_t gpa,
                                  uint32_t perms, bool map);
/* The CPU index (below ncpus) whose rcache an allocation or free uses. */
typedef unsigned VirtIOMMUCpuFn(void *opaque);

typedef struct VirtIOMMUDomainsConfig {
    uint64_t page_size;         /* bytes: the IOVA granule */
    uint8_t iova_bits;          /* input address width, 32..64 */
    uint32_t max_domains;       /* IDs 1..max_domains */
    uint32_t max_mappings;      /* in all domains */
    uint32_t fq_size;           /* IOVAs a DMA_FQ domain batches */
    uint32_t fq_timeout_ms;     /* virtual-clock delay of a partial batch */
    uint32_t mag_size;          /* IOVAs per rcache magazine */
    unsigned ncpus;             /* rcaches per allocator */
    bool strict_checks;         /* find driver mistakes (see unmap) */
    VirtIOMMUIOTLB *iotlb;      /* the device's IOTLB, not owned */
    VirtIOMMUCpuFn *cpu;
    VirtIOMMUMapNotifyFn *notify;
    void *opaque;               /* for @cpu and @notify */
} VirtIOMMUDomainsConfig;

typedef struct VirtIOMMUDomains {
    VirtIOMMUDomainsConfig cfg;
    VirtIOMMUDomain **domains;  /* [max_domains]; ID n is domains[n - 1] */
    GHashTable *attached;       /* requester ID -> VirtIOMMUDomain * */
    uint32_t nr_mappings;       /* in all domains, at most max_mappings */
} VirtIOMMUDomains;

static inline uint64_t virt_iommu_aperture_end(uint8_t iova_bits)
{
    return iova_bits == 64 ? UINT64_MAX : (1ULL << iova_bits) - 1;
}

/* Takes @cfg and allocates the tables; no domain exists yet. */
void virt_iommu_domains_init(VirtIOMMUDomains *ds,
                             const VirtIOMMUDomainsConfig *cfg);
/* Detaches every endpoint and frees every domain (device reset). */
void virt_iommu_domains_reset(VirtIOMMUDomains *ds);
/* Frees everything; @ds may be zero-filled (never initialised). */
void virt_iommu_domains_destroy(VirtIOMMUDomains *ds);

/* Domain @id, or NULL if @id is not allocated (or out of range). */
VirtIOMMUDomain *virt_iommu_domain_get(VirtIOMMUDomains *ds, uint32_t id);
/* The domain @rid is attached to, or NULL. */
VirtIOMMUDomain *virt_iommu_domain_of(VirtIOMMUDomains *ds, uint16_t rid);
uint32_t virt_iommu_domain_id(VirtIOMMUDomain *d);
uint8_t virt_iommu_domain_type(VirtIOMMUDomain *d);

/*
 * The commands, as docs/specs/virt-iommu.rst defines them; each returns a
 * VIRT_IOMMU_S_* status and changes nothing unless it returns OK (except
 * where noted).  Arguments are bytes; sizes and addresses are checked
 * against the granule with virt_iommu_domain_map_args_ok() by the caller.
 */
uint16_t virt_iommu_domain_alloc(VirtIOMMUDomains *ds, uint32_t type,
                                 uint32_t *id);
uint16_t virt_iommu_domain_free(VirtIOMMUDomains *ds, VirtIOMMUDomain *d);
/*
 * As Linux changes a group's default domain.  On NO_SPACE the domain is
 * left BLOCKED.  The caller re-derives the endpoints' views afterwards.
 */
uint16_t virt_iommu_domain_set_type(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                                    uint32_t type);
/* Attaches @rid (detached from any other domain first). */
void virt_iommu_domain_attach(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                              uint16_t rid);
/* Detaches @rid; nothing happens if it is not attached. */
void virt_iommu_domain_detach(VirtIOMMUDomains *ds, uint16_t rid);
/* MAP: the device picks the IOVA, at most @limit (0: the aperture). */
uint16_t virt_iommu_domain_map(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                               uint64_t gpa, uint64_t size, uint32_t perms,
                               uint64_t limit, uint64_t *iova);
uint16_t virt_iommu_domain_map_fixed(VirtIOMMUDomains *ds,
                                     VirtIOMMUDomain *d, uint64_t iova,
                                     uint64_t gpa, uint64_t size,
                                     uint32_t perms);
/*
 * Unmaps every mapping inside [@iova, @iova + @size).  When nothing is
 * mapped there and strict-checks is on, *@strict is set to the
 * VIRT_IOMMU_STRICT_* finding (else 0) for the caller to report.
 */
uint16_t virt_iommu_domain_unmap(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                                 uint64_t iova, uint64_t size,
                                 uint8_t *strict);
/* INVALIDATE of a range (@size > 0) or, with @size 0, the whole domain. */
uint16_t virt_iommu_domain_invalidate(VirtIOMMUDomains *ds,
                                      VirtIOMMUDomain *d, uint64_t iova,
                                      uint64_t size);

/* True if @iova, @gpa, @size and @perms make a well-formed mapping. */
bool virt_iommu_domain_map_args_ok(VirtIOMMUDomains *ds, uint64_t iova,
                                   uint64_t gpa, uint64_t size,
                                   uint32_t perms);

/*
 * Translates @iova for an access of @perms (VIRT_IOMMU_PERM_*, 0 for a
 * lookup) in @d.  Returns VIRT_IOMMU_FAULT_* or 0, and on success the
 * mapping's guest-physical address and permissions.  With strict-checks,
 * *@stale_age_ns is the virtual ns since the unmap when the translation
 * came from an IOTLB entry whose mapping is gone (reported once per
 * entry; the translation still succeeds, as on hardware), else -1.  The
 * hot path.
 */
int virt_iommu_domain_translate(VirtIOMMUDomains *ds, VirtIOMMUDomain *d,
                                uint64_t iova, uint32_t perms,
                                uint64_t *gpa, uint32_t *map_perms,
                                int64_t *stale_age_ns);

/*
 * Fills @st (host byte order) for domain @id, or with @id 0 the sum over
 * every domain (type: the number of domains); the device-wide counters
 * (events, IOTLB) are the caller's.  NO_DOMAIN if @id does not exist.
 */
uint16_t virt_iommu_domains_stats(VirtIOMMUDomains *ds, uint32_t id,
                                  VirtIOMMUStats *st);

/*
 * Calls @fn on the first @max mappings of domain @id in IOVA order
 * (bytes, last inclusive); returns how many it called it on.
 */
typedef void VirtIOMMUMappingFn(uint64_t iova, uint64_t last, uint64_t gpa,
                                uint32_t perms, bool fixed, void *opaque);
uint64_t virt_iommu_domain_foreach_mapping(VirtIOMMUDomains *ds, uint32_t id,
                                           uint64_t max, VirtIOMMUMappingFn *fn,
                                           void *opaque);

/* Calls @fn on every attached requester ID with its domain's ID. */
typedef void VirtIOMMUAttachedFn(uint16_t rid, uint32_t domain, void *opaque);
void virt_iommu_domains_foreach_attached(VirtIOMMUDomains *ds,
                                         VirtIOMMUAttachedFn *fn,
                                         void *opaque);

/* Returns @cpu's cached IOVAs of every domain to its allocator. */
void virt_iommu_domains_cpu_dead(VirtIOMMUDomains *ds, unsigned cpu);

/* Migration records (the stream's layout is virt-iommu-migration.c's) */
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

/*
 * Appends every domain, mapping and attachment to the GArrays of the
 * records above.  The IOTLB, the rcaches and the flush queues are not
 * saved: with no IOTLB entry on the destination no stale translation
 * exists, so IOVAs waiting in a flush queue are simply free there.
 */
void virt_iommu_domains_save(VirtIOMMUDomains *ds, GArray *domains,
                             GArray *mappings, GArray *attached);
/*
 * Rebuilds domains, allocators (each range where it was) and attachments
 * from the records into an empty @ds; -EINVAL on an inconsistent record,
 * -ENOMEM if an allocator cannot be created.
 */
int virt_iommu_domains_load(VirtIOMMUDomains *ds,
                            const VirtIOMMUMigDomain *domains, int32_t ndomains,
                            const VirtIOMMUMigMapping *mappings,
                            int32_t nmappings,
                            const VirtIOMMUMigAttach *attached,
                            int32_t nattached);

#endif /* HW_IOMMU_VIRT_IOMMU_DOMAIN_H */
