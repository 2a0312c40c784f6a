/*
 * Live migration of virt-iommu with DMA in flight: dma-testdev's PF and
 * three VFs run descriptor rings through a strict DMA domain, a DMA_FQ
 * domain shared by two VFs and an IDENTITY domain while the guest is
 * being migrated, and the guest keeps mapping and unmapping during the
 * precopy phase.  On the destination every mapping must translate as on
 * the source, the descriptors the source completed must be there with
 * their data, the rest of the traffic must complete with data verified,
 * and tearing everything down must leave no domain, IOVA or magazine.
 *
 * The precopy phase is held open by a bandwidth limit far below what the
 * guest dirties, so the traffic provably runs while migration is active;
 * lifting the limit lets it converge.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qobject/qdict.h"
#include "libqtest.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"
#include "libqos/dma-testdev.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/virt-iommu.h"
#include "libqos/virt-iommu-lifecycle.h"

#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define PF_DEVFN        QPCI_DEVFN(6, 0)
#define MACHINE         "-M q35 -m 256M -smp 2 -nodefaults " \
                        "-device virt-iommu,addr=04.0,id=viommu " \
                        "-device dma-testdev,addr=06.0"
#define PAGE            4096ULL
#define NR_FUNCS        4               /* the PF and VFs 0..2 */
#define NR_VFS          (NR_FUNCS - 1)
#define DESCS           1024            /* 4 doorbells' worth */
#define RING_ENTRIES    2048
#define RING_BYTES      (RING_ENTRIES * DMA_TESTDEV_DESC_SIZE)
#define SRC_PAGES       4
#define DST_BYTES       (DESCS * PAGE)
#define DST_CHUNK       (1024 * 1024ULL) /* one MAP_FIXED each */
#define DST_IOVA(fn)    (0x10000000ULL + (fn) * 0x1000000ULL)
/* Doorbells rung on the source, per function, while migration runs */
#define SOURCE_DOORBELLS 2
#define CHURN           300             /* MAP/UNMAP pairs in DMA_FQ */

enum { DOM_DMA = 1, DOM_FQ, DOM_IDENTITY };

typedef struct Func {
    QDmaTestdev dev;
    uint32_t domain;
    uint64_t ring, src, dst;            /* guest-physical */
    uint64_t ring_bus, src_bus, dst_bus; /* what the function uses */
} Func;

typedef struct Guest {
    QTestState *qts;
    QPCIBus *bus;
    QVirtIOMMU iommu;
    Func fn[NR_FUNCS];
} Guest;

static uint8_t src_data[NR_FUNCS][SRC_PAGES * PAGE];

static uint16_t submit(QVirtIOMMU *v, VirtIOMMUCmd cmd)
{
    return qvirt_iommu_submit(v, &cmd, NULL);
}

static uint32_t rid_of(Func *fn)
{
    return fn->dev.dev->devfn;  /* bus 0 */
}

/* Descriptor @k copies source page k % SRC_PAGES to destination page k. */
static void write_ring(QTestState *qts, Func *fn)
{
    g_autofree uint8_t *ring = g_malloc0(RING_BYTES);

    for (uint32_t k = 0; k < DESCS; k++) {
        uint8_t *d = ring + k * DMA_TESTDEV_DESC_SIZE;

        stl_le_p(d + DMA_TESTDEV_DESC_OP, DMA_TESTDEV_OP_COPY);
        stq_le_p(d + DMA_TESTDEV_DESC_SRC,
                 fn->src_bus + (k % SRC_PAGES) * PAGE);
        stq_le_p(d + DMA_TESTDEV_DESC_DST, fn->dst_bus + k * PAGE);
        stl_le_p(d + DMA_TESTDEV_DESC_LEN, PAGE);
    }
    qtest_bufwrite(qts, fn->ring, ring, RING_BYTES);
    qdma_testdev_writeq(&fn->dev, DMA_TESTDEV_REG_RING_BASE, fn->ring_bus);
    qdma_testdev_writel(&fn->dev, DMA_TESTDEV_REG_RING_SIZE, RING_ENTRIES);
    qdma_testdev_writel(&fn->dev, DMA_TESTDEV_REG_RING_TAIL, DESCS);
}

