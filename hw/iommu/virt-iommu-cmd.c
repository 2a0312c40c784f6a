/*
 * virt-iommu: the command queue, command decode and dispatch
 *
 * Commands run synchronously when the guest writes CMDQ_TAIL, so once the
 * write returns every command before TAIL has completed; SYNC exists so a
 * driver written for asynchronous hardware can wait the same way.  This
 * file decodes each command, checks what the ABI says about its fields,
 * runs it in the domain layer, reports what that layer found (strict
 * checks, endpoints gone) through the event writer, and re-derives the
 * endpoints' views once per doorbell if an attachment or type changed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/core/cpu.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "iova/iova.h"
#include "qemu/bswap.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "trace.h"
#include "virt-iommu-internal.h"

#define CMD_SIZE sizeof(VirtIOMMUCmd)

QEMU_BUILD_BUG_ON(CMD_SIZE != 64);
QEMU_BUILD_BUG_ON(sizeof(VirtIOMMUStats) != 256);

/* Which command fields an opcode reads; every other one must be zero. */
enum {
    F_DOMAIN = 1 << 0,
    F_ENDPOINT = 1 << 1,
    F_ARG = 1 << 2,
    F_IOVA = 1 << 3,
    F_ADDR = 1 << 4,
    F_SIZE = 1 << 5,
    F_LIMIT = 1 << 6,
};

static const uint8_t cmd_fields[] = {
    [VIRT_IOMMU_CMD_DOMAIN_ALLOC] = F_ARG,
    [VIRT_IOMMU_CMD_DOMAIN_FREE] = F_DOMAIN,
    [VIRT_IOMMU_CMD_DOMAIN_SET_TYPE] = F_DOMAIN | F_ARG,
    [VIRT_IOMMU_CMD_ATTACH] = F_DOMAIN | F_ENDPOINT,
    [VIRT_IOMMU_CMD_DETACH] = F_ENDPOINT,
    [VIRT_IOMMU_CMD_MAP] = F_DOMAIN | F_ARG | F_ADDR | F_SIZE | F_LIMIT,
    [VIRT_IOMMU_CMD_MAP_FIXED] = F_DOMAIN | F_ARG | F_IOVA | F_ADDR | F_SIZE,
    [VIRT_IOMMU_CMD_UNMAP] = F_DOMAIN | F_IOVA | F_SIZE,
    [VIRT_IOMMU_CMD_INVALIDATE] = F_DOMAIN | F_ARG | F_IOVA | F_SIZE,
    [VIRT_IOMMU_CMD_SYNC] = F_ADDR | F_LIMIT,
    [VIRT_IOMMU_CMD_QUERY_STATS] = F_DOMAIN | F_ADDR,
};

/* Guest-physical address of command ring slot @index */
static uint64_t virt_iommu_cmdq_slot(const VirtIOMMUQueue *q, uint32_t index)
{
    return q->base + (uint64_t)index * CMD_SIZE;
}

/*
 * No command runs while the queue is off, stopped on a ring error, or
 * held at a delayed SYNC: neither a doorbell's nor a miss's.
 */
static bool virt_iommu_cmdq_stopped(const VirtIOMMUState *s)
{
    uint32_t ring_errors = VIRT_IOMMU_ERR_CMDQ_TAIL | VIRT_IOMMU_ERR_CMDQ_FETCH;

    return !(s->control & VIRT_IOMMU_CTRL_CMDQ_EN) ||
           (s->error & ring_errors) || s->sync.pending;
}

/* One doorbell's commands */
typedef struct VirtIOMMUBatch {
    VirtIOMMUState *s;
    AddressSpace *dma_as;       /* the device's own DMA (rings, SYNC) */
    VirtIOMMURingMap ring;      /* the command ring, for this batch */
    bool views_changed;         /* attachments or domain types changed */
    bool on_miss;               /* run by a miss: mapping commands only */
    GArray *gone;               /* VirtIOMMUGone, while sweeping; NULL: none */
} VirtIOMMUBatch;

