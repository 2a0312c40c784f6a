/*
 * Lifecycle qtests of virt-iommu's IOVA caches: depot growth and its
 * trim on the virtual clock, exhaustion with flush-and-retry, domain
 * teardown racing pending trim work, a pending flush queue or another
 * endpoint's mappings, and CPU removal.  Each checks the allocator's
 * exact counters through QUERY_STATS.
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
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/virt-iommu.h"
#include "libqos/virt-iommu-lifecycle.h"

#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define PF_DEVFN        QPCI_DEVFN(6, 0)
#define PAGE            4096ULL
#define RW              (VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE)
#define MSI_PAGES       256     /* the reserved MSI window, 1 MiB */
/* The allocator's depot trim delay (Linux's IOVA_DEPOT_DELAY) */
#define TRIM_DELAY_NS   (100 * 1000 * 1000LL)
#define MAG_SIZE        127     /* IOVA_MAG_SIZE, the default */

typedef struct Fixture {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    QVirtIOMMU iommu;
    uint64_t buf;           /* a guest page every mapping points at */
} Fixture;

static void fixture_start(Fixture *f, unsigned smp, const char *more)
{
    f->qts = qtest_initf("-M q35 -m 256M -smp %u -nodefaults "
                         "-device virt-iommu,addr=04.0,id=viommu%s",
                         smp, more);
    f->bus = qpci_new_pc(f->qts, NULL);
    pc_alloc_init(&f->alloc, f->qts, ALLOC_NO_FLAGS);
    qvirt_iommu_init(&f->iommu, f->bus, IOMMU_DEVFN);
    qvirt_iommu_start(&f->iommu, &f->alloc, 6, 6, VIRT_IOMMU_CTRL_ENABLE);
    f->buf = guest_alloc(&f->alloc, 2 * PAGE);
}

static void fixture_stop(Fixture *f)
{
    VirtIOMMUStats st;

    qvirt_iommu_assert_no_event(&f->iommu);
    lc_assert_baseline(&f->iommu, &st);
    qvirt_iommu_cleanup(&f->iommu);
    alloc_destroy(&f->alloc);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
}

/*
 * Magazines the rcache has after @frees frees of one size class on one
 * CPU, from none, with magazines of @mag IOVAs: loaded fills, then prev,
 * then each further magazine's worth moves a full loaded to the depot.
 */
static uint64_t depot_after(uint64_t frees, uint64_t mag)
{
    return frees > 2 * mag ? DIV_ROUND_UP(frees - 2 * mag, mag) : 0;
}

static uint64_t mags_after(uint64_t frees, uint64_t mag)
{
    return MIN(DIV_ROUND_UP(frees, mag), 2) + depot_after(frees, mag);
}

/*
 * Maps @n ranges of @pages pages, then unmaps them all, on the CPU the
 * x-rcache-cpu hook names.  Stores the IOVAs in @iova if not NULL.
 */
static void map_unmap(Fixture *f, uint32_t dom, unsigned n, uint64_t pages,
                      uint64_t *iova)
{
    g_autofree uint64_t *own = g_new(uint64_t, n);

    iova = iova ? iova : own;
    for (unsigned i = 0; i < n; i++) {
        iova[i] = qvirt_iommu_map_ok(&f->iommu, dom, f->buf, pages * PAGE, RW,
                                     0);
    }
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpuint(qvirt_iommu_unmap(&f->iommu, dom, iova[i],
                                           pages * PAGE), ==, VIRT_IOMMU_S_OK);
    }
}

typedef struct TrimCase {
    unsigned smp;           /* vCPUs: the depot's bound */
    unsigned over;          /* magazines the depot grows past it */
} TrimCase;

/*
 * Suite 3: frees of two size classes (1 and 2 pages) fill magazines until
 * each depot holds smp + over; the trim delay then passes on the virtual
 * clock period by period, each run trimming exactly one magazine of each
 * class, until the depots are back at smp.  Finally the depots grow again
 * and the domain is destroyed with a trim pending.
 */
