/*
 * qtests for virt-iommu's command and event queues: every command and
 * status, DMA by edu through each domain type with the data checked, and
 * the exact fault record of every refused DMA.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"
#include "standard-headers/linux/pci_regs.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "libqos/dma-testdev.h"
#include "libqos/edu.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/virt-iommu.h"
#include "libqos/virt-iommu-lifecycle.h"

#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define EDU_DEVFN       QPCI_DEVFN(5, 0)
#define EDU_RID         EDU_DEVFN           /* bus 0 */
#define EDU_DMA_LIMIT   0x0fffffffULL       /* edu's 28-bit DMA mask */
#define PAGE            4096ULL
#define LEN             256

typedef struct Fixture {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    QVirtIOMMU iommu;
    QEdu edu;
    uint64_t src, dst;      /* guest-physical buffers, a page each */
} Fixture;

static void fixture_start(Fixture *f, const char *iommu_opts,
                          uint32_t evtq_log2)
{
    f->qts = qtest_initf("-M q35 -m 256M -smp 2 -nodefaults "
                         "-device virt-iommu,addr=04.0,id=viommu%s "
                         "-device edu,addr=05.0", iommu_opts);
    f->bus = qpci_new_pc(f->qts, NULL);
    pc_alloc_init(&f->alloc, f->qts, ALLOC_NO_FLAGS);
    qvirt_iommu_init(&f->iommu, f->bus, IOMMU_DEVFN);
    qedu_init(&f->edu, f->bus, EDU_DEVFN);
    /* Translation on, no default bypass: only domains let DMA through. */
    qvirt_iommu_start(&f->iommu, &f->alloc, 4, evtq_log2,
                      VIRT_IOMMU_CTRL_ENABLE);
    f->src = guest_alloc(&f->alloc, PAGE);
    f->dst = guest_alloc(&f->alloc, PAGE);
}

static void fixture_stop(Fixture *f)
{
    VirtIOMMUEvent evt;

    /* Every test consumes the faults it caused; none may be left over. */
    g_assert_false(qvirt_iommu_pop_event(&f->iommu, &evt));
    g_assert_cmphex(qvirt_iommu_readl(&f->iommu, VIRT_IOMMU_REG_ERROR), ==,
                    0);
    qedu_cleanup(&f->edu);
    qvirt_iommu_cleanup(&f->iommu);
    alloc_destroy(&f->alloc);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
}

static uint16_t submit(Fixture *f, VirtIOMMUCmd cmd, uint64_t *result)
{
    return qvirt_iommu_submit(&f->iommu, &cmd, result);
}

/*
 * edu copies LEN bytes from bus address @from to @to; returns whether the
 * pattern written at guest-physical f->src reached guest-physical f->dst.
 */
static bool dma_arrives(Fixture *f, uint64_t from, uint64_t to, uint8_t seed)
{
    uint8_t pattern[LEN], got[LEN];

    for (int i = 0; i < LEN; i++) {
        pattern[i] = seed ^ (i * 13);
    }
    qtest_memwrite(f->qts, f->src, pattern, LEN);
    qtest_memset(f->qts, f->dst, 0, LEN);
    qedu_copy(&f->edu, from, to, LEN);
    qtest_memread(f->qts, f->dst, got, LEN);
    return memcmp(got, pattern, LEN) == 0;
}

/*
 * Starts the fixture (virt-iommu options @iommu_opts) with a DMA domain
 * that edu is attached to; with
 * @two_mappings, IOVA 0x200000 reads f->src (two pages) and 0x300000
 * writes f->dst.  Returns the domain.
 */
static uint32_t start_with_dma_domain(Fixture *f, const char *iommu_opts,
                                      bool two_mappings)
{
    uint32_t dom;

    fixture_start(f, iommu_opts, 4);
    dom = qvirt_iommu_domain_alloc(&f->iommu, VIRT_IOMMU_DOMAIN_DMA);
    qvirt_iommu_attach(&f->iommu, EDU_RID, dom);
    if (two_mappings) {
        g_assert_cmpuint(qvirt_iommu_map_fixed(&f->iommu, dom, 0x200000, f->src,
                                               2 * PAGE, VIRT_IOMMU_PERM_READ),
                         ==, VIRT_IOMMU_S_OK);
        g_assert_cmpuint(qvirt_iommu_map_fixed(&f->iommu, dom, 0x300000, f->dst,
                                               PAGE, VIRT_IOMMU_PERM_WRITE), ==,
                         VIRT_IOMMU_S_OK);
    }
    return dom;
}

/* Pops one event and checks it is exactly this fault record of edu's. */
static void expect_fault(Fixture *f, uint8_t reason, uint32_t domain,
                         uint64_t iova, uint32_t access)
{
    qvirt_iommu_expect_fault(&f->iommu, reason, EDU_RID, domain, iova,
                             access);
}

static void test_dma_domain(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, "", false);
    uint64_t in, out;

    g_assert_cmpuint(dom, ==, 1);

    /* Device-allocated IOVAs: top-down below the endpoint's DMA limit. */
    in = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                            EDU_DMA_LIMIT);
    out = qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE, VIRT_IOMMU_PERM_WRITE,
                             EDU_DMA_LIMIT);
    g_assert_cmphex(in, ==, EDU_DMA_LIMIT + 1 - PAGE);
    g_assert_cmphex(out, ==, EDU_DMA_LIMIT + 1 - 2 * PAGE);
    g_assert_true(dma_arrives(&f, in, out, 1));

    /* The guest-physical addresses themselves are not mapped. */
    g_assert_false(dma_arrives(&f, f.src, out, 2));
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, f.src,
                 VIRT_IOMMU_PERM_READ);

    /* Writing through a read-only mapping is a permission fault. */
    g_assert_false(dma_arrives(&f, in, in, 3));
    expect_fault(&f, VIRT_IOMMU_FAULT_PERMISSION, dom, in,
                 VIRT_IOMMU_PERM_WRITE);

    /* Strict: once UNMAP completes the IOVA no longer translates... */
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, out, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_false(dma_arrives(&f, in, out, 4));
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, out,
                 VIRT_IOMMU_PERM_WRITE);
    /* ...and is reusable at once (the rcache hands it back first). */
    g_assert_cmphex(qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE,
                                       VIRT_IOMMU_PERM_WRITE, EDU_DMA_LIMIT),
                    ==, out);
    g_assert_true(dma_arrives(&f, in, out, 5));

    /* Guest-chosen IOVAs. */
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, 0x100000, f.dst, PAGE,
                                           VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_true(dma_arrives(&f, in, 0x100000, 6));
    fixture_stop(&f);
}

/*
 * The flush-queue rule: an unmapped IOVA keeps translating through its
 * stale IOTLB entry until the batched invalidation, so it must not be
 * handed out again before; after it, the entry is gone and the IOVA free.
 */
static void test_flush_queue(void)
{
    Fixture f;
    /* edu takes 100 ms per transfer: a batch must outlast a few. */
    uint32_t dom = start_with_dma_domain(&f, ",fq-timeout=1000", false);
    VirtIOMMUStats st;
    uint64_t in, out, again;

    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom,
                                          VIRT_IOMMU_DOMAIN_DMA_FQ), ==,
                     VIRT_IOMMU_S_OK);
    in = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                            EDU_DMA_LIMIT);
    out = qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE, VIRT_IOMMU_PERM_WRITE,
                             EDU_DMA_LIMIT);
    g_assert_true(dma_arrives(&f, in, out, 1));    /* fills the IOTLB */

    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, in, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.mappings, ==, 1);
    g_assert_cmpuint(st.fq_pending, ==, 1);
    /* Stale entry: the device still reads through the unmapped IOVA. */
    g_assert_true(dma_arrives(&f, in, out, 2));
    /* ...so the allocator must not hand it out yet. */
    again = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                               EDU_DMA_LIMIT);
    g_assert_cmphex(again, ==, out - PAGE);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, again, PAGE), ==,
                     VIRT_IOMMU_S_OK);

    /* fq-timeout on the virtual clock runs the batch. */
    qtest_clock_step(f.qts, 1000 * 1000 * 1000);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 0);
    g_assert_cmpuint(st.fq_flushes, ==, 1);
    g_assert_false(dma_arrives(&f, in, out, 3));
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, in,
                 VIRT_IOMMU_PERM_READ);
    /*
     * Both IOVAs went back to the allocator's rcache in queue order; the
     * magazine hands out the last one first.
     */
    g_assert_cmpuint(st.cached_pfns, ==, 2);
    g_assert_cmphex(qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                       VIRT_IOMMU_PERM_READ, EDU_DMA_LIMIT), ==,
                    again);
    g_assert_cmphex(qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                       VIRT_IOMMU_PERM_READ, EDU_DMA_LIMIT), ==,
                    in);
    fixture_stop(&f);
}

