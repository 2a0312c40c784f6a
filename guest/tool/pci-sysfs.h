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

/* Fill @fn from sysfs for the function at @addr ("0000:00:06.1"). */
int pci_func_at(const char *addr, struct pci_func *fn);

/* Requester ID of a function: bus << 8 | device << 3 | function. */
uint16_t pci_rid(const struct pci_func *fn);

/* Write "0" to "enable": the kernel turns decoding and bus mastering off. */
int pci_disable(const struct pci_func *fn);

/*
 * Set Memory Space and Bus Master in the Command register through the
 * sysfs "config" file (the enable file sets only the former, and a device
 * does DMA only as bus master).
 */
int pci_set_master(const struct pci_func *fn);

/* Write @val to the file @path (a sysfs attribute); 0 or -1 with errno. */
int sysfs_write(const char *path, const char *val);
/* Read the first line of @path into @buf; 0 or -1 with errno. */
int sysfs_read(const char *path, char *buf, size_t size);

void pci_unmap_bar0(volatile void *bar, size_t len);

#endif /* PCI_SYSFS_H */