static void test_depot_trim(const void *data)
{
    const TrimCase *tc = data;
    uint64_t depot = tc->smp + tc->over;
    uint64_t frees = (depot + 2) * MAG_SIZE;
    uint64_t cached = 2 * frees;
    VirtIOMMUStats st;
    uint32_t dom;
    Fixture f;

    g_assert_cmpuint(depot_after(frees, MAG_SIZE), ==, depot);
    fixture_start(&f, tc->smp, "");
    dom = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_DMA);
    map_unmap(&f, dom, frees, 1, NULL);
    map_unmap(&f, dom, frees, 2, NULL);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.depot_mags, ==, 2 * depot);
    g_assert_cmpuint(st.mags_live, ==, 2 * mags_after(frees, MAG_SIZE));
    g_assert_cmpuint(st.cached_pfns, ==, cached);
    g_assert_cmpuint(st.iova_live_ranges, ==, cached + 1);
    g_assert_cmpuint(st.iova_live_pfns, ==, 3 * frees + MSI_PAGES);
    g_assert_cmpuint(st.depot_trims, ==, 0);

    /* Nothing runs before the delay has passed. */
    qtest_clock_step(f.qts, TRIM_DELAY_NS - 1);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.depot_trims, ==, 0);
    qtest_clock_step(f.qts, 1);
    for (unsigned t = 1; t <= tc->over; t++) {
        /* One magazine of each class per period, its IOVAs to the tree */
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.depot_trims, ==, 2 * t);
        g_assert_cmpuint(st.depot_mags, ==, 2 * (depot - t));
        g_assert_cmpuint(st.mags_live, ==, 2 * (depot - t + 2));
        g_assert_cmpuint(st.cached_pfns, ==, cached - 2 * t * MAG_SIZE);
        g_assert_cmpuint(st.iova_live_ranges, ==,
                         cached - 2 * t * MAG_SIZE + 1);
        g_assert_cmpuint(st.iova_live_pfns, ==,
                         3 * (frees - t * MAG_SIZE) + MSI_PAGES);
        lc_assert_mag_accounting(&st);
        qtest_clock_step(f.qts, TRIM_DELAY_NS);
    }
    /* At the bound the work stops asking to run. */
    qtest_clock_step(f.qts, 10 * TRIM_DELAY_NS);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.depot_trims, ==, 2 * tc->over);
    g_assert_cmpuint(st.depot_mags, ==, 2 * tc->smp);

    /*
     * The cached IOVAs serve new maps (loaded, prev, then the depot) and
     * their frees overfill the depots again: a trim is pending when the
     * domain goes.
     */
    map_unmap(&f, dom, frees, 1, NULL);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.depot_mags, >, 2 * tc->smp);
    g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom), ==,
                     VIRT_IOMMU_S_OK);
    lc_assert_baseline(&f.iommu, &st);
    /* The freed domain's trim never runs, on it or on its successor. */
    dom = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_DMA);
    qtest_clock_step(f.qts, 10 * TRIM_DELAY_NS);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.depot_trims, ==, 0);
    g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom), ==,
                     VIRT_IOMMU_S_OK);
    fixture_stop(&f);
}

/* Below this limit only pfns 1..63 exist: IOVA 0 is never handed out. */
#define SMALL_LIMIT     0x3ffffULL
#define SMALL_PAGES     63

static uint16_t map_small(Fixture *f, uint32_t dom, uint64_t pages,
                          uint64_t *iova)
{
    return qvirt_iommu_map(&f->iommu, dom, f->buf, pages * PAGE, RW,
                           SMALL_LIMIT, iova);
}

/* Maps single pages below SMALL_LIMIT until NO_SPACE; returns how many. */
static unsigned fill_small(Fixture *f, uint32_t dom, uint64_t top,
                           uint64_t *iova)
{
    unsigned n = 0;

    while (map_small(f, dom, 1, &iova[n]) == VIRT_IOMMU_S_OK) {
        /* Top-down, one page below the last, from the highest free. */
        g_assert_cmphex(iova[n], ==, top - n * PAGE);
        n++;
        g_assert_cmpuint(n, <=, SMALL_PAGES);
    }
    return n;
}

/*
 * Suite 6: fill a small aperture (a MAP limit) until MAP fails with
 * NO_SPACE; the IOVAs unmapped into two CPUs' magazines are reclaimed by
 * the allocator's flush-and-retry for a size no magazine holds; free and
 * carry on.  The flush queue is out of the retry's reach until its batch.
 */