static uint32_t ring_doorbell(Func *fn)
{
    qdma_testdev_writel(&fn->dev, DMA_TESTDEV_REG_DOORBELL,
                        DMA_TESTDEV_DB_RING);
    g_assert_cmpuint(qdma_testdev_readl(&fn->dev, DMA_TESTDEV_REG_STATUS), ==,
                     DMA_TESTDEV_ST_DONE);
    return qdma_testdev_readl(&fn->dev, DMA_TESTDEV_REG_RING_HEAD);
}

/*
 * Descriptors 0..@done-1 of @fn have completed without error and their
 * destination pages hold their source pages; the rest have not run.
 */
static void check_traffic(QTestState *qts, Func *fn, int i, uint32_t done)
{
    g_autofree uint8_t *ring = g_malloc(RING_BYTES);
    g_autofree uint8_t *dst = g_malloc(DST_BYTES);

    qtest_bufread(qts, fn->ring, ring, RING_BYTES);
    qtest_bufread(qts, fn->dst, dst, DST_BYTES);
    for (uint32_t k = 0; k < DESCS; k++) {
        uint32_t st = ldl_le_p(ring + k * DMA_TESTDEV_DESC_SIZE +
                               DMA_TESTDEV_DESC_STATUS);

        if (k < done) {
            g_assert_cmphex(st, ==, DMA_TESTDEV_DESC_ST_COMPLETE);
            g_assert_cmpmem(dst + k * PAGE, PAGE,
                            src_data[i] + (k % SRC_PAGES) * PAGE, PAGE);
        } else {
            g_assert_cmphex(st, ==, 0);
        }
    }
}

static void source_setup(Guest *g, QGuestAllocator *alloc,
                         QDmaTestdevPF *pf)
{
    static const uint32_t domain_of[NR_FUNCS] = {
        DOM_DMA, DOM_FQ, DOM_FQ, DOM_IDENTITY,
    };

    qvirt_iommu_init(&g->iommu, g->bus, IOMMU_DEVFN);
    qdma_testdev_pf_init(pf, g->bus, PF_DEVFN);
    qdma_testdev_vfs_enable(pf, NR_VFS);
    qvirt_iommu_start(&g->iommu, alloc, 8, 8, VIRT_IOMMU_CTRL_ENABLE);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&g->iommu,
                     VIRT_IOMMU_DOMAIN_DMA), ==, DOM_DMA);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&g->iommu,
                     VIRT_IOMMU_DOMAIN_DMA_FQ), ==, DOM_FQ);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&g->iommu,
                     VIRT_IOMMU_DOMAIN_IDENTITY), ==, DOM_IDENTITY);

    for (int i = 0; i < NR_FUNCS; i++) {
        Func *fn = &g->fn[i];

        if (i == 0) {
            fn->dev = pf->fn;
        } else {
            qdma_testdev_vf_init(&fn->dev, pf, i - 1);
        }
        fn->domain = domain_of[i];
        fn->ring = guest_alloc(alloc, RING_BYTES);
        fn->src = guest_alloc(alloc, SRC_PAGES * PAGE);
        fn->dst = guest_alloc(alloc, DST_BYTES);
        for (size_t b = 0; b < sizeof(src_data[i]); b++) {
            src_data[i][b] = g_test_rand_int();
        }
        qtest_bufwrite(g->qts, fn->src, src_data[i], sizeof(src_data[i]));
        qvirt_iommu_attach(&g->iommu, rid_of(fn), fn->domain);
        if (fn->domain == DOM_IDENTITY) {
            fn->ring_bus = fn->ring;
            fn->src_bus = fn->src;
            fn->dst_bus = fn->dst;
        } else {
            uint32_t d = fn->domain;

            fn->ring_bus = qvirt_iommu_map_ok(&g->iommu, d, fn->ring,
                                              RING_BYTES, VIRT_IOMMU_PERM_READ |
                                              VIRT_IOMMU_PERM_WRITE, 0);
            fn->src_bus = qvirt_iommu_map_ok(&g->iommu, d, fn->src,
                                             SRC_PAGES * PAGE,
                                             VIRT_IOMMU_PERM_READ, 0);
            fn->dst_bus = DST_IOVA(i);
            for (uint64_t off = 0; off < DST_BYTES; off += DST_CHUNK) {
                g_assert_cmpuint(submit(&g->iommu, (VirtIOMMUCmd) {
                    .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = d,
                    .iova = fn->dst_bus + off, .addr = fn->dst + off,
                    .size = DST_CHUNK, .arg = VIRT_IOMMU_PERM_WRITE,
                }), ==, VIRT_IOMMU_S_OK);
            }
        }
        write_ring(g->qts, fn);
    }
}

