/*
 * virt-iommu: migration
 *
 * What migrates: the registers, both queues' state, and the domains with
 * their mappings and attachments as records (the domain layer's
 * virt_iommu_domains_save()/_load()), rebuilt on the destination with
 * every IOVA where it was.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/msix.h"
#include "migration/vmstate.h"
#include "virt-iommu-internal.h"

/* A migration stream claiming more mappings than this is refused. */
#define VIRT_IOMMU_MAX_MIG_MAPPINGS (1 << 24)

static void virt_iommu_mig_free(VirtIOMMUState *s)
{
    g_clear_pointer(&s->mig_domains, g_free);
    g_clear_pointer(&s->mig_mappings, g_free);
    g_clear_pointer(&s->mig_attached, g_free);
    s->mig_ndomains = s->mig_nmappings = s->mig_nattached = 0;
}

static int virt_iommu_pre_save(void *opaque)
{
    VirtIOMMUState *s = opaque;
    GArray *doms = g_array_new(false, false, sizeof(VirtIOMMUMigDomain));
    GArray *maps = g_array_new(false, false, sizeof(VirtIOMMUMigMapping));
    GArray *atts = g_array_new(false, false, sizeof(VirtIOMMUMigAttach));

    virt_iommu_domains_save(&s->domains, doms, maps, atts);
    virt_iommu_mig_free(s);
    s->mig_ndomains = doms->len;
    s->mig_domains = (VirtIOMMUMigDomain *)g_array_free(doms, false);
    s->mig_nmappings = maps->len;
    s->mig_mappings = (VirtIOMMUMigMapping *)g_array_free(maps, false);
    s->mig_nattached = atts->len;
    s->mig_attached = (VirtIOMMUMigAttach *)g_array_free(atts, false);
    return 0;
}

static int virt_iommu_post_save(void *opaque)
{
    virt_iommu_mig_free(opaque);
    return 0;
}

static int virt_iommu_post_load(void *opaque, int version_id)
{
    VirtIOMMUState *s = opaque;
    int ret;

    s->control &= VIRT_IOMMU_CTRL_MASK;
    s->error &= VIRT_IOMMU_ERR_MASK;
    if (s->cmdq.log2size > VIRT_IOMMU_QUEUE_MAX_LOG2 ||
        s->events.q.log2size > VIRT_IOMMU_QUEUE_MAX_LOG2 ||
        s->cmdq.head >> s->cmdq.log2size || s->cmdq.tail >> s->cmdq.log2size ||
        s->events.q.head >> s->events.q.log2size ||
        s->events.q.tail >> s->events.q.log2size ||
        !virt_iommu_tail_addr_ok(s->cmdq_tail_addr)) {
        ret = -EINVAL;
    } else {
        ret = virt_iommu_domains_load(&s->domains, s->mig_domains,
                                      s->mig_ndomains, s->mig_mappings,
                                      s->mig_nmappings, s->mig_attached,
                                      s->mig_nattached);
    }
    virt_iommu_mig_free(s);
    virt_iommu_as_update(&s->eps, s->control);
    if (!ret) {
        /* The destination's endpoints are the ones that may keep copies */
        virt_iommu_cmdq_write_copying(s);
    }
    return ret;
}

