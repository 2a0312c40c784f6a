/*
 * Finding a PCI function in sysfs and mapping its BAR0 from user space
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PCI_SYSFS_H
#define PCI_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#define PCI_SYSFS_DEVICES "/sys/bus/pci/devices"

/* A PCI function as sysfs describes it: "DDDD:BB:DD.F" and its IDs. */
struct pci_func {
    char addr[32];
    uint16_t vendor;
    uint16_t device;
    uint32_t class;         /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
};

/*
 * Look up the first function with this vendor and device ID.
 * Returns 0 and fills @fn, or -1 if none matches (errno is not meaningful).
 */
int pci_find(uint16_t vendor, uint16_t device, struct pci_func *fn);

/* Write "1" to the function's "enable" file, so that BAR decoding is on. */
int pci_enable(const struct pci_func *fn);

/*
 * Map the function's resource0 read/write and uncached.  Returns the mapping
 * and its length in @len, or NULL with errno set.
 */
volatile void *pci_map_bar0(const struct pci_func *fn, size_t *len);

#endif /* PCI_SYSFS_H */