uint64_t virt_iommu_supported_commands(void)
{
    uint64_t mask = 0;

    for (int op = 0; op < ARRAY_SIZE(cmd_fields); op++) {
        if (cmd_fields[op]) {
            mask |= 1ULL << op;
        }
    }
    return mask;
}

unsigned virt_iommu_cpu(void *opaque)
{
    VirtIOMMUState *s = opaque;

    if (s->rcache_cpu >= 0) {
        return s->rcache_cpu;
    }
    return current_cpu ? current_cpu->cpu_index : 0;
}

static bool virt_iommu_cmd_fields_ok(const VirtIOMMUCmd *cmd)
{
    uint8_t used = cmd_fields[cmd->opcode];
    uint8_t flags = cmd->opcode == VIRT_IOMMU_CMD_SYNC ?
                    VIRT_IOMMU_CMD_F_INTERRUPT : 0;

    return !(cmd->flags & ~flags) && !cmd->reserved &&
           ((used & F_DOMAIN) || !cmd->domain) &&
           ((used & F_ENDPOINT) || !cmd->endpoint) &&
           ((used & F_ARG) || !cmd->arg) &&
           ((used & F_IOVA) || !cmd->iova) &&
           ((used & F_ADDR) || !cmd->addr) &&
           ((used & F_SIZE) || !cmd->size) &&
           ((used & F_LIMIT) || !cmd->limit);
}

static uint16_t virt_iommu_cmd_sync(VirtIOMMUBatch *b, const VirtIOMMUCmd *cmd)
{
    PCIDevice *dev = PCI_DEVICE(b->s);

    if (cmd->limit > UINT32_MAX) {
        return VIRT_IOMMU_S_INVALID;
    }
    if (cmd->addr &&
        virt_iommu_ram_write(b->dma_as, cmd->addr,
                             &(uint32_t){ cpu_to_le32(cmd->limit) },
                             sizeof(uint32_t)) != MEMTX_OK) {
        return VIRT_IOMMU_S_DMA_ERROR;
    }
    if ((cmd->flags & VIRT_IOMMU_CMD_F_INTERRUPT) && msix_enabled(dev)) {
        msix_notify(dev, VIRT_IOMMU_MSIX_COMPLETION);
    }
    return VIRT_IOMMU_S_OK;
}

uint16_t virt_iommu_stats(VirtIOMMUState *s, uint32_t id, VirtIOMMUStats *st)
{
    uint16_t status = virt_iommu_domains_stats(&s->domains, id, st);

    if (status == VIRT_IOMMU_S_OK && !id) {
        st->events = s->events.records;
        st->events_dropped = s->events.dropped;
        st->iotlb_hits = s->iotlb.hits;
        st->iotlb_misses = s->iotlb.misses;
        st->iotlb_invalidations = s->iotlb.invalidations;
        st->process_mags_live = iova_live_magazines();
        st->injected_status = s->inject.injected_status;
        st->injected_syncs = s->inject.injected_syncs;
        st->injected_drops = s->events.injected_drops;
        st->injected_attaches = s->inject.injected_attaches;
        st->stale_reports = s->events.stale_reports;
    }
    return status;
}

static uint16_t virt_iommu_cmd_query_stats(VirtIOMMUBatch *b,
                                           const VirtIOMMUCmd *cmd)
{
    VirtIOMMUStats st;
    uint64_t *counter = &st.mappings;
    uint16_t status = virt_iommu_stats(b->s, cmd->domain, &st);

    if (status != VIRT_IOMMU_S_OK) {
        return status;
    }
    st.domain = cpu_to_le32(st.domain);
    st.type = cpu_to_le32(st.type);
    st.endpoints = cpu_to_le32(st.endpoints);
    /* Everything from mappings on is an array of 64-bit counters. */
    for (size_t i = 0; i < (sizeof(st) - offsetof(VirtIOMMUStats, mappings)) /
                           sizeof(uint64_t); i++) {
        counter[i] = cpu_to_le64(counter[i]);
    }
    if (virt_iommu_ram_write(b->dma_as, cmd->addr, &st, sizeof(st)) !=
        MEMTX_OK) {
        return VIRT_IOMMU_S_DMA_ERROR;
    }
    return VIRT_IOMMU_S_OK;
}

