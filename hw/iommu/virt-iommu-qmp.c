/*
 * virt-iommu: QMP query-virt-iommu and HMP info virt-iommu
 *
 * query-virt-iommu (qapi/virt-iommu.json) reports the state of every
 * virt-iommu as QAPI types, for tools and tests; HMP's "info virt-iommu"
 * formats that result for people debugging drivers, as QEMU wants HMP
 * commands built on QMP ones.  At the top of the device, beside
 * virt-iommu-cmd.c: counters come from virt_iommu_stats() (QUERY_STATS),
 * domains, their endpoints and mappings from the domain layer's functions
 * (virt-iommu-domain.h) only.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-virt-iommu.h"
#include "virt-iommu-internal.h"

/* Mappings HMP lists per domain; the rest are counted */
#define VIRT_IOMMU_HMP_MAPPINGS 16
/* Flight-recorder records HMP lists, the newest */
#define VIRT_IOMMU_HMP_RECORDS 16

static const VirtIommuDomainType domain_types[] = {
    [VIRT_IOMMU_DOMAIN_BLOCKED] = VIRT_IOMMU_DOMAIN_TYPE_BLOCKED,
    [VIRT_IOMMU_DOMAIN_IDENTITY] = VIRT_IOMMU_DOMAIN_TYPE_IDENTITY,
    [VIRT_IOMMU_DOMAIN_DMA] = VIRT_IOMMU_DOMAIN_TYPE_DMA,
    [VIRT_IOMMU_DOMAIN_DMA_FQ] = VIRT_IOMMU_DOMAIN_TYPE_DMA_FQ,
};

static VirtIommuAllocatorInfo *query_allocator(const VirtIOMMUStats *st)
{
    VirtIommuAllocatorInfo *a = g_new(VirtIommuAllocatorInfo, 1);

    *a = (VirtIommuAllocatorInfo) {
        .live_ranges = st->iova_live_ranges,
        .reserved_ranges = st->iova_reserved_ranges,
        .live_pfns = st->iova_live_pfns,
        .mags_live = st->mags_live,
        .mags_reachable = st->mags_reachable,
        .mags_allocated = st->mags_allocated,
        .mags_freed = st->mags_freed,
        .depot_mags = st->depot_mags,
        .cached_pfns = st->cached_pfns,
        .rcache_hits = st->rcache_hits,
        .rcache_misses = st->rcache_misses,
        .depot_trims = st->depot_trims,
        .rcache_flushes = st->rcache_flushes,
        .cpu_flushes = st->cpu_flushes,
    };
    return a;
}

static VirtIommuQueueInfo *query_queue(const VirtIOMMUQueue *q)
{
    VirtIommuQueueInfo *info = g_new(VirtIommuQueueInfo, 1);

    *info = (VirtIommuQueueInfo) {
        .base = q->base,
        .entries = 1u << q->log2size,
        .head = q->head,
        .tail = q->tail,
    };
    return info;
}

/* An attachment: requester ID and domain ID */
typedef struct VirtIOMMUQueryAttached {
    uint16_t rid;
    uint32_t domain;
} VirtIOMMUQueryAttached;

static void query_attached(uint16_t rid, uint32_t domain, void *opaque)
{
    VirtIOMMUQueryAttached a = { .rid = rid, .domain = domain };

    g_array_append_val((GArray *)opaque, a);
}

static gint query_attached_cmp(gconstpointer a, gconstpointer b)
{
    return ((const VirtIOMMUQueryAttached *)a)->rid -
           ((const VirtIOMMUQueryAttached *)b)->rid;
}

static void query_mapping(uint64_t iova, uint64_t last, uint64_t gpa,
                          uint32_t perms, bool fixed, void *opaque)
{
    VirtIommuMappingInfoList ***tail = opaque;
    VirtIommuMappingInfo *m = g_new(VirtIommuMappingInfo, 1);

    *m = (VirtIommuMappingInfo) {
        .iova = iova,
        .last = last,
        .gpa = gpa,
        .read = perms & VIRT_IOMMU_PERM_READ,
        .write = perms & VIRT_IOMMU_PERM_WRITE,
        .fixed = fixed,
    };
    QAPI_LIST_APPEND(*tail, m);
}

