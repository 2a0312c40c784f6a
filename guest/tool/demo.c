/*
 * The demo scenario: virt-iommu translating dma-testdev's PF and VFs
 *
 * The tool is the IOMMU driver here.  Linux knows virt-iommu only as a PCI
 * function without a driver, so the tool turns translation on with
 * DEFAULT_BYPASS (every function it leaves alone keeps working as before)
 * and puts dma-testdev's functions into domains of its own.  Linux maps
 * nothing for those functions either, so their DMA belongs to the tool
 * completely: it carves buffers out of huge pages (hugemem.c), maps them
 * into IOVAs with MAP or MAP_FIXED, gives the IOVAs to dma-testdev and
 * checks through the CPU mapping what arrived.
 *
 * Steps, each a line in the final report:
 *  - start the queues, allocator statistics at baseline;
 *  - SR-IOV through Linux: pci-pf-stub bound to the PF by new_id;
 *  - on the PF, one domain through every type change, ring traffic between
 *    them, the flush queue's stale-IOTLB window against strict unmap, the
 *    allocator's magazines returned when a type change destroys it, and
 *    deliberate faults (read after invalidation, BLOCKED domain, unmapped
 *    IOVA, write to a read-only mapping) whose records must arrive;
 *  - cycles of sriov_numvfs = N, a domain per VF, ring traffic, and
 *    sriov_numvfs = 0, alternately after detaching and with the VFs still
 *    attached, so that the device reports them with ENDPOINT_GONE;
 *  - allocator statistics back at baseline: no live range, no magazine.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "demo.h"
#include "dmatest.h"
#include "hugemem.h"
#include "report.h"
#include "viommu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_ENTRIES    8
#define BUF_LEN         (64 * 1024)
#define FILL_LEN        (16 * 1024)
#define MAX_VFS         16
#define PAGE            4096ull
/* Guest-chosen IOVAs (MAP_FIXED) live low, device-chosen ones high. */
#define FIXED_IOVA      0x40000000ull
/* Never mapped by anyone: the target of the deliberate fault. */
#define UNMAPPED_IOVA   0x7f000000ull

static struct viommu vi;
static const struct demo_opts *opts;

/* --- events -------------------------------------------------------------- */

struct expect {
    uint8_t type, reason;   /* reason 0: any */
    uint16_t rid;
    uint32_t domain;
    unsigned count;         /* wanted */
    unsigned seen;
};

static void rid_name(uint16_t rid, char *buf, size_t size)
{
    snprintf(buf, size, "%02x:%02x.%x", rid >> 8, (rid >> 3) & 0x1f, rid & 7);
}

/*
 * Take every record off the event ring.  Each one is matched against
 * @want; the matching ones are the faults the step provoked on purpose,
 * the rest are unexpected.  One check: every wanted count met and
 * nothing unexpected.
 */
static void expect_events(const char *what, struct expect *want,
                          unsigned nwant)
{
    unsigned unexpected = 0, missing = 0;
    VirtIOMMUEvent e;

    while (viommu_pop_event(&vi, &e)) {
        const char *type = e.type == VIRT_IOMMU_EVT_FAULT ? "FAULT" :
                           e.type == VIRT_IOMMU_EVT_ENDPOINT_GONE ?
                           "ENDPOINT_GONE" :
                           e.type == VIRT_IOMMU_EVT_STRICT ? "STRICT" : "?";
        bool expected = false;
        char rid[16];

        for (unsigned i = 0; i < nwant && !expected; i++) {
            struct expect *w = &want[i];

            if (w->type == e.type && w->rid == e.endpoint &&
                w->domain == e.domain && w->seen < w->count &&
                (!w->reason || w->reason == e.reason)) {
                w->seen++;
                expected = true;
            }
        }
        rid_name(e.endpoint, rid, sizeof(rid));
        if (e.type == VIRT_IOMMU_EVT_FAULT) {
            note("event %s %s: %s domain %u iova 0x%llx %s (%s)", type,
                 viommu_fault_name(e.reason), rid, e.domain,
                 (unsigned long long)e.iova,
                 e.access == VIRT_IOMMU_PERM_WRITE ? "write" : "read",
                 expected ? "expected" : "UNEXPECTED");
        } else {
            note("event %s: %s domain %u (%s)", type, rid, e.domain,
                 expected ? "expected" : "UNEXPECTED");
        }
        step_fault(expected);
        unexpected += !expected;
    }
    for (unsigned i = 0; i < nwant; i++) {
        missing += want[i].count - want[i].seen;
    }
    if (nwant || unexpected) {
        check(!unexpected && !missing,
              "%s: event records as expected (%u missing, %u unexpected)",
              what, missing, unexpected);
    }
}

