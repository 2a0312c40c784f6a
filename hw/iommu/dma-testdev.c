/*
 * dma-testdev: SR-IOV PCIe DMA test endpoint (PF and VF devices)
 *
 * The PF is a PCI Express endpoint (an integrated one on a root bus)
 * with an SR-IOV capability.  As QEMU 10.0 does it, all TotalVFs VFs are
 * realized with the PF and only switched on and off by NumVFs and VF
 * Enable, so a VF's DMA engine exists for the PF's whole life.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "system/system.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie.h"
#include "hw/pci/pcie_sriov.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "hw/iommu/dma-testdev.h"
#include "trace.h"

static bool dma_testdev_check_props(DmaTestdevState *s, Error **errp)
{
    if (s->vendor_id == 0 || s->vendor_id == 0xffff) {
        error_setg(errp, "dma-testdev: vendor-id 0x%04x is not valid",
                   s->vendor_id);
        return false;
    }
    if (s->device_id == 0xffff || s->vf_device_id == 0xffff) {
        error_setg(errp, "dma-testdev: device-id and vf-device-id must not "
                   "be 0xffff");
        return false;
    }
    if (s->total_vfs == 0) {
        return true;
    }
    /* The first VF would otherwise sit on the PF's own devfn. */
    if (s->vf_offset == 0) {
        error_setg(errp, "dma-testdev: vf-offset must not be 0");
        return false;
    }
    if (s->total_vfs > 1 && s->vf_stride == 0) {
        error_setg(errp, "dma-testdev: vf-stride must not be 0 with "
                   "total-vfs %u", s->total_vfs);
        return false;
    }
    return true;
}

static void dma_testdev_shadow_start(Notifier *n, void *data)
{
    DmaTestdevState *s = container_of(n, DmaTestdevState, shadow_start);

    dma_testdev_shadow_init(&s->shadow,
                            pci_device_iommu_address_space(PCI_DEVICE(s)));
}

static void dma_testdev_shadow_stop(DmaTestdevState *s)
{
    if (s->shadow_iotlb) {
        qemu_remove_machine_init_done_notifier(&s->shadow_start);
        dma_testdev_shadow_destroy(&s->shadow);
    }
}

static void dma_testdev_realize(PCIDevice *pci, Error **errp)
{
    DmaTestdevState *s = DMA_TESTDEV(pci);

    if (!dma_testdev_check_props(s, errp)) {
        return;
    }
    /* The SR-IOV capability lives in extended configuration space. */
    if (!pci_bus_is_express(pci_get_bus(pci))) {
        error_setg(errp, "dma-testdev: needs a PCI Express bus (e.g. q35's "
                   "pcie.0 or a root port)");
        return;
    }

    pci_config_set_vendor_id(pci->config, s->vendor_id);
    pci_config_set_device_id(pci->config, s->device_id);
    pci_config_set_interrupt_pin(pci->config, 1);

    if (pcie_endpoint_cap_init(pci, DMA_TESTDEV_PCIE_CAP_OFFSET) < 0) {
        error_setg(errp, "dma-testdev: cannot add the PCI Express capability");
        return;
    }
    if (!dma_testdev_engine_realize(&s->engine, pci, errp)) {
        pcie_cap_exit(pci);
        return;
    }
    if (s->shadow_iotlb) {
        /* An IOMMU given after this device on the command line counts. */
        s->shadow_start.notify = dma_testdev_shadow_start;
        qemu_add_machine_init_done_notifier(&s->shadow_start);
        s->engine.shadow = &s->shadow;
    }
    if (!pcie_sriov_pf_init(pci, DMA_TESTDEV_SRIOV_CAP_OFFSET,
                            TYPE_DMA_TESTDEV_VF, s->vf_device_id,
                            s->total_vfs, s->total_vfs, s->vf_offset,
                            s->vf_stride, errp)) {
        dma_testdev_shadow_stop(s);
        dma_testdev_engine_unrealize(&s->engine);
        pcie_cap_exit(pci);
        return;
    }
    /*
     * ARI lets VFs sit beyond function 7 of device 0 below a downstream
     * port; on a root bus it is inert.  NextFn 0: this is the only PF.
     * Not right behind the SR-IOV capability: pcie_sriov_pf_reset() in
     * QEMU 10.0 writes 4 bytes past its end (pci_set_quad() on the last
     * VF BAR slot), which would zero a header at 0x140.
     */
    pcie_ari_init(pci, DMA_TESTDEV_ARI_CAP_OFFSET);
    /* 32-bit: 64-bit VF BARs are broken in QEMU 10.0.x (see the spec). */
    pcie_sriov_pf_init_vf_bar(pci, 0, PCI_BASE_ADDRESS_SPACE_MEMORY |
                              PCI_BASE_ADDRESS_MEM_TYPE_32,
                              DMA_TESTDEV_BAR0_SIZE);
}

