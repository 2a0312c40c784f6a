/*
 * virt-iommu: introspection for people debugging drivers
 *
 * One text report of a device's state (registers, queues, IOTLB, every
 * domain with its endpoints, mappings and IOVA allocator counters), read
 * through the QOM property "info" (qom-get in QMP or HMP) and by HMP's
 * "info virt-iommu".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "virt-iommu-internal.h"

/* Mappings listed per domain; the rest are counted */
#define VIRT_IOMMU_INFO_MAPPINGS 16

static const char *const type_names[] = {
    [VIRT_IOMMU_DOMAIN_BLOCKED] = "BLOCKED",
    [VIRT_IOMMU_DOMAIN_IDENTITY] = "IDENTITY",
    [VIRT_IOMMU_DOMAIN_DMA] = "DMA",
    [VIRT_IOMMU_DOMAIN_DMA_FQ] = "DMA_FQ",
};

static unsigned percent(uint64_t part, uint64_t whole)
{
    return whole ? part * 100 / whole : 0;
}

static void info_allocator(GString *out, const VirtIOMMUStats *st)
{
    g_string_append_printf(out,
        "    iova: %" PRIu64 " live ranges (%" PRIu64 " reserved), %" PRIu64
        " live pfns; magazines %" PRIu64 " live, %" PRIu64 " reachable (%"
        PRIu64 " allocated, %" PRIu64 " freed), depot %" PRIu64 ", %" PRIu64
        " cached pfns\n"
        "    rcache: %" PRIu64 " hits, %" PRIu64 " misses (%u%% hits), %"
        PRIu64 " depot trims, %" PRIu64 " flushes, %" PRIu64 " cpu flushes\n",
        st->iova_live_ranges, st->iova_reserved_ranges, st->iova_live_pfns,
        st->mags_live, st->mags_reachable, st->mags_allocated,
        st->mags_freed, st->depot_mags,
        st->cached_pfns, st->rcache_hits, st->rcache_misses,
        percent(st->rcache_hits, st->rcache_hits + st->rcache_misses),
        st->depot_trims, st->rcache_flushes, st->cpu_flushes);
}

static void info_mapping(uint64_t iova, uint64_t last, uint64_t gpa,
                         uint32_t perms, bool fixed, void *opaque)
{
    GString *out = opaque;

    g_string_append_printf(out, "      0x%" PRIx64 "-0x%" PRIx64 " -> 0x%"
                           PRIx64 " %c%c%s\n", iova, last, gpa,
                           perms & VIRT_IOMMU_PERM_READ ? 'r' : '-',
                           perms & VIRT_IOMMU_PERM_WRITE ? 'w' : '-',
                           fixed ? " fixed" : "");
}

static void info_domain(VirtIOMMUState *s, GString *out, uint32_t id)
{
    VirtIOMMUStats st;
    GHashTableIter iter;
    gpointer rid, d;

    virt_iommu_stats(s, id, &st);
    g_string_append_printf(out, "  domain %u %s: %u endpoints", id,
                           type_names[st.type], st.endpoints);
    g_hash_table_iter_init(&iter, s->domains.attached);
    while (g_hash_table_iter_next(&iter, &rid, &d)) {
        if (virt_iommu_domain_id(d) == id) {
            uint16_t r = GPOINTER_TO_UINT(rid);

            g_string_append_printf(out, " %02x:%02x.%x", PCI_BUS_NUM(r),
                                   PCI_SLOT(r), PCI_FUNC(r));
        }
    }
    g_string_append_printf(out, "\n    %" PRIu64 " mappings (%" PRIu64
                           " bytes), flush queue %" PRIu64 " pending, %"
                           PRIu64 " batches\n", st.mappings, st.mapped_bytes,
                           st.fq_pending, st.fq_flushes);
    if (st.type == VIRT_IOMMU_DOMAIN_DMA ||
        st.type == VIRT_IOMMU_DOMAIN_DMA_FQ) {
        info_allocator(out, &st);
    }
    if (st.mappings) {
        uint64_t listed = virt_iommu_domain_foreach_mapping(&s->domains, id,
                              VIRT_IOMMU_INFO_MAPPINGS, info_mapping, out);

        if (listed < st.mappings) {
            g_string_append_printf(out, "      ... %" PRIu64 " more\n",
                                   st.mappings - listed);
        }
    }
}

char *virt_iommu_info(VirtIOMMUState *s)
{
    PCIDevice *dev = PCI_DEVICE(s);
    GString *out = g_string_new(NULL);
    VirtIOMMUStats st;

    virt_iommu_stats(s, 0, &st);
    g_string_append_printf(out,
        "virt-iommu %02x:%02x.%x: ABI %u.%u, control 0x%x, error 0x%x, "
        "page size 0x%" PRIx64 ", %u-bit IOVAs\n"
        "  cmdq: base 0x%" PRIx64 ", %u entries, head %u, tail %u\n"
        "  evtq: base 0x%" PRIx64 ", %u entries, head %u, tail %u; %" PRIu64
        " records, %" PRIu64 " dropped\n"
        "  iotlb: %u entries, %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64
        " invalidated\n"
        "  %u domains, %u endpoints attached\n",
        pci_dev_bus_num(dev), PCI_SLOT(dev->devfn), PCI_FUNC(dev->devfn),
        VIRT_IOMMU_VERSION_MAJOR, VIRT_IOMMU_VERSION_MINOR, s->control,
        s->error, s->page_size, s->iova_bits,
        s->cmdq.base, 1u << s->cmdq.log2size, s->cmdq.head, s->cmdq.tail,
        s->events.q.base, 1u << s->events.q.log2size, s->events.q.head,
        s->events.q.tail,
        st.events, st.events_dropped, s->iotlb_size, st.iotlb_hits,
        st.iotlb_misses, st.iotlb_invalidations, st.type, st.endpoints);
    if (st.type) {
        info_allocator(out, &st);
    }
    for (uint32_t id = 1; id <= s->max_domains; id++) {
        if (virt_iommu_domain_get(&s->domains, id)) {
            info_domain(s, out, id);
        }
    }
    return g_string_free(out, false);
}

static int hmp_info_one(Object *obj, void *opaque)
{
    VirtIOMMUState *s = (VirtIOMMUState *)object_dynamic_cast(obj,
                                                              TYPE_VIRT_IOMMU);
    g_autofree char *text = NULL;

    if (s) {
        text = virt_iommu_info(s);
        monitor_printf(opaque, "%s", text);
    }
    return 0;
}

void hmp_info_virt_iommu(Monitor *mon, const QDict *qdict)
{
    object_child_foreach_recursive(object_get_root(), hmp_info_one, mon);
}
