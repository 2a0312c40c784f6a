/*
 * virt-iommu: the DMA address space of every endpoint
 *
 * Each endpoint gets a root container holding two views of memory, one of
 * which is enabled at a time: an alias of system memory (bypass, so
 * untranslated DMA costs nothing beyond a flat view, as virtio-iommu does)
 * and an IOMMU memory region whose translate() applies the endpoint's
 * domain.  The MSI window is aliased above both and never translated, so
 * interrupts keep working whatever the guest does to translation.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "exec/address-spaces.h"
#include "hw/iommu/virt-iommu.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "hw/pci/pci_bus.h"
#include "qapi/error.h"
#include "trace.h"

/* x86's MSI window: writes here are interrupts, not memory */
#define VIRT_IOMMU_MSI_BASE 0xfee00000ULL
#define VIRT_IOMMU_MSI_SIZE 0x100000ULL

bool virt_iommu_bypass(VirtIOMMUState *s)
{
    return !(s->control & VIRT_IOMMU_CTRL_ENABLE) ||
           (s->control & VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
}

static uint16_t virt_iommu_ep_rid(VirtIOMMUEndpoint *ep)
{
    return PCI_BUILD_BDF(pci_bus_num(ep->bus), ep->devfn);
}

static void virt_iommu_ep_switch(VirtIOMMUEndpoint *ep, bool bypass)
{
    memory_region_set_enabled(&ep->bypass_mr, bypass);
    memory_region_set_enabled(MEMORY_REGION(&ep->iommu_mr), !bypass);
}

void virt_iommu_as_update(VirtIOMMUState *s)
{
    bool bypass = virt_iommu_bypass(s);
    GHashTableIter iter;
    VirtIOMMUEndpoint **eps;

    trace_virt_iommu_as_update(bypass);
    memory_region_transaction_begin();
    g_hash_table_iter_init(&iter, s->buses);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&eps)) {
        for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
            if (eps[devfn]) {
                virt_iommu_ep_switch(eps[devfn], bypass);
            }
        }
    }
    memory_region_transaction_commit();
}

static VirtIOMMUEndpoint *virt_iommu_ep_new(VirtIOMMUState *s, PCIBus *bus,
                                            int devfn)
{
    VirtIOMMUEndpoint *ep = g_new0(VirtIOMMUEndpoint, 1);
    Object *owner = OBJECT(s);
    g_autofree char *name = g_strdup_printf("virt-iommu-ep-%s-%02x.%x",
                                            bus->qbus.name, PCI_SLOT(devfn),
                                            PCI_FUNC(devfn));

    ep->s = s;
    ep->bus = bus;
    ep->devfn = devfn;

    memory_region_init(&ep->root, owner, name, UINT64_MAX);
    memory_region_init_iommu(&ep->iommu_mr, sizeof(ep->iommu_mr),
                             TYPE_VIRT_IOMMU_MEMORY_REGION, owner, name,
                             UINT64_MAX);
    memory_region_init_alias(&ep->bypass_mr, owner, "virt-iommu-bypass",
                             get_system_memory(), 0,
                             memory_region_size(get_system_memory()));
    memory_region_init_alias(&ep->msi_mr, owner, "virt-iommu-msi",
                             get_system_memory(), VIRT_IOMMU_MSI_BASE,
                             VIRT_IOMMU_MSI_SIZE);
    memory_region_add_subregion_overlap(&ep->root, 0,
                                        MEMORY_REGION(&ep->iommu_mr), 0);
    memory_region_add_subregion_overlap(&ep->root, 0, &ep->bypass_mr, 0);
    memory_region_add_subregion_overlap(&ep->root, VIRT_IOMMU_MSI_BASE,
                                        &ep->msi_mr, 1);
    virt_iommu_ep_switch(ep, virt_iommu_bypass(s));
    address_space_init(&ep->as, &ep->root, name);

    trace_virt_iommu_ep_new(name, virt_iommu_ep_rid(ep));
    return ep;
}

static AddressSpace *virt_iommu_get_as(PCIBus *bus, void *opaque, int devfn)
{
    VirtIOMMUState *s = opaque;
    PCIDevice *self = PCI_DEVICE(s);
    VirtIOMMUEndpoint **eps;

    /* The IOMMU's own queue accesses are never translated by itself. */
    if (bus == pci_get_bus(self) && devfn == self->devfn) {
        return &address_space_memory;
    }

    eps = g_hash_table_lookup(s->buses, bus);
    if (!eps) {
        eps = g_new0(VirtIOMMUEndpoint *, PCI_DEVFN_MAX);
        g_hash_table_insert(s->buses, bus, eps);
    }
    if (!eps[devfn]) {
        eps[devfn] = virt_iommu_ep_new(s, bus, devfn);
    }
    return &eps[devfn]->as;
}

static const PCIIOMMUOps virt_iommu_pci_ops = {
    .get_address_space = virt_iommu_get_as,
};

bool virt_iommu_as_setup(VirtIOMMUState *s, PCIBus *bus, Error **errp)
{
    if (bus->iommu_ops) {
        error_setg(errp, "PCI bus %s already has an IOMMU; virt-iommu "
                   "cannot share it", bus->qbus.name);
        return false;
    }
    s->buses = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    pci_setup_iommu(bus, &virt_iommu_pci_ops, s);
    return true;
}

/*
 * No domain can be attached yet (the command queue arrives with ABI 1.0),
 * so with translation enabled and bypass off every DMA is blocked: the
 * access fails as on hardware whose IOMMU has no context for the device.
 */
static IOMMUTLBEntry virt_iommu_translate(IOMMUMemoryRegion *iommu_mr,
                                         hwaddr addr, IOMMUAccessFlags flag,
                                         int iommu_idx)
{
    VirtIOMMUEndpoint *ep = container_of(iommu_mr, VirtIOMMUEndpoint,
                                         iommu_mr);
    uint64_t page_mask = ep->s->page_size - 1;

    trace_virt_iommu_translate_blocked(virt_iommu_ep_rid(ep), addr, flag);
    return (IOMMUTLBEntry) {
        .target_as = &address_space_memory,
        .iova = addr & ~page_mask,
        .translated_addr = 0,
        .addr_mask = page_mask,
        .perm = IOMMU_NONE,
    };
}

static void virt_iommu_memory_region_class_init(ObjectClass *klass,
                                                void *data)
{
    IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

    imrc->translate = virt_iommu_translate;
}

static const TypeInfo virt_iommu_memory_region_info = {
    .parent = TYPE_IOMMU_MEMORY_REGION,
    .name = TYPE_VIRT_IOMMU_MEMORY_REGION,
    .class_init = virt_iommu_memory_region_class_init,
};

static void virt_iommu_as_register_types(void)
{
    type_register_static(&virt_iommu_memory_region_info);
}

type_init(virt_iommu_as_register_types)
