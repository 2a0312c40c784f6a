/*
 * libqos helpers for QEMU's edu device (hw/misc/edu.c), used as a simple
 * DMA engine behind an IOMMU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_EDU_H
#define QOS_EDU_H

#include "pci.h"

typedef struct QEdu {
    QPCIDevice *dev;
    QPCIBar bar;
} QEdu;

/* Finds edu at @devfn, enables it (bus master) and maps its BAR. */
void qedu_init(QEdu *edu, QPCIBus *bus, int devfn);
void qedu_cleanup(QEdu *edu);

/*
 * Copies @len bytes (at most 4096) from bus address @src into edu's buffer
 * and from there to bus address @dst, stepping the virtual clock past
 * each transfer.  edu ignores DMA errors: a blocked transfer leaves the
 * destination untouched.  edu's DMA mask is 28 bits.
 */
void qedu_copy(QEdu *edu, uint64_t src, uint64_t dst, uint32_t len);

#endif /* QOS_EDU_H */
