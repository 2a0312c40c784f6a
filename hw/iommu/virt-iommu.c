/*
 * virt-iommu: PCI function, BAR0 registers, properties, reset
 *
 * The top of the device: it builds the layers below at realize, wires
 * their callbacks (the event interrupt, the rcache CPU, mapping notifiers)
 * and turns register writes into calls down.  The guest ABI is
 * docs/specs/virt-iommu.rst and include/hw/iommu/virt-iommu-regs.h; the
 * layers are drawn in docs/devel/device-layers.rst.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/boards.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "iova/iova.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "trace.h"
#include "virt-iommu-internal.h"

#define VIRT_IOMMU_MAX_PAGE_SIZE (1ULL << 30)
#define VIRT_IOMMU_MAX_DOMAINS 65535
#define VIRT_IOMMU_MAX_IOTLB 65536
/* Bounds the host memory a guest can make the device hold */
#define VIRT_IOMMU_DEFAULT_MAX_MAPPINGS (1u << 20)
#define VIRT_IOMMU_MAX_FQ 65536
#define VIRT_IOMMU_MAX_MAG_SIZE 4096
#define VIRT_IOMMU_MAX_FLIGHT_RECORDS (1u << 20)

#define VIRT_IOMMU_DOMAIN_TYPES_SUPPORTED \
    (1u << VIRT_IOMMU_DOMAIN_BLOCKED | 1u << VIRT_IOMMU_DOMAIN_IDENTITY | \
     1u << VIRT_IOMMU_DOMAIN_DMA | 1u << VIRT_IOMMU_DOMAIN_DMA_FQ)