/* The PCI function with requester ID @rid, if it exists and is enabled. */
static PCIDevice *virt_iommu_find_endpoint(VirtIOMMUState *s, uint16_t rid)
{
    PCIDevice *dev = pci_find_device(pci_device_root_bus(PCI_DEVICE(s)),
                                     PCI_BUS_NUM(rid), PCI_BDF_TO_DEVFN(rid));

    /* A disabled VF stays realized but is gone for the guest. */
    return dev && dev->enabled ? dev : NULL;
}

typedef struct VirtIOMMUGone {
    uint16_t rid;
    uint32_t domain;
} VirtIOMMUGone;

static void virt_iommu_collect_gone(uint16_t rid, uint32_t domain,
                                    void *opaque)
{
    VirtIOMMUBatch *b = opaque;
    VirtIOMMUGone g = { rid, domain };

    if (!virt_iommu_find_endpoint(b->s, rid)) {
        if (!b->gone) {
            b->gone = g_array_new(false, false, sizeof(VirtIOMMUGone));
        }
        g_array_append_val(b->gone, g);
    }
}

/*
 * Detaches, and reports with an ENDPOINT_GONE record, every attached
 * endpoint whose PCI function no longer exists or is disabled.
 */
static void virt_iommu_sweep(VirtIOMMUBatch *b)
{
    g_autoptr(GArray) gone = NULL;

    /* Collected first: detaching changes the table being walked. */
    virt_iommu_domains_foreach_attached(&b->s->domains,
                                        virt_iommu_collect_gone, b);
    gone = g_steal_pointer(&b->gone);
    for (guint i = 0; gone && i < gone->len; i++) {
        VirtIOMMUGone *g = &g_array_index(gone, VirtIOMMUGone, i);

        virt_iommu_event_endpoint_gone(&b->s->events, g->rid, g->domain);
        virt_iommu_domain_detach(&b->s->domains, g->rid);
        b->views_changed = true;
    }
}

static uint16_t virt_iommu_cmd_attach(VirtIOMMUBatch *b,
                                      const VirtIOMMUCmd *cmd,
                                      VirtIOMMUDomain *d)
{
    uint16_t rid = cmd->endpoint;

    if (cmd->endpoint > UINT16_MAX ||
        rid == pci_requester_id(PCI_DEVICE(b->s))) {
        return VIRT_IOMMU_S_INVALID;
    }
    if (!virt_iommu_find_endpoint(b->s, rid)) {
        return VIRT_IOMMU_S_NO_ENDPOINT;
    }
    virt_iommu_domain_attach(&b->s->domains, d, rid);
    b->views_changed = true;
    return VIRT_IOMMU_S_OK;
}

static uint16_t virt_iommu_cmd_unmap(VirtIOMMUBatch *b,
                                     const VirtIOMMUCmd *cmd,
                                     VirtIOMMUDomain *d)
{
    uint8_t strict;
    uint16_t status;

    if (!cmd->size || ((cmd->size | cmd->iova) & (b->s->page_size - 1))) {
        return VIRT_IOMMU_S_INVALID;
    }
    status = virt_iommu_domain_unmap(&b->s->domains, d, cmd->iova, cmd->size,
                                     &strict);
    if (strict) {
        virt_iommu_event_strict(&b->s->events, virt_iommu_domain_id(d),
                                cmd->iova, strict);
    }
    return status;
}

static uint16_t virt_iommu_cmd_invalidate(VirtIOMMUBatch *b,
                                          const VirtIOMMUCmd *cmd,
                                          VirtIOMMUDomain *d)
{
    switch (cmd->arg) {
    case VIRT_IOMMU_INV_DOMAIN:
        if (cmd->iova || cmd->size) {
            return VIRT_IOMMU_S_INVALID;
        }
        break;
    case VIRT_IOMMU_INV_RANGE:
        if (!cmd->size || ((cmd->size | cmd->iova) & (b->s->page_size - 1))) {
            return VIRT_IOMMU_S_INVALID;
        }
        break;
    default:
        return VIRT_IOMMU_S_INVALID;
    }
    return virt_iommu_domain_invalidate(&b->s->domains, d, cmd->iova,
                                        cmd->size);
}