/* @attached: every attachment of the device, in requester ID order */
static VirtIommuDomainInfo *query_domain(VirtIOMMUState *s, uint32_t id,
                                         const VirtIOMMUStats *st,
                                         GArray *attached,
                                         uint64_t max_mappings)
{
    VirtIommuDomainInfo *info = g_new0(VirtIommuDomainInfo, 1);
    uint16List **endpoints = &info->endpoints;
    VirtIommuMappingInfoList **mappings = &info->mappings;

    assert(st->type < ARRAY_SIZE(domain_types));
    info->id = id;
    info->type = domain_types[st->type];
    for (guint i = 0; i < attached->len; i++) {
        VirtIOMMUQueryAttached *a = &g_array_index(attached,
                                                   VirtIOMMUQueryAttached, i);

        if (a->domain == id) {
            QAPI_LIST_APPEND(endpoints, a->rid);
        }
    }
    info->mapping_count = st->mappings;
    info->mapped_bytes = st->mapped_bytes;
    info->fq_pending = st->fq_pending;
    info->fq_flushes = st->fq_flushes;
    if (st->type == VIRT_IOMMU_DOMAIN_DMA ||
        st->type == VIRT_IOMMU_DOMAIN_DMA_FQ) {
        info->allocator = query_allocator(st);
    }
    virt_iommu_domain_foreach_mapping(&s->domains, id, max_mappings,
                                      query_mapping, &mappings);
    return info;
}

static void query_record(const VirtIOMMURecord *rec, void *opaque)
{
    VirtIommuFlightRecordList ***tail = opaque;
    VirtIommuFlightRecord *r = g_new(VirtIommuFlightRecord, 1);

    *r = (VirtIommuFlightRecord) {
        .time_ns = rec->time_ns,
        .kind = rec->kind == VIRT_IOMMU_REC_CMD ?
                VIRT_IOMMU_RECORD_KIND_COMMAND : VIRT_IOMMU_RECORD_KIND_EVENT,
        .type = rec->type,
        .status = rec->status,
        .endpoint = rec->endpoint,
        .domain = rec->domain,
        .arg = rec->arg,
        .iova = rec->iova,
        .addr = rec->addr,
        .size = rec->size,
        .result = rec->result,
        .injected = rec->injected,
        .dropped = rec->dropped,
    };
    QAPI_LIST_APPEND(*tail, r);
}

static VirtIommuInfo *query_device(VirtIOMMUState *s, uint64_t max_mappings,
                                   uint32_t flight_records)
{
    VirtIommuFlightRecordList **records;
    PCIDevice *dev = PCI_DEVICE(s);
    VirtIommuInfo *info = g_new0(VirtIommuInfo, 1);
    VirtIommuDomainInfoList **domains = &info->domains;
    g_autoptr(GArray) attached = g_array_new(false, false,
                                             sizeof(VirtIOMMUQueryAttached));
    VirtIOMMUStats st;

    info->qom_path = object_get_canonical_path(OBJECT(s));
    info->id = g_strdup(DEVICE(s)->id);
    info->bus = pci_dev_bus_num(dev);
    info->slot = PCI_SLOT(dev->devfn);
    info->function = PCI_FUNC(dev->devfn);
    info->abi_major = VIRT_IOMMU_VERSION_MAJOR;
    info->abi_minor = VIRT_IOMMU_VERSION_MINOR;
    info->control = s->control;
    info->error = s->error;
    info->page_size = s->page_size;
    info->iova_bits = s->iova_bits;
    info->cmdq = query_queue(&s->cmdq);
    if (s->cmdq_tail_addr) {
        info->cmdq->has_tail_addr = true;
        info->cmdq->tail_addr = s->cmdq_tail_addr;
        info->cmdq->has_miss_commands = true;
        info->cmdq->miss_commands = s->cmdq_miss_commands;
    }
    info->evtq = query_queue(&s->events.q);

    virt_iommu_stats(s, 0, &st);
    info->events = st.events;
    info->events_dropped = st.events_dropped;
    info->stale_iotlb_reports = st.stale_reports;
    info->injected = g_new(VirtIommuInjectedInfo, 1);
    *info->injected = (VirtIommuInjectedInfo) {
        .status = st.injected_status,
        .syncs = st.injected_syncs,
        .drops = st.injected_drops,
        .attaches = st.injected_attaches,
    };
    info->iotlb = g_new(VirtIommuIotlbInfo, 1);
    *info->iotlb = (VirtIommuIotlbInfo) {
        .entries = s->iotlb_size,
        .hits = st.iotlb_hits,
        .misses = st.iotlb_misses,
        .invalidations = st.iotlb_invalidations,
    };
    /* For domain 0, type counts the live domains. */
    if (st.type) {
        info->allocator = query_allocator(&st);
    }
    info->process_mags_live = st.process_mags_live;

    /* The domain layer's order is its hash table's: report a stable one. */
    virt_iommu_domains_foreach_attached(&s->domains, query_attached,
                                        attached);
    g_array_sort(attached, query_attached_cmp);
    /* Domain IDs run from 1 to max-domains; a free one has no stats. */
    for (uint32_t id = 1; id <= s->max_domains; id++) {
        if (virt_iommu_stats(s, id, &st) == VIRT_IOMMU_S_OK) {
            QAPI_LIST_APPEND(domains, query_domain(s, id, &st, attached,
                                                   max_mappings));
        }
    }
    info->flight_recorder_size = s->recorder.size;
    info->flight_records_total = s->recorder.total;
    if (flight_records) {
        info->has_flight_records = true;
        records = &info->flight_records;
        virt_iommu_recorder_foreach(&s->recorder, flight_records,
                                    query_record, &records);
    }
    return info;
}

