/*
 * virt-iommu-probe: check a virt-iommu's registers from a Linux guest
 *
 * Finds the device in sysfs by its PCI IDs, maps BAR0 through resource0,
 * checks the identification registers against virt-iommu-regs.h, then
 * exercises CONTROL and STATUS.  One line per check, "ok   ..." or
 * "FAIL ...", and a summary line; the exit status is 0 only if every check
 * passed.  The demo's /init and run-demo.sh rely on that summary line.
 *
 * Translation is only ever enabled together with DEFAULT_BYPASS: version 0.1
 * has no command queue, hence no domains, and an enabled IOMMU without
 * bypass would block every DMA in the guest.  CONTROL is put back to its
 * reset value before exiting, whatever failed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "pci-sysfs.h"
#include "hw/iommu/virt-iommu-regs.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "virt-iommu-probe";
static unsigned passed, failed;

/* Print one check's line and count it; returns @ok. */
static bool check(bool ok, const char *fmt, ...)
{
    va_list ap;

    fputs(ok ? "ok   " : "FAIL ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (ok) {
        passed++;
    } else {
        failed++;
    }
    return ok;
}

/* Check a value, printed in hex with at least @digits digits. */
static bool check_eq(const char *what, uint64_t got, uint64_t want,
                     int digits)
{
    if (got == want) {
        return check(true, "%s 0x%0*llx", what, digits,
                     (unsigned long long)got);
    }
    return check(false, "%s 0x%0*llx (expected 0x%0*llx)", what,
                 digits, (unsigned long long)got,
                 digits, (unsigned long long)want);
}

/* Registers are little-endian and accessed 32 bits at a time. */
static volatile uint32_t *bar0;

static uint32_t rd32(unsigned off)
{
    return le32toh(bar0[off / 4]);
}

static void wr32(unsigned off, uint32_t val)
{
    bar0[off / 4] = htole32(val);
}

/* A 64-bit register as two 32-bit reads, low half first (see the header). */
static uint64_t rd64(unsigned off)
{
    uint64_t lo = rd32(off);

    return lo | (uint64_t)rd32(off + 4) << 32;
}

static const char *status_name(uint32_t sts)
{
    switch (sts) {
    case 0:
        return "none";
    case VIRT_IOMMU_STS_ENABLED:
        return "ENABLED";
    case VIRT_IOMMU_STS_BYPASS:
        return "BYPASS";
    case VIRT_IOMMU_STS_ENABLED | VIRT_IOMMU_STS_BYPASS:
        return "ENABLED|BYPASS";
    default:
        return "unknown bits";
    }
}

/* "4K 2M 1G" for a page-size mask */
static void format_pgsizes(uint64_t mask, char *buf, size_t size)
{
    static const char units[] = "BKMGTPE";
    size_t len = 0;

    buf[0] = '\0';
    for (unsigned bit = 0; bit < 64 && len < size; bit++) {
        if (mask & (1ull << bit)) {
            len += snprintf(buf + len, size - len, "%s%llu%c",
                            len ? " " : "",
                            1ull << (bit % 10), units[bit / 10]);
        }
    }
}

/* Write CONTROL, then check what CONTROL and STATUS read back. */
static void check_control(const char *what, uint32_t write,
                          uint32_t want_ctrl, uint32_t want_sts)
{
    uint32_t ctrl, sts;

    wr32(VIRT_IOMMU_REG_CONTROL, write);
    ctrl = rd32(VIRT_IOMMU_REG_CONTROL);
    sts = rd32(VIRT_IOMMU_REG_STATUS);
    if (ctrl == want_ctrl && sts == want_sts) {
        check(true, "%s: wrote 0x%x, control 0x%x, status 0x%x (%s)",
              what, write, ctrl, sts, status_name(sts));
    } else {
        check(false, "%s: wrote 0x%x, control 0x%x (expected 0x%x), "
              "status 0x%x (expected 0x%x, %s)", what, write, ctrl, want_ctrl,
              sts, want_sts, status_name(want_sts));
    }
}

