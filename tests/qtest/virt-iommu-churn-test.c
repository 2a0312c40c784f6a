/*
 * Lifecycle qtests of virt-iommu under DMA: SR-IOV VF churn with ring
 * traffic in flight, and domain type changes of an endpoint group with
 * traffic between them.  These are the lifecycles under which Linux's
 * IOVA rcache and depot were suspected of leaking magazines; every cycle
 * ends with the allocators' counters back at their baseline.
 *
 * SOAK=1 runs 100 times the cycles; VIRT_IOMMU_SOAK_CYCLES=N runs N
 * cycles in every suite that counts cycles (make soak).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/dma-testdev.h"
#include "libqos/virt-iommu.h"
#include "libqos/virt-iommu-rig.h"
#include "libqos/virt-iommu-lifecycle.h"

#define TOTAL_VFS       7
#define PAGE            4096ULL
/*
 * More descriptors than the device runs per doorbell, so that one
 * doorbell leaves the rest in flight when the VFs are switched off.
 */
#define RING_ENTRIES    512
#define RING_BYTES      (RING_ENTRIES * DMA_TESTDEV_DESC_SIZE)
#define DESCS           300
#define DESC_LEN        64
#define SRC_BYTES       PAGE
#define DST_BYTES       (8 * PAGE)      /* DESCS * DESC_LEN, rounded up */
#define TYPE_DESCS      32              /* per VF and type in suite 2 */
/*
 * A fresh 48-bit domain hands out IOVAs top-down, size-aligned: the ring
 * (8 pages), then the source page, then the destination (8 pages).
 */
#define IOVA_RING       0xffffffff8000ULL
#define IOVA_SRC        0xffffffff7000ULL
#define IOVA_DST        0xfffffffe8000ULL
/* Generous: a leak per cycle shows up as megabytes over the run. */
#define RSS_SLACK_KIB   (8 * 1024)

/*
 * The cycle after which QEMU's RSS is the baseline.  Every VF enable and
 * COMMAND write rebuilds the flat views of the address spaces and frees
 * the old ones through RCU, later; measured on QEMU 10.0, RSS climbs
 * while that backlog's high-water mark rises and then stays flat (the
 * same with the PF's COMMAND register alone, and without virt-iommu, to
 * a lower level).  The baseline is taken halfway, so that a real leak,
 * which grows without end, still fails the bound.
 */
static unsigned rss_baseline_cycle(unsigned cycles)
{
    return cycles / 2 - 1;
}

QEMU_BUILD_BUG_ON(DESCS * DESC_LEN > DST_BYTES);
QEMU_BUILD_BUG_ON(RING_BYTES != 8 * PAGE);

typedef struct Addrs {
    uint64_t ring, src, dst;
} Addrs;

typedef struct Fixture {
    QVirtIOMMURig rig;
    Addrs gpa[TOTAL_VFS];   /* each VF's buffers, guest-physical */
} Fixture;

static void fixture_start(Fixture *f)
{
    qvirt_iommu_rig_start(&f->rig, "-smp 2 "
                          "-device virt-iommu,addr=04.0,id=viommu "
                          "-device dma-testdev,addr=06.0",
                          6, 6, VIRT_IOMMU_CTRL_ENABLE);
    for (int i = 0; i < TOTAL_VFS; i++) {
        f->gpa[i].ring = guest_alloc(&f->rig.alloc, RING_BYTES);
        f->gpa[i].src = guest_alloc(&f->rig.alloc, SRC_BYTES);
        f->gpa[i].dst = guest_alloc(&f->rig.alloc, DST_BYTES);
    }
}

static void fixture_stop(Fixture *f)
{
    VirtIOMMUStats st;

    lc_assert_baseline(&f->rig.iommu, &st);
    qvirt_iommu_rig_stop(&f->rig);
}

/*
 * Writes @n COPY descriptors into the ring at @gpa->ring: descriptor j
 * copies DESC_LEN bytes from source slot j % 64 to destination slot j,
 * through the bus addresses @bus.  Fills the source with fresh random
 * bytes (returned in @src_data) and clears the destination.  Rings the
 * doorbell @doorbells times (0: until the ring is empty).
 */