typedef struct VirtIOMMUQuery {
    VirtIommuInfoList **tail;
    uint64_t max_mappings;
    uint32_t flight_records;
} VirtIOMMUQuery;

static int query_one(Object *obj, void *opaque)
{
    VirtIOMMUState *s = (VirtIOMMUState *)object_dynamic_cast(obj,
                                                              TYPE_VIRT_IOMMU);
    VirtIOMMUQuery *q = opaque;

    if (s) {
        QAPI_LIST_APPEND(q->tail, query_device(s, q->max_mappings,
                                               q->flight_records));
    }
    return 0;
}

VirtIommuInfoList *qmp_query_virt_iommu(bool has_max_mappings,
                                        uint64_t max_mappings,
                                        bool has_flight_records,
                                        uint32_t flight_records, Error **errp)
{
    VirtIommuInfoList *head = NULL;
    VirtIOMMUQuery q = {
        .tail = &head,
        .max_mappings = has_max_mappings ? max_mappings : UINT64_MAX,
        .flight_records = has_flight_records ? flight_records : 0,
    };

    /* As other query commands: no such device, an empty list. */
    object_child_foreach_recursive(object_get_root(), query_one, &q);
    return head;
}

/* HMP info virt-iommu: the same result as text */

static const char *const type_names[] = {
    [VIRT_IOMMU_DOMAIN_TYPE_BLOCKED] = "BLOCKED",
    [VIRT_IOMMU_DOMAIN_TYPE_IDENTITY] = "IDENTITY",
    [VIRT_IOMMU_DOMAIN_TYPE_DMA] = "DMA",
    [VIRT_IOMMU_DOMAIN_TYPE_DMA_FQ] = "DMA_FQ",
};

static unsigned percent(uint64_t part, uint64_t whole)
{
    return whole ? part * 100 / whole : 0;
}

static void hmp_allocator(Monitor *mon, const VirtIommuAllocatorInfo *a)
{
    monitor_printf(mon,
        "    iova: %" PRIu64 " live ranges (%" PRIu64 " reserved), %" PRIu64
        " live pfns; magazines %" PRIu64 " live, %" PRIu64 " reachable (%"
        PRIu64 " allocated, %" PRIu64 " freed), depot %" PRIu64 ", %" PRIu64
        " cached pfns\n"
        "    rcache: %" PRIu64 " hits, %" PRIu64 " misses (%u%% hits), %"
        PRIu64 " depot trims, %" PRIu64 " flushes, %" PRIu64 " cpu flushes\n",
        a->live_ranges, a->reserved_ranges, a->live_pfns, a->mags_live,
        a->mags_reachable, a->mags_allocated, a->mags_freed, a->depot_mags,
        a->cached_pfns, a->rcache_hits, a->rcache_misses,
        percent(a->rcache_hits, a->rcache_hits + a->rcache_misses),
        a->depot_trims, a->rcache_flushes, a->cpu_flushes);
}

