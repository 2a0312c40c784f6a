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

/*
 * BAR0: 4 KiB of 32-bit non-prefetchable memory: registers in the first
 * half, the MSI-X table and PBA in the second.
 */
#define VIRT_IOMMU_BAR0_SIZE        0x1000
#define VIRT_IOMMU_REGS_SIZE        0x800
#define VIRT_IOMMU_MSIX_TABLE       0x800
#define VIRT_IOMMU_MSIX_PBA         0xc00
#define VIRT_IOMMU_MSIX_VECTORS     2
#define VIRT_IOMMU_MSIX_EVENT       0   /* a record was added to the EVTQ */
#define VIRT_IOMMU_MSIX_COMPLETION  1   /* a SYNC with CMD_F_INTERRUPT ran */

/* Identification, read-only */
#define VIRT_IOMMU_REG_MAGIC        0x000   /* 32: VIRT_IOMMU_MAGIC */
#define VIRT_IOMMU_REG_VERSION      0x004   /* 32: major << 16 | minor */
#define VIRT_IOMMU_REG_CAP          0x008   /* 64: VIRT_IOMMU_CAP_* */
#define VIRT_IOMMU_REG_PGSIZE_MASK  0x010   /* 64: bit n set: 2^n B pages */
#define VIRT_IOMMU_REG_IOVA_BITS    0x018   /* 32: input address width */
#define VIRT_IOMMU_REG_DOMAIN_TYPES 0x01c   /* 32: bit t: type t supported */
#define VIRT_IOMMU_REG_COMMANDS     0x020   /* 64: bit op: opcode supported */
#define VIRT_IOMMU_REG_MAX_DOMAINS  0x028   /* 32: domain IDs are 1..this */

/* Control and status */
#define VIRT_IOMMU_REG_CONTROL      0x040   /* 32: RW, VIRT_IOMMU_CTRL_* */
#define VIRT_IOMMU_REG_STATUS       0x044   /* 32: RO, VIRT_IOMMU_STS_* */
#define VIRT_IOMMU_REG_ERROR        0x048   /* 32: RW1C, VIRT_IOMMU_ERR_* */

/*
 * Queues: rings of 2^SIZE entries at BASE (guest-physical, aligned to the
 * ring's size and to 4 KiB).  HEAD and TAIL are entry indexes below 2^SIZE;
 * a ring is empty when HEAD == TAIL and full when TAIL + 1 == HEAD (mod
 * 2^SIZE).  BASE and SIZE may change only while the queue is disabled.
 */
#define VIRT_IOMMU_REG_CMDQ_BASE    0x080   /* 64: RW */
#define VIRT_IOMMU_REG_CMDQ_SIZE    0x088   /* 32: RW, log2 of entries */
#define VIRT_IOMMU_REG_CMDQ_HEAD    0x090   /* 32: RO, next command to run */
#define VIRT_IOMMU_REG_CMDQ_TAIL    0x094   /* 32: RW, doorbell */
/*
 * 64: RW, guest-physical address of two 32-bit words in RAM
 * (VIRT_IOMMU_CAP_CMDQ_LAZY): the TAIL shadow, which the guest writes and
 * the device reads on a translation miss, then COPYING, which the device
 * writes (1: an endpoint keeps its own copy of translations, so commands
 * must be rung).  0: none.  8-byte aligned; may change only while the
 * queue is disabled.
 */
#define VIRT_IOMMU_REG_CMDQ_TAIL_ADDR 0x098
#define VIRT_IOMMU_TAIL_ADDR_ALIGN  8
#define VIRT_IOMMU_REG_EVTQ_BASE    0x0a0   /* 64: RW */
#define VIRT_IOMMU_REG_EVTQ_SIZE    0x0a8   /* 32: RW, log2 of entries */
#define VIRT_IOMMU_REG_EVTQ_HEAD    0x0b0   /* 32: RW, next record to read */
#define VIRT_IOMMU_REG_EVTQ_TAIL    0x0b4   /* 32: RO, next record to write */
#define VIRT_IOMMU_QUEUE_MAX_LOG2   12      /* at most 4096 entries */