static void test_exhaustion(void)
{
    unsigned cycles = lc_cycles(8);
    uint64_t iova[SMALL_PAGES + 1], big, flushes = 0;
    VirtIOMMUStats st;
    uint32_t dom;
    Fixture f;

    fixture_start(&f, 2, "");
    for (unsigned c = 0; c < cycles; c++) {
        dom = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_DMA);
        g_assert_cmpuint(fill_small(&f, dom, SMALL_LIMIT + 1 - PAGE, iova),
                         ==, SMALL_PAGES);
        /* The failed MAP flushed the (empty) caches and retried once. */
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.rcache_flushes, ==, 1);
        g_assert_cmpuint(st.iova_live_ranges, ==, SMALL_PAGES + 1);

        /* Half the IOVAs wait in CPU 0's magazine, half in CPU 1's. */
        for (unsigned i = 0; i < SMALL_PAGES; i++) {
            lc_qom_set_int(f.qts, "x-rcache-cpu", i % 2);
            g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[i], PAGE),
                             ==, VIRT_IOMMU_S_OK);
        }
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.cached_pfns, ==, SMALL_PAGES);
        g_assert_cmpuint(st.mags_live, ==, 2);
        g_assert_cmpuint(st.iova_live_ranges, ==, SMALL_PAGES + 1);

        /* Two pages: no magazine has any, the tree is full: flush, retry */
        g_assert_cmpuint(map_small(&f, dom, 2, &big), ==, VIRT_IOMMU_S_OK);
        g_assert_cmphex(big, ==, SMALL_LIMIT + 1 - 2 * PAGE);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.rcache_flushes, ==, 2);
        g_assert_cmpuint(st.cached_pfns, ==, 0);
        g_assert_cmpuint(st.mags_live, ==, 0);
        g_assert_cmpuint(st.iova_live_ranges, ==, 2);

        /* Carry on: the rest of the space, then NO_SPACE again. */
        g_assert_cmpuint(fill_small(&f, dom, big - PAGE, iova), ==,
                         SMALL_PAGES - 2);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.rcache_flushes, ==, 3);
        /* The two-page range, cached, comes back for a single page. */
        g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, big, 2 * PAGE), ==,
                         VIRT_IOMMU_S_OK);
        g_assert_cmpuint(map_small(&f, dom, 1, &iova[0]), ==,
                         VIRT_IOMMU_S_OK);
        g_assert_cmphex(iova[0], ==, SMALL_LIMIT + 1 - PAGE);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.rcache_flushes, ==, 4);
        g_assert_cmpuint(st.mappings, ==, SMALL_PAGES - 1);
        flushes += st.rcache_flushes;
        g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom), ==,
                         VIRT_IOMMU_S_OK);
        lc_assert_baseline(&f.iommu, &st);
        lc_qom_set_int(f.qts, "x-rcache-cpu", -1);

        /* DMA_FQ: unmapped IOVAs are in neither tree nor magazine. */
        dom = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_DMA_FQ);
        g_assert_cmpuint(fill_small(&f, dom, SMALL_LIMIT + 1 - PAGE, iova),
                         ==, SMALL_PAGES);
        for (unsigned i = 0; i < SMALL_PAGES; i++) {
            g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[i], PAGE),
                             ==, VIRT_IOMMU_S_OK);
        }
        g_assert_cmpuint(map_small(&f, dom, 1, &big), ==,
                         VIRT_IOMMU_S_NO_SPACE);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.fq_pending, ==, SMALL_PAGES);
        g_assert_cmpuint(st.rcache_flushes, ==, 2);
        /* After the batch the magazine serves, last freed first... */
        g_assert_cmpuint(qvirt_iommu_invalidate_domain(&f.iommu, dom), ==,
                         VIRT_IOMMU_S_OK);
        g_assert_cmpuint(map_small(&f, dom, 1, &big), ==, VIRT_IOMMU_S_OK);
        g_assert_cmphex(big, ==, iova[SMALL_PAGES - 1]);
        /* ...and a flush gives the rest back to the tree for two pages. */
        g_assert_cmpuint(map_small(&f, dom, 2, &big), ==, VIRT_IOMMU_S_OK);
        g_assert_cmphex(big, ==, SMALL_LIMIT + 1 - 2 * PAGE);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.rcache_flushes, ==, 3);
        g_assert_cmpuint(st.rcache_hits, ==, 1);
        g_assert_cmpuint(st.cached_pfns, ==, 0);
        g_assert_cmpuint(st.mappings, ==, 2);
        flushes += st.rcache_flushes;
        g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom), ==,
                         VIRT_IOMMU_S_OK);
        lc_assert_baseline(&f.iommu, &st);
    }
    g_test_message("exhaustion: %u cycles, %" PRIu64 " full rcache flushes",
                   cycles, flushes);
    fixture_stop(&f);
}