/* The identification registers; false if this is not a usable virt-iommu. */
static bool check_identification(void)
{
    uint32_t magic = rd32(VIRT_IOMMU_REG_MAGIC);
    uint32_t version = rd32(VIRT_IOMMU_REG_VERSION);
    uint64_t pgsizes = rd64(VIRT_IOMMU_REG_PGSIZE_MASK);
    uint32_t iova_bits = rd32(VIRT_IOMMU_REG_IOVA_BITS);
    char sizes[128];
    bool usable;

    usable = check_eq("magic", magic, VIRT_IOMMU_MAGIC, 8);
    if (version == VIRT_IOMMU_VERSION) {
        check(true, "version %u.%u", version >> 16, version & 0xffff);
    } else {
        usable = check(false, "version %u.%u (expected %u.%u)",
                       version >> 16, version & 0xffff,
                       VIRT_IOMMU_VERSION_MAJOR, VIRT_IOMMU_VERSION_MINOR);
    }
    /* Command and event queues, four domain types. */
    check_eq("cap", rd64(VIRT_IOMMU_REG_CAP),
             VIRT_IOMMU_CAP_CMDQ | VIRT_IOMMU_CAP_EVTQ | VIRT_IOMMU_CAP_MSIX, 1);
    check_eq("domain types", rd32(VIRT_IOMMU_REG_DOMAIN_TYPES),
             1u << VIRT_IOMMU_DOMAIN_BLOCKED | 1u << VIRT_IOMMU_DOMAIN_IDENTITY |
             1u << VIRT_IOMMU_DOMAIN_DMA | 1u << VIRT_IOMMU_DOMAIN_DMA_FQ, 1);

    format_pgsizes(pgsizes, sizes, sizeof(sizes));
    check(pgsizes & (1ull << 12), "page sizes 0x%llx (%s)%s",
          (unsigned long long)pgsizes, sizes,
          pgsizes & (1ull << 12) ? "" : ", expected 4K among them");
    check(iova_bits >= 32 && iova_bits <= 64, "iova bits %u%s", iova_bits,
          iova_bits >= 32 && iova_bits <= 64 ? "" : " (expected 32..64)");
    return usable;
}

static void check_control_status(void)
{
    const uint32_t ctrl_reset = VIRT_IOMMU_CTRL_DEFAULT_BYPASS;
    const uint32_t on = VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS;
    const uint32_t sts_on = VIRT_IOMMU_STS_ENABLED | VIRT_IOMMU_STS_BYPASS;
    uint32_t sts;

    check_eq("control at reset", rd32(VIRT_IOMMU_REG_CONTROL), ctrl_reset, 1);
    sts = rd32(VIRT_IOMMU_REG_STATUS);
    check(sts == VIRT_IOMMU_STS_BYPASS, "status at reset 0x%x (%s)%s", sts,
          status_name(sts), sts == VIRT_IOMMU_STS_BYPASS ?
          "" : ", expected 0x2 (BYPASS)");

    check_control("enable with bypass", on, on, sts_on);
    /*
     * Unknown bits are ignored, and the queue enables do not take while no
     * ring is programmed: all ones still means enable with bypass, and
     * ERROR says why the queues stayed off (write-1-to-clear).
     */
    check_control("unknown control bits", 0xffffffffu, on, sts_on);
    check_eq("queue config errors", rd32(VIRT_IOMMU_REG_ERROR),
             VIRT_IOMMU_ERR_CMDQ_CONFIG | VIRT_IOMMU_ERR_EVTQ_CONFIG, 1);
    wr32(VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_MASK);
    check_control("restore reset value", ctrl_reset, ctrl_reset,
                  VIRT_IOMMU_STS_BYPASS);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [-d VENDOR:DEVICE]\n"
            "Check the registers of a virt-iommu PCI device (default IDs "
            "%04x:%04x).\n", prog, VIRT_IOMMU_PCI_VENDOR_ID,
            VIRT_IOMMU_PCI_DEVICE_ID);
}

int main(int argc, char **argv)
{
    unsigned vendor = VIRT_IOMMU_PCI_VENDOR_ID;
    unsigned device = VIRT_IOMMU_PCI_DEVICE_ID;
    struct pci_func fn;
    size_t len;
    int opt;

    while ((opt = getopt(argc, argv, "d:h")) != -1) {
        switch (opt) {
        case 'd':
            if (sscanf(optarg, "%x:%x", &vendor, &device) != 2 ||
                vendor > 0xffff || device > 0xffff) {
                usage(stderr);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    /* Keep our lines in order with the kernel's on a shared console. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (!check(pci_find(vendor, device, &fn) == 0,
               "device %04x:%04x in " PCI_SYSFS_DEVICES, vendor, device)) {
        goto out;
    }
    printf("     at %s, class 0x%06x, revision 0x%02x\n",
           fn.addr, fn.class, fn.revision);
    check_eq("class", fn.class >> 8, VIRT_IOMMU_PCI_CLASS, 4);
    check_eq("revision", fn.revision, VIRT_IOMMU_PCI_REVISION, 2);

    if (pci_enable(&fn) < 0) {
        check(false, "enable %s: %s", fn.addr, strerror(errno));
        goto out;
    }
    check(true, "enable %s", fn.addr);
    bar0 = pci_map_bar0(&fn, &len);
    if (!bar0) {
        check(false, "map %s/resource0: %s", fn.addr, strerror(errno));
        goto out;
    }
    check(true, "map %s/resource0", fn.addr);
    if (!check(len >= VIRT_IOMMU_BAR0_SIZE, "bar0 size 0x%zx%s", len,
               len >= VIRT_IOMMU_BAR0_SIZE ? "" : " (expected >= 0x1000)")) {
        goto out;
    }
    if (check_identification()) {
        check_control_status();
    } else {
        printf("     not a virt-iommu %u.%u: CONTROL left alone\n",
               VIRT_IOMMU_VERSION_MAJOR, VIRT_IOMMU_VERSION_MINOR);
    }
out:
    printf("%s: %u passed, %u failed\n", prog, passed, failed);
    return failed ? 1 : 0;
}
