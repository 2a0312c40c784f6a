/*
 * Helpers for the virt-iommu lifecycle qtests: the accounting checks
 * every lifecycle ends with, QEMU's resident memory, and the SOAK
 * multiplier.  The commands themselves are libqos/virt-iommu.h's.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_VIRT_IOMMU_LIFECYCLE_H
#define QOS_VIRT_IOMMU_LIFECYCLE_H

#include "virt-iommu.h"

/* The path of the device; the suites start it with id=viommu. */
#define LC_VIOMMU_PATH  "/machine/peripheral/viommu"

/* 100 with SOAK=1 in the environment (100 times the cycles), else 1. */
unsigned lc_soak_factor(void);

/*
 * The number of cycles a lifecycle suite runs: VIRT_IOMMU_SOAK_CYCLES
 * from the environment if set (a positive integer; `make soak` sets
 * 10000), else @fast (make check's count) times lc_soak_factor().
 */
unsigned lc_cycles(unsigned fast);

/* VmRSS of the QEMU process of @qts, in KiB. */
uint64_t lc_rss_kib(QTestState *qts);

/*
 * Fails the test if RSS grew by @slack_kib or more from @start_kib to
 * @end_kib, unless QEMU is a sanitizer build (QTEST_SANITIZED set in the
 * environment): ASan's quarantine keeps freed memory resident, so RSS
 * says nothing there, and LeakSanitizer does that job instead.
 */
void lc_assert_rss_stable(uint64_t start_kib, uint64_t end_kib,
                          uint64_t slack_kib);

/* qom-set of an integer property of the virt-iommu device. */
void lc_qom_set_int(QTestState *qts, const char *prop, int64_t value);

/*
 * Device-wide stats, asserting the state every lifecycle must return to:
 * no domain, no IOVA, no magazine in any allocator of the process, no
 * IOTLB entry counted as pending.  Returns the stats for more checks.
 */
void lc_assert_baseline(QVirtIOMMU *v, VirtIOMMUStats *st);
/* The same, for a run that made the device drop @dropped event records. */
void lc_assert_baseline_dropped(QVirtIOMMU *v, VirtIOMMUStats *st,
                                uint64_t dropped);

/*
 * Checks a domain's magazines by exact accounting: the live count
 * (allocated minus freed) equals the count found by walking every rcache
 * list, and a domain with no cached IOVA has nothing in its depot.
 */
void lc_assert_mag_accounting(const VirtIOMMUStats *st);

#endif /* QOS_VIRT_IOMMU_LIFECYCLE_H */