static void dma_testdev_exit(PCIDevice *pci)
{
    DmaTestdevState *s = DMA_TESTDEV(pci);

    pcie_sriov_pf_exit(pci);
    dma_testdev_shadow_stop(s);
    dma_testdev_engine_unrealize(&s->engine);
    pcie_cap_exit(pci);
}

/*
 * pci_default_write_config() already passes SR-IOV writes on to
 * pcie_sriov_config_write() in QEMU 10.0; this hook only traces what the
 * guest does to the capability.
 */
static void dma_testdev_write_config(PCIDevice *pci, uint32_t addr,
                                     uint32_t val, int len)
{
    uint16_t before = pcie_sriov_num_vfs(pci);

    pci_default_write_config(pci, addr, val, len);
    if (pcie_sriov_num_vfs(pci) != before) {
        trace_dma_testdev_vfs(pci->devfn, before, pcie_sriov_num_vfs(pci));
    }
}

static void dma_testdev_reset_hold(Object *obj, ResetType type)
{
    DmaTestdevState *s = DMA_TESTDEV(obj);

    dma_testdev_engine_reset(&s->engine);
}

static const VMStateDescription vmstate_dma_testdev = {
    .name = TYPE_DMA_TESTDEV,
    .version_id = 1,
    .minimum_version_id = 1,
    /*
     * VFs are realized inside the PF's realize, so by default their state
     * is saved and loaded first; loading the PF then switches them on
     * (pcie_sriov_pf_post_load), which resets them and throws away what
     * was just loaded.  Load the PF before any ordinary device instead.
     * MIG_PRI_IOMMU is the lowest priority above the default.
     */
    .priority = MIG_PRI_IOMMU,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, DmaTestdevState),
        VMSTATE_MSIX(parent_obj, DmaTestdevState),
        VMSTATE_STRUCT(engine, DmaTestdevState, 1,
                       vmstate_dma_testdev_engine, DmaTestdevEngine),
        VMSTATE_END_OF_LIST()
    },
};

static const Property dma_testdev_properties[] = {
    DEFINE_PROP_UINT16("vendor-id", DmaTestdevState, vendor_id,
                       DMA_TESTDEV_PCI_VENDOR_ID),
    DEFINE_PROP_UINT16("device-id", DmaTestdevState, device_id,
                       DMA_TESTDEV_PCI_DEVICE_ID),
    DEFINE_PROP_UINT16("vf-device-id", DmaTestdevState, vf_device_id,
                       DMA_TESTDEV_PCI_VF_DEVICE_ID),
    DEFINE_PROP_UINT16("total-vfs", DmaTestdevState, total_vfs, 7),
    DEFINE_PROP_UINT16("vf-offset", DmaTestdevState, vf_offset, 1),
    DEFINE_PROP_UINT16("vf-stride", DmaTestdevState, vf_stride, 1),
    /* Test hooks: a shadow IOTLB fed by IOMMU notifiers (see the spec) */
    DEFINE_PROP_BOOL("x-shadow-iotlb", DmaTestdevState, shadow_iotlb, false),
    DEFINE_PROP_BOOL("x-shadow-deviotlb", DmaTestdevState, shadow.deviotlb,
                     false),
};

