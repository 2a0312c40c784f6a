/*
 * libqos driver for virt-iommu
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "qemu/bswap.h"
#include "virt-iommu.h"

void qvirt_iommu_init(QVirtIOMMU *v, QPCIBus *bus, int devfn)
{
    memset(v, 0, sizeof(*v));
    v->dev = qpci_device_find(bus, devfn);
    g_assert_nonnull(v->dev);
    qpci_device_enable(v->dev);
    v->bar = qpci_iomap(v->dev, 0, &v->bar_size);
}

void qvirt_iommu_cleanup(QVirtIOMMU *v)
{
    qpci_iounmap(v->dev, v->bar);
    g_free(v->dev);
    v->dev = NULL;
}

uint32_t qvirt_iommu_readl(QVirtIOMMU *v, uint32_t offset)
{
    return qpci_io_readl(v->dev, v->bar, offset);
}

uint64_t qvirt_iommu_readq(QVirtIOMMU *v, uint32_t offset)
{
    return qpci_io_readq(v->dev, v->bar, offset);
}

void qvirt_iommu_writel(QVirtIOMMU *v, uint32_t offset, uint32_t value)
{
    qpci_io_writel(v->dev, v->bar, offset, value);
}

static uint64_t qvirt_iommu_ring(QGuestAllocator *alloc, size_t bytes)
{
    /* Rings must be aligned to their size and to 4 KiB. */
    size_t align = MAX(bytes, 4096);
    uint64_t raw = guest_alloc(alloc, bytes + align);

    return ROUND_UP(raw, align);
}

void qvirt_iommu_start(QVirtIOMMU *v, QGuestAllocator *alloc,
                       uint32_t cmdq_log2, uint32_t evtq_log2,
                       uint32_t control)
{
    v->cmdq_log2 = cmdq_log2;
    v->evtq_log2 = evtq_log2;
    v->cmdq = qvirt_iommu_ring(alloc, sizeof(VirtIOMMUCmd) << cmdq_log2);
    v->evtq = qvirt_iommu_ring(alloc, sizeof(VirtIOMMUEvent) << evtq_log2);
    v->stats_buf = guest_alloc(alloc, sizeof(VirtIOMMUStats));
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_BASE, v->cmdq);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_BASE + 4, v->cmdq >> 32);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_SIZE, cmdq_log2);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_EVTQ_BASE, v->evtq);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_EVTQ_BASE + 4, v->evtq >> 32);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_EVTQ_SIZE, evtq_log2);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, control |
                       VIRT_IOMMU_CTRL_CMDQ_EN | VIRT_IOMMU_CTRL_EVTQ_EN);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==, 0);
}

void qvirt_iommu_cmd_to_le(VirtIOMMUCmd *le, const VirtIOMMUCmd *cmd)
{
    *le = (VirtIOMMUCmd) {
        .opcode = cmd->opcode,
        .flags = cmd->flags,
        .status = VIRT_IOMMU_S_PENDING,
        .domain = cpu_to_le32(cmd->domain),
        .endpoint = cpu_to_le32(cmd->endpoint),
        .arg = cpu_to_le32(cmd->arg),
        .iova = cpu_to_le64(cmd->iova),
        .addr = cpu_to_le64(cmd->addr),
        .size = cpu_to_le64(cmd->size),
        .limit = cpu_to_le64(cmd->limit),
        .result = cpu_to_le64(cmd->result),
        .reserved = cpu_to_le64(cmd->reserved),
    };
}

/* Guest-physical address of ring slot @index */
static uint64_t qvirt_iommu_slot(QVirtIOMMU *v, uint32_t index)
{
    uint32_t mask = (1u << v->cmdq_log2) - 1;

    return v->cmdq + (index & mask) * sizeof(VirtIOMMUCmd);
}

/* The ring index after the last command written: where the next one goes */
static uint32_t qvirt_iommu_next_index(QVirtIOMMU *v)
{
    if (v->tail_shadow) {
        return qtest_readl(v->dev->bus->qts, v->tail_shadow);
    }
    return qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_TAIL);
}

/*
 * Writes @n commands at ring index @index on (wrapping), then the index
 * after them into the TAIL shadow if there is one; returns that index.
 */
static uint32_t qvirt_iommu_write_cmds(QVirtIOMMU *v, uint32_t index,
                                       const VirtIOMMUCmd *cmds, uint32_t n)
{
    QTestState *qts = v->dev->bus->qts;
    uint32_t mask = (1u << v->cmdq_log2) - 1;
    VirtIOMMUCmd le;

    g_assert_cmpuint(n, <=, mask);
    for (uint32_t i = 0; i < n; i++) {
        qvirt_iommu_cmd_to_le(&le, &cmds[i]);
        qtest_memwrite(qts, qvirt_iommu_slot(v, index + i), &le, sizeof(le));
    }
    index = (index + n) & mask;
    if (v->tail_shadow) {
        qtest_writel(qts, v->tail_shadow, index);
    }
    return index;
}