#define VIRT_IOMMU_MAGIC            0x4d4f4956u /* "VIOM" in memory order */
#define VIRT_IOMMU_VERSION_MAJOR    0
#define VIRT_IOMMU_VERSION_MINOR    4
#define VIRT_IOMMU_VERSION \
    ((VIRT_IOMMU_VERSION_MAJOR << 16) | VIRT_IOMMU_VERSION_MINOR)

/* CAP bits */
#define VIRT_IOMMU_CAP_CMDQ         (1ull << 0)
#define VIRT_IOMMU_CAP_EVTQ         (1ull << 1)
#define VIRT_IOMMU_CAP_MSIX         (1ull << 2)
/* ABI 0.4: a miss runs the mapping commands up to the TAIL shadow */
#define VIRT_IOMMU_CAP_CMDQ_LAZY    (1ull << 3)
#define VIRT_IOMMU_CAPS \
    (VIRT_IOMMU_CAP_CMDQ | VIRT_IOMMU_CAP_EVTQ | VIRT_IOMMU_CAP_MSIX | \
     VIRT_IOMMU_CAP_CMDQ_LAZY)

/* Domain types, numbered as the DOMAIN_TYPES bitmap's bit positions */
#define VIRT_IOMMU_DOMAIN_BLOCKED   0
#define VIRT_IOMMU_DOMAIN_IDENTITY  1
#define VIRT_IOMMU_DOMAIN_DMA       2
#define VIRT_IOMMU_DOMAIN_DMA_FQ    3

/* CONTROL bits; reset value is VIRT_IOMMU_CTRL_DEFAULT_BYPASS */
#define VIRT_IOMMU_CTRL_ENABLE          (1u << 0)
#define VIRT_IOMMU_CTRL_DEFAULT_BYPASS  (1u << 1)
#define VIRT_IOMMU_CTRL_CMDQ_EN         (1u << 2)
#define VIRT_IOMMU_CTRL_EVTQ_EN         (1u << 3)
#define VIRT_IOMMU_CTRL_MASK \
    (VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS | \
     VIRT_IOMMU_CTRL_CMDQ_EN | VIRT_IOMMU_CTRL_EVTQ_EN)

/* STATUS bits */
#define VIRT_IOMMU_STS_ENABLED          (1u << 0)  /* CONTROL.ENABLE took */
#define VIRT_IOMMU_STS_BYPASS           (1u << 1)  /* no domain: bypass */
#define VIRT_IOMMU_STS_CMDQ_ON          (1u << 2)  /* command queue runs */
#define VIRT_IOMMU_STS_EVTQ_ON          (1u << 3)  /* event queue runs */

/* ERROR bits: sticky until written back as 1 */
#define VIRT_IOMMU_ERR_CMDQ_CONFIG      (1u << 0)  /* bad CMDQ BASE/SIZE */
#define VIRT_IOMMU_ERR_CMDQ_TAIL        (1u << 1)  /* TAIL beyond the ring */
#define VIRT_IOMMU_ERR_CMDQ_FETCH       (1u << 2)  /* ring/TAIL_ADDR not RAM */
#define VIRT_IOMMU_ERR_EVTQ_CONFIG      (1u << 3)  /* bad EVTQ BASE/SIZE */
#define VIRT_IOMMU_ERR_EVTQ_HEAD        (1u << 4)  /* HEAD beyond the ring */
#define VIRT_IOMMU_ERR_EVTQ_OVERFLOW    (1u << 5)  /* records were dropped */
#define VIRT_IOMMU_ERR_EVTQ_WRITE       (1u << 6)  /* ring not writable */
#define VIRT_IOMMU_ERR_MASK             0x7fu

/*
 * A command: 64 bytes, little-endian.  The guest writes it with status
 * VIRT_IOMMU_S_PENDING; the device writes back status and result once it
 * has run it, before HEAD moves past it.  Fields a command does not use
 * must be zero (else VIRT_IOMMU_S_INVALID).
 */
