/*
 * A user-space driver for virt-iommu: queues, commands, events, statistics
 *
 * This is the part of an IOMMU driver that talks to the device, without
 * the kernel's DMA API around it: the rings live in huge-page memory whose
 * guest-physical addresses we know (hugemem.c), the registers in BAR0
 * mapped through sysfs.  Commands run synchronously inside the CMDQ_TAIL
 * write (docs/specs/virt-iommu.rst), so each submit writes one command,
 * rings, and reads the status back; no interrupts are needed.
 *
 * The rings are written by the CPU and read by the device (and the other
 * way round), so every access to them is volatile and a full barrier
 * separates filling a slot from ringing the doorbell.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "viommu.h"

#include <endian.h>
#include <string.h>

#define CMDQ_LOG2   6       /* 64 commands: more than one batch ever needs */
#define EVTQ_LOG2   6

uint32_t viommu_rd32(struct viommu *v, unsigned off)
{
    return le32toh(v->bar[off / 4]);
}

uint64_t viommu_rd64(struct viommu *v, unsigned off)
{
    uint64_t lo = viommu_rd32(v, off);

    return lo | (uint64_t)viommu_rd32(v, off + 4) << 32;
}

void viommu_wr32(struct viommu *v, unsigned off, uint32_t val)
{
    v->bar[off / 4] = htole32(val);
}

void viommu_wr64(struct viommu *v, unsigned off, uint64_t val)
{
    viommu_wr32(v, off, val);
    viommu_wr32(v, off + 4, val >> 32);
}

/* Copy to or from ring memory the device also accesses. */
static void ring_write(volatile void *dst, const void *src, size_t len)
{
    volatile uint8_t *d = dst;
    const uint8_t *s = src;

    for (size_t i = 0; i < len; i++) {
        d[i] = s[i];
    }
    __sync_synchronize();
}

static void ring_read(void *dst, const volatile void *src, size_t len)
{
    const volatile uint8_t *s = src;
    uint8_t *d = dst;

    __sync_synchronize();
    for (size_t i = 0; i < len; i++) {
        d[i] = s[i];
    }
}

int viommu_start(struct viommu *v, volatile void *bar, uint32_t *err)
{
    size_t cmdq_bytes = sizeof(VirtIOMMUCmd) << CMDQ_LOG2;
    size_t evtq_bytes = sizeof(VirtIOMMUEvent) << EVTQ_LOG2;

    memset(v, 0, sizeof(*v));
    v->bar = bar;
    v->cmdq_log2 = CMDQ_LOG2;
    v->evtq_log2 = EVTQ_LOG2;
    /* Rings are aligned to their size and to 4 KiB. */
    if (hugemem_alloc(cmdq_bytes, cmdq_bytes > 4096 ? cmdq_bytes : 4096,
                      &v->cmdq) < 0 ||
        hugemem_alloc(evtq_bytes, evtq_bytes > 4096 ? evtq_bytes : 4096,
                      &v->evtq) < 0 ||
        hugemem_alloc(sizeof(VirtIOMMUStats), 64, &v->stats) < 0 ||
        hugemem_alloc(64, 64, &v->sync) < 0) {
        *err = 0;
        return -1;
    }
    /* Clear what an earlier run may have left, then program the rings. */
    viommu_wr32(v, VIRT_IOMMU_REG_CONTROL, VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    viommu_wr32(v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_MASK);
    viommu_wr64(v, VIRT_IOMMU_REG_CMDQ_BASE, v->cmdq.gpa);
    viommu_wr32(v, VIRT_IOMMU_REG_CMDQ_SIZE, CMDQ_LOG2);
    viommu_wr64(v, VIRT_IOMMU_REG_EVTQ_BASE, v->evtq.gpa);
    viommu_wr32(v, VIRT_IOMMU_REG_EVTQ_SIZE, EVTQ_LOG2);
    viommu_wr32(v, VIRT_IOMMU_REG_CONTROL,
                VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS |
                VIRT_IOMMU_CTRL_CMDQ_EN | VIRT_IOMMU_CTRL_EVTQ_EN);
    *err = viommu_rd32(v, VIRT_IOMMU_REG_ERROR);
    if (*err || viommu_rd32(v, VIRT_IOMMU_REG_STATUS) !=
        (VIRT_IOMMU_STS_ENABLED | VIRT_IOMMU_STS_BYPASS |
         VIRT_IOMMU_STS_CMDQ_ON | VIRT_IOMMU_STS_EVTQ_ON)) {
        return -1;
    }
    return 0;
}

void viommu_stop(struct viommu *v)
{
    viommu_wr32(v, VIRT_IOMMU_REG_CONTROL, VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
}

uint16_t viommu_submit(struct viommu *v, const VirtIOMMUCmd *cmd,
                       uint64_t *result)
{
    uint32_t mask = (1u << v->cmdq_log2) - 1;
    uint32_t tail = viommu_rd32(v, VIRT_IOMMU_REG_CMDQ_TAIL);
    volatile VirtIOMMUCmd *slot = (volatile VirtIOMMUCmd *)v->cmdq.va + tail;
    VirtIOMMUCmd le = {
        .opcode = cmd->opcode,
        .flags = cmd->flags,
        .status = htole16(VIRT_IOMMU_S_PENDING),
        .domain = htole32(cmd->domain),
        .endpoint = htole32(cmd->endpoint),
        .arg = htole32(cmd->arg),
        .iova = htole64(cmd->iova),
        .addr = htole64(cmd->addr),
        .size = htole64(cmd->size),
        .limit = htole64(cmd->limit),
    };

    ring_write(slot, &le, sizeof(le));
    viommu_wr32(v, VIRT_IOMMU_REG_CMDQ_TAIL, (tail + 1) & mask);
    v->commands++;
    /* The command ran inside the doorbell write; HEAD says it did. */
    if (viommu_rd32(v, VIRT_IOMMU_REG_CMDQ_HEAD) != ((tail + 1) & mask)) {
        return VIRT_IOMMU_S_PENDING;
    }
    ring_read(&le, slot, sizeof(le));
    if (result) {
        *result = le64toh(le.result);
    }
    return le16toh(le.status);
}

uint16_t viommu_domain_alloc(struct viommu *v, uint32_t type, uint32_t *id)
{
    VirtIOMMUCmd cmd = { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = type };
    uint64_t res = 0;
    uint16_t st = viommu_submit(v, &cmd, &res);

    *id = res;
    return st;
}

uint16_t viommu_domain_free(struct viommu *v, uint32_t id)
{
    VirtIOMMUCmd cmd = { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = id };

    return viommu_submit(v, &cmd, NULL);
}

uint16_t viommu_set_type(struct viommu *v, uint32_t id, uint32_t type)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE, .domain = id, .arg = type,
    };

    return viommu_submit(v, &cmd, NULL);
}