static void test_flush_queue_full(void)
{
    Fixture f;
    uint32_t dom;
    VirtIOMMUStats st;
    uint64_t iova[2];

    fixture_start(&f, ",fq-size=2", 4);
    dom = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_DMA_FQ);
    for (int i = 0; i < 2; i++) {
        iova[i] = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0);
    }
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[0], PAGE), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 1);
    /* The second unmap fills the queue: flushed without waiting. */
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[1], PAGE), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 0);
    g_assert_cmpuint(st.fq_flushes, ==, 1);
    /* An explicit whole-domain INVALIDATE is a batch too. */
    iova[0] = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                 VIRT_IOMMU_PERM_READ, 0);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[0], PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_INVALIDATE, .domain = dom,
        .arg = VIRT_IOMMU_INV_DOMAIN,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 0);
    g_assert_cmpuint(st.fq_flushes, ==, 2);
    fixture_stop(&f);
}

static void test_invalidate_range(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, ",fq-timeout=1000", false);
    uint64_t in, out;

    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom,
                                          VIRT_IOMMU_DOMAIN_DMA_FQ), ==,
                     VIRT_IOMMU_S_OK);
    in = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                            EDU_DMA_LIMIT);
    out = qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE, VIRT_IOMMU_PERM_WRITE,
                             EDU_DMA_LIMIT);
    g_assert_true(dma_arrives(&f, in, out, 1));
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, in, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_INVALIDATE, .domain = dom,
        .arg = VIRT_IOMMU_INV_RANGE, .iova = in, .size = PAGE,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    /* The stale entry is gone: the unmapped IOVA faults at once. */
    g_assert_false(dma_arrives(&f, in, out, 2));
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, in,
                 VIRT_IOMMU_PERM_READ);
    fixture_stop(&f);
}

/*
 * DMA -> DMA_FQ keeps allocator and mappings; a change to IDENTITY,
 * BLOCKED and back to DMA tears the allocator down and builds a new one,
 * endpoints staying attached, with each type's translation in between.
 */
static void test_set_type_cycle(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, "", false);
    VirtIOMMUStats st;
    uint64_t in, out;

    in = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                            EDU_DMA_LIMIT);
    out = qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE, VIRT_IOMMU_PERM_WRITE,
                             EDU_DMA_LIMIT);
    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom,
                                          VIRT_IOMMU_DOMAIN_DMA_FQ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_true(dma_arrives(&f, in, out, 1));
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.type, ==, VIRT_IOMMU_DOMAIN_DMA_FQ);
    g_assert_cmpuint(st.mappings, ==, 2);
    g_assert_cmpuint(st.endpoints, ==, 1);

    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom,
                                          VIRT_IOMMU_DOMAIN_IDENTITY), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.mappings, ==, 0);
    g_assert_cmpuint(st.iova_live_ranges, ==, 0);
    g_assert_cmpuint(st.endpoints, ==, 1);
    g_assert_true(dma_arrives(&f, f.src, f.dst, 2));

    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom,
                                          VIRT_IOMMU_DOMAIN_BLOCKED), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_false(dma_arrives(&f, f.src, f.dst, 3));
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, dom, f.src,
                 VIRT_IOMMU_PERM_READ);
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, dom, f.dst,
                 VIRT_IOMMU_PERM_WRITE);

    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom, VIRT_IOMMU_DOMAIN_DMA),
                     ==, VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    /* A fresh allocator: only the MSI window is reserved. */
    g_assert_cmpuint(st.iova_live_ranges, ==, 1);
    g_assert_cmpuint(st.iova_reserved_ranges, ==, 1);
    g_assert_cmpuint(st.mags_live, ==, 0);
    g_assert_cmpuint(st.rcache_hits + st.rcache_misses, ==, 0);
    /* The old IOVAs are gone with the old allocator: same top-down start. */
    g_assert_cmphex(qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                       VIRT_IOMMU_PERM_READ, EDU_DMA_LIMIT), ==,
                    in);
    g_assert_cmphex(qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE,
                                       VIRT_IOMMU_PERM_WRITE, EDU_DMA_LIMIT),
                    ==, out);
    g_assert_true(dma_arrives(&f, in, out, 4));
    fixture_stop(&f);
}

static void test_stats(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, "", false);
    VirtIOMMUStats st;
    uint64_t iova[3];

    for (int i = 0; i < 3; i++) {
        iova[i] = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0);
    }
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, 0x200000, f.src,
                                           4 * PAGE, VIRT_IOMMU_PERM_READ), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.domain, ==, dom);
    g_assert_cmpuint(st.type, ==, VIRT_IOMMU_DOMAIN_DMA);
    g_assert_cmpuint(st.endpoints, ==, 1);
    g_assert_cmpuint(st.mappings, ==, 4);
    g_assert_cmpuint(st.mapped_bytes, ==, 7 * PAGE);
    /* 3 allocated, the fixed one and the MSI window reserved */
    g_assert_cmpuint(st.iova_live_ranges, ==, 5);
    g_assert_cmpuint(st.iova_reserved_ranges, ==, 2);
    g_assert_cmpuint(st.rcache_misses, ==, 3);

    /* Strict unmaps park the IOVAs in this vCPU's magazine. */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[i], PAGE), ==,
                         VIRT_IOMMU_S_OK);
    }
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.mappings, ==, 1);
    g_assert_cmpuint(st.cached_pfns, ==, 3);
    g_assert_cmpuint(st.iova_live_ranges, ==, 5);
    /* One magazine holds all three on this vCPU. */
    g_assert_cmpuint(st.mags_live, ==, 1);
    g_assert_cmpuint(st.mags_reachable, ==, 1);
    iova[0] = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                 VIRT_IOMMU_PERM_READ, 0);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.rcache_hits, ==, 1);
    g_assert_cmpuint(st.cached_pfns, ==, 2);

    /* Device-wide view: one domain, the sums, and the IOTLB. */
    qvirt_iommu_stats(&f.iommu, 0, &st);
    g_assert_cmpuint(st.domain, ==, 0);
    g_assert_cmpuint(st.type, ==, 1);
    g_assert_cmpuint(st.mappings, ==, 2);
    g_assert_cmpuint(st.events, ==, 0);
    fixture_stop(&f);
}

/*
 * A VF attached to a domain vanishes (VF Enable cleared) and the driver
 * forgets to DETACH: before the next command runs, the device detaches it
 * and says so, the domain can be freed, and the late DETACH is accepted.
 */
