/*
 * virt-iommu: the flight recorder
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/timer.h"
#include "trace.h"
#include "virt-iommu-recorder.h"

void virt_iommu_recorder_init(VirtIOMMURecorder *r, uint32_t size)
{
    r->ring = size ? g_new0(VirtIOMMURecord, size) : NULL;
    r->size = size;
    r->total = 0;
}

void virt_iommu_recorder_destroy(VirtIOMMURecorder *r)
{
    g_clear_pointer(&r->ring, g_free);
    r->size = 0;
}

void virt_iommu_record(VirtIOMMURecorder *r, const VirtIOMMURecord *rec)
{
    VirtIOMMURecord *slot;

    if (!r->size) {
        return;
    }
    slot = &r->ring[r->total++ % r->size];
    *slot = *rec;
    slot->time_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

uint32_t virt_iommu_recorder_foreach(VirtIOMMURecorder *r, uint32_t max,
                                     VirtIOMMURecordFn *fn, void *opaque)
{
    uint64_t n = MIN(MIN(r->total, r->size), max);

    for (uint64_t i = r->total - n; i < r->total; i++) {
        fn(&r->ring[i % r->size], opaque);
    }
    return n;
}

static void virt_iommu_recorder_dump_one(const VirtIOMMURecord *rec,
                                         void *opaque)
{
    trace_virt_iommu_flight_record(rec->time_ns, rec->kind, rec->type,
                                   rec->status, rec->endpoint, rec->domain,
                                   rec->iova, rec->size, rec->result);
    qemu_log_mask(LOG_GUEST_ERROR, "virt-iommu: %" PRId64 " ns %s 0x%x "
                  "status/reason %u%s rid 0x%04x domain %u iova 0x%" PRIx64
                  " size 0x%" PRIx64 " addr 0x%" PRIx64 " result 0x%" PRIx64
                  "\n", rec->time_ns,
                  rec->kind == VIRT_IOMMU_REC_CMD ? "cmd" : "event",
                  rec->type, rec->status,
                  rec->injected ? " (injected)" :
                  rec->dropped ? " (dropped)" : "",
                  rec->endpoint, rec->domain, rec->iova, rec->size,
                  rec->addr, rec->result);
}

void virt_iommu_recorder_dump(VirtIOMMURecorder *r, const char *why)
{
    if (!r->size) {
        return;
    }
    qemu_log_mask(LOG_GUEST_ERROR, "virt-iommu: %s; the last %" PRIu64
                  " commands and events:\n", why, MIN(r->total, r->size));
    virt_iommu_recorder_foreach(r, r->size, virt_iommu_recorder_dump_one,
                                NULL);
}
