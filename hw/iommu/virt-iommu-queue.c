/*
 * virt-iommu: the command queue and the event queue
 *
 * Commands run synchronously when the guest writes CMDQ_TAIL, so once the
 * write returns every command before TAIL has completed; SYNC exists so a
 * driver written for asynchronous hardware can wait the same way.  The
 * device reads its rings through its own bus-master address space, which
 * is never translated by itself, and only where that space is RAM.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/iommu/virt-iommu.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "trace.h"

#define CMD_SIZE sizeof(VirtIOMMUCmd)
#define EVT_SIZE sizeof(VirtIOMMUEvent)

QEMU_BUILD_BUG_ON(CMD_SIZE != 64);
QEMU_BUILD_BUG_ON(EVT_SIZE != 32);
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

/*
 * The device's own DMA (rings, SYNC, QUERY_STATS) reaches RAM only.  A
 * guest that points it at MMIO, its own registers included, would
 * otherwise have it write device registers from inside its command or
 * translation path; that fails here as a DMA error instead.
 */
static bool virt_iommu_is_ram(VirtIOMMUState *s, uint64_t addr,
                              uint64_t len, bool is_write)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));

    if (addr + len - 1 < addr) {
        return false;
    }
    RCU_READ_LOCK_GUARD();
    while (len) {
        hwaddr xlat, l = len;
        MemoryRegion *mr = address_space_translate(as, addr, &xlat, &l,
                                                   is_write,
                                                   MEMTXATTRS_UNSPECIFIED);

        if (!memory_access_is_direct(mr, is_write, MEMTXATTRS_UNSPECIFIED)) {
            return false;
        }
        addr += l;
        len -= l;
    }
    return true;
}

static MemTxResult virt_iommu_ram_read(VirtIOMMUState *s, uint64_t addr,
                                       void *buf, uint64_t len)
{
    if (!virt_iommu_is_ram(s, addr, len, false)) {
        return MEMTX_DECODE_ERROR;
    }
    return pci_dma_read(PCI_DEVICE(s), addr, buf, len);
}

static MemTxResult virt_iommu_ram_write(VirtIOMMUState *s, uint64_t addr,
                                        const void *buf, uint64_t len)
{
    if (!virt_iommu_is_ram(s, addr, len, true)) {
        return MEMTX_DECODE_ERROR;
    }
    return pci_dma_write(PCI_DEVICE(s), addr, buf, len);
}

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

static bool virt_iommu_queue_config_ok(VirtIOMMUQueue *q, size_t entry)
{
    uint64_t bytes;

    /* One slot always stays empty, so a ring needs two. */
    if (q->log2size < 1 || q->log2size > VIRT_IOMMU_QUEUE_MAX_LOG2) {
        return false;
    }
    bytes = entry << q->log2size;
    return !(q->base & (MAX(bytes, 4096) - 1));
}

static uint32_t virt_iommu_queue_mask(VirtIOMMUQueue *q)
{
    return (1u << q->log2size) - 1;
}

void virt_iommu_queues_control(VirtIOMMUState *s, uint32_t old_control)
{
    uint32_t on = s->control & ~old_control;

    if (on & VIRT_IOMMU_CTRL_CMDQ_EN) {
        if (!virt_iommu_queue_config_ok(&s->cmdq, CMD_SIZE)) {
            s->error |= VIRT_IOMMU_ERR_CMDQ_CONFIG;
            s->control &= ~VIRT_IOMMU_CTRL_CMDQ_EN;
        }
        s->cmdq.head = s->cmdq.tail = 0;
    }
    if (on & VIRT_IOMMU_CTRL_EVTQ_EN) {
        if (!virt_iommu_queue_config_ok(&s->evtq, EVT_SIZE)) {
            s->error |= VIRT_IOMMU_ERR_EVTQ_CONFIG;
            s->control &= ~VIRT_IOMMU_CTRL_EVTQ_EN;
        }
        s->evtq.head = s->evtq.tail = 0;
        virt_iommu_fault_consumed(s);
    }
}