static void test_endpoint_gone(void)
{
    QTestState *qts = qtest_init("-M q35 -m 256M -nodefaults "
                                 "-device virt-iommu,addr=04.0 "
                                 "-device dma-testdev,addr=06.0");
    QPCIBus *bus = qpci_new_pc(qts, NULL);
    QGuestAllocator alloc;
    QVirtIOMMU iommu;
    QDmaTestdevPF pf;
    VirtIOMMUStats st;
    VirtIOMMUEvent evt;
    uint32_t dom;
    uint16_t vf_rid;

    pc_alloc_init(&alloc, qts, ALLOC_NO_FLAGS);
    qvirt_iommu_init(&iommu, bus, IOMMU_DEVFN);
    qvirt_iommu_start(&iommu, &alloc, 4, 4, VIRT_IOMMU_CTRL_ENABLE);
    qdma_testdev_pf_init(&pf, bus, QPCI_DEVFN(6, 0));
    qdma_testdev_vfs_enable(&pf, 2);
    vf_rid = qdma_testdev_vf_devfn(&pf, 1);
    dom = qvirt_iommu_domain_alloc(&iommu, VIRT_IOMMU_DOMAIN_DMA);
    qvirt_iommu_attach(&iommu, vf_rid, dom);

    qdma_testdev_vfs_disable(&pf);
    qvirt_iommu_stats(&iommu, dom, &st);
    g_assert_cmpuint(st.endpoints, ==, 0);
    g_assert_true(qvirt_iommu_pop_event(&iommu, &evt));
    g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_ENDPOINT_GONE);
    g_assert_cmphex(evt.endpoint, ==, vf_rid);
    g_assert_cmpuint(evt.domain, ==, dom);
    g_assert_false(qvirt_iommu_pop_event(&iommu, &evt));

    g_assert_cmpuint(qvirt_iommu_submit(&iommu, &(VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DETACH, .endpoint = vf_rid,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_submit(&iommu, &(VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = dom,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    /* A disabled VF cannot be attached again. */
    dom = qvirt_iommu_domain_alloc(&iommu, VIRT_IOMMU_DOMAIN_DMA);
    g_assert_cmpuint(qvirt_iommu_submit(&iommu, &(VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_ATTACH, .endpoint = vf_rid, .domain = dom,
    }, NULL), ==, VIRT_IOMMU_S_NO_ENDPOINT);

    qdma_testdev_pf_cleanup(&pf);
    qvirt_iommu_cleanup(&iommu);
    alloc_destroy(&alloc);
    qpci_free_pc(bus);
    qtest_quit(qts);
}

/*
 * IOVAs freed on one CPU wait in that CPU's magazines; when the CPU goes
 * away they return to the tree, and the other CPU's stay where they are.
 */
static void test_cpu_dead(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, "", false);
    VirtIOMMUStats st;
    uint64_t iova[5];
    g_autoptr(QDict) resp = NULL;

    for (int cpu = 0; cpu < 2; cpu++) {
        lc_qom_set_int(f.qts, "x-rcache-cpu", cpu);
        for (int i = 0; i < 2 + cpu; i++) {
            iova[i] = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                         VIRT_IOMMU_PERM_READ, 0);
        }
        for (int i = 0; i < 2 + cpu; i++) {
            g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[i], PAGE),
                             ==, VIRT_IOMMU_S_OK);
        }
    }
    qvirt_iommu_stats(&f.iommu, dom, &st);
    /* CPU 0 parked 2 and CPU 1 parked 3, minus what CPU 1 reused: none */
    g_assert_cmpuint(st.cached_pfns, ==, 5);
    g_assert_cmpuint(st.rcache_hits, ==, 0);

    lc_qom_set_int(f.qts, "x-cpu-dead", 1);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.cached_pfns, ==, 2);
    g_assert_cmpuint(st.cpu_flushes, ==, 1);
    /* The tree lost the 3 ranges CPU 1 held: 2 cached + MSI window left */
    g_assert_cmpuint(st.iova_live_ranges, ==, 3);

    /* CPU 0's magazine still serves it. */
    lc_qom_set_int(f.qts, "x-rcache-cpu", 0);
    qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ, 0);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.rcache_hits, ==, 1);

    resp = qtest_qmp(f.qts, "{ 'execute': 'qom-set', 'arguments':"
                     " { 'path': '/machine/peripheral/viommu',"
                     " 'property': 'x-cpu-dead', 'value': 2 } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(resp, "error"),
                                          "desc"), "no CPU 2"));
    fixture_stop(&f);
}

/* Every magazine of every allocator is gone once the domains are. */
static void test_no_magazine_leak(void)
{
    Fixture f;
    uint32_t dom[3];
    VirtIOMMUStats st;
    uint8_t types[3] = { VIRT_IOMMU_DOMAIN_DMA, VIRT_IOMMU_DOMAIN_DMA_FQ,
                         VIRT_IOMMU_DOMAIN_DMA };

    fixture_start(&f, "", 4);
    for (int d = 0; d < 3; d++) {
        uint64_t iova[40];

        dom[d] = qvirt_iommu_domain_alloc(&f.iommu, types[d]);
        lc_qom_set_int(f.qts, "x-rcache-cpu", d % 2);
        for (int i = 0; i < 40; i++) {
            iova[i] = qvirt_iommu_map_ok(&f.iommu, dom[d], f.src,
                                         PAGE << (i % 3), VIRT_IOMMU_PERM_READ,
                                         0);
        }
        for (int i = 0; i < 40; i++) {
            g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom[d], iova[i],
                                               PAGE << (i % 3)), ==,
                             VIRT_IOMMU_S_OK);
        }
    }
    qvirt_iommu_stats(&f.iommu, 0, &st);
    g_assert_cmpuint(st.type, ==, 3);
    g_assert_cmpuint(st.mags_live, >, 0);
    g_assert_cmpuint(st.process_mags_live, ==, st.mags_live);
    /* A type change tears one allocator down... */
    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom[0],
                                          VIRT_IOMMU_DOMAIN_IDENTITY), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, 0, &st);
    g_assert_cmpuint(st.process_mags_live, ==, st.mags_live);
    /* ...and freeing the rest leaves no magazine anywhere. */
    for (int d = 0; d < 3; d++) {
        g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
            .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = dom[d],
        }, NULL), ==, VIRT_IOMMU_S_OK);
    }
    qvirt_iommu_stats(&f.iommu, 0, &st);
    g_assert_cmpuint(st.type, ==, 0);
    g_assert_cmpuint(st.mags_live, ==, 0);
    g_assert_cmpuint(st.process_mags_live, ==, 0);
    fixture_stop(&f);
}

/* Pops one event and checks it is this strict-checks record. */
static void expect_strict(Fixture *f, uint8_t reason, uint32_t domain,
                          uint64_t iova)
{
    VirtIOMMUEvent evt;

    g_assert_true(qvirt_iommu_pop_event(&f->iommu, &evt));
    g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_STRICT);
    g_assert_cmpuint(evt.reason, ==, reason);
    g_assert_cmpuint(evt.domain, ==, domain);
    g_assert_cmphex(evt.iova, ==, iova);
}

/* strict-checks turns silent driver mistakes into event records. */
static void test_strict_checks(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, ",strict-checks=on", false);
    uint64_t in, out;

    in = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                            EDU_DMA_LIMIT);
    out = qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE, VIRT_IOMMU_PERM_WRITE,
                             EDU_DMA_LIMIT);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, in, PAGE), ==,
                     VIRT_IOMMU_S_OK);

    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, in, PAGE), ==,
                     VIRT_IOMMU_S_NOT_MAPPED);
    expect_strict(&f, VIRT_IOMMU_STRICT_DOUBLE_UNMAP, dom, in);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, 0x400000, PAGE), ==,
                     VIRT_IOMMU_S_NOT_MAPPED);
    expect_strict(&f, VIRT_IOMMU_STRICT_NEVER_MAPPED, dom, 0x400000);

    /* DMA through the just-unmapped IOVA is named as such. */
    g_assert_false(dma_arrives(&f, in, out, 1));
    expect_fault(&f, VIRT_IOMMU_FAULT_UNMAPPED, dom, in,
                 VIRT_IOMMU_PERM_READ);
    /* An IOVA never mapped is still plainly not mapped. */
    g_assert_false(dma_arrives(&f, 0x400000, out, 2));
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, 0x400000,
                 VIRT_IOMMU_PERM_READ);
    fixture_stop(&f);
}

/*
 * Domains, mappings and attachments survive migration and the
 * destination's allocator is the source's, range for range; IOVAs that
 * waited in a flush queue are free there (no IOTLB entry migrates).
 */