/* The commands that name a domain */
static uint16_t virt_iommu_cmd_domain(VirtIOMMUBatch *b,
                                      const VirtIOMMUCmd *cmd,
                                      uint64_t *result)
{
    VirtIOMMUDomains *ds = &b->s->domains;
    VirtIOMMUDomain *d = virt_iommu_domain_get(ds, cmd->domain);
    uint16_t status;
    uint8_t type;

    if (!d) {
        return VIRT_IOMMU_S_NO_DOMAIN;
    }
    switch (cmd->opcode) {
    case VIRT_IOMMU_CMD_DOMAIN_FREE:
        return virt_iommu_domain_free(ds, d);
    case VIRT_IOMMU_CMD_DOMAIN_SET_TYPE:
        type = virt_iommu_domain_type(d);
        status = virt_iommu_domain_set_type(ds, d, cmd->arg);
        /* Only IDENTITY changes a view (to bypass and back). */
        b->views_changed |= (type == VIRT_IOMMU_DOMAIN_IDENTITY) !=
            (virt_iommu_domain_type(d) == VIRT_IOMMU_DOMAIN_IDENTITY);
        return status;
    case VIRT_IOMMU_CMD_ATTACH:
        return virt_iommu_cmd_attach(b, cmd, d);
    }
    type = virt_iommu_domain_type(d);
    if (type != VIRT_IOMMU_DOMAIN_DMA && type != VIRT_IOMMU_DOMAIN_DMA_FQ) {
        return VIRT_IOMMU_S_WRONG_TYPE;
    }
    switch (cmd->opcode) {
    case VIRT_IOMMU_CMD_INVALIDATE:
        return virt_iommu_cmd_invalidate(b, cmd, d);
    case VIRT_IOMMU_CMD_UNMAP:
        return virt_iommu_cmd_unmap(b, cmd, d);
    }
    if (!virt_iommu_domain_map_args_ok(ds, cmd->iova, cmd->addr, cmd->size,
                                       cmd->arg)) {
        return VIRT_IOMMU_S_INVALID;
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_MAP) {
        return virt_iommu_domain_map(ds, d, cmd->addr, cmd->size, cmd->arg,
                                     cmd->limit, result);
    }
    return virt_iommu_domain_map_fixed(ds, d, cmd->iova, cmd->addr, cmd->size,
                                       cmd->arg);
}

/*
 * An armed injection that completes @cmd with a status of its choosing,
 * unrun: true, and *@status set.
 */
static bool virt_iommu_cmd_injected(VirtIOMMUState *s, const VirtIOMMUCmd *cmd,
                                    uint16_t *status)
{
    VirtIOMMUInject *inj = &s->inject;

    if (inj->attach_left && cmd->opcode == VIRT_IOMMU_CMD_ATTACH) {
        inj->attach_left--;
        inj->injected_attaches++;
        *status = inj->attach_status;
        trace_virt_iommu_inject("refuse-attach", cmd->opcode, *status,
                                inj->attach_left);
        return true;
    }
    if (inj->status_left &&
        (inj->opcode < 0 || inj->opcode == cmd->opcode)) {
        inj->status_left--;
        inj->injected_status++;
        *status = inj->status;
        trace_virt_iommu_inject("status", cmd->opcode, *status,
                                inj->status_left);
        return true;
    }
    return false;
}