static void qvirt_iommu_read_slot(QVirtIOMMU *v, uint32_t index,
                                  VirtIOMMUCmd *le)
{
    qtest_memread(v->dev->bus->qts, qvirt_iommu_slot(v, index), le,
                  sizeof(*le));
}

uint16_t qvirt_iommu_submit(QVirtIOMMU *v, const VirtIOMMUCmd *cmd,
                            uint64_t *result)
{
    uint32_t index = qvirt_iommu_next_index(v);
    uint32_t tail = qvirt_iommu_write_cmds(v, index, cmd, 1);
    VirtIOMMUCmd le;

    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL, tail);
    /* Commands run synchronously with the doorbell write. */
    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_HEAD), ==, tail);
    qvirt_iommu_read_slot(v, index, &le);
    if (result) {
        *result = le64_to_cpu(le.result);
    }
    return le16_to_cpu(le.status);
}

uint32_t qvirt_iommu_post(QVirtIOMMU *v, const VirtIOMMUCmd *cmds,
                          uint32_t n)
{
    uint32_t index = qvirt_iommu_next_index(v);

    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL,
                       qvirt_iommu_write_cmds(v, index, cmds, n));
    return index;
}

uint32_t qvirt_iommu_queue(QVirtIOMMU *v, const VirtIOMMUCmd *cmds,
                           uint32_t n)
{
    uint32_t index;

    g_assert_cmphex(v->tail_shadow, !=, 0);
    index = qvirt_iommu_next_index(v);
    qvirt_iommu_write_cmds(v, index, cmds, n);
    return index;
}

void qvirt_iommu_write_tail_addr(QVirtIOMMU *v, uint64_t addr)
{
    uint32_t control = qvirt_iommu_readl(v, VIRT_IOMMU_REG_CONTROL);

    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL,
                       control & ~VIRT_IOMMU_CTRL_CMDQ_EN);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, addr);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR + 4, addr >> 32);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, control);
}

void qvirt_iommu_use_tail_shadow(QVirtIOMMU *v, uint64_t gpa)
{
    qtest_writel(v->dev->bus->qts, gpa, 0);
    v->tail_shadow = gpa;
    qvirt_iommu_write_tail_addr(v, gpa);
}

uint16_t qvirt_iommu_slot_status(QVirtIOMMU *v, uint32_t index)
{
    VirtIOMMUCmd le;

    qvirt_iommu_read_slot(v, index, &le);
    return le16_to_cpu(le.status);
}

uint64_t qvirt_iommu_slot_result(QVirtIOMMU *v, uint32_t index)
{
    VirtIOMMUCmd le;

    qvirt_iommu_read_slot(v, index, &le);
    return le64_to_cpu(le.result);
}

void qvirt_iommu_submit_batch(QVirtIOMMU *v, const VirtIOMMUCmd *cmds,
                              uint32_t n, uint16_t *status)
{
    uint32_t mask = (1u << v->cmdq_log2) - 1;
    uint32_t tail = qvirt_iommu_post(v, cmds, n);

    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_HEAD), ==,
                     (tail + n) & mask);
    for (uint32_t i = 0; i < n; i++) {
        status[i] = qvirt_iommu_slot_status(v, tail + i);
    }
}

static uint16_t submit(QVirtIOMMU *v, VirtIOMMUCmd cmd, uint64_t *result)
{
    return qvirt_iommu_submit(v, &cmd, result);
}

uint16_t qvirt_iommu_map(QVirtIOMMU *v, uint32_t domain, uint64_t gpa,
                         uint64_t size, uint32_t perms, uint64_t limit,
                         uint64_t *iova)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP, .domain = domain, .addr = gpa,
        .size = size, .arg = perms, .limit = limit,
    }, iova);
}

uint64_t qvirt_iommu_map_ok(QVirtIOMMU *v, uint32_t domain, uint64_t gpa,
                            uint64_t size, uint32_t perms, uint64_t limit)
{
    uint64_t iova = 0;

    g_assert_cmpuint(qvirt_iommu_map(v, domain, gpa, size, perms, limit,
                                     &iova), ==, VIRT_IOMMU_S_OK);
    return iova;
}

uint16_t qvirt_iommu_map_fixed(QVirtIOMMU *v, uint32_t domain, uint64_t iova,
                               uint64_t gpa, uint64_t size, uint32_t perms)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = domain, .iova = iova,
        .addr = gpa, .size = size, .arg = perms,
    }, NULL);
}