static void test_migration(void)
{
    Fixture f, g;
    uint32_t dom = start_with_dma_domain(&f, "", false);
    uint32_t fq;
    g_autofree char *uri = g_strdup_printf("unix:%s/virt-iommu-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    VirtIOMMUStats before, after, fq_before, fq_after;
    uint64_t in, out, big, gone;

    in = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                            EDU_DMA_LIMIT);
    out = qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE, VIRT_IOMMU_PERM_WRITE,
                             EDU_DMA_LIMIT);
    /* 3 pages: the rcache path rounds the allocation up to 4 */
    big = qvirt_iommu_map_ok(&f.iommu, dom, f.src, 3 * PAGE,
                             VIRT_IOMMU_PERM_READ, EDU_DMA_LIMIT);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, 0x200000, f.dst, PAGE,
                                           VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
    fq = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_DMA_FQ);
    gone = qvirt_iommu_map_ok(&f.iommu, fq, f.src, PAGE, VIRT_IOMMU_PERM_READ,
                              0);
    qvirt_iommu_map_ok(&f.iommu, fq, f.src, PAGE, VIRT_IOMMU_PERM_READ, 0);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, fq, gone, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.iommu, dom, &before);
    qvirt_iommu_stats(&f.iommu, fq, &fq_before);
    g_assert_cmpuint(fq_before.fq_pending, ==, 1);

    g.qts = qtest_initf("-M q35 -m 256M -smp 2 -nodefaults "
                        "-device virt-iommu,addr=04.0,id=viommu "
                        "-device edu,addr=05.0 -incoming %s", uri);
    migrate_qmp(f.qts, g.qts, uri, NULL, "{}");
    wait_for_migration_complete(f.qts);
    qtest_qmp_eventwait(g.qts, "RESUME");

    /* Same guest: same BAR assignment, rings and buffers in RAM. */
    g.bus = qpci_new_pc(g.qts, NULL);
    pc_alloc_init(&g.alloc, g.qts, ALLOC_NO_FLAGS);
    g.src = f.src;
    g.dst = f.dst;
    qvirt_iommu_init(&g.iommu, g.bus, IOMMU_DEVFN);
    g.iommu.cmdq = f.iommu.cmdq;
    g.iommu.cmdq_log2 = f.iommu.cmdq_log2;
    g.iommu.evtq = f.iommu.evtq;
    g.iommu.evtq_log2 = f.iommu.evtq_log2;
    g.iommu.stats_buf = f.iommu.stats_buf;
    qedu_init(&g.edu, g.bus, EDU_DEVFN);

    qvirt_iommu_stats(&g.iommu, dom, &after);
    g_assert_cmpuint(after.type, ==, VIRT_IOMMU_DOMAIN_DMA);
    g_assert_cmpuint(after.endpoints, ==, 1);
    g_assert_cmpuint(after.mappings, ==, before.mappings);
    g_assert_cmpuint(after.mapped_bytes, ==, before.mapped_bytes);
    g_assert_cmpuint(after.iova_live_ranges, ==, before.iova_live_ranges);
    g_assert_cmpuint(after.iova_reserved_ranges, ==,
                     before.iova_reserved_ranges);
    g_assert_cmpuint(after.iova_live_pfns, ==, before.iova_live_pfns);
    qvirt_iommu_stats(&g.iommu, fq, &fq_after);
    g_assert_cmpuint(fq_after.type, ==, VIRT_IOMMU_DOMAIN_DMA_FQ);
    g_assert_cmpuint(fq_after.mappings, ==, 1);
    g_assert_cmpuint(fq_after.fq_pending, ==, 0);
    g_assert_cmpuint(fq_after.iova_live_ranges, ==,
                     fq_before.iova_live_ranges - 1);

    /* Every mapping translates as before. */
    g_assert_true(dma_arrives(&g, in, out, 1));
    g_assert_true(dma_arrives(&g, big, 0x200000, 2));
    /* The freed IOVA is the first one handed out again. */
    g_assert_cmphex(qvirt_iommu_map_ok(&g.iommu, fq, g.src, PAGE,
                                       VIRT_IOMMU_PERM_READ, 0), ==, gone);
    fixture_stop(&g);
    qedu_cleanup(&f.edu);
    qvirt_iommu_cleanup(&f.iommu);
    alloc_destroy(&f.alloc);
    qpci_free_pc(f.bus);
    qtest_quit(f.qts);
}

/*
 * A domain used with MAP_FIXED alone, as Linux drivers use an IOMMU, does
 * not reserve its ranges in the allocator until a MAP has the device
 * allocate.  Remapping an IOVA still waiting in the flush queue must not
 * translate through its stale IOTLB entry, and the first MAP runs the
 * queue and reserves every fixed range, so it cannot be handed out.
 */
static void test_fixed_only_domain(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, ",fq-timeout=1000", false);
    uint64_t other = guest_alloc(&f.alloc, PAGE);
    uint64_t x = 0x401000, iova;  /* not in 0x200000's IOTLB slot */
    VirtIOMMUStats st;
    uint8_t got[LEN];

    g_assert_cmpuint(qvirt_iommu_set_type(&f.iommu, dom,
                                          VIRT_IOMMU_DOMAIN_DMA_FQ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, 0x200000, f.src, PAGE,
                                           VIRT_IOMMU_PERM_READ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, x, f.dst, PAGE,
                                           VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_true(dma_arrives(&f, 0x200000, x, 1));
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.iova_reserved_ranges, ==, 1);    /* MSI window */

    /* Parked, with a stale IOTLB entry; then mapped elsewhere at once */
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, x, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, x, other, PAGE,
                                           VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
    qtest_memset(f.qts, other, 0, LEN);
    g_assert_false(dma_arrives(&f, 0x200000, x, 2));
    qtest_memread(f.qts, other, got, LEN);
    for (int i = 0; i < LEN; i++) {
        g_assert_cmphex(got[i], ==, (uint8_t)(2 ^ (i * 13)));
    }
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 1);

    /* The first MAP: the queue runs, both fixed ranges get reserved. */
    iova = qvirt_iommu_map_ok(&f.iommu, dom, f.dst, PAGE, VIRT_IOMMU_PERM_WRITE,
                              EDU_DMA_LIMIT);
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.fq_pending, ==, 0);
    g_assert_cmpuint(st.fq_flushes, ==, 1);
    g_assert_cmpuint(st.iova_reserved_ranges, ==, 3);
    g_assert_cmpuint(st.mappings, ==, 3);
    g_assert_true(dma_arrives(&f, 0x200000, iova, 3));
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, x, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, 0x200000, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    fixture_stop(&f);
}

/* A small mag-size makes magazines fill, and the depot grow, quickly. */
static void test_mag_size(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, ",mag-size=2", false);
    VirtIOMMUStats st;
    uint64_t iova[6];

    for (int i = 0; i < 6; i++) {
        iova[i] = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0);
    }
    for (int i = 0; i < 6; i++) {
        g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[i], PAGE), ==,
                         VIRT_IOMMU_S_OK);
    }
    /*
     * Linux's free path: fill loaded (2), swap with prev, fill again (2),
     * then move the full prev to the depot and refill loaded (2).
     */
    qvirt_iommu_stats(&f.iommu, dom, &st);
    g_assert_cmpuint(st.cached_pfns, ==, 6);
    g_assert_cmpuint(st.depot_mags, ==, 1);
    fixture_stop(&f);
}