/*
 * Writes @n commands at the tail and rings the doorbell once, so that
 * the device runs them as one batch; stores each status and result.
 */
static void submit_batch(QVirtIOMMU *v, const VirtIOMMUCmd *cmds, unsigned n,
                         uint16_t *status, uint64_t *result)
{
    QTestState *qts = v->dev->bus->qts;
    uint32_t mask = (1u << v->cmdq_log2) - 1;
    uint32_t tail = qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_TAIL);

    g_assert_cmpuint(n, <, mask);
    for (unsigned i = 0; i < n; i++) {
        uint8_t le[sizeof(VirtIOMMUCmd)] = { 0 };

        le[0] = cmds[i].opcode;
        stl_le_p(le + offsetof(VirtIOMMUCmd, domain), cmds[i].domain);
        stl_le_p(le + offsetof(VirtIOMMUCmd, endpoint), cmds[i].endpoint);
        stl_le_p(le + offsetof(VirtIOMMUCmd, arg), cmds[i].arg);
        stq_le_p(le + offsetof(VirtIOMMUCmd, iova), cmds[i].iova);
        stq_le_p(le + offsetof(VirtIOMMUCmd, addr), cmds[i].addr);
        stq_le_p(le + offsetof(VirtIOMMUCmd, size), cmds[i].size);
        stq_le_p(le + offsetof(VirtIOMMUCmd, limit), cmds[i].limit);
        qtest_memwrite(qts, v->cmdq + ((tail + i) & mask) * sizeof(le), le,
                       sizeof(le));
    }
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL, (tail + n) & mask);
    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_HEAD), ==,
                     (tail + n) & mask);
    for (unsigned i = 0; i < n; i++) {
        uint8_t le[sizeof(VirtIOMMUCmd)];

        qtest_memread(qts, v->cmdq + ((tail + i) & mask) * sizeof(le), le,
                      sizeof(le));
        status[i] = lduw_le_p(le + offsetof(VirtIOMMUCmd, status));
        result[i] = ldq_le_p(le + offsetof(VirtIOMMUCmd, result));
    }
}

typedef enum Teardown {
    TEARDOWN_FREE,          /* DOMAIN_FREE */
    TEARDOWN_IDENTITY,      /* DOMAIN_SET_TYPE to IDENTITY */
    TEARDOWN_BLOCKED,       /* DOMAIN_SET_TYPE to BLOCKED */
    TEARDOWN_COUNT,
} Teardown;

/* Tears @dom's allocator down the @how way; the domain is gone after. */
static void teardown(Fixture *f, uint32_t dom, Teardown how)
{
    VirtIOMMUStats st;

    if (how == TEARDOWN_IDENTITY || how == TEARDOWN_BLOCKED) {
        uint8_t type = how == TEARDOWN_IDENTITY ? VIRT_IOMMU_DOMAIN_IDENTITY
                                                : VIRT_IOMMU_DOMAIN_BLOCKED;

        g_assert_cmpuint(qvirt_iommu_set_type(&f->iommu, dom, type), ==,
                         VIRT_IOMMU_S_OK);
        /* The whole process has no magazine left before the free. */
        qvirt_iommu_stats(&f->iommu, 0, &st);
        g_assert_cmpuint(st.process_mags_live, ==, 0);
        g_assert_cmpuint(st.iova_live_ranges, ==, 0);
    }
    g_assert_cmpuint(qvirt_iommu_domain_free(&f->iommu, dom), ==,
                     VIRT_IOMMU_S_OK);
}

/*
 * Suite 5a: the domain's allocator goes (freed, or its type changed)
 * halfway through the trim delay.  Its trim must never run, neither on
 * it nor on the domain that reuses its ID, whose own trim runs exactly
 * one delay after its own depot overflowed.
 */
