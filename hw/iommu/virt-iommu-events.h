/*
 * virt-iommu: the event writer
 *
 * Writes fault, ENDPOINT_GONE and STRICT records into the event queue and
 * raises the event interrupt through a callback, so that it knows nothing
 * of the PCI function above it.  A bottom layer.  BQL held.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_EVENTS_H
#define HW_IOMMU_VIRT_IOMMU_EVENTS_H

#include "virt-iommu-recorder.h"
#include "virt-iommu-ring.h"

/* What makes two faults the same (see virt_iommu_event_fault()) */
typedef struct VirtIOMMUFaultKey {
    uint64_t page;              /* faulting IOVA, page-aligned */
    uint32_t domain;
    uint32_t access;
    uint16_t rid;
    uint8_t reason;
    bool valid;
} VirtIOMMUFaultKey;

typedef struct VirtIOMMUEvents {
    VirtIOMMUQueue q;           /* EVTQ_BASE, EVTQ_SIZE, EVTQ_HEAD/TAIL */
    VirtIOMMUFaultKey last_fault; /* last record written, not consumed */
    uint64_t records;           /* written */
    uint64_t dropped;           /* not written: queue off, full or broken */
    /* Set once by the device before the first event */
    uint64_t page_size;         /* bytes: faults are told apart per page */
    AddressSpace *dma_as;       /* where the queue lives (the device's DMA) */
    const uint32_t *control;    /* the device's CONTROL: EVTQ_EN is read */
    uint32_t *error;            /* the device's ERROR: EVTQ_* bits are set */
    void (*raise)(void *opaque); /* the event interrupt (MSI-X vector) */
    void *opaque;
    VirtIOMMURecorder *recorder; /* every record, written or dropped */
    uint32_t inject_drops;      /* records still to drop (fault injection) */
    uint64_t injected_drops;    /* records dropped by injection */
    uint64_t stale_reports;     /* STALE_IOTLB records asked for */
} VirtIOMMUEvents;

/*
 * Records a translation fault of requester @rid in @domain (0: none) at
 * @iova for an @access of VIRT_IOMMU_PERM_* with a VIRT_IOMMU_FAULT_*
 * @reason.  A fault identical to the last one recorded and not yet
 * consumed is not recorded again.  A full queue drops the record and sets
 * ERROR.EVTQ_OVERFLOW.
 */
void virt_iommu_event_fault(VirtIOMMUEvents *ev, uint16_t rid,
                            uint32_t domain, uint64_t iova, uint32_t access,
                            uint8_t reason);

/* Records that attached endpoint @rid vanished from @domain. */
void virt_iommu_event_endpoint_gone(VirtIOMMUEvents *ev, uint16_t rid,
                                    uint32_t domain);

/*
 * strict-checks: records a driver mistake (VIRT_IOMMU_STRICT_*) and dumps
 * the flight recorder to the log.
 */
void virt_iommu_event_strict(VirtIOMMUEvents *ev, uint32_t domain,
                             uint64_t iova, uint8_t reason);

/*
 * strict-checks: requester @rid's @access (VIRT_IOMMU_PERM_*) at @iova of
 * @domain was translated by an IOTLB entry whose mapping was unmapped
 * @age_ns virtual nanoseconds ago; the DMA itself was allowed.  Records
 * STRICT STALE_IOTLB and dumps the flight recorder.
 */
void virt_iommu_event_stale(VirtIOMMUEvents *ev, uint16_t rid,
                            uint32_t domain, uint64_t iova, uint32_t access,
                            uint64_t age_ns);

/*
 * The guest moved EVTQ_HEAD (or re-enabled the queue): a repeated fault
 * is news again.
 */
void virt_iommu_event_consumed(VirtIOMMUEvents *ev);

/*
 * Device reset: an empty, unconfigured queue and zero counters; armed
 * injections are disarmed.
 */
void virt_iommu_events_reset(VirtIOMMUEvents *ev);

#endif /* HW_IOMMU_VIRT_IOMMU_EVENTS_H */