/* Queue registers out of range stop the queue and say why in ERROR. */
static void test_queue_errors(void)
{
    Fixture f;
    QVirtIOMMU *v = &f.iommu;
    uint32_t on = VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_CMDQ_EN |
                  VIRT_IOMMU_CTRL_EVTQ_EN;

    fixture_start(&f, "", 4);
    /* TAIL beyond the 16-entry ring: nothing runs until re-enabled. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL, 16);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_CMDQ_TAIL);
    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_HEAD), ==, 0);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_EVTQ_HEAD, 99);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_CMDQ_TAIL | VIRT_IOMMU_ERR_EVTQ_HEAD);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_MASK);

    /* BASE and SIZE are read-only while the queue runs. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_SIZE, 2);
    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_SIZE), ==, 4);

    /* A ring outside RAM: the fetch fails and the queue stops. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, VIRT_IOMMU_CTRL_ENABLE);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_BASE, 0);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_BASE + 4, 0x100);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, on);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS) &
                    VIRT_IOMMU_STS_CMDQ_ON, ==, VIRT_IOMMU_STS_CMDQ_ON);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL, 1);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_CMDQ_FETCH);
    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_HEAD), ==, 0);

    /* A misaligned ring does not even start. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, VIRT_IOMMU_CTRL_ENABLE);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_MASK);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_BASE, f.iommu.cmdq + 64);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_BASE + 4, 0);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, on);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_CMDQ_CONFIG);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS) &
                    VIRT_IOMMU_STS_CMDQ_ON, ==, 0);

    /* Back to a good ring: commands run again. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, VIRT_IOMMU_CTRL_ENABLE);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_MASK);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_BASE, f.iommu.cmdq);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, on);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(v, VIRT_IOMMU_DOMAIN_DMA), ==,
                     1);
    fixture_stop(&f);
}

/* Event records raise vector 0, SYNC with INTERRUPT raises vector 1. */
static void test_msix(void)
{
    Fixture f;
    QPCIDevice *dev;
    uint64_t word;

    fixture_start(&f, "", 4);
    dev = f.iommu.dev;
    word = guest_alloc(&f.alloc, 8);
    qtest_memset(f.qts, word, 0, 8);
    qpci_msix_enable(dev);
    /* libqos mapped BAR0 again for the table: follow it. */
    f.iommu.bar = dev->msix_table_bar;
    for (int v = 0; v < VIRT_IOMMU_MSIX_VECTORS; v++) {
        uint32_t entry = VIRT_IOMMU_MSIX_TABLE + v * PCI_MSIX_ENTRY_SIZE;

        qpci_io_writel(dev, f.iommu.bar, entry + PCI_MSIX_ENTRY_LOWER_ADDR,
                       word + v * 4);
        qpci_io_writel(dev, f.iommu.bar, entry + PCI_MSIX_ENTRY_UPPER_ADDR,
                       0);
        qpci_io_writel(dev, f.iommu.bar, entry + PCI_MSIX_ENTRY_DATA,
                       0xa0 + v);
        qpci_io_writel(dev, f.iommu.bar, entry + PCI_MSIX_ENTRY_VECTOR_CTRL,
                       0);
    }
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_SYNC, .flags = VIRT_IOMMU_CMD_F_INTERRUPT,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    g_assert_cmphex(qtest_readl(f.qts, word + 4), ==, 0xa1);
    g_assert_cmphex(qtest_readl(f.qts, word), ==, 0);

    g_assert_false(dma_arrives(&f, f.src, f.dst, 1));
    g_assert_cmphex(qtest_readl(f.qts, word), ==, 0xa0);
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, 0, f.src,
                 VIRT_IOMMU_PERM_READ);
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, 0, f.dst,
                 VIRT_IOMMU_PERM_WRITE);
    fixture_stop(&f);
}

/* query-virt-iommu's list, which the caller frees with its response */
static QList *query_virt_iommu(QTestState *qts, int64_t max_mappings,
                               QDict **resp)
{
    if (max_mappings < 0) {
        *resp = qtest_qmp(qts, "{ 'execute': 'query-virt-iommu' }");
    } else {
        *resp = qtest_qmp(qts, "{ 'execute': 'query-virt-iommu',"
                          " 'arguments': { 'max-mappings': %" PRId64 " } }",
                          max_mappings);
    }
    g_assert(qdict_haskey(*resp, "return"));
    return qdict_get_qlist(*resp, "return");
}

static QDict *list_at(QList *list, size_t index)
{
    const QListEntry *e = qlist_first(list);

    while (index--) {
        g_assert_nonnull(e);
        e = qlist_next(e);
    }
    g_assert_nonnull(e);
    return qobject_to(QDict, qlist_entry_obj(e));
}

static void assert_mapping(QDict *m, uint64_t iova, uint64_t size,
                           uint64_t gpa, bool write, bool fixed)
{
    g_assert_cmphex(qdict_get_int(m, "iova"), ==, iova);
    g_assert_cmphex(qdict_get_int(m, "last"), ==, iova + size - 1);
    g_assert_cmphex(qdict_get_int(m, "gpa"), ==, gpa);
    g_assert_true(qdict_get_bool(m, "read"));
    g_assert_cmpint(qdict_get_bool(m, "write"), ==, write);
    g_assert_cmpint(qdict_get_bool(m, "fixed"), ==, fixed);
}

/*
 * query-virt-iommu reports what the guest did: its queues, one DMA domain
 * with edu attached and two mappings, an empty BLOCKED domain, the
 * IOTLB's misses, the fault record of a refused DMA and an injection that
 * fired.  HMP's info virt-iommu formats the same result.
 */
