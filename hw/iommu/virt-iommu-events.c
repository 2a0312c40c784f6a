/*
 * virt-iommu: the event writer
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "qemu/bswap.h"
#include "trace.h"
#include "virt-iommu-events.h"

#define EVT_SIZE sizeof(VirtIOMMUEvent)

QEMU_BUILD_BUG_ON(EVT_SIZE != 32);

/* Writes @evt at the event queue's tail; false if it was dropped. */
static bool virt_iommu_event_push(VirtIOMMUEvents *ev, VirtIOMMUEvent *evt)
{
    VirtIOMMUQueue *q = &ev->q;
    uint32_t next;

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

void virt_iommu_event_fault(VirtIOMMUEvents *ev, uint16_t rid,
                            uint32_t domain, uint64_t iova, uint32_t access,
                            uint8_t reason)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_FAULT,
        .reason = reason,
        .endpoint = cpu_to_le16(rid),
        .domain = cpu_to_le32(domain),
        .iova = cpu_to_le64(iova),
        .access = cpu_to_le32(access),
    };
    VirtIOMMUFaultKey key = {
        .rid = rid,
        .domain = domain,
        .page = iova & ~(ev->page_size - 1),
        .access = access,
        .reason = reason,
        .valid = true,
    };

    /*
     * The memory core retries a refused DMA in small pieces; one refused
     * transaction is one record.
     */
    if (!memcmp(&key, &ev->last_fault, sizeof(key))) {
        return;
    }
    trace_virt_iommu_fault(rid, domain, iova, access, reason);
    if (virt_iommu_event_push(ev, &evt)) {
        ev->last_fault = key;
    }
}

void virt_iommu_event_endpoint_gone(VirtIOMMUEvents *ev, uint16_t rid,
                                    uint32_t domain)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_ENDPOINT_GONE,
        .endpoint = cpu_to_le16(rid),
        .domain = cpu_to_le32(domain),
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
        .domain = cpu_to_le32(domain),
        .iova = cpu_to_le64(iova),
    };

    trace_virt_iommu_strict(domain, iova, reason);
    virt_iommu_event_push(ev, &evt);
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
}