static uint32_t virt_iommu_status(VirtIOMMUState *s)
{
    uint32_t status = 0;

    if (s->control & VIRT_IOMMU_CTRL_ENABLE) {
        status |= VIRT_IOMMU_STS_ENABLED;
    }
    if (!(s->control & VIRT_IOMMU_CTRL_ENABLE) ||
        (s->control & VIRT_IOMMU_CTRL_DEFAULT_BYPASS)) {
        status |= VIRT_IOMMU_STS_BYPASS;
    }
    if (s->control & VIRT_IOMMU_CTRL_CMDQ_EN) {
        status |= VIRT_IOMMU_STS_CMDQ_ON;
    }
    if (s->control & VIRT_IOMMU_CTRL_EVTQ_EN) {
        status |= VIRT_IOMMU_STS_EVTQ_ON;
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
        return VIRT_IOMMU_CAPS;
    case VIRT_IOMMU_REG_PGSIZE_MASK:
        return s->page_size;
    case VIRT_IOMMU_REG_IOVA_BITS:
        return s->iova_bits | (uint64_t)VIRT_IOMMU_DOMAIN_TYPES_SUPPORTED << 32;
    case VIRT_IOMMU_REG_COMMANDS:
        return virt_iommu_supported_commands();
    case VIRT_IOMMU_REG_MAX_DOMAINS:
        return s->max_domains;
    case VIRT_IOMMU_REG_CONTROL:
        return s->control | (uint64_t)virt_iommu_status(s) << 32;
    case VIRT_IOMMU_REG_ERROR:
        return s->error;
    case VIRT_IOMMU_REG_CMDQ_BASE:
        return s->cmdq.base;
    case VIRT_IOMMU_REG_CMDQ_SIZE:
        return s->cmdq.log2size;
    case VIRT_IOMMU_REG_CMDQ_HEAD:
        return s->cmdq.head | (uint64_t)s->cmdq.tail << 32;
    case VIRT_IOMMU_REG_CMDQ_TAIL_ADDR:
        return s->cmdq_tail_addr;
    case VIRT_IOMMU_REG_EVTQ_BASE:
        return s->events.q.base;
    case VIRT_IOMMU_REG_EVTQ_SIZE:
        return s->events.q.log2size;
    case VIRT_IOMMU_REG_EVTQ_HEAD:
        return s->events.q.head | (uint64_t)s->events.q.tail << 32;
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

/* Replaces the 32-bit half of *@reg that @addr selects. */
static void virt_iommu_set_half(uint64_t *reg, hwaddr addr, uint32_t val)
{
    unsigned shift = (addr & 4) * 8;

    *reg = (*reg & ~(0xffffffffULL << shift)) | (uint64_t)val << shift;
}

/* Applies a CONTROL write's queue enable bits. */
static void virt_iommu_queues_control(VirtIOMMUState *s, uint32_t old_control)
{
    uint32_t on = s->control & ~old_control;

    if ((old_control & ~s->control) & VIRT_IOMMU_CTRL_CMDQ_EN) {
        /* A SYNC held by an injection dies with the queue. */
        timer_del(s->sync.timer);
        s->sync.pending = false;
    }
    if (on & VIRT_IOMMU_CTRL_CMDQ_EN) {
        if (!virt_iommu_queue_config_ok(&s->cmdq, sizeof(VirtIOMMUCmd)) ||
            !virt_iommu_tail_addr_ok(s->cmdq_tail_addr)) {
            s->error |= VIRT_IOMMU_ERR_CMDQ_CONFIG;
            s->control &= ~VIRT_IOMMU_CTRL_CMDQ_EN;
        }
        s->cmdq.head = s->cmdq.tail = 0;
        virt_iommu_cmdq_write_copying(s);
    }
    if (on & VIRT_IOMMU_CTRL_EVTQ_EN) {
        if (!virt_iommu_queue_config_ok(&s->events.q,
                                        sizeof(VirtIOMMUEvent))) {
            s->error |= VIRT_IOMMU_ERR_EVTQ_CONFIG;
            s->control &= ~VIRT_IOMMU_CTRL_EVTQ_EN;
        }
        s->events.q.head = s->events.q.tail = 0;
        virt_iommu_event_consumed(&s->events);
    }
}

static void virt_iommu_write_control(VirtIOMMUState *s, uint32_t val)
{
    uint32_t old = s->control;

    s->control = val & VIRT_IOMMU_CTRL_MASK;
    virt_iommu_queues_control(s, old);
    virt_iommu_as_update(&s->eps, s->control);
}

static void virt_iommu_write_queue(VirtIOMMUState *s, VirtIOMMUQueue *q,
                                   uint32_t enable, hwaddr reg, hwaddr addr,
                                   uint32_t val)
{
    if (s->control & enable) {
        qemu_log_mask(LOG_GUEST_ERROR, "virt-iommu: queue register 0x%"
                      HWADDR_PRIx " written while the queue is enabled\n",
                      addr);
        return;
    }
    if (reg == addr || reg + 4 == addr) {
        virt_iommu_set_half(&q->base, addr, val);
    } else {
        q->log2size = val;
    }
}

static void virt_iommu_reg_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    VirtIOMMUState *s = opaque;
    uint32_t mask;

    trace_virt_iommu_reg_write(addr, val);
    switch (addr) {
    case VIRT_IOMMU_REG_CONTROL:
        virt_iommu_write_control(s, val);
        break;
    case VIRT_IOMMU_REG_ERROR:
        s->error &= ~val;
        break;
    case VIRT_IOMMU_REG_CMDQ_BASE:
    case VIRT_IOMMU_REG_CMDQ_BASE + 4:
    case VIRT_IOMMU_REG_CMDQ_SIZE:
        virt_iommu_write_queue(s, &s->cmdq, VIRT_IOMMU_CTRL_CMDQ_EN,
                               VIRT_IOMMU_REG_CMDQ_BASE, addr, val);
        break;
    case VIRT_IOMMU_REG_CMDQ_TAIL_ADDR:
    case VIRT_IOMMU_REG_CMDQ_TAIL_ADDR + 4:
        if (s->control & VIRT_IOMMU_CTRL_CMDQ_EN) {
            qemu_log_mask(LOG_GUEST_ERROR, "virt-iommu: CMDQ_TAIL_ADDR "
                          "written while the queue is enabled\n");
            break;
        }
        virt_iommu_set_half(&s->cmdq_tail_addr, addr, val);
        break;
    case VIRT_IOMMU_REG_EVTQ_BASE:
    case VIRT_IOMMU_REG_EVTQ_BASE + 4:
    case VIRT_IOMMU_REG_EVTQ_SIZE:
        virt_iommu_write_queue(s, &s->events.q, VIRT_IOMMU_CTRL_EVTQ_EN,
                               VIRT_IOMMU_REG_EVTQ_BASE, addr, val);
        break;
    case VIRT_IOMMU_REG_CMDQ_TAIL:
        if (!(s->control & VIRT_IOMMU_CTRL_CMDQ_EN)) {
            break;
        }
        mask = virt_iommu_queue_mask(&s->cmdq);
        if (val & ~mask) {
            s->error |= VIRT_IOMMU_ERR_CMDQ_TAIL;
            break;
        }
        s->cmdq.tail = val;
        virt_iommu_cmdq_run(s);
        break;
    case VIRT_IOMMU_REG_EVTQ_HEAD:
        if (!(s->control & VIRT_IOMMU_CTRL_EVTQ_EN)) {
            break;
        }
        mask = virt_iommu_queue_mask(&s->events.q);
        if (val & ~mask) {
            s->error |= VIRT_IOMMU_ERR_EVTQ_HEAD;
            break;
        }
        s->events.q.head = val;
        virt_iommu_event_consumed(&s->events);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "virt-iommu: write 0x%" PRIx64
                      " to read-only or reserved offset 0x%" HWADDR_PRIx "\n",
                      val, addr);
    }
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
    IovaConfig cfg = {
        .granule = s->page_size,
        .start_pfn = 1,
        .mag_size = s->mag_size,
    };
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
    if (s->mag_size < 1 || s->mag_size > VIRT_IOMMU_MAX_MAG_SIZE) {
        error_setg(errp, "mag-size must be between 1 and %u, not %u",
                   VIRT_IOMMU_MAX_MAG_SIZE, s->mag_size);
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

static void virt_iommu_reset_state(VirtIOMMUState *s)
{
    virt_iommu_domains_reset(&s->domains);
    s->control = VIRT_IOMMU_CTRL_DEFAULT_BYPASS;
    s->error = 0;
    memset(&s->cmdq, 0, sizeof(s->cmdq));
    s->cmdq_tail_addr = 0;
    s->cmdq_miss_commands = 0;
    virt_iommu_events_reset(&s->events);
    virt_iommu_iotlb_reset(&s->iotlb);
    virt_iommu_inject_reset(s);
    /* x-inject describes every boot; checked at realize */
    if (s->inject_spec) {
        virt_iommu_inject_parse(s, s->inject_spec, &error_abort);
    }
    virt_iommu_as_update(&s->eps, s->control);
}

static unsigned virt_iommu_ncpus(void)
{
    return MACHINE(qdev_get_machine())->smp.max_cpus;
}

static void virt_iommu_raise_event(void *opaque)
{
    PCIDevice *dev = opaque;

    if (msix_enabled(dev)) {
        msix_notify(dev, VIRT_IOMMU_MSIX_EVENT);
    }
}

static void virt_iommu_map_notify(void *opaque, VirtIOMMUDomain *d,
                                  uint64_t iova, uint64_t size, uint64_t gpa,
                                  uint32_t perms, bool map)
{
    VirtIOMMUState *s = opaque;

    virt_iommu_as_notify(&s->eps, d, iova, size, gpa, perms, map);
}

/* Builds the layers below, bottom up, each told of the ones it uses. */
static void virt_iommu_init_layers(VirtIOMMUState *s)
{
    VirtIOMMUDomainsConfig cfg = {
        .page_size = s->page_size,
        .iova_bits = s->iova_bits,
        .max_domains = s->max_domains,
        .max_mappings = s->max_mappings,
        .fq_size = s->fq_size,
        .fq_timeout_ms = s->fq_timeout_ms,
        .mag_size = s->mag_size,
        .ncpus = virt_iommu_ncpus(),
        .strict_checks = s->strict_checks,
        .iotlb = &s->iotlb,
        .cpu = virt_iommu_cpu,
        .notify = virt_iommu_map_notify,
        .opaque = s,
    };

    virt_iommu_iotlb_init(&s->iotlb, s->iotlb_size, s->page_size);
    s->events = (VirtIOMMUEvents) {
        .page_size = s->page_size,
        .dma_as = pci_get_address_space(PCI_DEVICE(s)),
        .control = &s->control,
        .error = &s->error,
        .raise = virt_iommu_raise_event,
        .opaque = s,
        .recorder = &s->recorder,
    };
    virt_iommu_domains_init(&s->domains, &cfg);
    virt_iommu_recorder_init(&s->recorder, s->flight_records);
    s->sync.timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, virt_iommu_sync_fire, s);
    virt_iommu_inject_reset(s);
}

static void virt_iommu_realize(PCIDevice *dev, Error **errp)
{
    VirtIOMMUState *s = VIRT_IOMMU(dev);

    if (!virt_iommu_check_geometry(s, errp)) {
        return;
    }
    if (s->max_domains < 1 || s->max_domains > VIRT_IOMMU_MAX_DOMAINS) {
        error_setg(errp, "max-domains must be between 1 and %u, not %u",
                   VIRT_IOMMU_MAX_DOMAINS, s->max_domains);
        return;
    }
    if (s->max_mappings < 1) {
        error_setg(errp, "max-mappings must be at least 1");
        return;
    }
    if (s->iotlb_size < 1 || s->iotlb_size > VIRT_IOMMU_MAX_IOTLB) {
        error_setg(errp, "iotlb-size must be between 1 and %u, not %u",
                   VIRT_IOMMU_MAX_IOTLB, s->iotlb_size);
        return;
    }
    if (s->fq_size < 1 || s->fq_size > VIRT_IOMMU_MAX_FQ) {
        error_setg(errp, "fq-size must be between 1 and %u, not %u",
                   VIRT_IOMMU_MAX_FQ, s->fq_size);
        return;
    }
    if (s->fq_timeout_ms < 1 || s->fq_timeout_ms > 60000) {
        error_setg(errp, "fq-timeout must be between 1 and 60000 ms, not %u",
                   s->fq_timeout_ms);
        return;
    }
    if (s->flight_records > VIRT_IOMMU_MAX_FLIGHT_RECORDS) {
        error_setg(errp, "flight-recorder must be at most %u records, not %u",
                   VIRT_IOMMU_MAX_FLIGHT_RECORDS, s->flight_records);
        return;
    }
    if (s->inject_spec && !virt_iommu_inject_parse(s, s->inject_spec, errp)) {
        return;
    }
    s->eps = (VirtIOMMUEndpoints) {
        .iommu = dev,
        .owner = OBJECT(s),
        .domains = &s->domains,
        .events = &s->events,
        .page_size = s->page_size,
        .control = VIRT_IOMMU_CTRL_DEFAULT_BYPASS,
        .miss = virt_iommu_cmdq_run_on_miss,
        .copies_changed = virt_iommu_cmdq_write_copying,
        .cmdq_opaque = s,
    };
    if (!virt_iommu_as_setup(&s->eps, pci_device_root_bus(dev), errp)) {
        return;
    }
    pci_config_set_vendor_id(dev->config, s->vendor_id);
    pci_config_set_device_id(dev->config, s->device_id);

    memory_region_init(&s->bar0, OBJECT(s), "virt-iommu-bar0",
                       VIRT_IOMMU_BAR0_SIZE);
    memory_region_init_io(&s->regs, OBJECT(s), &virt_iommu_regs_ops, s,
                          "virt-iommu-regs", VIRT_IOMMU_REGS_SIZE);
    memory_region_add_subregion(&s->bar0, 0, &s->regs);
    if (msix_init(dev, VIRT_IOMMU_MSIX_VECTORS, &s->bar0, 0,
                  VIRT_IOMMU_MSIX_TABLE, &s->bar0, 0, VIRT_IOMMU_MSIX_PBA,
                  0, errp) < 0) {
        return;
    }
    for (int v = 0; v < VIRT_IOMMU_MSIX_VECTORS; v++) {
        msix_vector_use(dev, v);
    }
    pci_register_bar(dev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->bar0);

    virt_iommu_init_layers(s);
    s->control = VIRT_IOMMU_CTRL_DEFAULT_BYPASS;
    trace_virt_iommu_realize(s->page_size, s->iova_bits);
}

/*
 * Frees what realize built.  The endpoints' address spaces stay: they
 * belong to the endpoints that DMA through them, as virtio-iommu's do.
 * Not reachable today (the device is not hotpluggable and QEMU does not
 * unrealize devices at exit), kept so that it never leaks once it is.
 */
static void virt_iommu_exit(PCIDevice *dev)
{
    VirtIOMMUState *s = VIRT_IOMMU(dev);

    virt_iommu_domains_destroy(&s->domains);
    virt_iommu_iotlb_destroy(&s->iotlb);
    virt_iommu_recorder_destroy(&s->recorder);
    timer_free(s->sync.timer);
    msix_uninit(dev, &s->bar0, &s->bar0);
}

static void virt_iommu_reset_hold(Object *obj, ResetType type)
{
    virt_iommu_reset_state(VIRT_IOMMU(obj));
}

static const Property virt_iommu_properties[] = {
    DEFINE_PROP_UINT16("vendor-id", VirtIOMMUState, vendor_id,
                       VIRT_IOMMU_PCI_VENDOR_ID),
    DEFINE_PROP_UINT16("device-id", VirtIOMMUState, device_id,
                       VIRT_IOMMU_PCI_DEVICE_ID),
    DEFINE_PROP_SIZE("page-size", VirtIOMMUState, page_size, 4096),
    DEFINE_PROP_UINT8("iova-bits", VirtIOMMUState, iova_bits, 48),
    DEFINE_PROP_UINT32("max-domains", VirtIOMMUState, max_domains, 256),
    DEFINE_PROP_UINT32("max-mappings", VirtIOMMUState, max_mappings,
                       VIRT_IOMMU_DEFAULT_MAX_MAPPINGS),
    DEFINE_PROP_UINT32("iotlb-size", VirtIOMMUState, iotlb_size, 64),
    /* Linux's IOVA_FQ_SIZE and IOVA_FQ_TIMEOUT */
    DEFINE_PROP_UINT32("fq-size", VirtIOMMUState, fq_size, 256),
    DEFINE_PROP_UINT32("fq-timeout", VirtIOMMUState, fq_timeout_ms, 10),
    DEFINE_PROP_BOOL("strict-checks", VirtIOMMUState, strict_checks, false),
    /* Linux's IOVA_MAG_SIZE */
    DEFINE_PROP_UINT32("mag-size", VirtIOMMUState, mag_size, 127),
    DEFINE_PROP_UINT32("flight-recorder", VirtIOMMUState, flight_records,
                       1024),
};

/*
 * Test hooks (docs/system/virt-iommu.rst): qtest has no vCPU to ring a
 * doorbell from, so "x-rcache-cpu" names the CPU whose rcache commands use,
 * and writing a CPU index to "x-cpu-dead" runs the allocators' CPU-removal
 * path for it.
 */
static void virt_iommu_get_rcache_cpu(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    visit_type_int32(v, name, &VIRT_IOMMU(obj)->rcache_cpu, errp);
}

static void virt_iommu_set_rcache_cpu(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    int32_t cpu;

    if (!visit_type_int32(v, name, &cpu, errp)) {
        return;
    }
    if (cpu < -1 || cpu >= (int32_t)virt_iommu_ncpus()) {
        error_setg(errp, "x-rcache-cpu must be -1 or a CPU index below %u",
                   virt_iommu_ncpus());
        return;
    }
    VIRT_IOMMU(obj)->rcache_cpu = cpu;
}

static void virt_iommu_set_cpu_dead(Object *obj, Visitor *v,
                                    const char *name, void *opaque,
                                    Error **errp)
{
    uint32_t cpu;

    if (!visit_type_uint32(v, name, &cpu, errp)) {
        return;
    }
    if (cpu >= virt_iommu_ncpus()) {
        error_setg(errp, "x-cpu-dead: no CPU %u (max-cpus is %u)", cpu,
                   virt_iommu_ncpus());
        return;
    }
    virt_iommu_domains_cpu_dead(&VIRT_IOMMU(obj)->domains, cpu);
}

static char *virt_iommu_get_inject(Object *obj, Error **errp)
{
    return g_strdup(VIRT_IOMMU(obj)->inject_spec ?: "");
}

/*
 * Before realize, x-inject is what every reset arms (checked at realize);
 * on a running device, writing it arms those injections at once.
 */
static void virt_iommu_set_inject(Object *obj, const char *value,
                                  Error **errp)
{
    VirtIOMMUState *s = VIRT_IOMMU(obj);

    if (DEVICE(obj)->realized) {
        virt_iommu_inject_parse(s, value, errp);
        return;
    }
    g_free(s->inject_spec);
    s->inject_spec = *value ? g_strdup(value) : NULL;
}

static void virt_iommu_instance_finalize(Object *obj)
{
    g_free(VIRT_IOMMU(obj)->inject_spec);
}

static void virt_iommu_instance_init(Object *obj)
{
    VIRT_IOMMU(obj)->rcache_cpu = -1;
}

static void virt_iommu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = virt_iommu_realize;
    k->exit = virt_iommu_exit;
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
    object_class_property_add(klass, "x-rcache-cpu", "int32",
                              virt_iommu_get_rcache_cpu,
                              virt_iommu_set_rcache_cpu, NULL, NULL);
    object_class_property_set_description(klass, "x-rcache-cpu",
        "Test hook: CPU index whose rcache commands use (-1: the vCPU "
        "that rang the doorbell)");
    object_class_property_add_str(klass, "x-inject", virt_iommu_get_inject,
                                  virt_iommu_set_inject);
    object_class_property_set_description(klass, "x-inject",
        "Fault injections, e.g. status:3:map:no-space (see "
        "docs/system/virt-iommu-debugging.rst): armed at every reset if set "
        "on the command line, at once if set on a running device");
    object_class_property_add(klass, "x-cpu-dead", "uint32", NULL,
                              virt_iommu_set_cpu_dead, NULL, NULL);
    object_class_property_set_description(klass, "x-cpu-dead",
        "Test hook: write a CPU index to return its cached IOVAs, as when "
        "that CPU goes away");
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo virt_iommu_type_info = {
    .name = TYPE_VIRT_IOMMU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(VirtIOMMUState),
    .instance_init = virt_iommu_instance_init,
    .instance_finalize = virt_iommu_instance_finalize,
    .class_init = virt_iommu_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void virt_iommu_register_types(void)
{
    type_register_static(&virt_iommu_type_info);
}

type_init(virt_iommu_register_types)