/* A SYNC through the queue: its value must land in memory. */
static void do_sync(const char *what)
{
    static uint32_t value = 0x5eed0000;
    uint16_t st;

    value++;
    if (!viommu_sync(&vi, value, &st)) {
        check(false, "%s: SYNC of 0x%x: status %s, value not written", what,
              value, viommu_status_name(st));
    }
}

/* A SYNC, then no record may be waiting. */
static void sync_no_events(const char *what)
{
    do_sync(what);
    expect_events(what, NULL, 0);
}

static bool cmd_ok(uint16_t st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Check that a command returned OK; name it only when it did not. */
static bool cmd_ok(uint16_t st, const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (st == VIRT_IOMMU_S_OK) {
        return true;
    }
    return check(false, "%s: status %s", what, viommu_status_name(st));
}

/* --- statistics ------------------------------------------------------------ */

static void print_stats(const char *what, const VirtIOMMUStats *s)
{
    if (s->domain) {
        note("%s: domain %u %s, %u endpoints, %llu mappings (%llu bytes), "
             "flush queue %llu pending, %llu batches", what, s->domain,
             viommu_type_name(s->type), s->endpoints,
             (unsigned long long)s->mappings,
             (unsigned long long)s->mapped_bytes,
             (unsigned long long)s->fq_pending,
             (unsigned long long)s->fq_flushes);
    } else {
        note("%s: %u domains, %llu events, %llu dropped, iotlb %llu hits "
             "%llu misses %llu invalidated", what, s->type,
             (unsigned long long)s->events,
             (unsigned long long)s->events_dropped,
             (unsigned long long)s->iotlb_hits,
             (unsigned long long)s->iotlb_misses,
             (unsigned long long)s->iotlb_invalidations);
    }
    note("  iova: %llu live ranges (%llu reserved), %llu live pfns; "
         "magazines %llu live (%llu allocated, %llu freed), depot %llu, "
         "%llu cached IOVAs; rcache %llu hits %llu misses%s",
         (unsigned long long)s->iova_live_ranges,
         (unsigned long long)s->iova_reserved_ranges,
         (unsigned long long)s->iova_live_pfns,
         (unsigned long long)s->mags_live,
         (unsigned long long)s->mags_allocated,
         (unsigned long long)s->mags_freed,
         (unsigned long long)s->depot_mags,
         (unsigned long long)s->cached_pfns,
         (unsigned long long)s->rcache_hits,
         (unsigned long long)s->rcache_misses, "");
    if (!s->domain) {
        note("  magazines alive in the whole process: %llu",
             (unsigned long long)s->process_mags_live);
    }
}

static bool query(uint32_t domain, VirtIOMMUStats *s)
{
    return cmd_ok(viommu_stats(&vi, domain, s), "QUERY_STATS %u", domain);
}

/* --- buffers and traffic --------------------------------------------------- */

struct bufs {
    struct dmabuf ring, src, dst, fill;
    uint64_t ring_io, src_io, dst_io, fill_io;
    bool fixed;
};

static bool alloc_bufs(struct bufs *b)
{
    memset(b, 0, sizeof(*b));
    if (hugemem_alloc(PAGE, PAGE, &b->ring) < 0 ||
        hugemem_alloc(BUF_LEN, PAGE, &b->src) < 0 ||
        hugemem_alloc(BUF_LEN, PAGE, &b->dst) < 0 ||
        hugemem_alloc(FILL_LEN, PAGE, &b->fill) < 0) {
        return check(false, "huge-page memory for ring and buffers");
    }
    return true;
}

/* Identity domains translate nothing: bus address = guest-physical. */
static void identity_bufs(struct bufs *b)
{
    b->ring_io = b->ring.gpa;
    b->src_io = b->src.gpa;
    b->dst_io = b->dst.gpa;
    b->fill_io = b->fill.gpa;
    b->fixed = false;
}

/*
 * Map the four buffers into @dom: the ring and the copy's destination
 * read/write, the source read-only, the fill buffer write-only.  With @fixed_iova the source
 * goes there by MAP_FIXED, else every IOVA is the device's choice.
 */
static bool map_bufs(uint32_t dom, struct bufs *b, uint64_t fixed_iova)
{
    const uint32_t r = VIRT_IOMMU_PERM_READ, w = VIRT_IOMMU_PERM_WRITE;
    bool ok;

    ok = cmd_ok(viommu_map(&vi, dom, b->ring.gpa, PAGE, r | w, &b->ring_io),
                "MAP ring");
    if (fixed_iova) {
        ok &= cmd_ok(viommu_map_fixed(&vi, dom, fixed_iova, b->src.gpa,
                                      BUF_LEN, r), "MAP_FIXED src");
        b->src_io = fixed_iova;
    } else {
        ok &= cmd_ok(viommu_map(&vi, dom, b->src.gpa, BUF_LEN, r, &b->src_io),
                     "MAP src");
    }
    b->fixed = fixed_iova != 0;
    /* dst is read back too: the ring's last CRC32C checks the copy. */
    ok &= cmd_ok(viommu_map(&vi, dom, b->dst.gpa, BUF_LEN, r | w, &b->dst_io),
                 "MAP dst");
    ok &= cmd_ok(viommu_map(&vi, dom, b->fill.gpa, FILL_LEN, w, &b->fill_io),
                 "MAP fill");
    return ok;
}

static bool unmap_bufs(uint32_t dom, struct bufs *b)
{
    bool ok;

    ok = cmd_ok(viommu_unmap(&vi, dom, b->ring_io, PAGE), "UNMAP ring");
    ok &= cmd_ok(viommu_unmap(&vi, dom, b->src_io, BUF_LEN), "UNMAP src");
    ok &= cmd_ok(viommu_unmap(&vi, dom, b->dst_io, BUF_LEN), "UNMAP dst");
    ok &= cmd_ok(viommu_unmap(&vi, dom, b->fill_io, FILL_LEN), "UNMAP fill");
    return ok;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/*
 * One ring of four descriptors through the buffers' bus addresses: COPY
 * src to dst, FILL, CRC32C of src and of dst.  Everything the device wrote
 * is checked through the CPU mapping.  One check line.
 */
static bool traffic(struct dmadev *d, struct bufs *b, const char *how)
{
    volatile uint8_t *src = b->src.va, *dst = b->dst.va, *fill = b->fill.va;
    uint32_t pattern = rng(), want_crc, bad = 0, err;
    uint64_t moved = 0;
    DmaTestdevDesc desc[4] = {
        { .op = DMA_TESTDEV_OP_COPY, .src = b->src_io, .dst = b->dst_io,
          .len = BUF_LEN },
        { .op = DMA_TESTDEV_OP_FILL, .dst = b->fill_io, .len = FILL_LEN,
          .pattern = pattern },
        { .op = DMA_TESTDEV_OP_CRC32C, .src = b->src_io, .len = BUF_LEN },
        { .op = DMA_TESTDEV_OP_CRC32C, .src = b->dst_io, .len = BUF_LEN },
    };
    char rid[16];

    for (size_t i = 0; i < BUF_LEN; i += 8) {
        *(volatile uint64_t *)(src + i) = rng();
        *(volatile uint64_t *)(dst + i) = 0;
    }
    for (size_t i = 0; i < FILL_LEN; i++) {
        fill[i] = 0;
    }
    want_crc = crc32c(src, BUF_LEN);

    err = dmadev_ring(d, &b->ring, b->ring_io, RING_ENTRIES, desc, 4);
    for (unsigned i = 0; i < 4; i++) {
        if (desc[i].status == DMA_TESTDEV_DESC_ST_COMPLETE) {
            moved += desc[i].len;
        } else {
            bad++;
        }
    }
    for (size_t i = 0; i < BUF_LEN; i++) {
        bad += dst[i] != src[i];
    }
    for (size_t i = 0; i < FILL_LEN; i++) {
        bad += fill[i] != (uint8_t)(pattern >> (8 * (i % 4)));
    }
    bad += desc[2].result != want_crc;
    bad += desc[3].result != want_crc;
    step_bytes(moved, bad ? 0 : moved);
    rid_name(d->rid, rid, sizeof(rid));
    return check(!err && !bad, "%s %s: ring COPY 64K + FILL 16K + 2x CRC32C "
                 "at ring 0x%llx src 0x%llx%s dst 0x%llx: %llu bytes, %s "
                 "(crc 0x%08x)", rid, how, (unsigned long long)b->ring_io,
                 (unsigned long long)b->src_io, b->fixed ? " (fixed)" : "",
                 (unsigned long long)b->dst_io, (unsigned long long)moved,
                 err ? "ring error" : bad ? "DATA MISMATCH" : "verified",
                 (unsigned)desc[2].result);
}

/* Map, run traffic, unmap: one round in a DMA or DMA_FQ domain. */
static bool round_trip(struct dmadev *d, uint32_t dom, const char *how,
                       uint64_t fixed_iova)
{
    struct bufs b;
    bool ok;

    hugemem_reset();
    if (!alloc_bufs(&b) || !map_bufs(dom, &b, fixed_iova)) {
        return false;
    }
    ok = traffic(d, &b, how);
    return unmap_bufs(dom, &b) && ok;
}

/* --- SR-IOV through Linux -------------------------------------------------- */

static char pf_dir[256];

static int load_module(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ret;

    if (fd < 0) {
        return -1;
    }
    ret = syscall(SYS_finit_module, fd, "", 0);
    close(fd);
    return ret < 0 && errno == EEXIST ? 0 : ret;
}

static bool sriov_setup(const struct pci_func *pf, unsigned *total)
{
    char path[300], buf[64];
    const char *drv;

    step_begin("SR-IOV: pci-pf-stub bound to the PF");
    snprintf(pf_dir, sizeof(pf_dir), PCI_SYSFS_DEVICES "/%s", pf->addr);
    if (access("/sys/bus/pci/drivers/pci-pf-stub", F_OK) < 0) {
        int ret = load_module(opts->pf_stub);

        if (!check(ret == 0, "load %s%s%s", opts->pf_stub, ret ? ": " : "",
                   ret ? strerror(errno) : "")) {
            return false;
        }
    }
    snprintf(buf, sizeof(buf), "%04x %04x", pf->vendor, pf->device);
    if (sysfs_write("/sys/bus/pci/drivers/pci-pf-stub/new_id", buf) < 0 &&
        errno != EEXIST) {
        return check(false, "pci-pf-stub new_id '%s': %s", buf,
                     strerror(errno));
    }
    snprintf(path, sizeof(path), "%s/driver", pf_dir);
    buf[0] = '\0';
    if (readlink(path, buf, sizeof(buf) - 1) > 0) {
        drv = strrchr(buf, '/');
        drv = drv ? drv + 1 : buf;
    } else {
        drv = "(none)";
    }
    if (!check(strcmp(drv, "pci-pf-stub") == 0, "%s bound to %s", pf->addr,
               drv)) {
        return false;
    }
    snprintf(path, sizeof(path), "%s/sriov_totalvfs", pf_dir);
    if (sysfs_read(path, buf, sizeof(buf)) < 0) {
        return check(false, "%s: %s", path, strerror(errno));
    }
    *total = strtoul(buf, NULL, 0);
    return check(*total > 0, "sriov_totalvfs %u", *total);
}

static bool sriov_set(unsigned n)
{
    char path[300], val[16];
    int ret;

    snprintf(path, sizeof(path), "%s/sriov_numvfs", pf_dir);
    snprintf(val, sizeof(val), "%u", n);
    ret = sysfs_write(path, val);
    return check(ret == 0, "echo %u > sriov_numvfs%s%s", n,
                 ret ? ": " : "", ret ? strerror(errno) : "");
}

/* The VFs Linux enumerated: the PF's virtfnN links.  Returns how many. */
static unsigned sriov_vfs(char addrs[][32], unsigned max)
{
    unsigned n = 0;

    for (; n < max; n++) {
        char path[300], target[256];
        ssize_t len;
        const char *base;

        snprintf(path, sizeof(path), "%s/virtfn%u", pf_dir, n);
        len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0) {
            break;
        }
        target[len] = '\0';
        base = strrchr(target, '/');
        snprintf(addrs[n], 32, "%.31s", base ? base + 1 : target);
    }
    return n;
}

/* --- the steps ------------------------------------------------------------- */

/*
 * MAP and UNMAP one buffer @rounds times with sizes cycling through the
 * rcache's size classes (1 to 32 pages), as a busy driver's dma_map and
 * dma_unmap do: after the first round the allocator serves every size
 * from its per-CPU magazines.  One check: every command OK, hits gained.
 */
static void churn(uint32_t dom, unsigned rounds)
{
    static const unsigned pages[] = { 1, 2, 4, 8, 16, 32, 3, 12 };
    VirtIOMMUStats before, after;
    struct dmabuf buf;
    unsigned bad = 0;

    hugemem_reset();
    if (!query(dom, &before) ||
        hugemem_alloc(32 * PAGE, PAGE, &buf) < 0) {
        check(false, "churn: stats or memory");
        return;
    }
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t size = pages[i % 8] * PAGE, iova = 0;

        bad += viommu_map(&vi, dom, buf.gpa, size, VIRT_IOMMU_PERM_READ,
                          &iova) != VIRT_IOMMU_S_OK;
        bad += viommu_unmap(&vi, dom, iova, size) != VIRT_IOMMU_S_OK;
    }
    if (query(dom, &after)) {
        check(!bad && after.rcache_hits > before.rcache_hits &&
              after.mappings == before.mappings,
              "%u MAP/UNMAP pairs of 1..32 pages: %u refused, rcache hits "
              "%llu -> %llu, misses %llu -> %llu, magazines live %llu",
              rounds, bad, (unsigned long long)before.rcache_hits,
              (unsigned long long)after.rcache_hits,
              (unsigned long long)before.rcache_misses,
              (unsigned long long)after.rcache_misses,
              (unsigned long long)after.mags_live);
    }
}