static void test_query(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, "", false);
    uint32_t blocked;
    g_autoptr(QDict) resp = NULL;
    g_autoptr(QDict) resp1 = NULL;
    g_autoptr(QDict) resp0 = NULL;
    g_autofree char *hmp = NULL;
    g_autofree char *line = NULL;
    QDict *dev, *d, *q, *a;
    QList *list, *eps, *maps;
    uint64_t iova;

    iova = qvirt_iommu_map_ok(&f.iommu, dom, f.src, 2 * PAGE,
                              VIRT_IOMMU_PERM_READ, EDU_DMA_LIMIT);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, 0x200000, f.dst, PAGE,
                                           VIRT_IOMMU_PERM_READ |
                                           VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
    blocked = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_BLOCKED);
    g_assert_true(dma_arrives(&f, iova, 0x200000, 1));
    /* One fault record: the read of an unmapped IOVA */
    g_assert_false(dma_arrives(&f, f.src, 0x200000, 2));
    /* One injection fired: edu stays in its DMA domain */
    qtest_qmp_assert_success(f.qts, "{ 'execute': 'qom-set', 'arguments': {"
                             " 'path': '/machine/peripheral/viommu',"
                             " 'property': 'x-inject',"
                             " 'value': 'refuse-attach:1:busy' } }");
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = blocked,
        .endpoint = EDU_RID,
    }, NULL), ==, VIRT_IOMMU_S_BUSY);

    list = query_virt_iommu(f.qts, -1, &resp);
    g_assert_cmpuint(qlist_size(list), ==, 1);
    dev = list_at(list, 0);
    g_assert_cmpstr(qdict_get_str(dev, "qom-path"), ==,
                    "/machine/peripheral/viommu");
    g_assert_cmpstr(qdict_get_str(dev, "id"), ==, "viommu");
    g_assert_cmpint(qdict_get_int(dev, "bus"), ==, 0);
    g_assert_cmpint(qdict_get_int(dev, "slot"), ==, 4);
    g_assert_cmpint(qdict_get_int(dev, "function"), ==, 0);
    g_assert_cmpint(qdict_get_int(dev, "abi-major"), ==,
                    VIRT_IOMMU_VERSION_MAJOR);
    g_assert_cmpint(qdict_get_int(dev, "abi-minor"), ==,
                    VIRT_IOMMU_VERSION_MINOR);
    g_assert_cmphex(qdict_get_int(dev, "control") & VIRT_IOMMU_CTRL_ENABLE,
                    ==, VIRT_IOMMU_CTRL_ENABLE);
    g_assert_cmphex(qdict_get_int(dev, "error"), ==, 0);
    g_assert_cmpint(qdict_get_int(dev, "page-size"), ==, PAGE);
    g_assert_cmpint(qdict_get_int(dev, "iova-bits"), ==, 48);
    q = qdict_get_qdict(dev, "cmdq");
    g_assert_cmphex(qdict_get_int(q, "base"), ==, f.iommu.cmdq);
    g_assert_cmpint(qdict_get_int(q, "entries"), ==, 1 << f.iommu.cmdq_log2);
    g_assert_cmpint(qdict_get_int(q, "head"), ==, qdict_get_int(q, "tail"));
    q = qdict_get_qdict(dev, "evtq");
    g_assert_cmphex(qdict_get_int(q, "base"), ==, f.iommu.evtq);
    g_assert_cmpint(qdict_get_int(q, "tail") - qdict_get_int(q, "head"), ==, 1);
    g_assert_cmpint(qdict_get_int(dev, "events"), ==, 1);
    g_assert_cmpint(qdict_get_int(dev, "events-dropped"), ==, 0);
    q = qdict_get_qdict(dev, "iotlb");
    g_assert_cmpint(qdict_get_int(q, "entries"), ==, 64);
    /* Two pages translated for the first time, one of them twice */
    g_assert_cmpint(qdict_get_int(q, "misses"), >=, 2);
    g_assert_cmpint(qdict_get_int(q, "hits"), >=, 1);
    g_assert_cmpint(qdict_get_int(q, "invalidations"), ==, 0);
    g_assert_cmpint(qdict_get_int(dev, "stale-iotlb-reports"), ==, 0);
    q = qdict_get_qdict(dev, "injected");
    g_assert_cmpint(qdict_get_int(q, "attaches"), ==, 1);
    g_assert_cmpint(qdict_get_int(q, "status") + qdict_get_int(q, "syncs") +
                    qdict_get_int(q, "drops"), ==, 0);
    /* The device's sums: one allocator, the MSI window and MAP_FIXED */
    a = qdict_get_qdict(dev, "allocator");
    g_assert_cmpint(qdict_get_int(a, "live-ranges"), ==, 3);
    g_assert_cmpint(qdict_get_int(a, "reserved-ranges"), ==, 2);
    g_assert_cmpint(qdict_get_int(a, "mags-live"), ==,
                    qdict_get_int(a, "mags-reachable"));

    g_assert_cmpuint(qlist_size(qdict_get_qlist(dev, "domains")), ==, 2);
    d = list_at(qdict_get_qlist(dev, "domains"), 0);
    g_assert_cmpint(qdict_get_int(d, "id"), ==, dom);
    g_assert_cmpstr(qdict_get_str(d, "type"), ==, "dma");
    eps = qdict_get_qlist(d, "endpoints");
    g_assert_cmpuint(qlist_size(eps), ==, 1);
    g_assert_cmpint(qnum_get_int(qobject_to(QNum,
                    qlist_entry_obj(qlist_first(eps)))), ==, EDU_RID);
    g_assert_cmpint(qdict_get_int(d, "mapping-count"), ==, 2);
    g_assert_cmpint(qdict_get_int(d, "mapped-bytes"), ==, 3 * PAGE);
    g_assert_cmpint(qdict_get_int(d, "fq-pending"), ==, 0);
    a = qdict_get_qdict(d, "allocator");
    g_assert_cmpint(qdict_get_int(a, "live-ranges"), ==, 3);
    g_assert_cmpint(qdict_get_int(a, "reserved-ranges"), ==, 2);
    /* In IOVA order: the fixed one low, the allocated one top-down */
    maps = qdict_get_qlist(d, "mappings");
    g_assert_cmpuint(qlist_size(maps), ==, 2);
    assert_mapping(list_at(maps, 0), 0x200000, PAGE, f.dst, true, true);
    assert_mapping(list_at(maps, 1), iova, 2 * PAGE, f.src, false, false);

    d = list_at(qdict_get_qlist(dev, "domains"), 1);
    g_assert_cmpint(qdict_get_int(d, "id"), ==, blocked);
    g_assert_cmpstr(qdict_get_str(d, "type"), ==, "blocked");
    g_assert_cmpuint(qlist_size(qdict_get_qlist(d, "endpoints")), ==, 0);
    g_assert_cmpint(qdict_get_int(d, "mapping-count"), ==, 0);
    g_assert_false(qdict_haskey(d, "allocator"));

    /* max-mappings bounds the list, never the count */
    list = query_virt_iommu(f.qts, 1, &resp1);
    d = list_at(qdict_get_qlist(list_at(list, 0), "domains"), 0);
    g_assert_cmpint(qdict_get_int(d, "mapping-count"), ==, 2);
    maps = qdict_get_qlist(d, "mappings");
    g_assert_cmpuint(qlist_size(maps), ==, 1);
    assert_mapping(list_at(maps, 0), 0x200000, PAGE, f.dst, true, true);
    list = query_virt_iommu(f.qts, 0, &resp0);
    d = list_at(qdict_get_qlist(list_at(list, 0), "domains"), 0);
    g_assert_cmpuint(qlist_size(qdict_get_qlist(d, "mappings")), ==, 0);

    /* HMP shows the key facts of the same result */
    hmp = qtest_hmp(f.qts, "info virt-iommu");
    g_assert_nonnull(strstr(hmp, "virt-iommu 00:04.0: ABI "));
    g_assert_nonnull(strstr(hmp, "; 1 records, 0 dropped"));
    g_assert_nonnull(strstr(hmp, "2 domains, 1 endpoints attached"));
    g_assert_nonnull(strstr(hmp, "domain 1 DMA: 1 endpoints 00:05.0\r\n"
                            "    2 mappings (12288 bytes)"));
    g_assert_nonnull(strstr(hmp, "iova: 3 live ranges (2 reserved)"));
    g_assert_nonnull(strstr(hmp, "domain 2 BLOCKED: 0 endpoints\r\n"));
    line = g_strdup_printf("0x%" PRIx64 "-0x%" PRIx64 " -> 0x%" PRIx64
                           " r-\r\n", iova, (uint64_t)(iova + 2 * PAGE - 1),
                           f.src);
    g_assert_nonnull(strstr(hmp, line));
    g_assert_nonnull(strstr(hmp, "0x200000-0x200fff -> "));
    g_assert_nonnull(strstr(hmp, " rw fixed\r\n"));

    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, f.src,
                 VIRT_IOMMU_PERM_READ);
    fixture_stop(&f);
}

/* Without a virt-iommu, as other query commands: an empty list. */
static void test_query_none(void)
{
    QTestState *qts = qtest_init("-M q35 -nodefaults");
    g_autoptr(QDict) resp = NULL;
    g_autofree char *hmp = NULL;

    g_assert_cmpuint(qlist_size(query_virt_iommu(qts, -1, &resp)), ==, 0);
    hmp = qtest_hmp(qts, "info virt-iommu");
    g_assert_cmpstr(hmp, ==, "");
    qtest_quit(qts);
}

static void test_identity_and_blocked(void)
{
    Fixture f;
    uint32_t ident, blocked;

    fixture_start(&f, "", 4);
    /*
     * Unattached, translation on, no default bypass: blocked, domain 0.
     * edu reads, then writes (ignoring the failed read): two faults.
     */
    g_assert_false(dma_arrives(&f, f.src, f.dst, 1));
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, 0, f.src,
                 VIRT_IOMMU_PERM_READ);
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, 0, f.dst,
                 VIRT_IOMMU_PERM_WRITE);

    ident = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_IDENTITY);
    qvirt_iommu_attach(&f.iommu, EDU_RID, ident);
    g_assert_true(dma_arrives(&f, f.src, f.dst, 2));

    /* ATTACH moves the endpoint: the old domain lets go of it. */
    blocked = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_BLOCKED);
    qvirt_iommu_attach(&f.iommu, EDU_RID, blocked);
    g_assert_false(dma_arrives(&f, f.src, f.dst, 3));
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, blocked, f.src,
                 VIRT_IOMMU_PERM_READ);
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, blocked, f.dst,
                 VIRT_IOMMU_PERM_WRITE);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = ident,
    }, NULL), ==, VIRT_IOMMU_S_OK);

    /* DETACH returns the endpoint to the default policy. */
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DETACH, .endpoint = EDU_RID,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CONTROL,
                       VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS |
                       VIRT_IOMMU_CTRL_CMDQ_EN | VIRT_IOMMU_CTRL_EVTQ_EN);
    g_assert_true(dma_arrives(&f, f.src, f.dst, 4));
    fixture_stop(&f);
}

/* Each row: a command, and the status it must get in a fresh fixture. */
typedef struct StatusCase {
    const char *name;
    VirtIOMMUCmd cmd;
    uint16_t status;
} StatusCase;

