/*
 * virt-iommu: the PCI function's state, shared by the files at the top of
 * the device (virt-iommu.c, virt-iommu-cmd.c, virt-iommu-migration.c,
 * virt-iommu-qmp.c), which embed the layers below and call down into
 * them: address spaces (virt-iommu-as.h), domains (virt-iommu-domain.h),
 * the IOTLB, the event writer and the rings.  docs/devel/device-layers.rst
 * draws the graph.
 *
 * All functions run with the BQL held (MMIO, DMA translation from device
 * emulation, timers), which serialises them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_INTERNAL_H
#define HW_IOMMU_VIRT_IOMMU_INTERNAL_H

#include "hw/iommu/virt-iommu.h"
#include "qemu/timer.h"
#include "virt-iommu-as.h"
#include "virt-iommu-domain.h"
#include "virt-iommu-events.h"
#include "virt-iommu-iotlb.h"
#include "virt-iommu-recorder.h"
#include "virt-iommu-ring.h"

/*
 * Armed fault injections (x-virt-iommu-inject, the x-inject property);
 * each disarms itself after its count.  Not migrated: test state.
 */
typedef struct VirtIOMMUInject {
    int32_t opcode;             /* VIRT_IOMMU_CMD_*, -1: any command */
    uint16_t status;            /* VIRT_IOMMU_S_* those complete with */
    uint32_t status_left;       /* commands still to complete so */
    uint64_t sync_delay_ns;     /* virtual time a SYNC's completion waits */
    uint32_t sync_left;         /* SYNCs still to delay */
    uint16_t attach_status;     /* VIRT_IOMMU_S_* a refused ATTACH gets */
    uint32_t attach_left;       /* ATTACHes still to refuse */
    uint64_t injected_status;   /* fired, since reset */
    uint64_t injected_syncs;
    uint64_t injected_attaches;
} VirtIOMMUInject;

/* A SYNC whose completion an injection delays */
typedef struct VirtIOMMUPendingSync {
    QEMUTimer *timer;           /* QEMU_CLOCK_VIRTUAL */
    bool pending;               /* CMDQ_HEAD stays on it until it fires */
    VirtIOMMUCmd cmd;           /* host byte order */
} VirtIOMMUPendingSync;

struct VirtIOMMUState {
    PCIDevice parent_obj;

    MemoryRegion bar0;          /* registers + MSI-X */
    MemoryRegion regs;

    /* Guest-visible state */
    uint32_t control;           /* VIRT_IOMMU_REG_CONTROL */
    uint32_t error;             /* VIRT_IOMMU_REG_ERROR */
    VirtIOMMUQueue cmdq;
    uint64_t cmdq_tail_addr;    /* VIRT_IOMMU_REG_CMDQ_TAIL_ADDR */
    bool cmdq_running;          /* a batch runs: a miss must not start one */
    uint64_t cmdq_miss_commands; /* run on a translation miss, since reset */
    VirtIOMMUEvents events;     /* the event queue and its writer */
    VirtIOMMUIOTLB iotlb;
    VirtIOMMUDomains domains;
    VirtIOMMUEndpoints eps;     /* the endpoints' address spaces */
    VirtIOMMURecorder recorder; /* the last commands and events */
    VirtIOMMUInject inject;
    VirtIOMMUPendingSync sync;

    /* Migration stream records, built by pre_save, read by post_load */
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
    uint32_t flight_records;    /* K of the flight recorder */
    char *inject_spec;          /* x-inject: armed at realize */
    int32_t rcache_cpu;         /* test hook: rcache CPU, -1: the vCPU */
    bool strict_checks;         /* report driver mistakes as events */
};

/* True if @addr may be CMDQ_TAIL_ADDR (0: none; else 8-byte aligned). */
static inline bool virt_iommu_tail_addr_ok(uint64_t addr)
{
    return !(addr & (VIRT_IOMMU_TAIL_ADDR_ALIGN - 1));
}

/* virt-iommu-cmd.c: the command queue, command decode and dispatch */

/* Bitmap of the opcodes the device runs (VIRT_IOMMU_REG_COMMANDS). */
uint64_t virt_iommu_supported_commands(void);

/*
 * Runs the commands between CMDQ HEAD and TAIL, then re-derives the
 * endpoints' views once if an attachment or a domain type changed.
 */
void virt_iommu_cmdq_run(VirtIOMMUState *s);

/*
 * An endpoint's access missed (ABI 0.4, "Commands without a doorbell"):
 * if the guest's TAIL shadow is ahead of CMDQ_TAIL, runs the mapping
 * commands (MAP, MAP_FIXED, UNMAP, INVALIDATE) from HEAD up to it,
 * stopping before any other.  True if a command ran, so that the access
 * is worth looking up again.  Not while a batch runs (a miss inside one),
 * nor outside the BQL (an endpoint in an iothread).
 */
bool virt_iommu_cmdq_run_on_miss(void *opaque);

/*
 * Writes COPYING, the word after the TAIL shadow: 1 while an endpoint
 * keeps its own copy of translations (a MAP notifier), else 0.  Nothing
 * without a TAIL shadow or with the queue off.
 */
void virt_iommu_cmdq_write_copying(void *opaque);

/*
 * QUERY_STATS: fills @st (host byte order) for domain @id, or for the
 * device with @id 0 (with its event and IOTLB counters).
 */
uint16_t virt_iommu_stats(VirtIOMMUState *s, uint32_t id, VirtIOMMUStats *st);

/*
 * The CPU index whose rcache the current command uses (a VirtIOMMUCpuFn
 * of the device): the vCPU that rang the doorbell, as a CPU picks its own
 * rcache, unless the x-rcache-cpu test hook names one.
 */
unsigned virt_iommu_cpu(void *opaque);

/*
 * Runs the SYNC whose completion was delayed and the commands after it
 * (the injection's timer).
 */
void virt_iommu_sync_fire(void *opaque);

/* virt-iommu-inject.c: fault injection */

/*
 * Arms one injection, replacing one of the same @kind:
 * "status" (the next @count commands of @opcode, or any if -1, complete
 * with @status unrun), "sync-delay" (the next @count SYNCs complete
 * @delay_ns virtual ns late), "drop-events" (the next @count event
 * records are dropped as by an overflow) or "refuse-attach" (the next
 * @count ATTACHes complete with @status unrun).  Count 0 disarms.
 */
bool virt_iommu_inject_arm(VirtIOMMUState *s, const char *kind,
                           int32_t opcode, int32_t status, uint32_t count,
                           uint64_t delay_ns, Error **errp);
/*
 * Arms what @spec says: "KIND:COUNT[:ARG[:ARG]]" with opcode and status
 * names or numbers, e.g. "status:3:map:no-space", "sync-delay:2:5000000",
 * "drop-events:4", "refuse-attach:1:busy"; several separated by ','.
 */
bool virt_iommu_inject_parse(VirtIOMMUState *s, const char *spec,
                             Error **errp);
/* Disarms every injection and cancels a delayed SYNC (device reset). */
void virt_iommu_inject_reset(VirtIOMMUState *s);

/* virt-iommu-migration.c */
extern const VMStateDescription vmstate_virt_iommu;

#endif /* HW_IOMMU_VIRT_IOMMU_INTERNAL_H */