static uint16_t virt_iommu_cmd_run(VirtIOMMUBatch *b, const VirtIOMMUCmd *cmd,
                                   uint64_t *result)
{
    VirtIOMMUState *s = b->s;
    uint32_t id;
    uint16_t status;

    if (cmd->opcode >= ARRAY_SIZE(cmd_fields) || !cmd_fields[cmd->opcode]) {
        return VIRT_IOMMU_S_UNSUPPORTED;
    }
    if (!virt_iommu_cmd_fields_ok(cmd)) {
        return VIRT_IOMMU_S_INVALID;
    }
    switch (cmd->opcode) {
    case VIRT_IOMMU_CMD_SYNC:
        return virt_iommu_cmd_sync(b, cmd);
    case VIRT_IOMMU_CMD_QUERY_STATS:
        return virt_iommu_cmd_query_stats(b, cmd);
    case VIRT_IOMMU_CMD_DOMAIN_ALLOC:
        status = virt_iommu_domain_alloc(&s->domains, cmd->arg, &id);
        if (status == VIRT_IOMMU_S_OK) {
            *result = id;
        }
        return status;
    case VIRT_IOMMU_CMD_DETACH:
        if (cmd->endpoint > UINT16_MAX) {
            return VIRT_IOMMU_S_INVALID;
        }
        /* Also accepted after the device detached a vanished endpoint. */
        virt_iommu_domain_detach(&s->domains, cmd->endpoint);
        b->views_changed = true;
        return VIRT_IOMMU_S_OK;
    case VIRT_IOMMU_CMD_INVALIDATE:
        if (cmd->arg != VIRT_IOMMU_INV_ALL) {
            break;
        }
        if (cmd->domain || cmd->iova || cmd->size) {
            return VIRT_IOMMU_S_INVALID;
        }
        virt_iommu_iotlb_invalidate(&s->iotlb, 0, 0, UINT64_MAX);
        return VIRT_IOMMU_S_OK;
    }
    return virt_iommu_cmd_domain(b, cmd, result);
}

static void virt_iommu_cmd_from_le(VirtIOMMUCmd *cmd)
{
    le16_to_cpus(&cmd->status);
    le32_to_cpus(&cmd->domain);
    le32_to_cpus(&cmd->endpoint);
    le32_to_cpus(&cmd->arg);
    le64_to_cpus(&cmd->iova);
    le64_to_cpus(&cmd->addr);
    le64_to_cpus(&cmd->size);
    le64_to_cpus(&cmd->limit);
    le64_to_cpus(&cmd->result);
    le64_to_cpus(&cmd->reserved);
}

/*
 * Writes @cmd's completion into its slot, the result before the status
 * that tells it is there; false on a DMA error.
 */
static bool virt_iommu_cmd_complete(VirtIOMMUState *s, VirtIOMMURingMap *ring,
                                    uint64_t slot, const VirtIOMMUCmd *cmd,
                                    uint16_t status, uint64_t result,
                                    bool injected)
{
    uint16_t le_status = cpu_to_le16(status);
    uint64_t le_result = cpu_to_le64(result);
    bool ok;
    VirtIOMMURecord rec = {
        .kind = VIRT_IOMMU_REC_CMD,
        .type = cmd->opcode,
        .status = status,
        .injected = injected,
        .endpoint = cmd->endpoint,
        .domain = cmd->domain,
        .arg = cmd->arg,
        .iova = cmd->iova,
        .addr = cmd->addr,
        .size = cmd->size,
        .result = result,
    };

    trace_virt_iommu_cmd(s->cmdq.head, cmd->opcode, cmd->domain,
                         cmd->endpoint, cmd->iova, cmd->size, status, result);
    virt_iommu_record(&s->recorder, &rec);
    ok = virt_iommu_ring_write(ring, slot + offsetof(VirtIOMMUCmd, result),
                               &le_result, sizeof(le_result)) == MEMTX_OK;
    if (ok) {
        /* A driver that sees the status may read the result at once */
        smp_wmb();
        ok = virt_iommu_ring_write(ring,
                                   slot + offsetof(VirtIOMMUCmd, status),
                                   &le_status, sizeof(le_status)) == MEMTX_OK;
    }
    if (!ok) {
        s->error |= VIRT_IOMMU_ERR_CMDQ_FETCH;
        trace_virt_iommu_cmdq_error(s->cmdq.head, s->error);
        return false;
    }
    s->cmdq.head = (s->cmdq.head + 1) & virt_iommu_queue_mask(&s->cmdq);
    return true;
}

/*
 * An armed sync-delay injection holds @cmd (a SYNC) at CMDQ_HEAD, with
 * nothing after it run, until its timer fires: true if it took it.
 */