/* Domain 1 is DMA with edu attached, 2 IDENTITY; 0x200000 is mapped. */
static const StatusCase status_cases[] = {
    { "unknown-opcode", { .opcode = 0x3f }, VIRT_IOMMU_S_UNSUPPORTED },
    { "opcode-0xff", { .opcode = 0xff }, VIRT_IOMMU_S_UNSUPPORTED },
    { "set-type-bad", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
      .domain = 2, .arg = 4 }, VIRT_IOMMU_S_INVALID },
    { "set-type-same", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
      .domain = 1, .arg = VIRT_IOMMU_DOMAIN_DMA }, VIRT_IOMMU_S_OK },
    { "set-type-no-domain", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
      .domain = 5, .arg = VIRT_IOMMU_DOMAIN_DMA }, VIRT_IOMMU_S_NO_DOMAIN },
    { "invalidate-bad-scope", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = 1, .arg = 7 }, VIRT_IOMMU_S_INVALID },
    { "invalidate-all-with-domain", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = 1, .arg = VIRT_IOMMU_INV_ALL }, VIRT_IOMMU_S_INVALID },
    { "invalidate-domain-with-range", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = 1, .arg = VIRT_IOMMU_INV_DOMAIN, .size = PAGE },
      VIRT_IOMMU_S_INVALID },
    { "invalidate-range-empty", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = 1, .arg = VIRT_IOMMU_INV_RANGE, .iova = 0x200000 },
      VIRT_IOMMU_S_INVALID },
    { "invalidate-range-beyond", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = 1, .arg = VIRT_IOMMU_INV_RANGE, .iova = 1ULL << 48,
      .size = PAGE }, VIRT_IOMMU_S_RANGE },
    { "invalidate-identity", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = 2, .arg = VIRT_IOMMU_INV_DOMAIN },
      VIRT_IOMMU_S_WRONG_TYPE },
    { "invalidate-all", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .arg = VIRT_IOMMU_INV_ALL }, VIRT_IOMMU_S_OK },
    { "stats-no-domain", { .opcode = VIRT_IOMMU_CMD_QUERY_STATS,
      .domain = 3, .addr = 0x1000 }, VIRT_IOMMU_S_NO_DOMAIN },
    { "stats-unwritable", { .opcode = VIRT_IOMMU_CMD_QUERY_STATS,
      .domain = 1, .addr = 1ULL << 50 }, VIRT_IOMMU_S_DMA_ERROR },
    { "opcode-zero", { .opcode = 0 }, VIRT_IOMMU_S_UNSUPPORTED },
    { "reserved-field", { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC,
      .arg = VIRT_IOMMU_DOMAIN_DMA, .reserved = 1 }, VIRT_IOMMU_S_INVALID },
    { "unused-field", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = 2,
      .iova = 0x1000 }, VIRT_IOMMU_S_INVALID },
    { "bad-flags", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = 2,
      .flags = VIRT_IOMMU_CMD_F_INTERRUPT }, VIRT_IOMMU_S_INVALID },
    { "bad-type", { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = 4 },
      VIRT_IOMMU_S_INVALID },
    { "free-unknown", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = 7 },
      VIRT_IOMMU_S_NO_DOMAIN },
    { "free-id-zero", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = 0 },
      VIRT_IOMMU_S_NO_DOMAIN },
    { "free-id-huge", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE,
      .domain = UINT32_MAX }, VIRT_IOMMU_S_NO_DOMAIN },
    { "free-busy", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = 1 },
      VIRT_IOMMU_S_BUSY },
    { "attach-no-function", { .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = 2,
      .endpoint = 0x0100 }, VIRT_IOMMU_S_NO_ENDPOINT },
    { "attach-rid-huge", { .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = 2,
      .endpoint = 0x10000 }, VIRT_IOMMU_S_INVALID },
    { "attach-iommu-itself", { .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = 2,
      .endpoint = IOMMU_DEVFN }, VIRT_IOMMU_S_INVALID },
    { "attach-no-domain", { .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = 9,
      .endpoint = EDU_RID }, VIRT_IOMMU_S_NO_DOMAIN },
    { "detach-unattached", { .opcode = VIRT_IOMMU_CMD_DETACH,
      .endpoint = 0x0100 }, VIRT_IOMMU_S_OK },
    { "map-identity", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 2,
      .addr = 0x1000, .size = PAGE, .arg = VIRT_IOMMU_PERM_READ },
      VIRT_IOMMU_S_WRONG_TYPE },
    { "map-size-zero", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .addr = 0x1000, .arg = VIRT_IOMMU_PERM_READ }, VIRT_IOMMU_S_INVALID },
    { "map-size-unaligned", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .addr = 0x1000, .size = 100, .arg = VIRT_IOMMU_PERM_READ },
      VIRT_IOMMU_S_INVALID },
    { "map-gpa-unaligned", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .addr = 0x1010, .size = PAGE, .arg = VIRT_IOMMU_PERM_READ },
      VIRT_IOMMU_S_INVALID },
    { "map-no-perms", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .addr = 0x1000, .size = PAGE }, VIRT_IOMMU_S_INVALID },
    { "map-bad-perms", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .addr = 0x1000, .size = PAGE, .arg = 4 }, VIRT_IOMMU_S_INVALID },
    { "map-gpa-wraps", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .addr = UINT64_MAX - 0xfff, .size = 2 * PAGE,
      .arg = VIRT_IOMMU_PERM_READ }, VIRT_IOMMU_S_INVALID },
    { "map-iova-given", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .iova = 0x1000, .addr = 0x1000, .size = PAGE,
      .arg = VIRT_IOMMU_PERM_READ }, VIRT_IOMMU_S_INVALID },
    { "map-too-big", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = 1,
      .addr = 0, .size = 1ULL << 49, .arg = VIRT_IOMMU_PERM_READ },
      VIRT_IOMMU_S_NO_SPACE },
    { "fixed-overlap", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = 1,
      .iova = 0x1ff000, .addr = 0x1000, .size = 2 * PAGE,
      .arg = VIRT_IOMMU_PERM_READ }, VIRT_IOMMU_S_EXISTS },
    { "fixed-msi-window", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = 1,
      .iova = 0xfee00000, .addr = 0x1000, .size = PAGE,
      .arg = VIRT_IOMMU_PERM_WRITE }, VIRT_IOMMU_S_RANGE },
    { "fixed-beyond-aperture", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = 1, .iova = 1ULL << 48, .addr = 0x1000, .size = PAGE,
      .arg = VIRT_IOMMU_PERM_READ }, VIRT_IOMMU_S_RANGE },
    { "fixed-wraps", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = 1,
      .iova = UINT64_MAX - 0xfff, .addr = 0x1000, .size = 2 * PAGE,
      .arg = VIRT_IOMMU_PERM_READ }, VIRT_IOMMU_S_RANGE },
    { "unmap-nothing", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = 1,
      .iova = 0x400000, .size = PAGE }, VIRT_IOMMU_S_NOT_MAPPED },
    { "unmap-partial", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = 1,
      .iova = 0x201000, .size = PAGE }, VIRT_IOMMU_S_PARTIAL },
    { "unmap-unaligned", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = 1,
      .iova = 0x200010, .size = PAGE }, VIRT_IOMMU_S_INVALID },
    { "unmap-wrong-type", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = 2,
      .iova = 0x200000, .size = PAGE }, VIRT_IOMMU_S_WRONG_TYPE },
    { "sync-value-huge", { .opcode = VIRT_IOMMU_CMD_SYNC,
      .limit = 1ULL << 32 }, VIRT_IOMMU_S_INVALID },
    { "sync-unwritable", { .opcode = VIRT_IOMMU_CMD_SYNC,
      .addr = 1ULL << 50, .limit = 1 }, VIRT_IOMMU_S_DMA_ERROR },
};