static void dma_testdev_instance_init(Object *obj)
{
    DmaTestdevState *s = DMA_TESTDEV(obj);

    object_property_add_uint64_ptr(obj, "x-shadow-min-page-size",
                                   &s->shadow.min_page_size,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint32_ptr(obj, "x-shadow-refused",
                                   &s->shadow.refused, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "x-shadow-maps", &s->shadow.maps,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "x-shadow-unmaps", &s->shadow.unmaps,
                                   OBJ_PROP_FLAG_READ);
}

static void dma_testdev_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = dma_testdev_realize;
    k->exit = dma_testdev_exit;
    k->config_write = dma_testdev_write_config;
    k->vendor_id = DMA_TESTDEV_PCI_VENDOR_ID;
    k->device_id = DMA_TESTDEV_PCI_DEVICE_ID;
    k->revision = DMA_TESTDEV_PCI_REVISION;
    k->class_id = DMA_TESTDEV_PCI_CLASS;
    rc->phases.hold = dma_testdev_reset_hold;
    dc->desc = "SR-IOV PCIe DMA test endpoint (PF)";
    dc->vmsd = &vmstate_dma_testdev;
    device_class_set_props(dc, dma_testdev_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static void dma_testdev_vf_realize(PCIDevice *pci, Error **errp)
{
    DmaTestdevVFState *s = DMA_TESTDEV_VF(pci);

    if (pcie_endpoint_cap_init(pci, DMA_TESTDEV_PCIE_CAP_OFFSET) < 0) {
        error_setg(errp, "dma-testdev-vf: cannot add the PCI Express "
                   "capability");
        return;
    }
    if (!dma_testdev_engine_realize(&s->engine, pci, errp)) {
        pcie_cap_exit(pci);
        return;
    }
    pcie_ari_init(pci, DMA_TESTDEV_VF_ARI_CAP_OFFSET);
}

static void dma_testdev_vf_exit(PCIDevice *pci)
{
    DmaTestdevVFState *s = DMA_TESTDEV_VF(pci);

    dma_testdev_engine_unrealize(&s->engine);
    pcie_cap_exit(pci);
}

/* Also runs when the VF is switched on or off (pci_set_enabled). */
static void dma_testdev_vf_reset_hold(Object *obj, ResetType type)
{
    DmaTestdevVFState *s = DMA_TESTDEV_VF(obj);

    dma_testdev_engine_reset(&s->engine);
}

static const VMStateDescription vmstate_dma_testdev_vf = {
    .name = TYPE_DMA_TESTDEV_VF,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, DmaTestdevVFState),
        VMSTATE_MSIX(parent_obj, DmaTestdevVFState),
        VMSTATE_STRUCT(engine, DmaTestdevVFState, 1,
                       vmstate_dma_testdev_engine, DmaTestdevEngine),
        VMSTATE_END_OF_LIST()
    },
};

static void dma_testdev_vf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = dma_testdev_vf_realize;
    k->exit = dma_testdev_vf_exit;
    k->vendor_id = DMA_TESTDEV_PCI_VENDOR_ID;
    k->device_id = DMA_TESTDEV_PCI_VF_DEVICE_ID;
    k->revision = DMA_TESTDEV_PCI_REVISION;
    k->class_id = DMA_TESTDEV_PCI_CLASS;
    rc->phases.hold = dma_testdev_vf_reset_hold;
    dc->desc = "SR-IOV PCIe DMA test endpoint (VF)";
    dc->vmsd = &vmstate_dma_testdev_vf;
    /* Only the PF creates VFs, through its SR-IOV capability. */
    dc->user_creatable = false;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo dma_testdev_types[] = {
    {
        .name = TYPE_DMA_TESTDEV,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(DmaTestdevState),
        .instance_init = dma_testdev_instance_init,
        .class_init = dma_testdev_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE },
            { }
        },
    },
    {
        .name = TYPE_DMA_TESTDEV_VF,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(DmaTestdevVFState),
        .class_init = dma_testdev_vf_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(dma_testdev_types)
