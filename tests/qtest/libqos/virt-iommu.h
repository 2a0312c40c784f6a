/*
 * libqos driver for virt-iommu
 *
 * Finds the device on a PCI bus, enables it and maps BAR0; sets up the
 * command and event queues in guest memory, submits commands and reads
 * event records, using the ABI of hw/iommu/virt-iommu-regs.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_VIRT_IOMMU_H
#define QOS_VIRT_IOMMU_H

#include "libqos-malloc.h"
#include "pci.h"
#include "hw/iommu/virt-iommu-regs.h"

typedef struct QVirtIOMMU {
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t bar_size;      /* bytes, as sized by the BAR probe */
    uint64_t cmdq;          /* guest-physical base of the command ring */
    uint64_t evtq;          /* guest-physical base of the event ring */
    uint32_t cmdq_log2;
    uint32_t evtq_log2;
    uint64_t stats_buf;     /* where QUERY_STATS writes */
    uint64_t tail_shadow;   /* guest-physical TAIL shadow (ABI 0.4); 0: none */
} QVirtIOMMU;

/*
 * Finds virt-iommu at @devfn on @bus, enables memory decoding and bus
 * mastering and maps BAR0.  Fails the test if no function is there.
 * Release with qvirt_iommu_cleanup().
 */
void qvirt_iommu_init(QVirtIOMMU *v, QPCIBus *bus, int devfn);
void qvirt_iommu_cleanup(QVirtIOMMU *v);

uint32_t qvirt_iommu_readl(QVirtIOMMU *v, uint32_t offset);
uint64_t qvirt_iommu_readq(QVirtIOMMU *v, uint32_t offset);
void qvirt_iommu_writel(QVirtIOMMU *v, uint32_t offset, uint32_t value);

/*
 * Allocates rings of 2^@cmdq_log2 commands and 2^@evtq_log2 events from
 * @alloc, programs them and sets CONTROL to @control | CMDQ_EN | EVTQ_EN.
 */
void qvirt_iommu_start(QVirtIOMMU *v, QGuestAllocator *alloc,
                       uint32_t cmdq_log2, uint32_t evtq_log2,
                       uint32_t control);

/*
 * Writes CMDQ_TAIL_ADDR (the TAIL shadow's address; 0: none) as two
 * 32-bit halves.  The register takes only while the command queue is
 * off, so CMDQ_EN is cleared around the write if it was set.  Setting
 * CMDQ_EN again resets HEAD and TAIL to 0 and has the device write
 * COPYING at @addr + 4, or does not take (ERROR.CMDQ_CONFIG) if @addr is
 * not a multiple of VIRT_IOMMU_TAIL_ADDR_ALIGN: the caller checks ERROR.
 * The driver side neither reads nor writes the words at @addr.
 */
void qvirt_iommu_write_tail_addr(QVirtIOMMU *v, uint64_t addr);

/*
 * Makes the two 32-bit words at guest-physical @gpa (aligned to
 * VIRT_IOMMU_TAIL_ADDR_ALIGN) the TAIL shadow and COPYING, and keeps the
 * shadow as a driver that queues commands without a doorbell must (ABI
 * 0.4): stores 0 there, points CMDQ_TAIL_ADDR at it (restarting the
 * empty queue) and from then on keeps there the index after the last
 * command written.  qvirt_iommu_submit() and qvirt_iommu_post() then
 * write at the shadow's index, not at CMDQ_TAIL (which lags behind
 * commands queued without a doorbell), and store the new index in the
 * shadow before they ring.  COPYING is the device's to write.
 */
void qvirt_iommu_use_tail_shadow(QVirtIOMMU *v, uint64_t gpa);

/*
 * Writes @n commands after the last one written (at the shadow's index,
 * wrapping) and moves the TAIL shadow past them without ringing the
 * doorbell: the device runs them on an endpoint's translation miss, or
 * at the next CMDQ_TAIL write.  (A driver must ring while COPYING is 1;
 * this does not look.)  Needs qvirt_iommu_use_tail_shadow(); returns the
 * ring index of the first.
 */
uint32_t qvirt_iommu_queue(QVirtIOMMU *v, const VirtIOMMUCmd *cmds,
                           uint32_t n);

/*
 * @cmd as the device reads it from the ring: little-endian, status
 * PENDING.  For tests that lay out batches of commands themselves.
 */
void qvirt_iommu_cmd_to_le(VirtIOMMUCmd *le, const VirtIOMMUCmd *cmd);

