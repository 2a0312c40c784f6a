/*
 * qtests for virt-iommu's side of QEMU's IOMMU notifier contract, the one
 * VFIO and vhost rely on: dma-testdev's PF with x-shadow-iotlb=on
 * translates its DMA only from what the IOMMU region notifies and
 * replays, so each test fails if that piece of the contract is missing
 * (without replay, QEMU's default walks the 2^64 region page by page and
 * the test times out).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "libqos/dma-testdev.h"
#include "libqos/virt-iommu.h"
#include "libqos/virt-iommu-rig.h"

#define PF_RID          QVIRT_IOMMU_RIG_PF_DEVFN    /* bus 0 */
#define PAGE            4096ULL
#define LEN             256
#define IOVA_SRC        0x100000ULL
#define IOVA_DST        0x200000ULL
#define IOVA_LATE       0x300000ULL

typedef struct Fixture {
    QVirtIOMMURig rig;
    uint64_t src, dst;      /* guest-physical, a page each */
} Fixture;

/*
 * dma-testdev comes first on the command line: the shadow must find the
 * IOMMU's address space anyway (it starts at machine init done).
 */
static void fixture_start(Fixture *f, const char *pf_opts,
                          const char *iommu_opts, uint32_t control)
{
    g_autofree char *args =
        g_strdup_printf("-device dma-testdev,addr=06.0,id=pf,"
                        "x-shadow-iotlb=on%s "
                        "-device virt-iommu,addr=04.0,id=viommu%s",
                        pf_opts, iommu_opts);

    qvirt_iommu_rig_start(&f->rig, args, 4, 4, control);
    f->src = guest_alloc(&f->rig.alloc, PAGE);
    f->dst = guest_alloc(&f->rig.alloc, PAGE);
}

static void fixture_stop(Fixture *f)
{
    qvirt_iommu_rig_stop(&f->rig);
}

static uint64_t pf_prop(Fixture *f, const char *name)
{
    g_autoptr(QDict) rsp = qtest_qmp(f->rig.qts, "{ 'execute': 'qom-get',"
                                     " 'arguments': { 'path': 'pf',"
                                     " 'property': %s } }", name);

    g_assert_true(qdict_haskey(rsp, "return"));
    return qdict_get_int(rsp, "return");
}

/* The PF copies LEN bytes from bus address @from to @to; returns ERROR. */
static uint32_t pf_copy(Fixture *f, uint64_t from, uint64_t to)
{
    return qdma_testdev_run(&f->rig.pf.fn, DMA_TESTDEV_OP_COPY, from, to,
                            LEN, 0);
}

/* Whether a copy from @from to @to moved a fresh pattern from src to dst */
static bool copy_arrives(Fixture *f, uint64_t from, uint64_t to, uint8_t seed)
{
    uint8_t pattern[LEN], got[LEN];

    for (int i = 0; i < LEN; i++) {
        pattern[i] = seed ^ (i * 7);
    }
    qtest_memwrite(f->rig.qts, f->src, pattern, LEN);
    qtest_memset(f->rig.qts, f->dst, 0, LEN);
    if (pf_copy(f, from, to) != DMA_TESTDEV_ERR_NONE) {
        return false;
    }
    qtest_memread(f->rig.qts, f->dst, got, LEN);
    return memcmp(got, pattern, LEN) == 0;
}

/* IOVA_SRC reads f->src and IOVA_DST writes f->dst, a page each, in @dom. */
static void map_src_dst(Fixture *f, uint32_t dom)
{
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f->rig.iommu, dom, IOVA_SRC, f->src,
                                           PAGE, VIRT_IOMMU_PERM_READ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f->rig.iommu, dom, IOVA_DST, f->dst,
                                           PAGE, VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
}

/*
 * Mappings made before the PF's IOMMU region appears reach the shadow
 * only through replay; later ones through MAP and UNMAP notifications.
 */
static void test_replay(void)
{
    Fixture f;
    uint32_t dom;

    /* Unattached endpoints bypass: no IOMMU region in the PF's view. */
    fixture_start(&f, "", "", VIRT_IOMMU_CTRL_ENABLE |
                  VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    g_assert_true(copy_arrives(&f, f.src, f.dst, 1));
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    map_src_dst(&f, dom);
    g_assert_cmpuint(pf_prop(&f, "x-shadow-maps"), ==, 0);

    qvirt_iommu_attach(&f.rig.iommu, PF_RID, dom);
    g_assert_cmpuint(pf_prop(&f, "x-shadow-maps"), ==, 2);
    g_assert_true(copy_arrives(&f, IOVA_SRC, IOVA_DST, 2));
    /* Guest-physical addresses mean nothing to the shadow now. */
    g_assert_cmpuint(pf_copy(&f, f.src, f.dst), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);

    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.rig.iommu, dom, IOVA_LATE, f.src,
                                           PAGE, VIRT_IOMMU_PERM_READ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(pf_prop(&f, "x-shadow-maps"), ==, 3);
    g_assert_true(copy_arrives(&f, IOVA_LATE, IOVA_DST, 3));
    g_assert_cmpuint(qvirt_iommu_unmap(&f.rig.iommu, dom, IOVA_LATE, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(pf_prop(&f, "x-shadow-unmaps"), ==, 1);
    g_assert_cmpuint(pf_copy(&f, IOVA_LATE, IOVA_DST), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&f.rig.pf.fn,
                                       DMA_TESTDEV_REG_FAULT_ADDR),
                    ==, IOVA_LATE);

    /* Detached: the region goes, bypass again. */
    g_assert_cmpuint(qvirt_iommu_detach(&f.rig.iommu, PF_RID), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_true(copy_arrives(&f, f.src, f.dst, 4));
    fixture_stop(&f);
}

/* The region reports the IOVA granule, which VFIO sizes its pages by. */
static void test_min_page_size(void)
{
    Fixture f;

    fixture_start(&f, "", ",page-size=65536", VIRT_IOMMU_CTRL_ENABLE);
    g_assert_cmpuint(pf_prop(&f, "x-shadow-min-page-size"), ==, 65536);
    fixture_stop(&f);
}

/*
 * Device-IOTLB (ATS) invalidations are not modelled: a notifier asking
 * for them is refused, once per IOMMU region section (the MSI window
 * splits the region in two), while map/unmap notifiers still work.
 */
static void test_deviotlb_refused(void)
{
    Fixture f;
    uint32_t dom;

    fixture_start(&f, ",x-shadow-deviotlb=on", "", VIRT_IOMMU_CTRL_ENABLE);
    g_assert_cmpuint(pf_prop(&f, "x-shadow-refused"), ==, 2);
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    qvirt_iommu_attach(&f.rig.iommu, PF_RID, dom);
    map_src_dst(&f, dom);
    g_assert_true(copy_arrives(&f, IOVA_SRC, IOVA_DST, 5));
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/notifier/replay", test_replay);
    qtest_add_func("/virt-iommu/notifier/min-page-size", test_min_page_size);
    qtest_add_func("/virt-iommu/notifier/deviotlb-refused",
                   test_deviotlb_refused);
    return g_test_run();
}