typedef struct VirtIOMMUCmd {
    uint8_t opcode;         /* VIRT_IOMMU_CMD_* */
    uint8_t flags;          /* VIRT_IOMMU_CMD_F_* */
    uint16_t status;        /* VIRT_IOMMU_S_*, written by the device */
    uint32_t domain;        /* domain ID */
    uint32_t endpoint;      /* requester ID: bus << 8 | devfn */
    uint32_t arg;           /* domain type, or VIRT_IOMMU_PERM_* */
    uint64_t iova;          /* bytes */
    uint64_t addr;          /* guest-physical; SYNC: where to write */
    uint64_t size;          /* bytes, a multiple of the page size */
    uint64_t limit;         /* MAP: highest IOVA (0: aperture top) */
                            /* SYNC: the 32-bit value to write */
    uint64_t result;        /* written by the device */
    uint64_t reserved;
} VirtIOMMUCmd;

#define VIRT_IOMMU_CMD_DOMAIN_ALLOC     0x01    /* arg: type -> result: ID */
#define VIRT_IOMMU_CMD_DOMAIN_FREE      0x02    /* domain */
#define VIRT_IOMMU_CMD_DOMAIN_SET_TYPE  0x03    /* domain, arg: type */
#define VIRT_IOMMU_CMD_ATTACH           0x04    /* endpoint, domain */
#define VIRT_IOMMU_CMD_DETACH           0x05    /* endpoint */
/* MAP: domain, addr, size, arg, limit -> result: IOVA */
#define VIRT_IOMMU_CMD_MAP              0x06
/* MAP_FIXED: domain, iova, addr, size, arg */
#define VIRT_IOMMU_CMD_MAP_FIXED        0x07
#define VIRT_IOMMU_CMD_UNMAP            0x08    /* domain, iova, size */
/* INVALIDATE: arg: scope; domain (DOMAIN, RANGE); iova, size (RANGE) */
#define VIRT_IOMMU_CMD_INVALIDATE       0x09
#define VIRT_IOMMU_CMD_SYNC             0x0a    /* addr, limit (value) */
/* QUERY_STATS: domain (0: whole device), addr: VirtIOMMUStats goes there */
#define VIRT_IOMMU_CMD_QUERY_STATS      0x0b

/* INVALIDATE scopes */
#define VIRT_IOMMU_INV_ALL              0   /* every IOTLB entry */
#define VIRT_IOMMU_INV_DOMAIN           1   /* one domain's entries */
#define VIRT_IOMMU_INV_RANGE            2   /* a domain's [iova, +size) */

#define VIRT_IOMMU_CMD_F_INTERRUPT      (1u << 0)  /* SYNC: MSI-X vector 1 */

#define VIRT_IOMMU_PERM_READ            (1u << 0)  /* device may read */
#define VIRT_IOMMU_PERM_WRITE           (1u << 1)  /* device may write */

/* Command status */
#define VIRT_IOMMU_S_PENDING        0   /* not run yet (written by guest) */
#define VIRT_IOMMU_S_OK             1
#define VIRT_IOMMU_S_UNSUPPORTED    2   /* unknown opcode */
/* INVALID: bad flags, field, type, perms, size or alignment */
#define VIRT_IOMMU_S_INVALID        3
#define VIRT_IOMMU_S_NO_DOMAIN      4   /* domain ID not allocated */
#define VIRT_IOMMU_S_BUSY           5   /* domain still has endpoints */
#define VIRT_IOMMU_S_NO_SPACE       6   /* no IOVA space or domain ID left */
#define VIRT_IOMMU_S_EXISTS         7   /* overlaps an existing mapping */
#define VIRT_IOMMU_S_NOT_MAPPED     8   /* UNMAP found no mapping */
#define VIRT_IOMMU_S_PARTIAL        9   /* UNMAP would split a mapping */
#define VIRT_IOMMU_S_RANGE          10  /* outside the IOVA space */
#define VIRT_IOMMU_S_WRONG_TYPE     11  /* not valid for the domain type */
#define VIRT_IOMMU_S_DMA_ERROR      12  /* SYNC's write failed */
#define VIRT_IOMMU_S_NO_ENDPOINT    13  /* no PCI function has that RID */

/*
 * QUERY_STATS result: 256 bytes, little-endian.  For a domain, its own
 * counters and its IOVA allocator's (zero for BLOCKED and IDENTITY); for
 * domain 0, the device's counters and the sums over all live domains.
 */
