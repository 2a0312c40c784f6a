/*
 * virt-iommu-probe: drive a virt-iommu from a Linux guest, as its driver
 *
 * Finds the device in sysfs by its PCI IDs, maps BAR0 through resource0,
 * checks the identification registers against virt-iommu-regs.h and
 * exercises CONTROL and STATUS (this file); then, unless -p, runs the demo
 * scenario (demo.c): queues, domains for dma-testdev's PF and SR-IOV VFs,
 * DMA through IOVAs, faults and allocator statistics.  One line per check,
 * "ok   ..." or "FAIL ...", a report of one line per step (report.c) and a
 * summary line; the exit status is 0 only if every check passed.  The
 * demo's /init and run-demo.sh rely on the report's totals and summary.
 *
 * Translation is only ever enabled together with DEFAULT_BYPASS: Linux has
 * no driver for the device, so every function the tool does not attach to
 * a domain of its own must keep bypassing it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "demo.h"
#include "pci-sysfs.h"
#include "report.h"
#include "hw/iommu/virt-iommu-regs.h"
#include "hw/iommu/dma-testdev-regs.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "virt-iommu-probe";

/* Where build-initramfs.sh puts the module */
#define PF_STUB_DEFAULT "/lib/modules/pci-pf-stub.ko"

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
    /* Command and event queues, lazy commands, four domain types. */
    check_eq("cap", rd64(VIRT_IOMMU_REG_CAP),
             VIRT_IOMMU_CAP_CMDQ | VIRT_IOMMU_CAP_EVTQ | VIRT_IOMMU_CAP_MSIX |
             VIRT_IOMMU_CAP_CMDQ_LAZY, 1);
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

    /*
     * The next checks rely on the queues failing to start, which they do
     * with SIZE 0 as after reset.  A run before this one (in the demo's
     * shell) leaves its rings programmed: clear them first.
     */
    if (rd32(VIRT_IOMMU_REG_CMDQ_SIZE) || rd32(VIRT_IOMMU_REG_EVTQ_SIZE)) {
        printf("     rings left programmed by an earlier run: SIZE set to 0\n");
        wr32(VIRT_IOMMU_REG_CMDQ_SIZE, 0);
        wr32(VIRT_IOMMU_REG_EVTQ_SIZE, 0);
    }
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
    fprintf(f, "usage: %s [-p] [-d VENDOR:DEVICE] [-t VENDOR:DEVICE] "
            "[-c CYCLES] [-n VFS] [-H PAGES] [-m MODULE]\n"
            "Check the registers of a virt-iommu PCI device, then drive it "
            "as its driver:\ndomains for dma-testdev's PF and SR-IOV VFs, "
            "DMA through IOVAs, faults, statistics.\n"
            "  -p          registers only (no queues, no DMA)\n"
            "  -d V:D      virt-iommu's PCI IDs (default %04x:%04x)\n"
            "  -t V:D      dma-testdev PF's PCI IDs (default %04x:%04x)\n"
            "  -c CYCLES   SR-IOV enable/traffic/disable cycles (default 3)\n"
            "  -n VFS      at most this many VFs per cycle (default all)\n"
            "  -H PAGES    huge pages to use (default 4; the kernel needs "
            "hugepages=N)\n"
            "  -m MODULE   pci-pf-stub.ko to load (default %s)\n",
            prog, VIRT_IOMMU_PCI_VENDOR_ID, VIRT_IOMMU_PCI_DEVICE_ID,
            DMA_TESTDEV_PCI_VENDOR_ID, DMA_TESTDEV_PCI_DEVICE_ID,
            PF_STUB_DEFAULT);
}

static bool parse_ids(const char *arg, uint16_t *vendor, uint16_t *device)
{
    unsigned v, d;

    if (sscanf(arg, "%x:%x", &v, &d) != 2 || v > 0xffff || d > 0xffff) {
        return false;
    }
    *vendor = v;
    *device = d;
    return true;
}

static bool parse_uint(const char *arg, unsigned max, unsigned *val)
{
    char *end;
    unsigned long n = strtoul(arg, &end, 0);

    if (end == arg || *end || n > max) {
        return false;
    }
    *val = n;
    return true;
}

int main(int argc, char **argv)
{
    uint16_t vendor = VIRT_IOMMU_PCI_VENDOR_ID;
    uint16_t device = VIRT_IOMMU_PCI_DEVICE_ID;
    struct demo_opts o = {
        .cycles = 3,
        .huge_pages = 4,
        .pf_vendor = DMA_TESTDEV_PCI_VENDOR_ID,
        .pf_device = DMA_TESTDEV_PCI_DEVICE_ID,
        .pf_stub = PF_STUB_DEFAULT,
    };
    bool probe_only = false, ok = true;
    struct pci_func fn;
    size_t len;
    int opt;

    while ((opt = getopt(argc, argv, "pd:t:c:n:H:m:h")) != -1) {
        switch (opt) {
        case 'p':
            probe_only = true;
            break;
        case 'd':
            ok = parse_ids(optarg, &vendor, &device);
            break;
        case 't':
            ok = parse_ids(optarg, &o.pf_vendor, &o.pf_device);
            break;
        case 'c':
            ok = parse_uint(optarg, 1000, &o.cycles);
            break;
        case 'n':
            ok = parse_uint(optarg, 16, &o.max_vfs);
            break;
        case 'H':
            ok = parse_uint(optarg, 64, &o.huge_pages) && o.huge_pages;
            break;
        case 'm':
            o.pf_stub = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            ok = false;
        }
        if (!ok) {
            usage(stderr);
            return 2;
        }
    }
    /* Keep our lines in order with the kernel's on a shared console. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    step_begin("virt-iommu registers");
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
    /* The device reads its queues as bus master. */
    check(pci_set_master(&fn) == 0, "bus master on %s", fn.addr);
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
    if (!check_identification()) {
        printf("     not a virt-iommu %u.%u: CONTROL left alone\n",
               VIRT_IOMMU_VERSION_MAJOR, VIRT_IOMMU_VERSION_MINOR);
        goto out;
    }
    check_control_status();
    if (!probe_only) {
        demo_run(bar0, &o);
    }
out:
    report_print();
    printf("%s: %u passed, %u failed\n", prog, checks_passed(),
           checks_failed());
    return checks_failed() ? 1 : 0;
}