static void ring_start(Fixture *f, QDmaTestdev *vf, const Addrs *gpa,
                       const Addrs *bus, uint32_t n, uint8_t *src_data,
                       int doorbells)
{
    g_autofree uint8_t *ring = g_malloc0(RING_BYTES);
    uint32_t kicks = 0;

    g_assert_cmpuint(n, <, RING_ENTRIES);
    for (size_t i = 0; i < SRC_BYTES; i++) {
        src_data[i] = g_test_rand_int();
    }
    qtest_memwrite(f->rig.qts, gpa->src, src_data, SRC_BYTES);
    qtest_memset(f->rig.qts, gpa->dst, 0, DST_BYTES);
    for (uint32_t j = 0; j < n; j++) {
        uint8_t *d = ring + j * DMA_TESTDEV_DESC_SIZE;

        stl_le_p(d + 0x00, DMA_TESTDEV_OP_COPY);
        stq_le_p(d + 0x08, bus->src + (j % 64) * DESC_LEN);
        stq_le_p(d + 0x10, bus->dst + j * DESC_LEN);
        stl_le_p(d + 0x18, DESC_LEN);
    }
    qtest_memwrite(f->rig.qts, gpa->ring, ring, RING_BYTES);
    qdma_testdev_writeq(vf, DMA_TESTDEV_REG_RING_BASE, bus->ring);
    qdma_testdev_writel(vf, DMA_TESTDEV_REG_RING_SIZE, RING_ENTRIES);
    qdma_testdev_writel(vf, DMA_TESTDEV_REG_RING_HEAD, 0);
    qdma_testdev_writel(vf, DMA_TESTDEV_REG_RING_TAIL, n);
    do {
        g_assert_cmpuint(kicks, <=, n);
        qdma_testdev_writel(vf, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
        g_assert_cmpuint(qdma_testdev_readl(vf, DMA_TESTDEV_REG_ERROR), ==,
                         DMA_TESTDEV_ERR_NONE);
        kicks++;
    } while (doorbells ? kicks < doorbells :
             qdma_testdev_readl(vf, DMA_TESTDEV_REG_RING_HEAD) != n);
}

/*
 * Checks that exactly the first @done of @n descriptors ran, each with
 * its data where it belongs, and that the rest left no trace.
 */
static void ring_check(Fixture *f, const Addrs *gpa, uint32_t n,
                       uint32_t done, const uint8_t *src_data)
{
    g_autofree uint8_t *ring = g_malloc(n * DMA_TESTDEV_DESC_SIZE);
    g_autofree uint8_t *dst = g_malloc(n * DESC_LEN);
    static const uint8_t zero[DESC_LEN];

    qtest_memread(f->rig.qts, gpa->ring, ring, n * DMA_TESTDEV_DESC_SIZE);
    qtest_memread(f->rig.qts, gpa->dst, dst, n * DESC_LEN);
    for (uint32_t j = 0; j < n; j++) {
        uint32_t status = ldl_le_p(ring + j * DMA_TESTDEV_DESC_SIZE +
                                   DMA_TESTDEV_DESC_STATUS);

        if (j < done) {
            g_assert_cmphex(status, ==, DMA_TESTDEV_DESC_ST_COMPLETE);
            g_assert_cmpmem(dst + j * DESC_LEN, DESC_LEN,
                            src_data + (j % 64) * DESC_LEN, DESC_LEN);
        } else {
            g_assert_cmphex(status, ==, 0);
            g_assert_cmpmem(dst + j * DESC_LEN, DESC_LEN, zero, DESC_LEN);
        }
    }
}

/* Maps a VF's three buffers into @dom; checks the IOVAs of a fresh domain */
static void map_bufs(Fixture *f, uint32_t dom, const Addrs *gpa, Addrs *bus)
{
    QVirtIOMMU *v = &f->rig.iommu;

    bus->ring = qvirt_iommu_map_ok(v, dom, gpa->ring, RING_BYTES,
                                   VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE,
                                   0);
    bus->src = qvirt_iommu_map_ok(v, dom, gpa->src, SRC_BYTES,
                                  VIRT_IOMMU_PERM_READ, 0);
    bus->dst = qvirt_iommu_map_ok(v, dom, gpa->dst, DST_BYTES,
                                  VIRT_IOMMU_PERM_WRITE, 0);
    g_assert_cmphex(bus->ring, ==, IOVA_RING);
    g_assert_cmphex(bus->src, ==, IOVA_SRC);
    g_assert_cmphex(bus->dst, ==, IOVA_DST);
}

static void unmap_bufs(Fixture *f, uint32_t dom, const Addrs *bus)
{
    QVirtIOMMU *v = &f->rig.iommu;

    g_assert_cmpuint(qvirt_iommu_unmap(v, dom, bus->ring, RING_BYTES), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(v, dom, bus->src, SRC_BYTES), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(v, dom, bus->dst, DST_BYTES), ==,
                     VIRT_IOMMU_S_OK);
}

/*
 * The allocator of a domain whose three buffers were mapped once and
 * unmapped: the IOVAs wait in this CPU's magazines (one of class 0 for
 * the source page, one of class 3 for ring and destination), or, for
 * DMA_FQ, in the flush queue with no magazine made yet.
 */
static void check_unmapped_domain(Fixture *f, uint32_t dom, uint8_t type)
{
    VirtIOMMUStats st;
    bool fq = type == VIRT_IOMMU_DOMAIN_DMA_FQ;

    qvirt_iommu_stats(&f->rig.iommu, dom, &st);
    g_assert_cmpuint(st.type, ==, type);
    g_assert_cmpuint(st.mappings, ==, 0);
    g_assert_cmpuint(st.fq_pending, ==, (fq ? 3 : 0));
    /* three cached or queued ranges and the MSI window */
    g_assert_cmpuint(st.iova_live_ranges, ==, 4);
    g_assert_cmpuint(st.iova_reserved_ranges, ==, 1);
    /* cached_pfns counts IOVAs (magazine entries), not pages */
    g_assert_cmpuint(st.cached_pfns, ==, (fq ? 0 : 3));
    g_assert_cmpuint(st.mags_live, ==, (fq ? 0 : 2));
    g_assert_cmpuint(st.iova_live_pfns, ==, 8 + 1 + 8 + 256);
    g_assert_cmpuint(st.depot_mags, ==, 0);
    g_assert_cmpuint(st.rcache_misses, ==, 3);
    g_assert_cmpuint(st.rcache_hits, ==, 0);
    lc_assert_mag_accounting(&st);
}

typedef enum ChurnMode {
    /* one doorbell: RING_BUDGET descriptors ran, the rest are in flight */
    CHURN_IN_FLIGHT,
    /* every descriptor ran just before the VFs go */
    CHURN_COMPLETED,
} ChurnMode;

typedef enum ChurnDriver {
    /* detaches and unmaps as Linux does, then frees the domains */
    DRIVER_CLEAN,
    /* switches the VFs off while attached and frees mapped domains */
    DRIVER_FORGETS,
} ChurnDriver;

/*
 * Pops the ENDPOINT_GONE records of the @n VFs, in any order (the device
 * walks a hash table), each naming that VF's domain.
 */
static void expect_endpoints_gone(Fixture *f, uint16_t n,
                                  const uint32_t *dom)
{
    bool seen[TOTAL_VFS] = { false };
    VirtIOMMUEvent evt;

    for (uint16_t k = 0; k < n; k++) {
        uint16_t i;

        g_assert_true(qvirt_iommu_pop_event(&f->rig.iommu, &evt));
        g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_ENDPOINT_GONE);
        for (i = 0; i < n; i++) {
            if (evt.endpoint == qdma_testdev_vf_devfn(&f->rig.pf, i)) {
                break;
            }
        }
        g_assert_cmpuint(i, <, n);
        g_assert_false(seen[i]);
        seen[i] = true;
        g_assert_cmpuint(evt.domain, ==, dom[i]);
    }
    qvirt_iommu_assert_no_event(&f->rig.iommu);
}