/* CRC32C of the source buffer's first page by a single operation. */
static uint32_t crc_page(struct dmadev *d, const struct bufs *b,
                         uint32_t *crc)
{
    uint32_t err = dmadev_run(d, DMA_TESTDEV_OP_CRC32C, b->src_io, 0, PAGE,
                              0, NULL);

    *crc = dmadev_rd64(d, DMA_TESTDEV_REG_RESULT);
    return err;
}

/*
 * The window Linux's flush queue accepts for fewer invalidations: after
 * UNMAP in a DMA_FQ domain, a translation still cached in the IOTLB keeps
 * working until the batch runs.  The batch also runs by itself fq-timeout
 * (10 ms) of virtual time after the first UNMAP, and a slow host can take
 * that long between two commands, so each check first asks whether the
 * batch has run, and only says what must be true in either case.
 */
static void fq_window(struct dmadev *pf, const struct bufs *b, uint32_t dom)
{
    struct expect want[1] = {
        { VIRT_IOMMU_EVT_FAULT, 0, pf->rid, dom, 1, 0 },
    };
    VirtIOMMUStats s0, s1;
    uint32_t err, crc;

    if (!query(dom, &s0)) {
        return;
    }
    print_stats("after unmap", &s0);
    check(s0.mappings == 0 && (s0.fq_pending == 4 || s0.fq_flushes),
          "unmapped IOVAs wait in the flush queue: %llu pending, %llu "
          "batches run by the timeout", (unsigned long long)s0.fq_pending,
          (unsigned long long)s0.fq_flushes);
    err = crc_page(pf, b, &crc);
    if (!query(dom, &s1)) {
        return;
    }
    if (s1.fq_flushes == 0 && s1.fq_pending == 4) {
        check(err == 0 && crc == crc32c(b->src.va, PAGE),
              "after UNMAP a stale IOTLB entry still translates 0x%llx "
              "(DMA_FQ: no invalidation yet): error %u",
              (unsigned long long)b->src_io, err);
    } else {
        note("the fq-timeout batch ran before the stale read (slow host): "
             "read error %u", err);
        if (err) {
            expect_events("read after the batch", want, 1);
            want[0].seen = 0;
        }
    }
    cmd_ok(viommu_invalidate(&vi, VIRT_IOMMU_INV_RANGE, dom, b->src_io,
                             BUF_LEN), "INVALIDATE RANGE");
    err = crc_page(pf, b, &crc);
    check(err == DMA_TESTDEV_ERR_DMA_FAULT,
          "after INVALIDATE RANGE the read of 0x%llx faults: error %u",
          (unsigned long long)b->src_io, err);
    expect_events("read after INVALIDATE RANGE", want, 1);
    if (query(dom, &s1)) {
        check(s1.fq_pending == 4 || s1.fq_flushes,
              "INVALIDATE RANGE frees no queued IOVA: %llu pending%s",
              (unsigned long long)s1.fq_pending, s1.fq_flushes ?
              " (the timeout's batch freed them)" : "");
    }
}

