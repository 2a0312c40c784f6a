/*
 * Finding a PCI function in sysfs and mapping its BAR0 from user space
 *
 * Only files that every kernel since 2.6 provides are used: the vendor,
 * device, class and revision attributes, "enable" and "resource0".  Going
 * through resource0 (rather than /dev/mem) keeps working under
 * CONFIG_STRICT_DEVMEM, as long as no kernel driver has claimed the BAR.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "pci-sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read a sysfs attribute holding one number such as "0x1b36\n". */
static int read_attr(const char *addr, const char *attr, unsigned long *val)
{
    char path[256], buf[64], *end;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/%s", addr, attr);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    errno = 0;
    *val = strtoul(buf, &end, 0);
    if (errno || end == buf) {
        return -1;
    }
    return 0;
}

int pci_find(uint16_t vendor, uint16_t device, struct pci_func *fn)
{
    DIR *dir = opendir(PCI_SYSFS_DEVICES);
    struct dirent *de;
    int ret = -1;

    if (!dir) {
        return -1;
    }
    while (ret < 0 && (de = readdir(dir)) != NULL) {
        unsigned long v, d, c, r;

        if (de->d_name[0] == '.' ||
            strlen(de->d_name) >= sizeof(fn->addr) ||
            read_attr(de->d_name, "vendor", &v) < 0 ||
            read_attr(de->d_name, "device", &d) < 0 ||
            v != vendor || d != device) {
            continue;
        }
        if (read_attr(de->d_name, "class", &c) < 0) {
            c = 0;
        }
        if (read_attr(de->d_name, "revision", &r) < 0) {
            r = 0;
        }
        strcpy(fn->addr, de->d_name);
        fn->vendor = v;
        fn->device = d;
        fn->class = c;
        fn->revision = r;
        ret = 0;
    }
    closedir(dir);
    return ret;
}

int pci_enable(const struct pci_func *fn)
{
    char path[256];
    int fd, ret = 0;

    snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/enable", fn->addr);
    fd = open(path, O_WRONLY);
    if (fd < 0) {
        return -1;
    }
    if (write(fd, "1", 1) != 1) {
        ret = -1;
    }
    close(fd);
    return ret;
}

volatile void *pci_map_bar0(const struct pci_func *fn, size_t *len)
{
    char path[256];
    struct stat st;
    void *p;
    int fd, err;

    snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/resource0", fn->addr);
    /* O_SYNC asks for an uncached mapping, which registers need. */
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0) {
        return NULL;
    }
    /* sysfs sizes resourceN files to the BAR's size. */
    if (fstat(fd, &st) < 0) {
        err = errno;
        close(fd);
        errno = err;
        return NULL;
    }
    if (st.st_size <= 0) {
        close(fd);
        errno = ENXIO;
        return NULL;
    }
    p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    err = errno;
    close(fd);          /* the mapping keeps its own reference */
    if (p == MAP_FAILED) {
        errno = err;
        return NULL;
    }
    *len = st.st_size;
    return p;
}

void pci_unmap_bar0(volatile void *bar, size_t len)
{
    munmap((void *)bar, len);
}

int pci_func_at(const char *addr, struct pci_func *fn)
{
    unsigned long v, d, c = 0, r = 0;

    if (strlen(addr) >= sizeof(fn->addr) ||
        read_attr(addr, "vendor", &v) < 0 ||
        read_attr(addr, "device", &d) < 0) {
        return -1;
    }
    read_attr(addr, "class", &c);
    read_attr(addr, "revision", &r);
    strcpy(fn->addr, addr);
    fn->vendor = v;
    fn->device = d;
    fn->class = c;
    fn->revision = r;
    return 0;
}

uint16_t pci_rid(const struct pci_func *fn)
{
    unsigned dom, bus, dev, func;

    if (sscanf(fn->addr, "%x:%x:%x.%x", &dom, &bus, &dev, &func) != 4) {
        return 0xffff;
    }
    return bus << 8 | dev << 3 | func;
}

int sysfs_write(const char *path, const char *val)
{
    size_t len = strlen(val);
    int fd = open(path, O_WRONLY);
    ssize_t n;
    int err;

    if (fd < 0) {
        return -1;
    }
    n = write(fd, val, len);
    err = errno;
    close(fd);
    if (n != (ssize_t)len) {
        errno = n < 0 ? err : EIO;
        return -1;
    }
    return 0;
}

int sysfs_read(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) {
        return -1;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int pci_disable(const struct pci_func *fn)
{
    char path[256];

    snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/enable", fn->addr);
    return sysfs_write(path, "0");
}

int pci_set_master(const struct pci_func *fn)
{
    char path[256];
    uint8_t cmd[2];
    int fd, ret = -1;

    snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/config", fn->addr);
    fd = open(path, O_RDWR);
    if (fd < 0) {
        return -1;
    }
    /* Command register at 0x04: bit 1 Memory Space, bit 2 Bus Master. */
    if (pread(fd, cmd, 2, 4) == 2) {
        cmd[0] |= 0x06;
        if (pwrite(fd, cmd, 2, 4) == 2) {
            ret = 0;
        }
    }
    close(fd);
    return ret;
}