static void test_race_trim_pending(void)
{
    /* mag-size 2: 14 frees overfill the depot by 3 past 2 vCPUs */
    enum { MAG = 2, FREES = 14 };
    unsigned cycles = lc_cycles(6);
    VirtIOMMUStats st;
    Fixture f;

    fixture_start(&f, 2, ",mag-size=2");
    for (unsigned c = 0; c < cycles; c++) {
        uint32_t dom = qvirt_iommu_domain_alloc(&f.iommu,
                                                VIRT_IOMMU_DOMAIN_DMA);

        map_unmap(&f, dom, FREES, 1, NULL);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.depot_mags, ==, depot_after(FREES, MAG));
        g_assert_cmpuint(st.depot_mags, ==, 5);
        qtest_clock_step(f.qts, TRIM_DELAY_NS / 2);
        teardown(&f, dom, c % TEARDOWN_COUNT);
        lc_assert_baseline(&f.iommu, &st);

        /* The successor overflows its depot half a delay later. */
        g_assert_cmpuint(qvirt_iommu_domain_alloc(&f.iommu,
                                                  VIRT_IOMMU_DOMAIN_DMA), ==,
                         dom);
        map_unmap(&f, dom, FREES, 1, NULL);
        qtest_clock_step(f.qts, TRIM_DELAY_NS / 2);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.depot_trims, ==, 0);
        g_assert_cmpuint(st.depot_mags, ==, 5);
        qtest_clock_step(f.qts, TRIM_DELAY_NS / 2);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.depot_trims, ==, 1);
        g_assert_cmpuint(st.depot_mags, ==, 4);
        g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom), ==,
                         VIRT_IOMMU_S_OK);
        lc_assert_baseline(&f.iommu, &st);
    }
    g_test_message("race/trim-pending: %u cycles", cycles);
    fixture_stop(&f);
}

/*
 * Suite 5b: a DMA_FQ domain goes with its flush-queue timer pending.
 * The queued IOVAs are released through the batch first (exact
 * counters), and the stale timer touches nothing afterwards, not even
 * the domain that reuses the ID with its own queue pending.
 */
static void test_race_fq_timer(void)
{
    enum { N = 3, FQ_TIMEOUT_NS = 10 * 1000 * 1000 };
    unsigned cycles = lc_cycles(8);
    uint64_t iova[N];
    VirtIOMMUStats st;
    Fixture f;

    fixture_start(&f, 2, "");
    for (unsigned c = 0; c < cycles; c++) {
        uint32_t dom = qvirt_iommu_domain_alloc(&f.iommu,
                                                VIRT_IOMMU_DOMAIN_DMA_FQ);

        map_unmap(&f, dom, N, 1, iova);
        qtest_clock_step(f.qts, FQ_TIMEOUT_NS / 2);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.fq_pending, ==, N);
        g_assert_cmpuint(st.fq_flushes, ==, 0);
        if (c % (TEARDOWN_COUNT + 1) == TEARDOWN_COUNT) {
            /* DMA_FQ -> DMA keeps the allocator and runs the batch now. */
            g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom,
                                                  VIRT_IOMMU_DOMAIN_DMA), ==,
                             VIRT_IOMMU_S_OK);
            qvirt_iommu_stats(&f.iommu, dom, &st);
            g_assert_cmpuint(st.fq_pending, ==, 0);
            g_assert_cmpuint(st.fq_flushes, ==, 1);
            g_assert_cmpuint(st.cached_pfns, ==, N);
            g_assert_cmpuint(st.mags_live, ==, 1);
            /* Strict now: the cached IOVAs come back, last first. */
            g_assert_cmphex(qvirt_iommu_map_ok(&f.iommu, dom, f.buf, PAGE, RW,
                                               0), ==, iova[N - 1]);
            g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom), ==,
                             VIRT_IOMMU_S_OK);
        } else {
            teardown(&f, dom, c % (TEARDOWN_COUNT + 1));
        }
        lc_assert_baseline(&f.iommu, &st);

        g_assert_cmpuint(qvirt_iommu_domain_alloc(&f.iommu,
                                                  VIRT_IOMMU_DOMAIN_DMA_FQ),
                         ==, dom);
        map_unmap(&f, dom, 1, 1, NULL);
        qtest_clock_step(f.qts, FQ_TIMEOUT_NS / 2);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.fq_pending, ==, 1);
        g_assert_cmpuint(st.fq_flushes, ==, 0);
        qtest_clock_step(f.qts, FQ_TIMEOUT_NS / 2);
        qvirt_iommu_stats(&f.iommu, dom, &st);
        g_assert_cmpuint(st.fq_pending, ==, 0);
        g_assert_cmpuint(st.fq_flushes, ==, 1);
        g_assert_cmpuint(st.cached_pfns, ==, 1);
        g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom), ==,
                         VIRT_IOMMU_S_OK);
        lc_assert_baseline(&f.iommu, &st);
    }
    g_test_message("race/fq-timer: %u cycles", cycles);
    fixture_stop(&f);
}