/* The PF's one domain through every type, with traffic between changes. */
static void pf_type_changes(struct dmadev *pf)
{
    struct expect want[1];
    VirtIOMMUStats s;
    struct bufs b;
    uint64_t fault = 0, iova, mags_before = 0;
    uint32_t dom, err, crc;
    char rid[16];

    rid_name(pf->rid, rid, sizeof(rid));
    step_begin("PF %s: DMA domain, MAP + MAP_FIXED, churn", rid);
    if (!cmd_ok(viommu_domain_alloc(&vi, VIRT_IOMMU_DOMAIN_DMA, &dom),
                "DOMAIN_ALLOC DMA") ||
        !check(viommu_attach(&vi, dom, pf->rid) == VIRT_IOMMU_S_OK,
               "domain %u (DMA) allocated, %s attached", dom, rid)) {
        return;
    }
    round_trip(pf, dom, "DMA", FIXED_IOVA);
    round_trip(pf, dom, "DMA", 0);
    churn(dom, 256);
    sync_no_events("DMA traffic");

    step_begin("PF %s: DMA -> DMA_FQ, flush queue, IOTLB", rid);
    check(viommu_set_type(&vi, dom, VIRT_IOMMU_DOMAIN_DMA_FQ) ==
          VIRT_IOMMU_S_OK, "DOMAIN_SET_TYPE %u DMA_FQ", dom);
    hugemem_reset();
    if (alloc_bufs(&b) && map_bufs(dom, &b, 0)) {
        traffic(pf, &b, "DMA_FQ");
        /* Read the source's first page, so the IOTLB holds it. */
        err = crc_page(pf, &b, &crc);
        unmap_bufs(dom, &b);
        fq_window(pf, &b, dom);
    }
    cmd_ok(viommu_invalidate(&vi, VIRT_IOMMU_INV_DOMAIN, dom, 0, 0),
           "INVALIDATE DOMAIN");
    if (query(dom, &s)) {
        check(s.fq_pending == 0 && s.fq_flushes >= 1,
              "INVALIDATE DOMAIN ran the batch: %llu pending, %llu batches",
              (unsigned long long)s.fq_pending,
              (unsigned long long)s.fq_flushes);
    }
    sync_no_events("DMA_FQ traffic");

    step_begin("PF %s: DMA_FQ -> DMA, strict unmap", rid);
    check(viommu_set_type(&vi, dom, VIRT_IOMMU_DOMAIN_DMA) == VIRT_IOMMU_S_OK,
          "DOMAIN_SET_TYPE %u DMA", dom);
    hugemem_reset();
    if (alloc_bufs(&b) && map_bufs(dom, &b, FIXED_IOVA)) {
        traffic(pf, &b, "DMA");
        err = crc_page(pf, &b, &crc);
        unmap_bufs(dom, &b);
        /* Strict: the UNMAP invalidated before it completed. */
        err = crc_page(pf, &b, &crc);
        check(err == DMA_TESTDEV_ERR_DMA_FAULT,
              "right after UNMAP the read of 0x%llx faults (strict DMA): "
              "error %u", (unsigned long long)b.src_io, err);
        want[0] = (struct expect){ VIRT_IOMMU_EVT_FAULT, 0, pf->rid, dom,
                                   1, 0 };
        expect_events("read after strict UNMAP", want, 1);
    }
    sync_no_events("DMA traffic");

    step_begin("PF %s: DMA -> IDENTITY", rid);
    /*
     * The kmemleak report this project started from: magazines leaked
     * when an allocator was torn down.  This change destroys the domain's
     * allocator with magazines loaded; the process must keep none.
     */
    if (query(0, &s)) {
        mags_before = s.process_mags_live;
    }
    check(viommu_set_type(&vi, dom, VIRT_IOMMU_DOMAIN_IDENTITY) ==
          VIRT_IOMMU_S_OK, "DOMAIN_SET_TYPE %u IDENTITY", dom);
    if (query(0, &s)) {
        check(mags_before > 0 && s.process_mags_live == 0,
              "allocator torn down with its magazines: process magazines "
              "%llu -> %llu", (unsigned long long)mags_before,
              (unsigned long long)s.process_mags_live);
    }
    hugemem_reset();
    if (alloc_bufs(&b)) {
        uint16_t st = viommu_map(&vi, dom, b.src.gpa, PAGE,
                                 VIRT_IOMMU_PERM_READ, &iova);

        check(st == VIRT_IOMMU_S_WRONG_TYPE, "MAP refused in IDENTITY: %s",
              viommu_status_name(st));
        identity_bufs(&b);
        traffic(pf, &b, "IDENTITY (IOVA = GPA)");
    }
    sync_no_events("IDENTITY traffic");

    step_begin("PF %s: IDENTITY -> BLOCKED, fault", rid);
    check(viommu_set_type(&vi, dom, VIRT_IOMMU_DOMAIN_BLOCKED) ==
          VIRT_IOMMU_S_OK, "DOMAIN_SET_TYPE %u BLOCKED", dom);
    err = dmadev_run(pf, DMA_TESTDEV_OP_COPY, b.src.gpa, b.dst.gpa, PAGE, 0,
                     &fault);
    check(err == DMA_TESTDEV_ERR_DMA_FAULT,
          "COPY in a BLOCKED domain refused: error %u at 0x%llx", err,
          (unsigned long long)fault);
    want[0] = (struct expect){ VIRT_IOMMU_EVT_FAULT, VIRT_IOMMU_FAULT_BLOCKED,
                               pf->rid, dom, 1, 0 };
    expect_events("BLOCKED", want, 1);

    step_begin("PF %s: BLOCKED -> DMA, faults", rid);
    check(viommu_set_type(&vi, dom, VIRT_IOMMU_DOMAIN_DMA) == VIRT_IOMMU_S_OK,
          "DOMAIN_SET_TYPE %u DMA", dom);
    hugemem_reset();
    if (alloc_bufs(&b) && map_bufs(dom, &b, 0)) {
        /* A DMA write to an IOVA nobody mapped. */
        err = dmadev_run(pf, DMA_TESTDEV_OP_COPY, b.src_io, UNMAPPED_IOVA,
                         PAGE, 0, &fault);
        check(err == DMA_TESTDEV_ERR_DMA_FAULT && fault == UNMAPPED_IOVA,
              "COPY to unmapped IOVA 0x%llx refused: error %u at 0x%llx",
              UNMAPPED_IOVA, err, (unsigned long long)fault);
        want[0] = (struct expect){ VIRT_IOMMU_EVT_FAULT,
                                   VIRT_IOMMU_FAULT_NOT_MAPPED, pf->rid, dom,
                                   1, 0 };
        expect_events("unmapped IOVA", want, 1);
        /* A DMA write into the read-only source mapping. */
        err = dmadev_run(pf, DMA_TESTDEV_OP_FILL, 0, b.src_io, PAGE,
                         0xdeadbeef, &fault);
        check(err == DMA_TESTDEV_ERR_DMA_FAULT && fault == b.src_io &&
              ((volatile uint32_t *)b.src.va)[0] != 0xdeadbeef,
              "FILL into read-only IOVA 0x%llx refused: error %u, memory "
              "untouched", (unsigned long long)b.src_io, err);
        want[0] = (struct expect){ VIRT_IOMMU_EVT_FAULT,
                                   VIRT_IOMMU_FAULT_PERMISSION, pf->rid, dom,
                                   1, 0 };
        expect_events("read-only IOVA", want, 1);
        traffic(pf, &b, "DMA after faults");
        unmap_bufs(dom, &b);
    }
    if (query(dom, &s)) {
        print_stats("before free", &s);
    }
    check(viommu_detach(&vi, pf->rid) == VIRT_IOMMU_S_OK &&
          viommu_domain_free(&vi, dom) == VIRT_IOMMU_S_OK,
          "%s detached, domain %u freed", rid, dom);
    sync_no_events("PF teardown");
}

