/*
 * A user-space driver for virt-iommu: queues, commands, events, statistics
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VIOMMU_H
#define VIOMMU_H

#include "hugemem.h"
#include "hw/iommu/virt-iommu-regs.h"

#include <stdbool.h>
#include <stdint.h>

struct viommu {
    volatile uint32_t *bar;
    struct dmabuf cmdq, evtq, stats, sync;
    uint32_t cmdq_log2, evtq_log2;
    uint64_t commands;      /* submitted */
    uint64_t events_read;   /* records taken off the event ring */
};

/*
 * Program the queues (in huge-page memory) and turn translation on with
 * DEFAULT_BYPASS, so that functions the tool does not attach keep working.
 * Returns 0, or -1 with ERROR's value in *err.
 */
int viommu_start(struct viommu *v, volatile void *bar, uint32_t *err);
/* Back to the reset value of CONTROL: queues off, translation off. */
void viommu_stop(struct viommu *v);

uint32_t viommu_rd32(struct viommu *v, unsigned off);
uint64_t viommu_rd64(struct viommu *v, unsigned off);
void viommu_wr32(struct viommu *v, unsigned off, uint32_t val);
void viommu_wr64(struct viommu *v, unsigned off, uint64_t val);

/* Run one command; returns its status, *result if not NULL. */
uint16_t viommu_submit(struct viommu *v, const VirtIOMMUCmd *cmd,
                       uint64_t *result);

uint16_t viommu_domain_alloc(struct viommu *v, uint32_t type, uint32_t *id);
uint16_t viommu_domain_free(struct viommu *v, uint32_t id);
uint16_t viommu_set_type(struct viommu *v, uint32_t id, uint32_t type);
uint16_t viommu_attach(struct viommu *v, uint32_t id, uint16_t rid);
uint16_t viommu_detach(struct viommu *v, uint16_t rid);
uint16_t viommu_map(struct viommu *v, uint32_t id, uint64_t gpa,
                    uint64_t size, uint32_t perms, uint64_t *iova);
uint16_t viommu_map_fixed(struct viommu *v, uint32_t id, uint64_t iova,
                          uint64_t gpa, uint64_t size, uint32_t perms);
uint16_t viommu_unmap(struct viommu *v, uint32_t id, uint64_t iova,
                      uint64_t size);
uint16_t viommu_invalidate(struct viommu *v, uint32_t scope, uint32_t id,
                           uint64_t iova, uint64_t size);
/* SYNC writing @value to the tool's sync word; true if it arrived. */
bool viommu_sync(struct viommu *v, uint32_t value, uint16_t *status);
uint16_t viommu_stats(struct viommu *v, uint32_t id, VirtIOMMUStats *st);

/* Take the next event record off the ring; false if it is empty. */
bool viommu_pop_event(struct viommu *v, VirtIOMMUEvent *evt);

const char *viommu_status_name(uint16_t status);
const char *viommu_type_name(uint32_t type);
const char *viommu_fault_name(uint32_t reason);

#endif /* VIOMMU_H */
