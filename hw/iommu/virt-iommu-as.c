/*
 * virt-iommu: the DMA address space of every endpoint
 *
 * Each endpoint gets a root container holding two views of memory, one of
 * which is enabled at a time: an alias of system memory (bypass, so
 * untranslated DMA costs nothing beyond a flat view, as virtio-iommu does)
 * and an IOMMU memory region whose translate() applies the endpoint's
 * domain.  The MSI window is aliased above the translated view and never
 * translated, so interrupts keep working whatever the guest does to
 * translation (in bypass, system memory's own MSI window serves).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "exec/address-spaces.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "hw/pci/pci_bus.h"
#include "qapi/error.h"
#include "qemu/host-utils.h"
#include "trace.h"
#include "virt-iommu-as.h"

/*
 * The requester ID of every translated access: a root bus has a fixed
 * number, so its endpoints' IDs are computed once (pci_bus_num() through
 * QOM's class cast was a fifth of the translate path); below a bridge the
 * guest may renumber the bus, so it is read each time.
 */
static uint16_t virt_iommu_ep_rid(VirtIOMMUEndpoint *ep)
{
    if (ep->rid_fixed) {
        return ep->rid;
    }
    return PCI_BUILD_BDF(pci_bus_num(ep->bus), ep->devfn);
}

/*
 * Bypass costs nothing per access, so it is used wherever translation is
 * the identity: translation off, an IDENTITY domain, or no domain under
 * DEFAULT_BYPASS.
 */
static bool virt_iommu_ep_bypass(VirtIOMMUEndpoint *ep)
{
    VirtIOMMUEndpoints *eps = ep->eps;
    VirtIOMMUDomain *d = virt_iommu_domain_of(eps->domains,
                                              virt_iommu_ep_rid(ep));

    ep->domain = d;
    if (!(eps->control & VIRT_IOMMU_CTRL_ENABLE)) {
        return true;
    }
    if (!d) {
        return eps->control & VIRT_IOMMU_CTRL_DEFAULT_BYPASS;
    }
    return virt_iommu_domain_type(d) == VIRT_IOMMU_DOMAIN_IDENTITY;
}

/*
 * In bypass the MSI alias is switched off too: system memory already
 * holds the MSI window at the same addresses, and a root whose only
 * enabled child is the whole-memory alias resolves to system memory
 * itself, so the endpoint shares address_space_memory's FlatView instead
 * of having one of its own rebuilt on every memory topology change (the
 * cost that showed as boot time with virt-iommu in bypass).
 */
static void virt_iommu_ep_switch(VirtIOMMUEndpoint *ep)
{
    bool bypass = virt_iommu_ep_bypass(ep);

    memory_region_set_enabled(&ep->bypass_mr, bypass);
    memory_region_set_enabled(&ep->msi_mr, !bypass);
    memory_region_set_enabled(MEMORY_REGION(&ep->iommu_mr), !bypass);
}

/* Calls @fn on every endpoint the device has handed an address space. */
static void virt_iommu_foreach_ep(VirtIOMMUEndpoints *eps,
                                  void (*fn)(VirtIOMMUEndpoint *, void *),
                                  void *opaque)
{
    GHashTableIter iter;
    VirtIOMMUEndpoint **slots;

    g_hash_table_iter_init(&iter, eps->buses);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&slots)) {
        for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
            if (slots[devfn]) {
                fn(slots[devfn], opaque);
            }
        }
    }
}

static void virt_iommu_ep_switch_cb(VirtIOMMUEndpoint *ep, void *opaque)
{
    virt_iommu_ep_switch(ep);
}

void virt_iommu_as_update(VirtIOMMUEndpoints *eps, uint32_t control)
{
    eps->control = control;
    trace_virt_iommu_as_update(control);
    memory_region_transaction_begin();
    virt_iommu_foreach_ep(eps, virt_iommu_ep_switch_cb, NULL);
    memory_region_transaction_commit();
}

typedef struct VirtIOMMUNotify {
    VirtIOMMUDomain *d;
    uint64_t iova;
    uint64_t size;
    uint64_t gpa;
    uint32_t perms;
    bool map;
} VirtIOMMUNotify;

/*
 * Sends [@iova, @iova + @size) -> @gpa as notifier entries, which are
 * power-of-two sized and aligned: to @n alone (a replay), or else to
 * every notifier of @mr.
 */
static void virt_iommu_notify_pieces(IOMMUMemoryRegion *mr, IOMMUNotifier *n,
                                     uint64_t iova, uint64_t size,
                                     uint64_t gpa, uint32_t perms, bool map)
{
    while (size) {
        uint64_t len = MIN(pow2floor(size), 1ULL << ctz64(iova | gpa));
        IOMMUTLBEvent event = {
            .type = map ? IOMMU_NOTIFIER_MAP : IOMMU_NOTIFIER_UNMAP,
            .entry = {
                .target_as = &address_space_memory,
                .iova = iova,
                .translated_addr = gpa,
                .addr_mask = len - 1,
                .perm = map ? perms : IOMMU_NONE,
            },
        };

        if (n) {
            memory_region_notify_iommu_one(n, &event);
        } else {
            memory_region_notify_iommu(mr, 0, event);
        }
        iova += len;
        gpa += len;
        size -= len;
    }
}

