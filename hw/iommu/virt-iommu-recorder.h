/*
 * virt-iommu: the flight recorder
 *
 * A ring of the last K commands and event records of a device, each with
 * its virtual-clock time, so that the report of a driver bug comes with
 * what the driver did before it.  A bottom layer: the command decoder and
 * the event writer record into it; the monitor reads it.  It survives
 * device reset (a reset is often what is being debugged).  BQL held.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_RECORDER_H
#define HW_IOMMU_VIRT_IOMMU_RECORDER_H

enum {
    VIRT_IOMMU_REC_CMD = 1,     /* a command and how it completed */
    VIRT_IOMMU_REC_EVENT = 2,   /* an event record, written or dropped */
};

typedef struct VirtIOMMURecord {
    int64_t time_ns;            /* QEMU_CLOCK_VIRTUAL when recorded */
    uint8_t kind;               /* VIRT_IOMMU_REC_* */
    uint8_t type;               /* VIRT_IOMMU_CMD_* or VIRT_IOMMU_EVT_* */
    uint16_t status;            /* command: VIRT_IOMMU_S_*; event: reason */
    uint16_t endpoint;          /* requester ID */
    bool injected;              /* status injected, or record dropped */
    bool dropped;               /* event: not written to the queue */
    uint32_t domain;
    uint32_t arg;               /* command: arg; event: access */
    uint64_t iova;              /* bytes */
    uint64_t addr;              /* command: guest-physical */
    uint64_t size;              /* command: bytes */
    uint64_t result;            /* command: result; event: age (ns) */
} VirtIOMMURecord;

typedef struct VirtIOMMURecorder {
    VirtIOMMURecord *ring;      /* [size], NULL if size is 0 */
    uint32_t size;              /* records kept (the x-flight-recorder K) */
    uint64_t total;             /* records ever recorded */
} VirtIOMMURecorder;

/* Keeps the last @size records (0: records nothing). */
void virt_iommu_recorder_init(VirtIOMMURecorder *r, uint32_t size);
/* Frees the ring; @r may be zero-filled. */
void virt_iommu_recorder_destroy(VirtIOMMURecorder *r);
/* Records @rec, stamped with the virtual clock, over the oldest one. */
void virt_iommu_record(VirtIOMMURecorder *r, const VirtIOMMURecord *rec);

/*
 * Calls @fn on the last @max records (fewer if fewer are kept), oldest
 * first; returns how many.
 */
typedef void VirtIOMMURecordFn(const VirtIOMMURecord *rec, void *opaque);
uint32_t virt_iommu_recorder_foreach(VirtIOMMURecorder *r, uint32_t max,
                                     VirtIOMMURecordFn *fn, void *opaque);

/*
 * Writes the ring, oldest first, to the log (LOG_GUEST_ERROR, so -d
 * guest_errors shows it) and to the trace event virt_iommu_flight_record,
 * headed by @why.
 */
void virt_iommu_recorder_dump(VirtIOMMURecorder *r, const char *why);

#endif /* HW_IOMMU_VIRT_IOMMU_RECORDER_H */