/* The destination's view of the same functions, as the source set them. */
static void dest_setup(Guest *to, Guest *from)
{
    to->bus = qpci_new_pc(to->qts, NULL);
    to->iommu = from->iommu;
    to->iommu.dev = qpci_device_find(to->bus, IOMMU_DEVFN);
    for (int i = 0; i < NR_FUNCS; i++) {
        to->fn[i] = from->fn[i];
        to->fn[i].dev.dev = g_new0(QPCIDevice, 1);
        to->fn[i].dev.dev->bus = to->bus;
        to->fn[i].dev.dev->devfn = from->fn[i].dev.dev->devfn;
    }
}

static void test_mid_traffic(void)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/virt-iommu-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    QGuestAllocator alloc;
    QDmaTestdevPF pf;
    VirtIOMMUStats before[DOM_IDENTITY + 1], after, st;
    Guest src = { 0 }, dst = { 0 };
    g_autofree char *status = NULL;
    uint32_t head[NR_FUNCS];
    uint64_t late_gpa, late_iova, churn[CHURN];

    src.qts = qtest_init(MACHINE);
    src.bus = qpci_new_pc(src.qts, NULL);
    pc_alloc_init(&alloc, src.qts, ALLOC_NO_FLAGS);
    source_setup(&src, &alloc, &pf);
    late_gpa = guest_alloc(&alloc, PAGE);
    qtest_memset(src.qts, late_gpa, 0x5a, PAGE);

    dst.qts = qtest_initf(MACHINE " -incoming %s", uri);
    /* Far below what the traffic dirties: precopy cannot converge. */
    migrate_set_parameter_int(src.qts, "max-bandwidth", 1024 * 1024);
    migrate_set_parameter_int(src.qts, "downtime-limit", 1);
    migrate_qmp(src.qts, dst.qts, uri, NULL, "{}");
    wait_for_migration_status(src.qts, "active", NULL);

    for (int r = 0; r < SOURCE_DOORBELLS; r++) {
        for (int i = 0; i < NR_FUNCS; i++) {
            head[i] = ring_doorbell(&src.fn[i]);
            g_assert_cmpuint(head[i], ==,
                             (r + 1) * DMA_TESTDEV_RING_BUDGET);
        }
    }
    /* The guest maps and unmaps meanwhile; the FQ keeps some pending. */
    for (int k = 0; k < CHURN; k++) {
        churn[k] = qvirt_iommu_map_ok(&src.iommu, DOM_FQ, src.fn[1].src, PAGE,
                                      VIRT_IOMMU_PERM_READ, 0);
    }
    for (int k = 0; k < CHURN; k++) {
        g_assert_cmpuint(qvirt_iommu_unmap(&src.iommu, DOM_FQ, churn[k], PAGE),
                         ==, VIRT_IOMMU_S_OK);
    }
    late_iova = qvirt_iommu_map_ok(&src.iommu, DOM_DMA, late_gpa, PAGE,
                                   VIRT_IOMMU_PERM_READ, 0);
    status = migrate_query_status(src.qts);
    g_assert_cmpstr(status, ==, "active");
    for (uint32_t d = DOM_DMA; d <= DOM_IDENTITY; d++) {
        qvirt_iommu_stats(&src.iommu, d, &before[d]);
    }
    g_assert_cmpuint(before[DOM_FQ].fq_pending, >, 0);

    migrate_set_parameter_int(src.qts, "max-bandwidth", 10LL << 30);
    migrate_set_parameter_int(src.qts, "downtime-limit", 5000);
    wait_for_migration_complete(src.qts);
    qtest_qmp_eventwait(dst.qts, "RESUME");

    dest_setup(&dst, &src);
    for (uint32_t d = DOM_DMA; d <= DOM_IDENTITY; d++) {
        qvirt_iommu_stats(&dst.iommu, d, &after);
        g_assert_cmpuint(after.type, ==, before[d].type);
        g_assert_cmpuint(after.endpoints, ==, before[d].endpoints);
        g_assert_cmpuint(after.mappings, ==, before[d].mappings);
        g_assert_cmpuint(after.mapped_bytes, ==, before[d].mapped_bytes);
        g_assert_cmpuint(after.fq_pending, ==, 0);
    }
    /* What the source completed arrived, and the rest is still to run. */
    for (int i = 0; i < NR_FUNCS; i++) {
        g_assert_cmpuint(qdma_testdev_readl(&dst.fn[i].dev,
                                            DMA_TESTDEV_REG_RING_HEAD), ==,
                         head[i]);
        check_traffic(dst.qts, &dst.fn[i], i, head[i]);
    }
    /* The traffic completes through the same translations. */
    for (int i = 0; i < NR_FUNCS; i++) {
        while (ring_doorbell(&dst.fn[i]) != DESCS) {
            /* at most RING_BUDGET descriptors per doorbell */
        }
        check_traffic(dst.qts, &dst.fn[i], i, DESCS);
    }
    /* A mapping made during precopy translates on the destination. */
    qtest_memset(dst.qts, dst.fn[0].dst, 0, PAGE);
    g_assert_cmpuint(qdma_testdev_run(&dst.fn[0].dev, DMA_TESTDEV_OP_COPY,
                                      late_iova, dst.fn[0].dst_bus, PAGE, 0),
                     ==, DMA_TESTDEV_ERR_NONE);
    g_assert_cmphex(qtest_readq(dst.qts, dst.fn[0].dst), ==,
                    0x5a5a5a5a5a5a5a5aULL);
    qvirt_iommu_assert_no_event(&dst.iommu);

    /* Tear down on the destination: nothing may be left. */
    for (int i = 0; i < NR_FUNCS; i++) {
        g_assert_cmpuint(qvirt_iommu_detach(&dst.iommu, rid_of(&dst.fn[i])), ==,
                         VIRT_IOMMU_S_OK);
    }
    for (uint32_t d = DOM_DMA; d <= DOM_IDENTITY; d++) {
        g_assert_cmpuint(qvirt_iommu_domain_free(&dst.iommu, d), ==,
                         VIRT_IOMMU_S_OK);
    }
    lc_assert_baseline(&dst.iommu, &st);

    for (int i = 0; i < NR_FUNCS; i++) {
        g_free(dst.fn[i].dev.dev);
        if (i) {
            qdma_testdev_vf_cleanup(&src.fn[i].dev);
        }
    }
    g_free(dst.iommu.dev);
    qpci_free_pc(dst.bus);
    qtest_quit(dst.qts);
    qdma_testdev_pf_cleanup(&pf);
    qvirt_iommu_cleanup(&src.iommu);
    alloc_destroy(&alloc);
    qpci_free_pc(src.bus);
    qtest_quit(src.qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/migration/mid-traffic", test_mid_traffic);
    return g_test_run();
}