static void churn_cycle(Fixture *f, unsigned cycle, uint16_t n,
                        ChurnMode mode, ChurnDriver driver)
{
    QVirtIOMMU *v = &f->rig.iommu;
    QDmaTestdev vf[TOTAL_VFS];
    Addrs bus[TOTAL_VFS];
    uint32_t dom[TOTAL_VFS];
    uint8_t type[TOTAL_VFS];
    uint8_t src_data[TOTAL_VFS][SRC_BYTES];
    uint32_t done = mode == CHURN_IN_FLIGHT ? DMA_TESTDEV_RING_BUDGET : DESCS;
    VirtIOMMUStats st;

    qdma_testdev_vfs_enable(&f->rig.pf, n);
    for (uint16_t i = 0; i < n; i++) {
        qdma_testdev_vf_init(&vf[i], &f->rig.pf, i);
        type[i] = (cycle + i) % 2 ? VIRT_IOMMU_DOMAIN_DMA_FQ :
                                    VIRT_IOMMU_DOMAIN_DMA;
        dom[i] = qvirt_iommu_domain_alloc(v, type[i]);
        qvirt_iommu_attach(v, vf[i].dev->devfn, dom[i]);
        map_bufs(f, dom[i], &f->gpa[i], &bus[i]);
    }
    /* Every VF's ring is started before any VF goes away. */
    for (uint16_t i = 0; i < n; i++) {
        ring_start(f, &vf[i], &f->gpa[i], &bus[i], DESCS, src_data[i],
                   mode == CHURN_IN_FLIGHT ? 1 : 0);
        g_assert_cmpuint(qdma_testdev_readl(&vf[i],
                                            DMA_TESTDEV_REG_RING_HEAD), ==,
                         done);
    }
    for (uint16_t i = 0; i < n; i++) {
        ring_check(f, &f->gpa[i], DESCS, done, src_data[i]);
    }
    qvirt_iommu_stats(v, 0, &st);
    g_assert_cmpuint(st.type, ==, n);
    g_assert_cmpuint(st.endpoints, ==, n);
    g_assert_cmpuint(st.mappings, ==, 3 * n);

    if (driver == DRIVER_CLEAN) {
        for (uint16_t i = 0; i < n; i++) {
            g_assert_cmpuint(qvirt_iommu_detach(v, vf[i].dev->devfn), ==,
                             VIRT_IOMMU_S_OK);
        }
    }
    for (uint16_t i = 0; i < n; i++) {
        qdma_testdev_vf_cleanup(&vf[i]);
    }
    qdma_testdev_vfs_disable(&f->rig.pf);

    if (driver == DRIVER_CLEAN) {
        for (uint16_t i = 0; i < n; i++) {
            unmap_bufs(f, dom[i], &bus[i]);
            check_unmapped_domain(f, dom[i], type[i]);
        }
        qvirt_iommu_assert_no_event(v);
    } else {
        /* The first command batch after the VFs vanished detached them. */
        qvirt_iommu_stats(v, 0, &st);
        g_assert_cmpuint(st.endpoints, ==, 0);
        g_assert_cmpuint(st.mappings, ==, 3 * n);
        expect_endpoints_gone(f, n, dom);
    }
    for (uint16_t i = 0; i < n; i++) {
        g_assert_cmpuint(qvirt_iommu_domain_free(v, dom[i]), ==,
                         VIRT_IOMMU_S_OK);
    }
    /* The in-flight descriptors never ran: nothing moved after the free. */
    for (uint16_t i = 0; i < n; i++) {
        ring_check(f, &f->gpa[i], DESCS, done, src_data[i]);
    }
    lc_assert_baseline(v, &st);
    qvirt_iommu_assert_no_event(v);
}

