/*
 * The demo scenario: virt-iommu translating dma-testdev's PF and VFs
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef DEMO_H
#define DEMO_H

#include <stdint.h>

struct demo_opts {
    unsigned cycles;        /* SR-IOV enable/traffic/disable cycles */
    unsigned max_vfs;       /* at most this many VFs per cycle (0: all) */
    unsigned huge_pages;    /* huge pages to map */
    uint16_t pf_vendor, pf_device;
    const char *pf_stub;    /* pci-pf-stub.ko to load, if not built in */
};

/*
 * Run the scenario against the virt-iommu whose BAR0 is mapped at @bar.
 * Results go through report.h's checks; returns when done (or when a step
 * it depends on failed).
 */
void demo_run(volatile void *bar, const struct demo_opts *o);

#endif /* DEMO_H */