uint16_t viommu_attach(struct viommu *v, uint32_t id, uint16_t rid)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = id, .endpoint = rid,
    };

    return viommu_submit(v, &cmd, NULL);
}

uint16_t viommu_detach(struct viommu *v, uint16_t rid)
{
    VirtIOMMUCmd cmd = { .opcode = VIRT_IOMMU_CMD_DETACH, .endpoint = rid };

    return viommu_submit(v, &cmd, NULL);
}

uint16_t viommu_map(struct viommu *v, uint32_t id, uint64_t gpa,
                    uint64_t size, uint32_t perms, uint64_t *iova)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_MAP, .domain = id, .addr = gpa,
        .size = size, .arg = perms,
    };

    return viommu_submit(v, &cmd, iova);
}

uint16_t viommu_map_fixed(struct viommu *v, uint32_t id, uint64_t iova,
                          uint64_t gpa, uint64_t size, uint32_t perms)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = id, .iova = iova,
        .addr = gpa, .size = size, .arg = perms,
    };

    return viommu_submit(v, &cmd, NULL);
}

uint16_t viommu_unmap(struct viommu *v, uint32_t id, uint64_t iova,
                      uint64_t size)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = id, .iova = iova,
        .size = size,
    };

    return viommu_submit(v, &cmd, NULL);
}

uint16_t viommu_invalidate(struct viommu *v, uint32_t scope, uint32_t id,
                           uint64_t iova, uint64_t size)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_INVALIDATE, .arg = scope, .domain = id,
        .iova = iova, .size = size,
    };

    return viommu_submit(v, &cmd, NULL);
}

bool viommu_sync(struct viommu *v, uint32_t value, uint16_t *status)
{
    volatile uint32_t *word = v->sync.va;
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_SYNC, .addr = v->sync.gpa, .limit = value,
    };

    *word = 0;
    __sync_synchronize();
    *status = viommu_submit(v, &cmd, NULL);
    __sync_synchronize();
    return *status == VIRT_IOMMU_S_OK && le32toh(*word) == value;
}

uint16_t viommu_stats(struct viommu *v, uint32_t id, VirtIOMMUStats *st)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_QUERY_STATS, .domain = id,
        .addr = v->stats.gpa,
    };
    uint64_t *counter = &st->mappings;
    uint16_t status = viommu_submit(v, &cmd, NULL);

    ring_read(st, v->stats.va, sizeof(*st));
    st->domain = le32toh(st->domain);
    st->type = le32toh(st->type);
    st->endpoints = le32toh(st->endpoints);
    for (size_t i = 0; i < (sizeof(*st) - offsetof(VirtIOMMUStats, mappings)) /
                           sizeof(uint64_t); i++) {
        counter[i] = le64toh(counter[i]);
    }
    return status;
}

bool viommu_pop_event(struct viommu *v, VirtIOMMUEvent *evt)
{
    uint32_t mask = (1u << v->evtq_log2) - 1;
    uint32_t head = viommu_rd32(v, VIRT_IOMMU_REG_EVTQ_HEAD);

    if (head == viommu_rd32(v, VIRT_IOMMU_REG_EVTQ_TAIL)) {
        return false;
    }
    ring_read(evt, (volatile VirtIOMMUEvent *)v->evtq.va + head,
              sizeof(*evt));
    evt->endpoint = le16toh(evt->endpoint);
    evt->domain = le32toh(evt->domain);
    evt->iova = le64toh(evt->iova);
    evt->access = le32toh(evt->access);
    viommu_wr32(v, VIRT_IOMMU_REG_EVTQ_HEAD, (head + 1) & mask);
    v->events_read++;
    return true;
}

const char *viommu_status_name(uint16_t status)
{
    static const char *const names[] = {
        "PENDING", "OK", "UNSUPPORTED", "INVALID", "NO_DOMAIN", "BUSY",
        "NO_SPACE", "EXISTS", "NOT_MAPPED", "PARTIAL", "RANGE", "WRONG_TYPE",
        "DMA_ERROR", "NO_ENDPOINT",
    };

    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "?";
}

const char *viommu_type_name(uint32_t type)
{
    static const char *const names[] = {
        "BLOCKED", "IDENTITY", "DMA", "DMA_FQ",
    };

    return type < 4 ? names[type] : "?";
}

const char *viommu_fault_name(uint32_t reason)
{
    static const char *const names[] = {
        "?", "BLOCKED", "NOT_MAPPED", "PERMISSION", "UNMAPPED",
    };

    return reason < 5 ? names[reason] : "?";
}