static bool virt_iommu_sync_delayed(VirtIOMMUState *s, const VirtIOMMUCmd *cmd)
{
    VirtIOMMUInject *inj = &s->inject;

    if (cmd->opcode != VIRT_IOMMU_CMD_SYNC || !inj->sync_left ||
        !virt_iommu_cmd_fields_ok(cmd)) {
        return false;
    }
    inj->sync_left--;
    inj->injected_syncs++;
    s->sync.pending = true;
    s->sync.cmd = *cmd;
    trace_virt_iommu_sync_delayed(s->cmdq.head, inj->sync_delay_ns);
    timer_mod(s->sync.timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
              inj->sync_delay_ns);
    return true;
}

/*
 * The commands a translation miss may run: they change only one domain's
 * mappings and the IOTLB, never an endpoint's view or the set of domains
 * that the access being translated is using.
 */
static bool virt_iommu_cmd_runs_on_miss(uint8_t opcode)
{
    return opcode == VIRT_IOMMU_CMD_MAP || opcode == VIRT_IOMMU_CMD_MAP_FIXED ||
           opcode == VIRT_IOMMU_CMD_UNMAP ||
           opcode == VIRT_IOMMU_CMD_INVALIDATE;
}

/*
 * Runs the commands between HEAD and TAIL, or up to a ring error (or, on
 * a miss, up to the first command that only a doorbell runs, or that is
 * not PENDING: one that ran a lap ago, under a stale shadow).
 */
static void virt_iommu_cmdq_drain(VirtIOMMUBatch *b)
{
    VirtIOMMUState *s = b->s;
    VirtIOMMUQueue *q = &s->cmdq;

    /* Bounded: head only moves towards a tail that cannot change here. */
    while (q->head != q->tail) {
        uint64_t slot = virt_iommu_cmdq_slot(q, q->head);
        VirtIOMMUCmd cmd;
        uint64_t result = 0;
        uint16_t status;
        bool injected;

        if (virt_iommu_ring_read(&b->ring, slot, &cmd, CMD_SIZE) !=
            MEMTX_OK) {
            s->error |= VIRT_IOMMU_ERR_CMDQ_FETCH;
            trace_virt_iommu_cmdq_error(q->head, s->error);
            return;
        }
        virt_iommu_cmd_from_le(&cmd);
        if (b->on_miss && (cmd.status != VIRT_IOMMU_S_PENDING ||
                           !virt_iommu_cmd_runs_on_miss(cmd.opcode))) {
            return;
        }
        if (virt_iommu_sync_delayed(s, &cmd)) {
            return;
        }
        injected = virt_iommu_cmd_injected(s, &cmd, &status);
        if (!injected) {
            status = virt_iommu_cmd_run(b, &cmd, &result);
        }
        if (!virt_iommu_cmd_complete(s, &b->ring, slot, &cmd, status, result,
                                     injected)) {
            return;
        }
    }
}

void virt_iommu_sync_fire(void *opaque)
{
    VirtIOMMUState *s = opaque;
    VirtIOMMUBatch b = {
        .s = s,
        .dma_as = pci_get_address_space(PCI_DEVICE(s)),
    };
    uint64_t slot = virt_iommu_cmdq_slot(&s->cmdq, s->cmdq.head);
    uint16_t status;
    bool done;

    if (!s->sync.pending) {
        return;
    }
    s->sync.pending = false;
    status = virt_iommu_cmd_sync(&b, &s->sync.cmd);
    s->cmdq_running = true;
    virt_iommu_ring_map(&b.ring, b.dma_as, &s->cmdq, CMD_SIZE);
    done = virt_iommu_cmd_complete(s, &b.ring, slot, &s->sync.cmd, status, 0,
                                   true);
    virt_iommu_ring_unmap(&b.ring);
    s->cmdq_running = false;
    if (done) {
        virt_iommu_cmdq_run(s);
    }
}

