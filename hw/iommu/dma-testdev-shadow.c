/*
 * dma-testdev: a shadow IOTLB fed by IOMMU notifiers
 *
 * With x-shadow-iotlb=on the PF translates its own DMA from the map and
 * unmap notifications of the IOMMU regions in its address space, the way
 * vhost and VFIO consume an emulated IOMMU: a memory listener registers a
 * notifier on every IOMMU region section that appears and asks for a
 * replay of the mappings that exist already.  So qtests can check an
 * IOMMU's side of that contract (replay, notifications, minimum page
 * size, refused notifier flags) without a host kernel.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "qemu/iova-tree.h"
#include "hw/iommu/dma-testdev.h"
#include "trace.h"

typedef struct DmaTestdevShadowNotifier {
    IOMMUNotifier n;
    IOMMUMemoryRegion *mr;
    DmaTestdevShadow *sh;
    QLIST_ENTRY(DmaTestdevShadowNotifier) next;
} DmaTestdevShadowNotifier;

static void shadow_notify(IOMMUNotifier *n, IOMMUTLBEntry *entry)
{
    DmaTestdevShadowNotifier *sn = container_of(n, DmaTestdevShadowNotifier,
                                                n);
    DmaTestdevShadow *sh = sn->sh;
    DMAMap map = {
        .iova = entry->iova,
        .translated_addr = entry->translated_addr,
        .size = entry->addr_mask,
        .perm = entry->perm,
    };

    /* A MAP over an entry replaces it, as a replay after a re-add does. */
    iova_tree_remove(sh->entries, map);
    if (entry->perm != IOMMU_NONE) {
        iova_tree_insert(sh->entries, &map);
        sh->maps++;
    } else {
        sh->unmaps++;
    }
    trace_dma_testdev_shadow_notify(entry->iova, entry->addr_mask,
                                    entry->translated_addr, entry->perm);
}

static void shadow_region_add(MemoryListener *listener,
                              MemoryRegionSection *section)
{
    DmaTestdevShadow *sh = container_of(listener, DmaTestdevShadow, listener);
    IOMMUMemoryRegion *mr;
    DmaTestdevShadowNotifier *sn;
    hwaddr start, end;
    Error *err = NULL;

    if (!memory_region_is_iommu(section->mr)) {
        return;
    }
    mr = IOMMU_MEMORY_REGION(section->mr);
    start = section->offset_within_region;
    end = start + int128_get64(int128_sub(section->size, int128_one()));
    sh->min_page_size = memory_region_iommu_get_min_page_size(mr);

    if (sh->deviotlb) {
        /* Asked for, to see that an IOMMU without ATS refuses it. */
        IOMMUNotifier dev;

        iommu_notifier_init(&dev, shadow_notify,
                            IOMMU_NOTIFIER_DEVIOTLB_UNMAP, start, end, 0);
        if (memory_region_register_iommu_notifier(section->mr, &dev, &err)) {
            warn_report_err(err);
            err = NULL;
            sh->refused++;
        } else {
            memory_region_unregister_iommu_notifier(section->mr, &dev);
        }
    }

    sn = g_new0(DmaTestdevShadowNotifier, 1);
    sn->mr = mr;
    sn->sh = sh;
    iommu_notifier_init(&sn->n, shadow_notify, IOMMU_NOTIFIER_IOTLB_EVENTS,
                        start, end,
                        memory_region_iommu_attrs_to_index(
                            mr, MEMTXATTRS_UNSPECIFIED));
    if (memory_region_register_iommu_notifier(section->mr, &sn->n, &err)) {
        warn_report_err(err);
        sh->refused++;
        g_free(sn);
        return;
    }
    QLIST_INSERT_HEAD(&sh->notifiers, sn, next);
    memory_region_iommu_replay(mr, &sn->n);
}

static void shadow_region_del(MemoryListener *listener,
                              MemoryRegionSection *section)
{
    DmaTestdevShadow *sh = container_of(listener, DmaTestdevShadow, listener);
    DmaTestdevShadowNotifier *sn, *tmp;

    QLIST_FOREACH_SAFE(sn, &sh->notifiers, next, tmp) {
        if (MEMORY_REGION(sn->mr) == section->mr &&
            sn->n.start == section->offset_within_region) {
            DMAMap all = {
                .iova = sn->n.start,
                .size = sn->n.end - sn->n.start,
            };

            memory_region_unregister_iommu_notifier(section->mr, &sn->n);
            /* The view is gone: so are its translations. */
            iova_tree_remove(sh->entries, all);
            QLIST_REMOVE(sn, next);
            g_free(sn);
        }
    }
}

void dma_testdev_shadow_init(DmaTestdevShadow *sh, AddressSpace *as)
{
    sh->entries = iova_tree_new();
    QLIST_INIT(&sh->notifiers);
    sh->listener = (MemoryListener) {
        .name = "dma-testdev-shadow",
        .region_add = shadow_region_add,
        .region_del = shadow_region_del,
    };
    memory_listener_register(&sh->listener, as);
}

void dma_testdev_shadow_destroy(DmaTestdevShadow *sh)
{
    DmaTestdevShadowNotifier *sn, *tmp;

    if (!sh->entries) {
        return;
    }
    memory_listener_unregister(&sh->listener);
    QLIST_FOREACH_SAFE(sn, &sh->notifiers, next, tmp) {
        memory_region_unregister_iommu_notifier(MEMORY_REGION(sn->mr), &sn->n);
        QLIST_REMOVE(sn, next);
        g_free(sn);
    }
    iova_tree_destroy(sh->entries);
    sh->entries = NULL;
}

bool dma_testdev_shadow_active(DmaTestdevShadow *sh)
{
    return sh->entries && !QLIST_EMPTY(&sh->notifiers);
}

bool dma_testdev_shadow_translate(DmaTestdevShadow *sh, uint64_t addr,
                                  uint32_t len, bool write, uint64_t *gpa)
{
    DMAMap want = { .iova = addr, .size = len - 1 };
    const DMAMap *m = iova_tree_find(sh->entries, &want);
    IOMMUAccessFlags need = write ? IOMMU_WO : IOMMU_RO;

    if (!m || addr < m->iova || addr + len - 1 > m->iova + m->size ||
        !(m->perm & need)) {
        return false;
    }
    *gpa = m->translated_addr + (addr - m->iova);
    return true;
}