/*
 * Suite 5c: one endpoint's driver tears the shared domain down while
 * another endpoint's driver maps into it, in one command batch, and then
 * while that endpoint's VF vanishes.  Commands run in order, so the
 * outcome is fixed: the free is refused while an endpoint is attached,
 * the other endpoint's mappings keep translating, and once it has gone
 * (swept before the batch) the same batch's free takes every mapping.
 */
static void test_race_other_endpoint(void)
{
    unsigned cycles = lc_cycles(8);
    QDmaTestdevPF pf;
    VirtIOMMUStats st;
    VirtIOMMUEvent evt;
    Fixture f;
    uint64_t src, dst;

    fixture_start(&f, 2, " -device dma-testdev,addr=06.0");
    qdma_testdev_pf_init(&pf, f.bus, PF_DEVFN);
    src = guest_alloc(&f.alloc, PAGE);
    dst = guest_alloc(&f.alloc, PAGE);
    for (unsigned c = 0; c < cycles; c++) {
        QDmaTestdev vf[2];
        uint16_t status[4];
        uint64_t result[4];
        uint32_t dom;
        uint8_t in[64], out[64];

        qdma_testdev_vfs_enable(&pf, 2);
        dom = qvirt_iommu_domain_alloc(&f.iommu, c % 2 ?
                                       VIRT_IOMMU_DOMAIN_DMA_FQ :
                                       VIRT_IOMMU_DOMAIN_DMA);
        for (int i = 0; i < 2; i++) {
            qdma_testdev_vf_init(&vf[i], &pf, i);
            qvirt_iommu_attach(&f.iommu, vf[i].dev->devfn, dom);
        }
        submit_batch(&f.iommu, (VirtIOMMUCmd[]) {
            { .opcode = VIRT_IOMMU_CMD_MAP, .domain = dom, .addr = src,
              .size = PAGE, .arg = VIRT_IOMMU_PERM_READ },
            { .opcode = VIRT_IOMMU_CMD_DETACH,
              .endpoint = vf[0].dev->devfn },
            { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = dom },
            { .opcode = VIRT_IOMMU_CMD_MAP, .domain = dom, .addr = dst,
              .size = PAGE, .arg = VIRT_IOMMU_PERM_WRITE },
        }, 4, status, result);
        g_assert_cmpuint(status[0], ==, VIRT_IOMMU_S_OK);
        g_assert_cmpuint(status[1], ==, VIRT_IOMMU_S_OK);
        g_assert_cmpuint(status[2], ==, VIRT_IOMMU_S_BUSY);
        g_assert_cmpuint(status[3], ==, VIRT_IOMMU_S_OK);
        g_assert_cmphex(result[0], ==, 0xfffffffff000ULL);
        g_assert_cmphex(result[3], ==, 0xffffffffe000ULL);

        /* The remaining endpoint's DMA goes through both mappings. */
        for (size_t i = 0; i < sizeof(in); i++) {
            in[i] = c + i * 7;
        }
        qtest_memwrite(f.qts, src, in, sizeof(in));
        qtest_memset(f.qts, dst, 0, sizeof(out));
        g_assert_cmpuint(qdma_testdev_run(&vf[1], DMA_TESTDEV_OP_COPY,
                                          result[0], result[3], sizeof(in),
                                          0), ==, DMA_TESTDEV_ERR_NONE);
        qtest_memread(f.qts, dst, out, sizeof(out));
        g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
        /* The detached one is blocked (no default bypass), domain 0. */
        g_assert_cmpuint(qdma_testdev_run(&vf[0], DMA_TESTDEV_OP_COPY,
                                          result[0], result[3], sizeof(in),
                                          0), ==, DMA_TESTDEV_ERR_DMA_FAULT);
        qvirt_iommu_expect_fault(&f.iommu, VIRT_IOMMU_FAULT_BLOCKED,
                                 vf[0].dev->devfn, 0, result[0],
                                 VIRT_IOMMU_PERM_READ);

        /* The VFs vanish; the next batch maps, then frees. */
        for (int i = 0; i < 2; i++) {
            qdma_testdev_vf_cleanup(&vf[i]);
        }
        qdma_testdev_vfs_disable(&pf);
        submit_batch(&f.iommu, (VirtIOMMUCmd[]) {
            { .opcode = VIRT_IOMMU_CMD_MAP, .domain = dom, .addr = src,
              .size = PAGE, .arg = VIRT_IOMMU_PERM_READ },
            { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = dom },
        }, 2, status, result);
        g_assert_cmpuint(status[0], ==, VIRT_IOMMU_S_OK);
        g_assert_cmpuint(status[1], ==, VIRT_IOMMU_S_OK);
        g_assert_true(qvirt_iommu_pop_event(&f.iommu, &evt));
        g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_ENDPOINT_GONE);
        g_assert_cmphex(evt.endpoint, ==, qdma_testdev_vf_devfn(&pf, 1));
        g_assert_cmpuint(evt.domain, ==, dom);
        qvirt_iommu_assert_no_event(&f.iommu);
        lc_assert_baseline(&f.iommu, &st);
    }
    g_test_message("race/other-endpoint: %u cycles", cycles);
    guest_free(&f.alloc, src);
    guest_free(&f.alloc, dst);
    qdma_testdev_pf_cleanup(&pf);
    fixture_stop(&f);
}