void virt_iommu_cmdq_run(VirtIOMMUState *s)
{
    VirtIOMMUBatch b = {
        .s = s,
        .dma_as = pci_get_address_space(PCI_DEVICE(s)),
    };

    if (virt_iommu_cmdq_stopped(s)) {
        return;
    }
    s->cmdq_running = true;
    /* Commands must not see endpoints that vanished since the last batch */
    virt_iommu_sweep(&b);
    virt_iommu_ring_map(&b.ring, b.dma_as, &s->cmdq, CMD_SIZE);
    virt_iommu_cmdq_drain(&b);
    virt_iommu_ring_unmap(&b.ring);
    if (b.views_changed) {
        virt_iommu_as_update(&s->eps, s->control);
    }
    s->cmdq_running = false;
}

void virt_iommu_cmdq_write_copying(void *opaque)
{
    VirtIOMMUState *s = opaque;
    uint32_t copying = cpu_to_le32(s->eps.copying_eps != 0);

    if (!s->cmdq_tail_addr || !(s->control & VIRT_IOMMU_CTRL_CMDQ_EN)) {
        return;
    }
    if (virt_iommu_ram_write(pci_get_address_space(PCI_DEVICE(s)),
                             s->cmdq_tail_addr + sizeof(uint32_t), &copying,
                             sizeof(copying)) != MEMTX_OK) {
        s->error |= VIRT_IOMMU_ERR_CMDQ_FETCH;
        trace_virt_iommu_cmdq_error(s->cmdq.head, s->error);
    }
}

bool virt_iommu_cmdq_run_on_miss(void *opaque)
{
    VirtIOMMUState *s = opaque;
    VirtIOMMUBatch b = {
        .s = s,
        .dma_as = pci_get_address_space(PCI_DEVICE(s)),
        .on_miss = true,
    };
    uint32_t mask = virt_iommu_queue_mask(&s->cmdq);
    uint32_t old_head = s->cmdq.head;
    uint32_t shadow, ahead, room;
    uint16_t first_status;

    if (!s->cmdq_tail_addr || s->cmdq_running || !bql_locked() ||
        virt_iommu_cmdq_stopped(s)) {
        return false;
    }
    if (virt_iommu_ram_read(b.dma_as, s->cmdq_tail_addr, &shadow,
                            sizeof(shadow)) != MEMTX_OK) {
        s->error |= VIRT_IOMMU_ERR_CMDQ_FETCH;
        trace_virt_iommu_cmdq_error(s->cmdq.head, s->error);
        return false;
    }
    shadow = le32_to_cpu(shadow);
    if (shadow & ~mask) {
        s->error |= VIRT_IOMMU_ERR_CMDQ_TAIL;
        trace_virt_iommu_cmdq_error(s->cmdq.head, s->error);
        return false;
    }
    /*
     * Only forward, and not past HEAD.  With HEAD == TAIL an index cannot
     * tell a shadow left behind from a full lap ahead, but the slot at
     * HEAD can: a command the guest queued is PENDING, one that ran is
     * not.  A stale shadow must not send the ring round again.
     */
    ahead = (shadow - s->cmdq.tail) & mask;
    room = ((s->cmdq.head - s->cmdq.tail - 1) & mask) + 1;
    if (!ahead || ahead >= room ||
        virt_iommu_ram_read(b.dma_as,
                            virt_iommu_cmdq_slot(&s->cmdq, s->cmdq.head) +
                            offsetof(VirtIOMMUCmd, status), &first_status,
                            sizeof(first_status)) != MEMTX_OK ||
        le16_to_cpu(first_status) != VIRT_IOMMU_S_PENDING) {
        return false;
    }
    s->cmdq.tail = shadow;
    s->cmdq_running = true;
    virt_iommu_ring_map(&b.ring, b.dma_as, &s->cmdq, CMD_SIZE);
    virt_iommu_cmdq_drain(&b);
    virt_iommu_ring_unmap(&b.ring);
    s->cmdq_running = false;
    s->cmdq_miss_commands += (s->cmdq.head - old_head) & mask;
    trace_virt_iommu_cmdq_miss(old_head, s->cmdq.head, shadow);
    return s->cmdq.head != old_head;
}