/* One SR-IOV cycle: N VFs, a domain each, traffic, VFs removed. */
static void sriov_cycle(unsigned cycle, unsigned nvfs)
{
    /* Odd cycles detach first; even ones let the device notice. */
    bool leave_attached = cycle % 2 == 0;
    struct dmadev vf[MAX_VFS];
    struct expect want[MAX_VFS];
    char addrs[MAX_VFS][32];
    uint32_t dom[MAX_VFS];
    unsigned n, opened = 0;
    VirtIOMMUStats s;

    step_begin("SR-IOV cycle %u: %u VFs, %s", cycle, nvfs,
               leave_attached ? "removed while attached" : "detached first");
    if (!sriov_set(nvfs)) {
        return;
    }
    n = sriov_vfs(addrs, MAX_VFS);
    check(n == nvfs, "Linux enumerated %u VFs: %s%s%s", n, n ? addrs[0] : "",
          n > 1 ? " .. " : "", n > 1 ? addrs[n - 1] : "");
    for (unsigned i = 0; i < n; i++) {
        uint32_t type = i % 2 ? VIRT_IOMMU_DOMAIN_DMA_FQ :
                        VIRT_IOMMU_DOMAIN_DMA;

        if (!check(dmadev_open(&vf[i], addrs[i]) == 0, "VF %s: enabled, bus "
                   "master, resource0 mapped", addrs[i])) {
            break;
        }
        opened++;
        dom[i] = 0;
        if (cmd_ok(viommu_domain_alloc(&vi, type, &dom[i]), "DOMAIN_ALLOC") &&
            cmd_ok(viommu_attach(&vi, dom[i], vf[i].rid), "ATTACH %s",
                   addrs[i])) {
            round_trip(&vf[i], dom[i], viommu_type_name(type),
                       i == 0 ? FIXED_IOVA : 0);
        }
    }
    if (opened && dom[opened - 1] && query(dom[opened - 1], &s)) {
        print_stats("last VF's domain", &s);
    }
    sync_no_events("VF traffic");

    if (!leave_attached) {
        for (unsigned i = 0; i < opened; i++) {
            cmd_ok(viommu_detach(&vi, vf[i].rid), "DETACH");
            cmd_ok(viommu_domain_free(&vi, dom[i]), "DOMAIN_FREE %u", dom[i]);
        }
    }
    for (unsigned i = 0; i < opened; i++) {
        dmadev_close(&vf[i]);
    }
    sriov_set(0);
    check(sriov_vfs(addrs, MAX_VFS) == 0, "VFs gone from sysfs");
    if (leave_attached) {
        /* The device notices the vanished VFs before the next batch. */
        for (unsigned i = 0; i < opened; i++) {
            want[i] = (struct expect){ VIRT_IOMMU_EVT_ENDPOINT_GONE, 0,
                                       vf[i].rid, dom[i], 1, 0 };
        }
        do_sync("after sriov_numvfs = 0");
        expect_events("ENDPOINT_GONE", want, opened);
        for (unsigned i = 0; i < opened; i++) {
            cmd_ok(viommu_detach(&vi, vf[i].rid), "DETACH of a gone VF");
            cmd_ok(viommu_domain_free(&vi, dom[i]), "DOMAIN_FREE %u", dom[i]);
        }
        check(true, "%u gone VFs detached (OK), domains freed", opened);
    } else {
        sync_no_events("VF teardown");
    }
}