typedef struct VirtIOMMUStats {
    uint32_t domain;            /* as asked; 0: whole device */
    uint32_t type;              /* domain type; domain 0: live domains */
    uint32_t endpoints;         /* attached requester IDs */
    uint32_t reserved0;
    uint64_t mappings;          /* live mappings */
    uint64_t mapped_bytes;
    uint64_t fq_pending;        /* unmapped IOVAs awaiting invalidation */
    uint64_t fq_flushes;        /* batched invalidations run */
    /* IOVA allocator (iova/include/iova/iova.h IovaStats) */
    uint64_t iova_live_ranges;  /* allocated + reserved ranges */
    uint64_t iova_reserved_ranges;
    uint64_t iova_live_pfns;
    uint64_t mags_allocated;
    uint64_t mags_freed;
    uint64_t mags_live;
    uint64_t depot_mags;
    uint64_t cached_pfns;       /* IOVAs parked in magazines and depots */
    uint64_t rcache_hits;
    uint64_t rcache_misses;
    uint64_t depot_trims;
    uint64_t rcache_flushes;
    uint64_t cpu_flushes;
    /* Device-wide (domain 0 only) */
    uint64_t events;            /* event records written */
    uint64_t events_dropped;    /* lost to a full or disabled event queue */
    uint64_t iotlb_hits;
    uint64_t iotlb_misses;
    uint64_t iotlb_invalidations; /* entries dropped */
    /*
     * Magazines alive in all allocators of the process: 0 once every
     * domain is freed, unless one leaked
     */
    uint64_t process_mags_live;
    /*
     * Magazines found by walking every rcache list under its locks,
     * summed like mags_live: a count independent of mags_allocated and
     * mags_freed, so mags_live != mags_reachable is a leak
     */
    uint64_t mags_reachable;
    /* Domain 0 only: fault injections that fired (x-virt-iommu-inject) */
    uint64_t injected_status;   /* commands completed with a chosen status */
    uint64_t injected_syncs;    /* SYNCs whose completion was delayed */
    uint64_t injected_drops;    /* event records dropped */
    uint64_t injected_attaches; /* ATTACHes refused */
    uint64_t stale_reports;     /* STRICT STALE_IOTLB records (domain 0) */
    uint64_t reserved[1];
} VirtIOMMUStats;

/* An event record: 32 bytes, little-endian, written by the device. */
typedef struct VirtIOMMUEvent {
    uint8_t type;           /* VIRT_IOMMU_EVT_* */
    uint8_t reason;         /* VIRT_IOMMU_FAULT_* for EVT_FAULT */
    uint16_t endpoint;      /* requester ID */
    uint32_t domain;        /* 0: none */
    uint64_t iova;          /* faulting address (bytes) */
    uint32_t access;        /* VIRT_IOMMU_PERM_* of the access */
    uint32_t reserved0;
    uint64_t age_ns;        /* STRICT STALE_IOTLB: virtual ns since UNMAP */
} VirtIOMMUEvent;

#define VIRT_IOMMU_EVT_FAULT            1
/* An attached endpoint vanished (VF disabled, unplugged): detached */
#define VIRT_IOMMU_EVT_ENDPOINT_GONE    2
/* strict-checks: a driver mistake the device refused (reason below) */
#define VIRT_IOMMU_EVT_STRICT           3

#define VIRT_IOMMU_STRICT_NEVER_MAPPED  1   /* UNMAP of IOVAs never mapped */
#define VIRT_IOMMU_STRICT_DOUBLE_UNMAP  2   /* UNMAP of IOVAs unmapped before */
/* DMA translated by an IOTLB entry whose mapping was unmapped (allowed) */
#define VIRT_IOMMU_STRICT_STALE_IOTLB   3

#define VIRT_IOMMU_FAULT_BLOCKED        1   /* no domain, or a BLOCKED one */
#define VIRT_IOMMU_FAULT_NOT_MAPPED     2   /* no mapping holds the IOVA */
#define VIRT_IOMMU_FAULT_PERMISSION     3   /* mapping forbids the access */
/* strict-checks: the IOVA was unmapped recently (use after unmap) */
#define VIRT_IOMMU_FAULT_UNMAPPED       4

#endif /* HW_IOMMU_VIRT_IOMMU_REGS_H */