uint16_t qvirt_iommu_unmap(QVirtIOMMU *v, uint32_t domain, uint64_t iova,
                           uint64_t size)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = domain, .iova = iova,
        .size = size,
    }, NULL);
}

uint16_t qvirt_iommu_set_type(QVirtIOMMU *v, uint32_t domain, uint8_t type)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE, .domain = domain,
        .arg = type,
    }, NULL);
}

uint16_t qvirt_iommu_detach(QVirtIOMMU *v, uint16_t rid)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DETACH, .endpoint = rid,
    }, NULL);
}

uint16_t qvirt_iommu_domain_free(QVirtIOMMU *v, uint32_t domain)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = domain,
    }, NULL);
}

uint16_t qvirt_iommu_invalidate_domain(QVirtIOMMU *v, uint32_t domain)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_INVALIDATE, .domain = domain,
        .arg = VIRT_IOMMU_INV_DOMAIN,
    }, NULL);
}

uint32_t qvirt_iommu_domain_alloc(QVirtIOMMU *v, uint8_t type)
{
    VirtIOMMUCmd cmd = { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = type };
    uint64_t id;

    g_assert_cmpuint(qvirt_iommu_submit(v, &cmd, &id), ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(id, >=, 1);
    return id;
}

void qvirt_iommu_attach(QVirtIOMMU *v, uint16_t rid, uint32_t domain)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_ATTACH,
        .endpoint = rid,
        .domain = domain,
    };

    g_assert_cmpuint(qvirt_iommu_submit(v, &cmd, NULL), ==, VIRT_IOMMU_S_OK);
}

void qvirt_iommu_stats(QVirtIOMMU *v, uint32_t domain, VirtIOMMUStats *st)
{
    VirtIOMMUCmd cmd = {
        .opcode = VIRT_IOMMU_CMD_QUERY_STATS,
        .domain = domain,
        .addr = v->stats_buf,
    };
    uint64_t *counter = &st->mappings;

    g_assert_cmpuint(qvirt_iommu_submit(v, &cmd, NULL), ==, VIRT_IOMMU_S_OK);
    qtest_memread(v->dev->bus->qts, v->stats_buf, st, sizeof(*st));
    st->domain = le32_to_cpu(st->domain);
    st->type = le32_to_cpu(st->type);
    st->endpoints = le32_to_cpu(st->endpoints);
    for (size_t i = 0; i < (sizeof(*st) - offsetof(VirtIOMMUStats, mappings)) /
                           sizeof(uint64_t); i++) {
        counter[i] = le64_to_cpu(counter[i]);
    }
}

bool qvirt_iommu_pop_event(QVirtIOMMU *v, VirtIOMMUEvent *evt)
{
    QTestState *qts = v->dev->bus->qts;
    uint32_t head = qvirt_iommu_readl(v, VIRT_IOMMU_REG_EVTQ_HEAD);
    uint32_t mask = (1u << v->evtq_log2) - 1;

    if (head == qvirt_iommu_readl(v, VIRT_IOMMU_REG_EVTQ_TAIL)) {
        return false;
    }
    qtest_memread(qts, v->evtq + head * sizeof(*evt), evt, sizeof(*evt));
    evt->endpoint = le16_to_cpu(evt->endpoint);
    evt->domain = le32_to_cpu(evt->domain);
    evt->iova = le64_to_cpu(evt->iova);
    evt->access = le32_to_cpu(evt->access);
    evt->age_ns = le64_to_cpu(evt->age_ns);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_EVTQ_HEAD, (head + 1) & mask);
    return true;
}

void qvirt_iommu_expect_fault(QVirtIOMMU *v, uint8_t reason, uint16_t rid,
                              uint32_t domain, uint64_t iova,
                              uint32_t access)
{
    VirtIOMMUEvent evt;

    g_assert_true(qvirt_iommu_pop_event(v, &evt));
    g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_FAULT);
    g_assert_cmpuint(evt.reason, ==, reason);
    g_assert_cmphex(evt.endpoint, ==, rid);
    g_assert_cmpuint(evt.domain, ==, domain);
    g_assert_cmphex(evt.iova, ==, iova);
    g_assert_cmphex(evt.access, ==, access);
}

void qvirt_iommu_assert_no_event(QVirtIOMMU *v)
{
    VirtIOMMUEvent evt;

    if (qvirt_iommu_pop_event(v, &evt)) {
        g_error("unexpected event: type %u reason %u endpoint 0x%x "
                "domain %u iova 0x%" PRIx64, evt.type, evt.reason,
                evt.endpoint, evt.domain, evt.iova);
    }
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==, 0);
}
