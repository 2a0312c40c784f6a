/*
 * virt-iommu: PCI function, BAR0 registers, properties, reset, migration
 *
 * The guest ABI is docs/specs/virt-iommu.rst and
 * include/hw/iommu/virt-iommu-regs.h; the endpoints' address spaces live
 * in virt-iommu-as.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/iommu/virt-iommu.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "iova/iova.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "trace.h"

#define VIRT_IOMMU_MAX_PAGE_SIZE (1ULL << 30)

static uint32_t virt_iommu_status(VirtIOMMUState *s)
{
    uint32_t status = 0;

    if (s->control & VIRT_IOMMU_CTRL_ENABLE) {
        status |= VIRT_IOMMU_STS_ENABLED;
    }
    if (virt_iommu_bypass(s)) {
        status |= VIRT_IOMMU_STS_BYPASS;
    }
    return status;
}

/*
 * Registers are laid out in 64-bit slots; 32-bit registers pair up in one
 * slot.  Returns the slot holding @addr (8-byte aligned).
 */
static uint64_t virt_iommu_reg_slot(VirtIOMMUState *s, hwaddr addr)
{
    switch (addr) {
    case VIRT_IOMMU_REG_MAGIC:
        return VIRT_IOMMU_MAGIC | (uint64_t)VIRT_IOMMU_VERSION << 32;
    case VIRT_IOMMU_REG_CAP:
        return VIRT_IOMMU_CAP_NONE;
    case VIRT_IOMMU_REG_PGSIZE_MASK:
        return s->page_size;
    case VIRT_IOMMU_REG_IOVA_BITS:
        /* No domain type is usable before the command queue exists. */
        return s->iova_bits;
    case VIRT_IOMMU_REG_CONTROL:
        return s->control | (uint64_t)virt_iommu_status(s) << 32;
    default:
        return 0;
    }
}

static uint64_t virt_iommu_reg_read(void *opaque, hwaddr addr, unsigned size)
{
    VirtIOMMUState *s = opaque;
    uint32_t val = virt_iommu_reg_slot(s, addr & ~7ULL) >> ((addr & 4) * 8);

    trace_virt_iommu_reg_read(addr, val);
    return val;
}

static void virt_iommu_reg_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    VirtIOMMUState *s = opaque;

    trace_virt_iommu_reg_write(addr, val);
    if (addr != VIRT_IOMMU_REG_CONTROL) {
        qemu_log_mask(LOG_GUEST_ERROR, "virt-iommu: write 0x%" PRIx64
                      " to read-only or reserved offset 0x%" HWADDR_PRIx "\n",
                      val, addr);
        return;
    }
    s->control = val & VIRT_IOMMU_CTRL_MASK;
    virt_iommu_as_update(s);
}

static const MemoryRegionOps virt_iommu_regs_ops = {
    .read = virt_iommu_reg_read,
    .write = virt_iommu_reg_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};

/*
 * The granule must be one the allocator accepts, so ask it: creating an
 * IOVA space with the configured geometry is the one authority on which
 * page sizes work.
 */
static bool virt_iommu_check_geometry(VirtIOMMUState *s, Error **errp)
{
    IovaConfig cfg = { .granule = s->page_size, .start_pfn = 1 };
    IovaDomain *probe;
    IovaStatus st;

    if (s->iova_bits < 32 || s->iova_bits > 64) {
        error_setg(errp, "iova-bits must be between 32 and 64, not %u",
                   s->iova_bits);
        return false;
    }
    if (s->page_size > VIRT_IOMMU_MAX_PAGE_SIZE) {
        error_setg(errp, "page-size must be at most 1 GiB, not %" PRIu64,
                   s->page_size);
        return false;
    }
    st = iova_domain_new(&cfg, &probe);
    if (st != IOVA_OK) {
        error_setg(errp, "page-size %" PRIu64 " is not a usable IOVA granule "
                   "(a power of two of at least 4096 bytes): %s",
                   s->page_size, iova_status_str(st));
        return false;
    }
    iova_domain_free(probe);
    return true;
}

static void virt_iommu_realize(PCIDevice *dev, Error **errp)
{
    VirtIOMMUState *s = VIRT_IOMMU(dev);

    if (!virt_iommu_check_geometry(s, errp)) {
        return;
    }
    pci_config_set_vendor_id(dev->config, s->vendor_id);
    pci_config_set_device_id(dev->config, s->device_id);

    memory_region_init_io(&s->regs, OBJECT(s), &virt_iommu_regs_ops, s,
                          "virt-iommu-regs", VIRT_IOMMU_BAR0_SIZE);
    pci_register_bar(dev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->regs);

    s->control = VIRT_IOMMU_CTRL_DEFAULT_BYPASS;
    if (!virt_iommu_as_setup(s, pci_device_root_bus(dev), errp)) {
        return;
    }
    trace_virt_iommu_realize(s->page_size, s->iova_bits);
}

static void virt_iommu_reset_hold(Object *obj, ResetType type)
{
    VirtIOMMUState *s = VIRT_IOMMU(obj);

    s->control = VIRT_IOMMU_CTRL_DEFAULT_BYPASS;
    virt_iommu_as_update(s);
}

static int virt_iommu_post_load(void *opaque, int version_id)
{
    VirtIOMMUState *s = opaque;

    s->control &= VIRT_IOMMU_CTRL_MASK;
    virt_iommu_as_update(s);
    return 0;
}

static const VMStateDescription vmstate_virt_iommu = {
    .name = TYPE_VIRT_IOMMU,
    .version_id = 1,
    .minimum_version_id = 1,
    .priority = MIG_PRI_IOMMU,
    .post_load = virt_iommu_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, VirtIOMMUState),
        VMSTATE_UINT32(control, VirtIOMMUState),
        VMSTATE_END_OF_LIST()
    },
};

static const Property virt_iommu_properties[] = {
    DEFINE_PROP_UINT16("vendor-id", VirtIOMMUState, vendor_id,
                       VIRT_IOMMU_PCI_VENDOR_ID),
    DEFINE_PROP_UINT16("device-id", VirtIOMMUState, device_id,
                       VIRT_IOMMU_PCI_DEVICE_ID),
    DEFINE_PROP_SIZE("page-size", VirtIOMMUState, page_size, 4096),
    DEFINE_PROP_UINT8("iova-bits", VirtIOMMUState, iova_bits, 48),
};

static void virt_iommu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = virt_iommu_realize;
    k->vendor_id = VIRT_IOMMU_PCI_VENDOR_ID;
    k->device_id = VIRT_IOMMU_PCI_DEVICE_ID;
    k->revision = VIRT_IOMMU_PCI_REVISION;
    k->class_id = VIRT_IOMMU_PCI_CLASS;
    rc->phases.hold = virt_iommu_reset_hold;
    dc->desc = "virt-iommu paravirtual IOMMU";
    dc->vmsd = &vmstate_virt_iommu;
    /* Endpoints take their DMA address space from it at machine init. */
    dc->hotpluggable = false;
    device_class_set_props(dc, virt_iommu_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo virt_iommu_info = {
    .name = TYPE_VIRT_IOMMU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(VirtIOMMUState),
    .class_init = virt_iommu_class_init,
    .interfaces = (const InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void virt_iommu_register_types(void)
{
    type_register_static(&virt_iommu_info);
}

type_init(virt_iommu_register_types)