/*
 * Suite 1: enable N VFs, one DMA or DMA_FQ domain each, ring traffic on
 * all of them, switch them off with traffic in flight or just completed,
 * and free the domains (or forget to detach first).  Many cycles, N
 * varying; the allocators, magazines and QEMU's memory stay where they
 * started.
 */
static void test_vf_churn(void)
{
    static const uint16_t counts[] = { 1, 7, 3, 5, 2, 6, 4, 7 };
    unsigned cycles = lc_cycles(64);
    uint64_t rss_first = 0, rss_start = 0, rss_end;
    uint64_t vfs_total = 0, gone_total = 0;
    VirtIOMMUStats st;
    Fixture f;

    fixture_start(&f);
    lc_assert_baseline(&f.rig.iommu, &st);
    for (unsigned c = 0; c < cycles; c++) {
        uint16_t n = counts[c % ARRAY_SIZE(counts)];
        /* Over each 4 cycles, every mode meets every driver. */
        ChurnMode mode = c % 2 ? CHURN_COMPLETED : CHURN_IN_FLIGHT;
        ChurnDriver driver = (c / 2) % 2 ? DRIVER_FORGETS : DRIVER_CLEAN;

        churn_cycle(&f, c, n, mode, driver);
        vfs_total += n;
        gone_total += driver == DRIVER_FORGETS ? n : 0;
        if (c == 0) {
            rss_first = lc_rss_kib(f.rig.qts);
        }
        if (c == rss_baseline_cycle(cycles)) {
            rss_start = lc_rss_kib(f.rig.qts);
        }
    }
    rss_end = lc_rss_kib(f.rig.qts);
    lc_assert_baseline(&f.rig.iommu, &st);
    g_assert_cmpuint(st.events, ==, gone_total);
    g_test_message("vf-churn: %u cycles, %" PRIu64 " VF lifetimes, %" PRIu64
                   " ENDPOINT_GONE records; QEMU VmRSS %" PRIu64 " KiB after "
                   "cycle 1, %" PRIu64 " KiB after cycle %u, %" PRIu64
                   " KiB at the end; process_mags_live %" PRIu64
                   ", IOTLB hits %" PRIu64 " misses %" PRIu64,
                   cycles, vfs_total, gone_total, rss_first, rss_start,
                   rss_baseline_cycle(cycles) + 1, rss_end,
                   st.process_mags_live, st.iotlb_hits, st.iotlb_misses);
    lc_assert_rss_stable(rss_start, rss_end, RSS_SLACK_KIB);
    fixture_stop(&f);
}