void virt_iommu_fault_consumed(VirtIOMMUState *s)
{
    memset(&s->last_fault, 0, sizeof(s->last_fault));
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

static uint16_t virt_iommu_cmd_sync(VirtIOMMUState *s,
                                    const VirtIOMMUCmd *cmd)
{
    PCIDevice *dev = PCI_DEVICE(s);

    if (cmd->limit > UINT32_MAX) {
        return VIRT_IOMMU_S_INVALID;
    }
    if (cmd->addr &&
        virt_iommu_ram_write(s, cmd->addr,
                             &(uint32_t){ cpu_to_le32(cmd->limit) },
                             sizeof(uint32_t)) != MEMTX_OK) {
        return VIRT_IOMMU_S_DMA_ERROR;
    }
    if ((cmd->flags & VIRT_IOMMU_CMD_F_INTERRUPT) && msix_enabled(dev)) {
        msix_notify(dev, VIRT_IOMMU_MSIX_COMPLETION);
    }
    return VIRT_IOMMU_S_OK;
}

static uint16_t virt_iommu_cmd_query_stats(VirtIOMMUState *s,
                                           const VirtIOMMUCmd *cmd)
{
    VirtIOMMUStats st;
    uint64_t *counter = &st.mappings;
    uint16_t status = virt_iommu_domain_stats(s, cmd->domain, &st);

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
    if (virt_iommu_ram_write(s, cmd->addr, &st, sizeof(st)) != MEMTX_OK) {
        return VIRT_IOMMU_S_DMA_ERROR;
    }
    return VIRT_IOMMU_S_OK;
}

static uint16_t virt_iommu_cmd_run(VirtIOMMUState *s, const VirtIOMMUCmd *cmd,
                                   uint64_t *result)
{
    if (cmd->opcode >= ARRAY_SIZE(cmd_fields) || !cmd_fields[cmd->opcode]) {
        return VIRT_IOMMU_S_UNSUPPORTED;
    }
    if (!virt_iommu_cmd_fields_ok(cmd)) {
        return VIRT_IOMMU_S_INVALID;
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_SYNC) {
        return virt_iommu_cmd_sync(s, cmd);
    }
    if (cmd->opcode == VIRT_IOMMU_CMD_QUERY_STATS) {
        return virt_iommu_cmd_query_stats(s, cmd);
    }
    return virt_iommu_domain_cmd(s, cmd, result);
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

void virt_iommu_cmdq_run(VirtIOMMUState *s)
{
    VirtIOMMUQueue *q = &s->cmdq;

    if (!(s->control & VIRT_IOMMU_CTRL_CMDQ_EN) ||
        (s->error & (VIRT_IOMMU_ERR_CMDQ_TAIL | VIRT_IOMMU_ERR_CMDQ_FETCH))) {
        return;
    }
    /* Commands must not see endpoints that vanished since the last batch */
    virt_iommu_domain_sweep(s);
    /* Bounded: head only moves towards a tail that cannot change here. */
    while (q->head != q->tail) {
        uint64_t slot = q->base + (uint64_t)q->head * CMD_SIZE;
        VirtIOMMUCmd cmd;
        uint64_t result = 0;
        uint16_t status;

        if (virt_iommu_ram_read(s, slot, &cmd, CMD_SIZE) != MEMTX_OK) {
            s->error |= VIRT_IOMMU_ERR_CMDQ_FETCH;
            trace_virt_iommu_cmdq_error(q->head, s->error);
            return;
        }
        virt_iommu_cmd_from_le(&cmd);
        status = virt_iommu_cmd_run(s, &cmd, &result);
        trace_virt_iommu_cmd(q->head, cmd.opcode, cmd.domain, cmd.endpoint,
                             cmd.iova, cmd.size, status, result);
        cmd.status = cpu_to_le16(status);
        cmd.result = cpu_to_le64(result);
        if (virt_iommu_ram_write(s, slot + offsetof(VirtIOMMUCmd, status),
                                 &cmd.status, sizeof(cmd.status)) != MEMTX_OK ||
            virt_iommu_ram_write(s, slot + offsetof(VirtIOMMUCmd, result),
                                 &cmd.result, sizeof(cmd.result)) != MEMTX_OK) {
            s->error |= VIRT_IOMMU_ERR_CMDQ_FETCH;
            trace_virt_iommu_cmdq_error(q->head, s->error);
            return;
        }
        q->head = (q->head + 1) & virt_iommu_queue_mask(q);
    }
}

/* Writes @evt at the event queue's tail; false if it was dropped. */
static bool virt_iommu_event_push(VirtIOMMUState *s, VirtIOMMUEvent *evt)
{
    PCIDevice *dev = PCI_DEVICE(s);
    VirtIOMMUQueue *q = &s->evtq;
    uint32_t next;

    if (!(s->control & VIRT_IOMMU_CTRL_EVTQ_EN) ||
        (s->error & (VIRT_IOMMU_ERR_EVTQ_HEAD | VIRT_IOMMU_ERR_EVTQ_WRITE))) {
        s->counters.events_dropped++;
        return false;
    }
    next = (q->tail + 1) & virt_iommu_queue_mask(q);
    if (next == q->head) {
        /* Never block translation on a slow consumer: drop and say so. */
        s->error |= VIRT_IOMMU_ERR_EVTQ_OVERFLOW;
        s->counters.events_dropped++;
        return false;
    }
    if (virt_iommu_ram_write(s, q->base + (uint64_t)q->tail * EVT_SIZE, evt,
                             EVT_SIZE) != MEMTX_OK) {
        s->error |= VIRT_IOMMU_ERR_EVTQ_WRITE;
        s->counters.events_dropped++;
        return false;
    }
    s->counters.events++;
    q->tail = next;
    if (msix_enabled(dev)) {
        msix_notify(dev, VIRT_IOMMU_MSIX_EVENT);
    }
    return true;
}

void virt_iommu_fault(VirtIOMMUState *s, uint16_t rid, uint32_t domain,
                      uint64_t iova, uint32_t access, uint8_t reason)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_FAULT,
        .reason = reason,
        .endpoint = cpu_to_le16(rid),
        .domain = cpu_to_le32(domain),
        .iova = cpu_to_le64(iova),
        .access = cpu_to_le32(access),
    };
    VirtIOMMUFaultKey key = {
        .rid = rid,
        .domain = domain,
        .page = iova & ~(s->page_size - 1),
        .access = access,
        .reason = reason,
        .valid = true,
    };

    /*
     * The memory core retries a refused DMA in small pieces; one refused
     * transaction is one record, so a fault identical to the last one
     * recorded and not yet consumed is not recorded again.
     */
    if (!memcmp(&key, &s->last_fault, sizeof(key))) {
        return;
    }
    trace_virt_iommu_fault(rid, domain, iova, access, reason);
    if (virt_iommu_event_push(s, &evt)) {
        s->last_fault = key;
    }
}

void virt_iommu_endpoint_gone(VirtIOMMUState *s, uint16_t rid,
                              uint32_t domain)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_ENDPOINT_GONE,
        .endpoint = cpu_to_le16(rid),
        .domain = cpu_to_le32(domain),
    };

    trace_virt_iommu_endpoint_gone(rid, domain);
    virt_iommu_event_push(s, &evt);
}

void virt_iommu_strict_event(VirtIOMMUState *s, uint32_t domain,
                             uint64_t iova, uint8_t reason)
{
    VirtIOMMUEvent evt = {
        .type = VIRT_IOMMU_EVT_STRICT,
        .reason = reason,
        .domain = cpu_to_le32(domain),
        .iova = cpu_to_le64(iova),
    };

    trace_virt_iommu_strict(domain, iova, reason);
    virt_iommu_event_push(s, &evt);
}