static void virt_iommu_ep_notify_cb(VirtIOMMUEndpoint *ep, void *opaque)
{
    VirtIOMMUNotify *n = opaque;

    if (virt_iommu_domain_of(ep->eps->domains, virt_iommu_ep_rid(ep)) !=
        n->d) {
        return;
    }
    virt_iommu_notify_pieces(&ep->iommu_mr, NULL, n->iova, n->size, n->gpa,
                             n->perms, n->map);
}

void virt_iommu_as_notify(VirtIOMMUEndpoints *eps, VirtIOMMUDomain *d,
                          uint64_t iova, uint64_t size, uint64_t gpa,
                          uint32_t perms, bool map)
{
    VirtIOMMUNotify n = { d, iova, size, gpa, perms, map };

    /*
     * Without a notifier (no vhost or VFIO user of the address spaces)
     * there is nobody to tell, and walking every devfn of every bus for
     * each MAP and UNMAP cost a third of the command path.
     */
    if (!eps->notified_eps) {
        return;
    }
    virt_iommu_foreach_ep(eps, virt_iommu_ep_notify_cb, &n);
}

/*
 * Counts the endpoints whose IOMMU region has notifiers (see above).
 * Device-IOTLB invalidations (ATS) are not modelled, so a notifier that
 * asks for them is refused rather than silently never called, as
 * virtio-iommu does.
 */
static int virt_iommu_notify_flag_changed(IOMMUMemoryRegion *iommu_mr,
                                          IOMMUNotifierFlag old_flags,
                                          IOMMUNotifierFlag new_flags,
                                          Error **errp)
{
    VirtIOMMUEndpoint *ep = container_of(iommu_mr, VirtIOMMUEndpoint,
                                         iommu_mr);
    bool notified = new_flags != IOMMU_NOTIFIER_NONE;
    bool copying = new_flags & IOMMU_NOTIFIER_MAP;
    VirtIOMMUEndpoints *eps = ep->eps;

    if (new_flags & IOMMU_NOTIFIER_DEVIOTLB_UNMAP) {
        error_setg(errp, "virt-iommu does not support device-IOTLB "
                   "notifiers (no ATS)");
        return -EINVAL;
    }

    if (notified != ep->notified) {
        ep->notified = notified;
        if (notified) {
            eps->notified_eps++;
        } else {
            eps->notified_eps--;
        }
    }
    if (copying != ep->copying) {
        ep->copying = copying;
        eps->copying_eps += copying ? 1 : -1;
        /* From none to one, or from one to none */
        if (eps->copying_eps == (copying ? 1 : 0) && eps->copies_changed) {
            eps->copies_changed(eps->cmdq_opaque);
        }
    }
    return 0;
}

static VirtIOMMUEndpoint *virt_iommu_ep_new(VirtIOMMUEndpoints *eps,
                                            PCIBus *bus, int devfn)
{
    VirtIOMMUEndpoint *ep = g_new0(VirtIOMMUEndpoint, 1);
    Object *owner = eps->owner;
    g_autofree char *name = g_strdup_printf("virt-iommu-ep-%s-%02x.%x",
                                            bus->qbus.name, PCI_SLOT(devfn),
                                            PCI_FUNC(devfn));

    ep->eps = eps;
    ep->bus = bus;
    ep->devfn = devfn;
    if (pci_bus_is_root(bus)) {
        ep->rid = PCI_BUILD_BDF(pci_bus_num(bus), devfn);
        ep->rid_fixed = true;
    }

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
    virt_iommu_ep_switch(ep);
    address_space_init(&ep->as, &ep->root, name);

    trace_virt_iommu_ep_new(name, virt_iommu_ep_rid(ep));
    return ep;
}

static AddressSpace *virt_iommu_get_as(PCIBus *bus, void *opaque, int devfn)
{
    VirtIOMMUEndpoints *eps = opaque;
    PCIDevice *self = eps->iommu;
    VirtIOMMUEndpoint **slots;

    /* The IOMMU's own queue accesses are never translated by itself. */
    if (bus == pci_get_bus(self) && devfn == self->devfn) {
        return &address_space_memory;
    }

    slots = g_hash_table_lookup(eps->buses, bus);
    if (!slots) {
        slots = g_new0(VirtIOMMUEndpoint *, PCI_DEVFN_MAX);
        g_hash_table_insert(eps->buses, bus, slots);
    }
    if (!slots[devfn]) {
        slots[devfn] = virt_iommu_ep_new(eps, bus, devfn);
    }
    return &slots[devfn]->as;
}

static const PCIIOMMUOps virt_iommu_pci_ops = {
    .get_address_space = virt_iommu_get_as,
};

bool virt_iommu_as_setup(VirtIOMMUEndpoints *eps, PCIBus *bus, Error **errp)
{
    if (bus->iommu_ops) {
        error_setg(errp, "PCI bus %s already has an IOMMU; virt-iommu "
                   "cannot share it", bus->qbus.name);
        return false;
    }
    eps->buses = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    pci_setup_iommu(bus, &virt_iommu_pci_ops, eps);
    return true;
}