static void hmp_domain(Monitor *mon, const VirtIommuDomainInfo *d)
{
    uint64_t listed = 0;
    unsigned endpoints = 0;

    for (uint16List *e = d->endpoints; e; e = e->next) {
        endpoints++;
    }
    monitor_printf(mon, "  domain %u %s: %u endpoints", d->id,
                   type_names[d->type], endpoints);
    for (uint16List *e = d->endpoints; e; e = e->next) {
        monitor_printf(mon, " %02x:%02x.%x", PCI_BUS_NUM(e->value),
                       PCI_SLOT(e->value), PCI_FUNC(e->value));
    }
    monitor_printf(mon, "\n    %" PRIu64 " mappings (%" PRIu64
                   " bytes), flush queue %" PRIu64 " pending, %" PRIu64
                   " batches\n", d->mapping_count, d->mapped_bytes,
                   d->fq_pending, d->fq_flushes);
    if (d->allocator) {
        hmp_allocator(mon, d->allocator);
    }
    for (VirtIommuMappingInfoList *l = d->mappings; l; l = l->next) {
        const VirtIommuMappingInfo *m = l->value;

        monitor_printf(mon, "      0x%" PRIx64 "-0x%" PRIx64 " -> 0x%" PRIx64
                       " %c%c%s\n", m->iova, m->last, m->gpa,
                       m->read ? 'r' : '-', m->write ? 'w' : '-',
                       m->fixed ? " fixed" : "");
        listed++;
    }
    if (listed < d->mapping_count) {
        monitor_printf(mon, "      ... %" PRIu64 " more\n",
                       d->mapping_count - listed);
    }
}

static void hmp_device(Monitor *mon, const VirtIommuInfo *info)
{
    unsigned domains = 0, endpoints = 0;
    g_autofree char *tail_shadow = NULL;

    for (VirtIommuDomainInfoList *d = info->domains; d; d = d->next) {
        domains++;
        for (uint16List *e = d->value->endpoints; e; e = e->next) {
            endpoints++;
        }
    }
    if (info->cmdq->has_tail_addr) {
        tail_shadow = g_strdup_printf("; tail shadow at 0x%" PRIx64 ", %"
                                      PRIu64 " commands run on a miss",
                                      info->cmdq->tail_addr,
                                      info->cmdq->miss_commands);
    }
    monitor_printf(mon,
        "virt-iommu %02x:%02x.%x: ABI %u.%u, control 0x%x, error 0x%x, "
        "page size 0x%" PRIx64 ", %u-bit IOVAs\n"
        "  cmdq: base 0x%" PRIx64 ", %u entries, head %u, tail %u%s\n"
        "  evtq: base 0x%" PRIx64 ", %u entries, head %u, tail %u; %" PRIu64
        " records, %" PRIu64 " dropped\n"
        "  iotlb: %u entries, %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64
        " invalidated\n"
        "  %u domains, %u endpoints attached\n",
        info->bus, info->slot, info->function, info->abi_major,
        info->abi_minor, info->control, info->error, info->page_size,
        info->iova_bits,
        info->cmdq->base, info->cmdq->entries, info->cmdq->head,
        info->cmdq->tail, tail_shadow ?: "",
        info->evtq->base, info->evtq->entries, info->evtq->head,
        info->evtq->tail, info->events, info->events_dropped,
        info->iotlb->entries, info->iotlb->hits, info->iotlb->misses,
        info->iotlb->invalidations, domains, endpoints);
    if (info->allocator) {
        hmp_allocator(mon, info->allocator);
    }
    for (VirtIommuDomainInfoList *d = info->domains; d; d = d->next) {
        hmp_domain(mon, d->value);
    }
    if (info->flight_records) {
        monitor_printf(mon, "  flight recorder (%u kept, %" PRIu64
                       " recorded), newest last:\n",
                       info->flight_recorder_size,
                       info->flight_records_total);
    }
    for (VirtIommuFlightRecordList *l = info->flight_records; l;
         l = l->next) {
        const VirtIommuFlightRecord *r = l->value;

        monitor_printf(mon, "    %" PRId64 " ns %s 0x%x status/reason %u%s "
                       "rid 0x%04x domain %u iova 0x%" PRIx64 " size 0x%"
                       PRIx64 " result 0x%" PRIx64 "\n", r->time_ns,
                       r->kind == VIRT_IOMMU_RECORD_KIND_COMMAND ? "cmd" :
                       "event", r->type, r->status,
                       r->injected ? " (injected)" :
                       r->dropped ? " (dropped)" : "",
                       r->endpoint, r->domain, r->iova, r->size, r->result);
    }
}

void hmp_info_virt_iommu(Monitor *mon, const QDict *qdict)
{
    g_autoptr(VirtIommuInfoList) list = NULL;
    Error *err = NULL;

    list = qmp_query_virt_iommu(true, VIRT_IOMMU_HMP_MAPPINGS, true,
                                VIRT_IOMMU_HMP_RECORDS, &err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    for (VirtIommuInfoList *l = list; l; l = l->next) {
        hmp_device(mon, l->value);
    }
}