static const VMStateDescription vmstate_virt_iommu_queue = {
    .name = "virt-iommu-queue",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(base, VirtIOMMUQueue),
        VMSTATE_UINT32(log2size, VirtIOMMUQueue),
        VMSTATE_UINT32(head, VirtIOMMUQueue),
        VMSTATE_UINT32(tail, VirtIOMMUQueue),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virt_iommu_mig_domain = {
    .name = "virt-iommu-domain",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(id, VirtIOMMUMigDomain),
        VMSTATE_UINT32(type, VirtIOMMUMigDomain),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virt_iommu_mig_mapping = {
    .name = "virt-iommu-mapping",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(iova, VirtIOMMUMigMapping),
        VMSTATE_UINT64(last, VirtIOMMUMigMapping),
        VMSTATE_UINT64(gpa, VirtIOMMUMigMapping),
        VMSTATE_UINT64(pfn_lo, VirtIOMMUMigMapping),
        VMSTATE_UINT64(pfn_hi, VirtIOMMUMigMapping),
        VMSTATE_UINT32(domain, VirtIOMMUMigMapping),
        VMSTATE_UINT32(perms, VirtIOMMUMigMapping),
        VMSTATE_UINT32(fixed, VirtIOMMUMigMapping),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virt_iommu_mig_attach = {
    .name = "virt-iommu-attach",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(rid, VirtIOMMUMigAttach),
        VMSTATE_UINT32(domain, VirtIOMMUMigAttach),
        VMSTATE_END_OF_LIST()
    },
};

/* Checked before the arrays are allocated from the stream's counts. */
static bool virt_iommu_mig_counts_ok(void *opaque, int version_id)
{
    VirtIOMMUState *s = opaque;

    return s->mig_ndomains >= 0 && s->mig_ndomains <= s->max_domains &&
           s->mig_nattached >= 0 && s->mig_nattached <= UINT16_MAX + 1 &&
           s->mig_nmappings >= 0 &&
           s->mig_nmappings <= VIRT_IOMMU_MAX_MIG_MAPPINGS;
}

static bool virt_iommu_tail_addr_needed(void *opaque)
{
    VirtIOMMUState *s = opaque;

    return s->cmdq_tail_addr != 0;
}

/* ABI 0.4's TAIL shadow; a stream without it had none. */
static const VMStateDescription vmstate_virt_iommu_tail_addr = {
    .name = TYPE_VIRT_IOMMU "/cmdq-tail-addr",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = virt_iommu_tail_addr_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(cmdq_tail_addr, VirtIOMMUState),
        VMSTATE_END_OF_LIST()
    },
};

const VMStateDescription vmstate_virt_iommu = {
    .name = TYPE_VIRT_IOMMU,
    .version_id = 1,
    .minimum_version_id = 1,
    .priority = MIG_PRI_IOMMU,
    .pre_save = virt_iommu_pre_save,
    .post_save = virt_iommu_post_save,
    .post_load = virt_iommu_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, VirtIOMMUState),
        VMSTATE_MSIX(parent_obj, VirtIOMMUState),
        VMSTATE_UINT32(control, VirtIOMMUState),
        VMSTATE_UINT32(error, VirtIOMMUState),
        VMSTATE_STRUCT(cmdq, VirtIOMMUState, 1, vmstate_virt_iommu_queue,
                       VirtIOMMUQueue),
        VMSTATE_STRUCT(events.q, VirtIOMMUState, 1, vmstate_virt_iommu_queue,
                       VirtIOMMUQueue),
        VMSTATE_INT32(mig_ndomains, VirtIOMMUState),
        VMSTATE_INT32(mig_nmappings, VirtIOMMUState),
        VMSTATE_INT32(mig_nattached, VirtIOMMUState),
        VMSTATE_VALIDATE("virt-iommu domain counts", virt_iommu_mig_counts_ok),
        VMSTATE_STRUCT_VARRAY_ALLOC(mig_domains, VirtIOMMUState, mig_ndomains,
                                    1, vmstate_virt_iommu_mig_domain,
                                    VirtIOMMUMigDomain),
        VMSTATE_STRUCT_VARRAY_ALLOC(mig_mappings, VirtIOMMUState,
                                    mig_nmappings, 1,
                                    vmstate_virt_iommu_mig_mapping,
                                    VirtIOMMUMigMapping),
        VMSTATE_STRUCT_VARRAY_ALLOC(mig_attached, VirtIOMMUState,
                                    mig_nattached, 1,
                                    vmstate_virt_iommu_mig_attach,
                                    VirtIOMMUMigAttach),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_virt_iommu_tail_addr,
        NULL
    },
};