/*
 * Suite 4: IOVAs freed on four vCPUs (attributed through the x-rcache-cpu
 * hook, since qtest rings doorbells without a vCPU) wait in each CPU's
 * magazines; removing a CPU through the x-cpu-dead path returns exactly
 * its cached IOVAs to the tree in every domain and frees its magazines,
 * leaving the other CPUs' and the shared depot alone.
 */
static void test_cpu_dead(void)
{
    /* mag-size 8: CPU c frees 4 + 5c; CPU 3 (19) also fills the depot */
    enum { MAG = 8, NCPU = 4 };
    static const unsigned frees[NCPU] = { 4, 9, 14, 19 };
    /* CPU 3: loaded 3, prev 8, one magazine of 8 in the depot */
    static const unsigned held[NCPU] = { 4, 9, 14, 11 };
    unsigned cycles = lc_cycles(8);
    uint64_t cpu_flushes = 0;
    VirtIOMMUStats st;
    Fixture f;

    fixture_start(&f, NCPU, ",mag-size=8");
    for (unsigned c = 0; c < cycles; c++) {
        uint32_t dom[2];
        uint64_t cached = 0, mags = 0, depot = 0;
        unsigned dead = c % NCPU, other = (c + 1) % NCPU;

        for (int d = 0; d < 2; d++) {
            dom[d] = qvirt_iommu_domain_alloc(&f.iommu, d ?
                                              VIRT_IOMMU_DOMAIN_DMA_FQ :
                                              VIRT_IOMMU_DOMAIN_DMA);
        }
        for (unsigned cpu = 0; cpu < NCPU; cpu++) {
            lc_qom_set_int(f.qts, "x-rcache-cpu", cpu);
            for (int d = 0; d < 2; d++) {
                map_unmap(&f, dom[d], frees[cpu], 1, NULL);
            }
            cached += frees[cpu];
            mags += mags_after(frees[cpu], MAG);
            depot += depot_after(frees[cpu], MAG);
        }
        /* DMA_FQ: the batch frees on the CPU that runs it */
        lc_qom_set_int(f.qts, "x-rcache-cpu", 0);
        g_assert_cmpuint(qvirt_iommu_invalidate_domain(&f.iommu, dom[1]), ==,
                         VIRT_IOMMU_S_OK);
        qvirt_iommu_stats(&f.iommu, dom[0], &st);
        g_assert_cmpuint(st.cached_pfns, ==, cached);
        g_assert_cmpuint(st.mags_live, ==, mags);
        g_assert_cmpuint(st.depot_mags, ==, depot);
        g_assert_cmpuint(st.iova_live_ranges, ==, cached + 1);

        lc_qom_set_int(f.qts, "x-cpu-dead", dead);
        qvirt_iommu_stats(&f.iommu, dom[0], &st);
        g_assert_cmpuint(st.cpu_flushes, ==, 1);
        g_assert_cmpuint(st.cached_pfns, ==, cached - held[dead]);
        g_assert_cmpuint(st.iova_live_ranges, ==, cached - held[dead] + 1);
        g_assert_cmpuint(st.iova_live_pfns, ==,
                         cached - held[dead] + MSI_PAGES);
        g_assert_cmpuint(st.mags_live, ==, mags - MIN(2, frees[dead] / MAG +
                                                      !!(frees[dead] % MAG)));
        g_assert_cmpuint(st.depot_mags, ==, depot);
        lc_assert_mag_accounting(&st);
        /*
         * ...and in the other domain, where the batch freed all 46 on
         * CPU 0: 4 magazines to the depot, 14 IOVAs held by CPU 0.
         */
        qvirt_iommu_stats(&f.iommu, dom[1], &st);
        g_assert_cmpuint(st.cpu_flushes, ==, (dead == 0 ? 1 : 0));
        g_assert_cmpuint(st.depot_mags, ==, 4);
        g_assert_cmpuint(st.cached_pfns, ==, (dead == 0 ? 46 - 14 : 46));
        qvirt_iommu_stats(&f.iommu, 0, &st);
        g_assert_cmpuint(st.process_mags_live, ==, st.mags_live);
        cpu_flushes += st.cpu_flushes;

        /* A second removal finds nothing left to return. */
        lc_qom_set_int(f.qts, "x-cpu-dead", dead);
        qvirt_iommu_stats(&f.iommu, dom[0], &st);
        g_assert_cmpuint(st.cpu_flushes, ==, 1);
        /* The CPU that comes back starts from the tree... */
        lc_qom_set_int(f.qts, "x-rcache-cpu", dead);
        qvirt_iommu_map_ok(&f.iommu, dom[0], f.buf, PAGE, RW, 0);
        qvirt_iommu_stats(&f.iommu, dom[0], &st);
        /* (or from the depot, which is no CPU's) */
        g_assert_cmpuint(st.rcache_hits, ==, (depot ? 1 : 0));
        /* ...while another CPU still hits its own magazine. */
        lc_qom_set_int(f.qts, "x-rcache-cpu", other);
        qvirt_iommu_map_ok(&f.iommu, dom[0], f.buf, PAGE, RW, 0);
        qvirt_iommu_stats(&f.iommu, dom[0], &st);
        g_assert_cmpuint(st.rcache_hits, ==, (depot ? 2 : 1));
        lc_qom_set_int(f.qts, "x-rcache-cpu", -1);
        for (int d = 0; d < 2; d++) {
            g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, dom[d]), ==,
                             VIRT_IOMMU_S_OK);
        }
        lc_assert_baseline(&f.iommu, &st);
    }
    g_test_message("cpu-dead: %u cycles, %" PRIu64 " CPU flushes", cycles,
                   cpu_flushes);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    static const TrimCase trim_cases[] = {
        { .smp = 2, .over = 3 },
        { .smp = 4, .over = 2 },
    };

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(trim_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/virt-iommu/lifecycle/depot-trim/smp%u",
                            trim_cases[i].smp);

        qtest_add_data_func(path, &trim_cases[i], test_depot_trim);
    }
    qtest_add_func("/virt-iommu/lifecycle/exhaustion", test_exhaustion);
    qtest_add_func("/virt-iommu/lifecycle/race/trim-pending",
                   test_race_trim_pending);
    qtest_add_func("/virt-iommu/lifecycle/race/fq-timer", test_race_fq_timer);
    qtest_add_func("/virt-iommu/lifecycle/race/other-endpoint",
                   test_race_other_endpoint);
    qtest_add_func("/virt-iommu/lifecycle/cpu-dead", test_cpu_dead);
    return g_test_run();
}