static IOMMUTLBEntry virt_iommu_translate(IOMMUMemoryRegion *iommu_mr,
                                         hwaddr addr, IOMMUAccessFlags flag,
                                         int iommu_idx)
{
    VirtIOMMUEndpoint *ep = container_of(iommu_mr, VirtIOMMUEndpoint,
                                         iommu_mr);
    VirtIOMMUEndpoints *eps = ep->eps;
    uint16_t rid = virt_iommu_ep_rid(ep);
    /* Saves a hash lookup per access; see VirtIOMMUEndpoint.domain. */
    VirtIOMMUDomain *d = ep->rid_fixed ? ep->domain :
                         virt_iommu_domain_of(eps->domains, rid);
    uint64_t page_mask = eps->page_size - 1;
    uint64_t gpa = 0;
    uint32_t perms = 0;
    /* IOMMUAccessFlags and VIRT_IOMMU_PERM_* share their bit values. */
    uint32_t access = flag & IOMMU_RW;
    int64_t stale_age_ns = -1;
    int fault;
    IOMMUTLBEntry entry = {
        .target_as = &address_space_memory,
        .iova = addr & ~page_mask,
        .addr_mask = page_mask,
        .perm = IOMMU_NONE,
    };

    fault = d ? virt_iommu_domain_translate(eps->domains, d, addr, access,
                                            &gpa, &perms, &stale_age_ns)
              : VIRT_IOMMU_FAULT_BLOCKED;
    /*
     * The guest may have queued the mapping without a doorbell: run what
     * it queued, then look once more.  The commands a miss runs leave
     * the endpoint's domain in place.
     */
    if (fault && fault != VIRT_IOMMU_FAULT_BLOCKED && access && eps->miss &&
        eps->miss(eps->cmdq_opaque)) {
        fault = virt_iommu_domain_translate(eps->domains, d, addr, access,
                                            &gpa, &perms, &stale_age_ns);
    }
    if (fault) {
        /* A lookup without an access (IOMMU_NONE) is no fault. */
        if (access) {
            virt_iommu_event_fault(eps->events, rid,
                                   d ? virt_iommu_domain_id(d) : 0, addr,
                                   access, fault);
        }
        return entry;
    }
    if (unlikely(stale_age_ns >= 0)) {
        virt_iommu_event_stale(eps->events, rid, virt_iommu_domain_id(d),
                               addr, access, stale_age_ns);
    }
    entry.translated_addr = gpa & ~page_mask;
    entry.perm = perms;
    trace_virt_iommu_translate(rid, addr, gpa, perms, access);
    return entry;
}

typedef struct VirtIOMMUReplay {
    IOMMUMemoryRegion *mr;
    IOMMUNotifier *n;
} VirtIOMMUReplay;

static void virt_iommu_replay_cb(uint64_t iova, uint64_t last, uint64_t gpa,
                                 uint32_t perms, bool fixed, void *opaque)
{
    VirtIOMMUReplay *r = opaque;

    virt_iommu_notify_pieces(r->mr, r->n, iova, last - iova + 1, gpa, perms,
                             true);
}

/*
 * Tells a new notifier (VFIO, vhost) of every mapping of the endpoint's
 * domain, as virtio-iommu does; QEMU's default would translate page by
 * page through the whole 2^64 region.  Bypass and IDENTITY have no
 * mappings to tell: the IOMMU region is disabled then.
 */
static void virt_iommu_replay(IOMMUMemoryRegion *iommu_mr, IOMMUNotifier *n)
{
    VirtIOMMUEndpoint *ep = container_of(iommu_mr, VirtIOMMUEndpoint,
                                         iommu_mr);
    VirtIOMMUDomain *d = virt_iommu_domain_of(ep->eps->domains,
                                              virt_iommu_ep_rid(ep));
    VirtIOMMUReplay r = { iommu_mr, n };

    if (!d || virt_iommu_domain_type(d) == VIRT_IOMMU_DOMAIN_IDENTITY) {
        return;
    }
    virt_iommu_domain_foreach_mapping(ep->eps->domains,
                                      virt_iommu_domain_id(d),
                                      UINT64_MAX, virt_iommu_replay_cb, &r);
}

/* The IOVA granule: no mapping is smaller (VFIO sizes its pages by it). */
static uint64_t virt_iommu_get_min_page_size(IOMMUMemoryRegion *iommu_mr)
{
    VirtIOMMUEndpoint *ep = container_of(iommu_mr, VirtIOMMUEndpoint,
                                         iommu_mr);

    return ep->eps->page_size;
}

static void virt_iommu_memory_region_class_init(ObjectClass *klass,
                                                void *data)
{
    IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

    imrc->translate = virt_iommu_translate;
    imrc->notify_flag_changed = virt_iommu_notify_flag_changed;
    imrc->replay = virt_iommu_replay;
    imrc->get_min_page_size = virt_iommu_get_min_page_size;
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