/* Domain 0's allocator counters that must come back to where they were. */
static bool same_baseline(const VirtIOMMUStats *a, const VirtIOMMUStats *b)
{
    return a->type == b->type && a->mappings == b->mappings &&
           a->iova_live_ranges == b->iova_live_ranges &&
           a->iova_live_pfns == b->iova_live_pfns &&
           a->mags_live == b->mags_live && a->depot_mags == b->depot_mags &&
           a->cached_pfns == b->cached_pfns &&
           a->process_mags_live == b->process_mags_live;
}

void demo_run(volatile void *bar, const struct demo_opts *o)
{
    VirtIOMMUStats base, end;
    struct pci_func pf_fn;
    struct dmadev pf;
    unsigned total = 0;
    uint32_t err, ctrl;
    int ret;

    opts = o;
    step_begin("virt-iommu: queues on, translation with default bypass");
    /* (Each result is taken before check() prints it.) */
    ret = hugemem_init(o->huge_pages);
    if (!check(ret == 0, "%u huge pages of %zu KiB mapped, guest-physical "
               "addresses from /proc/self/pagemap", o->huge_pages,
               hugemem_page_size() >> 10)) {
        return;
    }
    ret = viommu_start(&vi, bar, &err);
    ctrl = viommu_rd32(&vi, VIRT_IOMMU_REG_CONTROL);
    if (!check(ret == 0, "command queue at 0x%llx, event queue at 0x%llx, "
               "control 0x%x, error 0x%x", (unsigned long long)vi.cmdq.gpa,
               (unsigned long long)vi.evtq.gpa, ctrl, err)) {
        return;
    }
    hugemem_keep();
    sync_no_events("start");
    if (!query(0, &base)) {
        return;
    }
    print_stats("baseline", &base);

    if (!check(pci_find(o->pf_vendor, o->pf_device, &pf_fn) == 0,
               "dma-testdev PF %04x:%04x in " PCI_SYSFS_DEVICES,
               o->pf_vendor, o->pf_device)) {
        goto out;
    }
    note("PF at %s", pf_fn.addr);
    if (!sriov_setup(&pf_fn, &total)) {
        goto out;
    }
    if (!check(dmadev_open(&pf, pf_fn.addr) == 0, "PF %s: enabled, bus "
               "master, resource0 mapped", pf_fn.addr)) {
        goto out;
    }
    pf_type_changes(&pf);
    dmadev_close(&pf);

    for (unsigned c = 1; c <= o->cycles; c++) {
        /* A few VFs, all of them, some: the IDs get reused differently. */
        unsigned n = c % 3 == 1 ? 2 : c % 3 == 2 ? total : 3;

        if (o->max_vfs && n > o->max_vfs) {
            n = o->max_vfs;
        }
        if (n > total) {
            n = total;
        }
        if (n > MAX_VFS) {
            n = MAX_VFS;
        }
        sriov_cycle(c, n);
    }

out:
    step_begin("allocator back to baseline");
    if (query(0, &end)) {
        print_stats("after", &end);
        check(same_baseline(&base, &end), "domains %u -> %u, live ranges "
              "%llu -> %llu, magazines live %llu -> %llu, process magazines "
              "%llu -> %llu", base.type, end.type,
              (unsigned long long)base.iova_live_ranges,
              (unsigned long long)end.iova_live_ranges,
              (unsigned long long)base.mags_live,
              (unsigned long long)end.mags_live,
              (unsigned long long)base.process_mags_live,
              (unsigned long long)end.process_mags_live);
        printf("allocator: before: %u domains, %llu live ranges, %llu "
               "magazines live, %llu process magazines; after: %u domains, "
               "%llu live ranges, %llu magazines live, %llu process "
               "magazines; %s\n", base.type,
               (unsigned long long)base.iova_live_ranges,
               (unsigned long long)base.mags_live,
               (unsigned long long)base.process_mags_live, end.type,
               (unsigned long long)end.iova_live_ranges,
               (unsigned long long)end.mags_live,
               (unsigned long long)end.process_mags_live,
               same_baseline(&base, &end) ? "back to baseline" :
               "NOT back to baseline");
    }
    expect_events("end", NULL, 0);
    if (query(0, &end)) {
        check(end.events == vi.events_read && !end.events_dropped,
              "the device wrote %llu event records (%llu dropped), the tool "
              "read %llu", (unsigned long long)end.events,
              (unsigned long long)end.events_dropped,
              (unsigned long long)vi.events_read);
    }
    /* run-demo.sh compares this with 'info virt-iommu'. */
    printf("virt-iommu: %llu commands, %llu event records read\n",
           (unsigned long long)vi.commands,
           (unsigned long long)vi.events_read);
    /*
     * Leave the device as Linux found it: CONTROL at its reset value.  The
     * queue registers keep their bases and indexes, so 'info virt-iommu'
     * on the host still shows how far the queues went; a second run (in
     * the demo's shell) starts from the same state as the first.
     */
    viommu_stop(&vi);
}
