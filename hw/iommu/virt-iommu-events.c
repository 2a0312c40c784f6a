/*
 * virt-iommu: the event writer
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "qemu/bswap.h"
#include "qemu/timer.h"
#include "trace.h"
#include "virt-iommu-events.h"

#define EVT_SIZE sizeof(VirtIOMMUEvent)

QEMU_BUILD_BUG_ON(EVT_SIZE != 32);

/* Writes @evt at the event queue's tail; false if it was dropped. */
static bool virt_iommu_event_write(VirtIOMMUEvents *ev, VirtIOMMUEvent *evt)
{
    VirtIOMMUQueue *q = &ev->q;
    uint32_t next;

    if (ev->inject_drops) {
        /* As an overflow would: the guest sees the flag, not the record */
        ev->inject_drops--;
        ev->injected_drops++;
        *ev->error |= VIRT_IOMMU_ERR_EVTQ_OVERFLOW;
        ev->dropped++;
        return false;
    }
    if (!(*ev->control & VIRT_IOMMU_CTRL_EVTQ_EN) ||
        (*ev->error & (VIRT_IOMMU_ERR_EVTQ_HEAD | VIRT_IOMMU_ERR_EVTQ_WRITE))) {
        ev->dropped++;
        return false;
    }
    next = (q->tail + 1) & virt_iommu_queue_mask(q);
    if (next == q->head) {
        /* Never block translation on a slow consumer: drop and say so. */
        *ev->error |= VIRT_IOMMU_ERR_EVTQ_OVERFLOW;
        ev->dropped++;
        return false;
    }
    if (virt_iommu_ram_write(ev->dma_as, q->base + (uint64_t)q->tail * EVT_SIZE,
                             evt, EVT_SIZE) != MEMTX_OK) {
        *ev->error |= VIRT_IOMMU_ERR_EVTQ_WRITE;
        ev->dropped++;
        return false;
    }
    ev->records++;
    q->tail = next;
    ev->raise(ev->opaque);
    return true;
}

/* Writes @evt (host byte order) and records it in the flight recorder. */
static bool virt_iommu_event_push(VirtIOMMUEvents *ev, VirtIOMMUEvent *evt)
{
    VirtIOMMURecord rec = {
        .kind = VIRT_IOMMU_REC_EVENT,
        .type = evt->type,
        .status = evt->reason,
        .endpoint = evt->endpoint,
        .domain = evt->domain,
        .arg = evt->access,
        .iova = evt->iova,
        .result = evt->age_ns,
    };
    uint64_t injected = ev->injected_drops;
    bool written;

    evt->endpoint = cpu_to_le16(evt->endpoint);
    evt->domain = cpu_to_le32(evt->domain);
    evt->iova = cpu_to_le64(evt->iova);
    evt->access = cpu_to_le32(evt->access);
    evt->age_ns = cpu_to_le64(evt->age_ns);
    written = virt_iommu_event_write(ev, evt);
    rec.dropped = !written;
    rec.injected = ev->injected_drops != injected;
    virt_iommu_record(ev->recorder, &rec);
    return written;
}

/*
 * Field by field: the key's padding bytes hold whatever the stack did
 * (clang does not zero them for a designated initializer), so memcmp()
 * would see one refused transaction as many.
 */
static bool fault_key_equal(const VirtIOMMUFaultKey *a,
                            const VirtIOMMUFaultKey *b)
{
    return a->valid == b->valid && a->page == b->page &&
           a->domain == b->domain && a->access == b->access &&
           a->rid == b->rid && a->reason == b->reason;
}

void virt_iommu_event_fault(VirtIOMMUEvents *ev, uint16_t rid,
                            uint32_t domain, uint64_t iova, uint32_t access,
                            uint8_t reason)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_FAULT,
        .reason = reason,
        .endpoint = rid,
        .domain = domain,
        .iova = iova,
        .access = access,
    };
    VirtIOMMUFaultKey key = {
        .rid = rid,
        .domain = domain,
        .page = iova & ~(ev->page_size - 1),
        .access = access,
        .reason = reason,
        .valid = true,
    };
    uint64_t injected;

    /*
     * The memory core retries a refused DMA in small pieces; one refused
     * transaction is one record.
     */
    if (fault_key_equal(&key, &ev->last_fault)) {
        return;
    }
    trace_virt_iommu_fault(rid, domain, iova, access, reason);
    injected = ev->injected_drops;
    /* A record lost to injection stands for the transaction all the same */
    if (virt_iommu_event_push(ev, &evt) || ev->injected_drops != injected) {
        ev->last_fault = key;
    }
}

void virt_iommu_event_endpoint_gone(VirtIOMMUEvents *ev, uint16_t rid,
                                    uint32_t domain)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_ENDPOINT_GONE,
        .endpoint = rid,
        .domain = domain,
    };

    trace_virt_iommu_endpoint_gone(rid, domain);
    virt_iommu_event_push(ev, &evt);
}

void virt_iommu_event_strict(VirtIOMMUEvents *ev, uint32_t domain,
                             uint64_t iova, uint8_t reason)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_STRICT,
        .reason = reason,
        .domain = domain,
        .iova = iova,
    };

    trace_virt_iommu_strict(domain, iova, reason);
    virt_iommu_event_push(ev, &evt);
    virt_iommu_recorder_dump(ev->recorder, "strict-checks found a driver "
                             "mistake (STRICT record)");
}

void virt_iommu_event_stale(VirtIOMMUEvents *ev, uint16_t rid,
                            uint32_t domain, uint64_t iova, uint32_t access,
                            uint64_t age_ns)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_STRICT,
        .reason = VIRT_IOMMU_STRICT_STALE_IOTLB,
        .endpoint = rid,
        .domain = domain,
        .iova = iova,
        .access = access,
        .age_ns = age_ns,
    };

    trace_virt_iommu_stale(rid, domain, iova, age_ns);
    ev->stale_reports++;
    virt_iommu_event_push(ev, &evt);
    virt_iommu_recorder_dump(ev->recorder, "strict-checks: DMA through a "
                             "stale IOTLB entry (STRICT STALE_IOTLB record)");
}

void virt_iommu_event_consumed(VirtIOMMUEvents *ev)
{
    memset(&ev->last_fault, 0, sizeof(ev->last_fault));
}

void virt_iommu_events_reset(VirtIOMMUEvents *ev)
{
    memset(&ev->q, 0, sizeof(ev->q));
    virt_iommu_event_consumed(ev);
    ev->records = ev->dropped = 0;
    ev->inject_drops = 0;
    ev->injected_drops = ev->stale_reports = 0;
}