/* Ring traffic from each of @n VFs in turn through @bus, data checked. */
static void group_traffic(Fixture *f, QDmaTestdev *vf, int n,
                          const Addrs *bus)
{
    uint8_t src_data[SRC_BYTES];

    for (int i = 0; i < n; i++) {
        ring_start(f, &vf[i], &f->gpa[0], bus, TYPE_DESCS, src_data, 0);
        ring_check(f, &f->gpa[0], TYPE_DESCS, TYPE_DESCS, src_data);
    }
}

/* A single COPY from @from must fail at @from with this fault record. */
static void expect_dma_fault(Fixture *f, QDmaTestdev *vf, uint64_t from,
                             uint64_t to, uint8_t reason, uint32_t dom)
{
    g_assert_cmpuint(qdma_testdev_run(vf, DMA_TESTDEV_OP_COPY, from, to,
                                      DESC_LEN, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(vf, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    from);
    qvirt_iommu_expect_fault(&f->rig.iommu, reason, vf->dev->devfn, dom, from,
                             VIRT_IOMMU_PERM_READ);
}

/*
 * One turn of DMA -> DMA_FQ -> IDENTITY -> BLOCKED -> DMA on domain @dom,
 * which both VFs of @vf are attached to and which starts as a DMA domain
 * with a fresh allocator.  Each type's translation is checked with
 * traffic, and each teardown must give back every magazine.
 */
static void type_cycle(Fixture *f, QDmaTestdev *vf, uint32_t dom)
{
    QVirtIOMMU *v = &f->rig.iommu;
    const Addrs *gpa = &f->gpa[0];
    VirtIOMMUStats st;
    Addrs bus;
    uint64_t src2, flushes;

    /* DMA: translates, and only through mappings. */
    map_bufs(f, dom, gpa, &bus);
    group_traffic(f, vf, 2, &bus);
    expect_dma_fault(f, &vf[0], gpa->src, bus.dst,
                     VIRT_IOMMU_FAULT_NOT_MAPPED, dom);
    /* Strict: an unmapped IOVA is reusable at once, from the magazine. */
    g_assert_cmpuint(qvirt_iommu_unmap(v, dom, bus.dst, DST_BYTES), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmphex(qvirt_iommu_map_ok(v, dom, gpa->dst, DST_BYTES,
                                       VIRT_IOMMU_PERM_WRITE, 0), ==, IOVA_DST);
    qvirt_iommu_stats(v, dom, &st);
    g_assert_cmpuint(st.rcache_hits, ==, 1);
    g_assert_cmpuint(st.mags_live, ==, 1);

    /* DMA_FQ: same allocator and mappings, plus a flush queue. */
    g_assert_cmpuint(qvirt_iommu_set_type(v, dom, VIRT_IOMMU_DOMAIN_DMA_FQ), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(v, dom, &st);
    g_assert_cmpuint(st.type, ==, VIRT_IOMMU_DOMAIN_DMA_FQ);
    g_assert_cmpuint(st.endpoints, ==, 2);
    g_assert_cmpuint(st.mappings, ==, 3);
    g_assert_cmpuint(st.rcache_hits, ==, 1);
    g_assert_cmpuint(st.mags_live, ==, 1);
    /* a domain counter: it keeps counting across type changes */
    flushes = st.fq_flushes;
    group_traffic(f, vf, 2, &bus);
    /* An unmapped IOVA waits for the batch: a new MAP gets another. */
    g_assert_cmpuint(qvirt_iommu_unmap(v, dom, bus.src, SRC_BYTES), ==,
                     VIRT_IOMMU_S_OK);
    src2 = qvirt_iommu_map_ok(v, dom, gpa->src, SRC_BYTES, VIRT_IOMMU_PERM_READ,
                              0);
    /* the highest free page: the hole the destination's alignment left */
    g_assert_cmphex(src2, ==, IOVA_SRC - PAGE);
    qvirt_iommu_stats(v, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 1);
    g_assert_cmpuint(st.cached_pfns, ==, 0);
    /* After the batch, it is the first one handed out again. */
    g_assert_cmpuint(qvirt_iommu_invalidate_domain(v, dom), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(v, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 0);
    g_assert_cmpuint(st.fq_flushes, ==, flushes + 1);
    g_assert_cmpuint(st.cached_pfns, ==, 1);
    g_assert_cmphex(qvirt_iommu_map_ok(v, dom, gpa->src, SRC_BYTES,
                                       VIRT_IOMMU_PERM_READ, 0), ==, IOVA_SRC);
    g_assert_cmpuint(qvirt_iommu_unmap(v, dom, src2, SRC_BYTES), ==,
                     VIRT_IOMMU_S_OK);
    group_traffic(f, vf, 2, &bus);
    /* What the teardown must give back: 2 magazines, 1 queued IOVA. */
    qvirt_iommu_stats(v, dom, &st);
    g_assert_cmpuint(st.mappings, ==, 3);
    g_assert_cmpuint(st.fq_pending, ==, 1);
    g_assert_cmpuint(st.mags_live, ==, 2);
    g_assert_cmpuint(st.cached_pfns, ==, 0);
    g_assert_cmpuint(st.iova_live_ranges, ==, 5);
    qvirt_iommu_stats(v, 0, &st);
    g_assert_cmpuint(st.process_mags_live, ==, 2);

    /* IDENTITY: the old allocator is gone with every magazine. */
    g_assert_cmpuint(qvirt_iommu_set_type(v, dom, VIRT_IOMMU_DOMAIN_IDENTITY),
                     ==, VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(v, 0, &st);
    g_assert_cmpuint(st.endpoints, ==, 2);
    g_assert_cmpuint(st.mappings, ==, 0);
    g_assert_cmpuint(st.fq_pending, ==, 0);
    g_assert_cmpuint(st.iova_live_ranges, ==, 0);
    g_assert_cmpuint(st.mags_live, ==, 0);
    g_assert_cmpuint(st.cached_pfns, ==, 0);
    g_assert_cmpuint(st.process_mags_live, ==, 0);
    /* ...and DMA reaches guest-physical addresses untranslated. */
    group_traffic(f, vf, 2, gpa);

    /* BLOCKED: every access faults. */
    g_assert_cmpuint(qvirt_iommu_set_type(v, dom, VIRT_IOMMU_DOMAIN_BLOCKED),
                     ==, VIRT_IOMMU_S_OK);
    for (int i = 0; i < 2; i++) {
        expect_dma_fault(f, &vf[i], gpa->src, gpa->dst,
                         VIRT_IOMMU_FAULT_BLOCKED, dom);
    }

    /* DMA again: a fresh allocator, where the old IOVAs mean nothing. */
    g_assert_cmpuint(qvirt_iommu_set_type(v, dom, VIRT_IOMMU_DOMAIN_DMA), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(v, dom, &st);
    g_assert_cmpuint(st.iova_live_ranges, ==, 1);   /* the MSI window */
    g_assert_cmpuint(st.iova_reserved_ranges, ==, 1);
    g_assert_cmpuint(st.mags_allocated, ==, 0);
    g_assert_cmpuint(st.rcache_hits + st.rcache_misses, ==, 0);
    /* the teardown ran the queued IOVA's batch before freeing it */
    g_assert_cmpuint(st.fq_flushes, ==, flushes + 2);
    expect_dma_fault(f, &vf[0], IOVA_SRC, IOVA_DST,
                     VIRT_IOMMU_FAULT_NOT_MAPPED, dom);
    qvirt_iommu_assert_no_event(v);
}

/*
 * Suite 2: an endpoint group (two VFs sharing a domain) cycled through
 * DMA -> DMA_FQ -> IDENTITY -> BLOCKED -> DMA with traffic between the
 * changes, as Linux's sysfs changes a group's default domain.
 */
static void test_type_changes(void)
{
    unsigned cycles = lc_cycles(32);
    uint64_t rss_first = 0, rss_start = 0, rss_end;
    QDmaTestdev vf[2];
    VirtIOMMUStats st;
    uint32_t dom;
    Fixture f;

    fixture_start(&f);
    qdma_testdev_vfs_enable(&f.rig.pf, 2);
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    for (int i = 0; i < 2; i++) {
        qdma_testdev_vf_init(&vf[i], &f.rig.pf, i);
        qvirt_iommu_attach(&f.rig.iommu, vf[i].dev->devfn, dom);
    }
    for (unsigned c = 0; c < cycles; c++) {
        type_cycle(&f, vf, dom);
        if (c == 0) {
            rss_first = lc_rss_kib(f.rig.qts);
        }
        if (c == rss_baseline_cycle(cycles)) {
            rss_start = lc_rss_kib(f.rig.qts);
        }
    }
    rss_end = lc_rss_kib(f.rig.qts);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(qvirt_iommu_detach(&f.rig.iommu, vf[i].dev->devfn), ==,
                         VIRT_IOMMU_S_OK);
        qdma_testdev_vf_cleanup(&vf[i]);
    }
    qdma_testdev_vfs_disable(&f.rig.pf);
    g_assert_cmpuint(qvirt_iommu_domain_free(&f.rig.iommu, dom), ==,
                     VIRT_IOMMU_S_OK);
    lc_assert_baseline(&f.rig.iommu, &st);
    /* Per cycle: one NOT_MAPPED in DMA, two BLOCKED, one stale IOVA */
    g_assert_cmpuint(st.events, ==, 4 * cycles);
    g_test_message("type-changes: %u cycles of DMA -> DMA_FQ -> IDENTITY -> "
                   "BLOCKED -> DMA; %" PRIu64 " fault records; QEMU VmRSS %"
                   PRIu64 " KiB after cycle 1, %" PRIu64 " KiB after cycle "
                   "%u, %" PRIu64 " KiB at the end; process_mags_live %"
                   PRIu64, cycles, st.events, rss_first, rss_start,
                   rss_baseline_cycle(cycles) + 1, rss_end,
                   st.process_mags_live);
    lc_assert_rss_stable(rss_start, rss_end, RSS_SLACK_KIB);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/lifecycle/vf-churn", test_vf_churn);
    qtest_add_func("/virt-iommu/lifecycle/type-changes", test_type_changes);
    return g_test_run();
}