/*
 * Writes @cmd at the command queue's tail (the TAIL shadow's index if
 * there is one: qvirt_iommu_use_tail_shadow()), rings the doorbell and
 * waits for HEAD to pass it.  Returns the status the device wrote back and
 * stores the result in *@result if not NULL.
 */
uint16_t qvirt_iommu_submit(QVirtIOMMU *v, const VirtIOMMUCmd *cmd,
                            uint64_t *result);

/*
 * Writes @n commands at TAIL (wrapping) and rings the doorbell once,
 * without waiting for them; returns the ring index of the first.
 */
uint32_t qvirt_iommu_post(QVirtIOMMU *v, const VirtIOMMUCmd *cmds,
                          uint32_t n);

/* The status the device wrote into ring slot @index (PENDING: not yet). */
uint16_t qvirt_iommu_slot_status(QVirtIOMMU *v, uint32_t index);
/* The result in ring slot @index (meaningful once its status is not PENDING) */
uint64_t qvirt_iommu_slot_result(QVirtIOMMU *v, uint32_t index);

/*
 * Writes @n commands at TAIL (wrapping) and rings the doorbell once;
 * stores the status of each in @status[i].  The ring must have room.
 */
void qvirt_iommu_submit_batch(QVirtIOMMU *v, const VirtIOMMUCmd *cmds,
                              uint32_t n, uint16_t *status);

/*
 * One command each, as a guest driver issues it; each returns the status
 * the device wrote back (VIRT_IOMMU_S_*).  Addresses and sizes in bytes.
 */

/* MAP below @limit (0: the aperture's top); the IOVA in *@iova if OK. */
uint16_t qvirt_iommu_map(QVirtIOMMU *v, uint32_t domain, uint64_t gpa,
                         uint64_t size, uint32_t perms, uint64_t limit,
                         uint64_t *iova);
uint16_t qvirt_iommu_map_fixed(QVirtIOMMU *v, uint32_t domain, uint64_t iova,
                               uint64_t gpa, uint64_t size, uint32_t perms);
uint16_t qvirt_iommu_unmap(QVirtIOMMU *v, uint32_t domain, uint64_t iova,
                           uint64_t size);
uint16_t qvirt_iommu_set_type(QVirtIOMMU *v, uint32_t domain, uint8_t type);
uint16_t qvirt_iommu_detach(QVirtIOMMU *v, uint16_t rid);
uint16_t qvirt_iommu_domain_free(QVirtIOMMU *v, uint32_t domain);
/* INVALIDATE DOMAIN: runs a DMA_FQ domain's batch. */
uint16_t qvirt_iommu_invalidate_domain(QVirtIOMMU *v, uint32_t domain);

/* qvirt_iommu_map(), failing the test unless it is OK; returns the IOVA. */
uint64_t qvirt_iommu_map_ok(QVirtIOMMU *v, uint32_t domain, uint64_t gpa,
                            uint64_t size, uint32_t perms, uint64_t limit);

/* Allocates a domain of @type; fails the test unless it succeeds. */
uint32_t qvirt_iommu_domain_alloc(QVirtIOMMU *v, uint8_t type);

/* Attaches requester ID @rid to @domain; fails the test on error. */
void qvirt_iommu_attach(QVirtIOMMU *v, uint16_t rid, uint32_t domain);

/*
 * Runs QUERY_STATS for @domain (0: the whole device) and stores the
 * result, in host byte order, in *@st.  Fails the test on error.
 */
void qvirt_iommu_stats(QVirtIOMMU *v, uint32_t domain, VirtIOMMUStats *st);

/*
 * Pops the oldest event record into *@evt.  Returns false if the event
 * queue is empty.
 */
bool qvirt_iommu_pop_event(QVirtIOMMU *v, VirtIOMMUEvent *evt);

/*
 * Pops the oldest event record and fails the test unless it is exactly
 * this fault (VIRT_IOMMU_FAULT_* @reason, requester ID, domain, first
 * faulting IOVA, VIRT_IOMMU_PERM_* @access).
 */
void qvirt_iommu_expect_fault(QVirtIOMMU *v, uint8_t reason, uint16_t rid,
                              uint32_t domain, uint64_t iova,
                              uint32_t access);

/* Fails the test if the event queue holds a record or ERROR is set. */
void qvirt_iommu_assert_no_event(QVirtIOMMU *v);

#endif /* QOS_VIRT_IOMMU_H */