static void test_status(const void *data)
{
    const StatusCase *c = data;
    Fixture f;

    g_assert_cmpuint(start_with_dma_domain(&f, "", true), ==, 1);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f.iommu,
                     VIRT_IOMMU_DOMAIN_IDENTITY), ==, 2);

    g_assert_cmpuint(qvirt_iommu_submit(&f.iommu, &c->cmd, NULL), ==,
                     c->status);

    /* Every case is refused or a no-op: what was mapped still works. */
    g_assert_true(dma_arrives(&f, 0x200000, 0x300000, 7));
    fixture_stop(&f);
}

static void test_unmap_all_or_nothing(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, "", true);

    /* A range that covers one mapping and splits another does nothing. */
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, 0x201000, 0x100000), ==,
                     VIRT_IOMMU_S_PARTIAL);
    g_assert_true(dma_arrives(&f, 0x200000, 0x300000, 1));
    /* Nor one that covers a mapping and splits the next one. */
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.iommu, dom, 0x400000, f.src,
                                           2 * PAGE, VIRT_IOMMU_PERM_READ),
                     ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, 0x300000, 0x101000), ==,
                     VIRT_IOMMU_S_PARTIAL);
    g_assert_true(dma_arrives(&f, 0x200000, 0x300000, 3));
    g_assert_true(dma_arrives(&f, 0x400000, 0x300000, 4));
    /* One range covering both removes both. */
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, 0x200000, 0x101000), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_false(dma_arrives(&f, 0x200000, 0x300000, 2));
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, 0x200000,
                 VIRT_IOMMU_PERM_READ);
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, dom, 0x300000,
                 VIRT_IOMMU_PERM_WRITE);
    fixture_stop(&f);
}

static void test_sync(void)
{
    Fixture f;
    uint64_t flag;

    fixture_start(&f, "", 4);
    flag = guest_alloc(&f.alloc, 8);
    qtest_writel(f.qts, flag, 0);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_SYNC, .addr = flag, .limit = 0xc0ffee,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    g_assert_cmphex(qtest_readl(f.qts, flag), ==, 0xc0ffee);
    fixture_stop(&f);
}

static void test_domain_ids(void)
{
    Fixture f;

    fixture_start(&f, ",max-domains=2", 4);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f.iommu,
                     VIRT_IOMMU_DOMAIN_DMA), ==, 1);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f.iommu,
                     VIRT_IOMMU_DOMAIN_BLOCKED), ==, 2);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = VIRT_IOMMU_DOMAIN_DMA,
    }, NULL), ==, VIRT_IOMMU_S_NO_SPACE);
    /* The lowest free ID is reused. */
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = 1,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f.iommu,
                     VIRT_IOMMU_DOMAIN_IDENTITY), ==, 1);
    fixture_stop(&f);
}

static void test_iova_exhaustion(void)
{
    Fixture f;
    uint32_t dom;
    uint64_t iova[3];

    fixture_start(&f, "", 4);
    dom = qvirt_iommu_domain_alloc(&f.iommu, VIRT_IOMMU_DOMAIN_DMA);
    /* Below limit 0x3fff only pfns 1..3 exist (IOVA 0 is never used). */
    for (int i = 0; i < 3; i++) {
        iova[i] = qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0x3fff);
        g_assert_cmphex(iova[i], ==, 0x3000 - i * PAGE);
    }
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP, .domain = dom, .addr = f.src,
        .size = PAGE, .arg = VIRT_IOMMU_PERM_READ, .limit = 0x3fff,
    }, NULL), ==, VIRT_IOMMU_S_NO_SPACE);
    /* Free one and the space is back. */
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, dom, iova[1], PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmphex(qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE,
                                       VIRT_IOMMU_PERM_READ, 0x3fff), ==,
                    iova[1]);
    fixture_stop(&f);
}

static void test_event_overflow(void)
{
    Fixture f;

    /*
     * Two slots hold one record: edu's blocked read is recorded, its
     * blocked write finds the queue full and is dropped, and the DMA
     * still completes (the device never waits for the guest).
     */
    fixture_start(&f, "", 1);
    for (int round = 0; round < 2; round++) {
        uint64_t src = f.src + round * 16;

        g_assert_false(dma_arrives(&f, src, f.dst, round));
        g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==,
                        VIRT_IOMMU_ERR_EVTQ_OVERFLOW);
        expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, 0, src,
                     VIRT_IOMMU_PERM_READ);
        qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_ERROR,
                           VIRT_IOMMU_ERR_EVTQ_OVERFLOW);
    }
    fixture_stop(&f);
}

static void test_reset_frees_domains(void)
{
    Fixture f;
    uint32_t dom = start_with_dma_domain(&f, "", false);

    qvirt_iommu_map_ok(&f.iommu, dom, f.src, PAGE, VIRT_IOMMU_PERM_READ, 0);
    qtest_system_reset(f.qts);
    qvirt_iommu_cleanup(&f.iommu);
    qvirt_iommu_init(&f.iommu, f.bus, IOMMU_DEVFN);
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CONTROL), ==,
                    VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    qvirt_iommu_start(&f.iommu, &f.alloc, 4, 4, VIRT_IOMMU_CTRL_ENABLE);
    /* The domain is gone, so its ID is free again and edu is unattached. */
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = dom,
    }, NULL), ==, VIRT_IOMMU_S_NO_DOMAIN);
    qedu_cleanup(&f.edu);
    qedu_init(&f.edu, f.bus, EDU_DEVFN);
    g_assert_false(dma_arrives(&f, f.src, f.dst, 1));
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, 0, f.src,
                 VIRT_IOMMU_PERM_READ);
    expect_fault(&f, VIRT_IOMMU_FAULT_BLOCKED, 0, f.dst,
                 VIRT_IOMMU_PERM_WRITE);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/cmd/dma-domain", test_dma_domain);
    qtest_add_func("/virt-iommu/cmd/identity-and-blocked",
                   test_identity_and_blocked);
    qtest_add_func("/virt-iommu/cmd/sync", test_sync);
    qtest_add_func("/virt-iommu/cmd/flush-queue", test_flush_queue);
    qtest_add_func("/virt-iommu/cmd/flush-queue-full", test_flush_queue_full);
    qtest_add_func("/virt-iommu/cmd/invalidate-range", test_invalidate_range);
    qtest_add_func("/virt-iommu/cmd/set-type-cycle", test_set_type_cycle);
    qtest_add_func("/virt-iommu/cmd/stats", test_stats);
    qtest_add_func("/virt-iommu/cmd/endpoint-gone", test_endpoint_gone);
    qtest_add_func("/virt-iommu/cmd/query", test_query);
    qtest_add_func("/virt-iommu/cmd/query-none", test_query_none);
    qtest_add_func("/virt-iommu/cmd/cpu-dead", test_cpu_dead);
    qtest_add_func("/virt-iommu/cmd/strict-checks", test_strict_checks);
    qtest_add_func("/virt-iommu/cmd/migration", test_migration);
    qtest_add_func("/virt-iommu/cmd/mag-size", test_mag_size);
    qtest_add_func("/virt-iommu/cmd/fixed-only-domain",
                   test_fixed_only_domain);
    qtest_add_func("/virt-iommu/cmd/queue-errors", test_queue_errors);
    qtest_add_func("/virt-iommu/cmd/msix", test_msix);
    qtest_add_func("/virt-iommu/cmd/no-magazine-leak", test_no_magazine_leak);
    qtest_add_func("/virt-iommu/cmd/domain-ids", test_domain_ids);
    qtest_add_func("/virt-iommu/cmd/iova-exhaustion", test_iova_exhaustion);
    qtest_add_func("/virt-iommu/cmd/event-overflow", test_event_overflow);
    qtest_add_func("/virt-iommu/cmd/reset-frees-domains",
                   test_reset_frees_domains);
    qtest_add_func("/virt-iommu/cmd/unmap-all-or-nothing",
                   test_unmap_all_or_nothing);
    for (int i = 0; i < ARRAY_SIZE(status_cases); i++) {
        g_autofree char *path = g_strdup_printf("/virt-iommu/cmd/status/%s",
                                                status_cases[i].name);
        qtest_add_data_func(path, &status_cases[i], test_status);
    }
    return g_test_run();
}
