/*
 * qtests for dma-testdev: PF identity and reset values, DMA operations
 * with data verified, bad programming, SR-IOV enable/disable and the
 * corner cases of NumVFs and VF Enable, VF DMA, descriptor rings,
 * MSI-X completion, and DMA through virt-iommu (bypass and blocked).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/crc32c.h"
#include "qobject/qdict.h"
#include "libqtest.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"
#include "standard-headers/linux/pci_regs.h"
#include "libqos/cmdline-error.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/pcie-ecam.h"
#include "libqos/dma-testdev.h"
#include "libqos/virt-iommu.h"

#define PF_DEVFN        QPCI_DEVFN(6, 0)
#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define MACHINE_ARGS    "-M q35 -m 256M -nodefaults "
#define TOTAL_VFS       7
/* Far above the 256 MiB of RAM and any PCI window libqos uses */
#define HOLE_ADDR       0x4000000000ULL

typedef struct Fixture {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    QDmaTestdevPF pf;
} Fixture;

static void fixture_start(Fixture *f, const char *more)
{
    f->qts = qtest_initf(MACHINE_ARGS "-device dma-testdev,addr=06.0 %s",
                         more);
    pc_alloc_init(&f->alloc, f->qts, ALLOC_NO_FLAGS);
    f->bus = qpci_new_pc(f->qts, NULL);
    qdma_testdev_pf_init(&f->pf, f->bus, PF_DEVFN);
}

static void fixture_stop(Fixture *f)
{
    qdma_testdev_pf_cleanup(&f->pf);
    qpci_free_pc(f->bus);
    alloc_destroy(&f->alloc);
    qtest_quit(f->qts);
}

static uint32_t crc32c_ref(const uint8_t *buf, size_t len)
{
    return crc32c(0xffffffff, buf, len);
}

static void fill_random(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = g_test_rand_int();
    }
}

/*
 * COPY, FILL and CRC32C on @d with data checked in guest memory, and
 * the counters advanced by exactly what was done.
 */
static void check_dma_ops(Fixture *f, QDmaTestdev *d, uint32_t len)
{
    g_autofree uint8_t *in = g_malloc(len);
    g_autofree uint8_t *out = g_malloc(len);
    uint64_t src = guest_alloc(&f->alloc, len);
    uint64_t dst = guest_alloc(&f->alloc, len);
    uint64_t ops = qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_OPS);
    uint64_t bytes = qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_BYTES);
    const uint32_t pattern = 0xa1b2c3d4;

    fill_random(in, len);
    qtest_memwrite(f->qts, src, in, len);
    qtest_memset(f->qts, dst, 0, len);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_COPY, src, dst, len,
                                      0), ==, DMA_TESTDEV_ERR_NONE);
    qtest_memread(f->qts, dst, out, len);
    g_assert_cmpmem(in, len, out, len);

    /* FILL at an odd offset: the pattern starts at dst, not aligned. */
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_FILL, 0, dst + 1,
                                      len - 1, pattern), ==,
                     DMA_TESTDEV_ERR_NONE);
    qtest_memread(f->qts, dst, out, len);
    g_assert_cmphex(out[0], ==, in[0]);
    for (uint32_t i = 0; i < len - 1; i++) {
        g_assert_cmphex(out[i + 1], ==, (pattern >> (8 * (i % 4))) & 0xff);
    }

    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_CRC32C, src, 0, len,
                                      0), ==, DMA_TESTDEV_ERR_NONE);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_RESULT), ==,
                    crc32c_ref(in, len));

    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_OPS),
                     ==, ops + 3);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_BYTES),
                     ==, bytes + 3 * (uint64_t)len - 1);
    guest_free(&f->alloc, src);
    guest_free(&f->alloc, dst);
}

static void test_crc32c_vector(void)
{
    /* The check value of CRC-32C (Castagnoli) */
    g_assert_cmphex(crc32c_ref((const uint8_t *)"123456789", 9), ==,
                    0xe3069283);
}

static void test_pf_identity(void)
{
    Fixture f;
    QDmaTestdev *d = &f.pf.fn;
    uint8_t exp;

    fixture_start(&f, "");
    g_assert_cmphex(qpci_config_readw(d->dev, PCI_VENDOR_ID), ==,
                    DMA_TESTDEV_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(d->dev, PCI_DEVICE_ID), ==,
                    DMA_TESTDEV_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readw(d->dev, PCI_CLASS_DEVICE), ==,
                    DMA_TESTDEV_PCI_CLASS);
    /*
     * One PF: VFs do not make a device multi-function.  (QEMU sets the
     * PF's "multifunction" property in pcie_sriov_pf_init(), after the
     * header was built, so it does not show here either.)
     */
    g_assert_cmphex(qpci_config_readb(d->dev, PCI_HEADER_TYPE), ==,
                    PCI_HEADER_TYPE_NORMAL);
    g_assert_cmphex(qpci_config_readl(d->dev, PCI_BASE_ADDRESS_0) &
                    ~PCI_BASE_ADDRESS_MEM_MASK, ==,
                    PCI_BASE_ADDRESS_SPACE_MEMORY |
                    PCI_BASE_ADDRESS_MEM_TYPE_32);
    /* On pcie.0 the PF is a root complex integrated endpoint. */
    exp = qpci_find_capability(d->dev, PCI_CAP_ID_EXP, 0);
    g_assert_cmphex(exp, ==, DMA_TESTDEV_PCIE_CAP_OFFSET);
    g_assert_cmphex((qpci_config_readw(d->dev, exp + PCI_EXP_FLAGS) &
                     PCI_EXP_FLAGS_TYPE) >> 4, ==, PCI_EXP_TYPE_RC_END);

    g_assert_cmphex(f.pf.sriov, ==, DMA_TESTDEV_SRIOV_CAP_OFFSET);
    g_assert_cmpuint(f.pf.total_vfs, ==, TOTAL_VFS);
    g_assert_cmpuint(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_INITIAL_VF),
                     ==, TOTAL_VFS);
    g_assert_cmpuint(f.pf.vf_offset, ==, 1);
    g_assert_cmpuint(f.pf.vf_stride, ==, 1);
    g_assert_cmphex(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_VF_DID), ==,
                    DMA_TESTDEV_PCI_VF_DEVICE_ID);
    g_assert_cmpuint(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_NUM_VF), ==,
                     0);
    g_assert_cmphex(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_CTRL), ==, 0);
    g_assert_cmphex(qpcie_ecam_readl(f.bus, PF_DEVFN,
                                     f.pf.sriov + PCI_SRIOV_BAR), ==,
                    PCI_BASE_ADDRESS_SPACE_MEMORY |
                    PCI_BASE_ADDRESS_MEM_TYPE_32);
    /* ARI, with Next Function 0: the only PF */
    g_assert_cmphex(qpcie_ecam_find_ext_cap(f.bus, PF_DEVFN,
                                            PCI_EXT_CAP_ID_ARI), ==,
                    DMA_TESTDEV_ARI_CAP_OFFSET);
    g_assert_cmphex(qpcie_ecam_readl(f.bus, PF_DEVFN,
                                     DMA_TESTDEV_ARI_CAP_OFFSET + PCI_ARI_CAP),
                    ==, 0);
    /* ECAM and the legacy ports agree on the first 256 bytes. */
    g_assert_cmphex(qpcie_ecam_readl(f.bus, PF_DEVFN, PCI_VENDOR_ID), ==,
                    qpci_config_readl(d->dev, PCI_VENDOR_ID));

    g_assert_cmphex(qdma_testdev_readl(d, DMA_TESTDEV_REG_MAGIC), ==,
                    DMA_TESTDEV_MAGIC);
    g_assert_cmphex(qdma_testdev_readl(d, DMA_TESTDEV_REG_VERSION), ==,
                    DMA_TESTDEV_VERSION);
    g_assert_cmphex(qdma_testdev_readl(d, DMA_TESTDEV_REG_FUNC), ==, 0);
    g_assert_cmphex(qdma_testdev_readl(d, DMA_TESTDEV_REG_MAX_LEN), ==,
                    DMA_TESTDEV_MAX_LEN);
    for (uint32_t r = DMA_TESTDEV_REG_SRC; r < DMA_TESTDEV_REG_END; r += 4) {
        g_assert_cmphex(qdma_testdev_readl(d, r), ==, 0);
    }
    fixture_stop(&f);
}

static void test_pf_dma(void)
{
    Fixture f;

    fixture_start(&f, "");
    check_dma_ops(&f, &f.pf.fn, 4096);
    check_dma_ops(&f, &f.pf.fn, 3 * 4096 + 123);
    check_dma_ops(&f, &f.pf.fn, DMA_TESTDEV_MAX_LEN);
    fixture_stop(&f);
}

static void check_vfs_present(Fixture *f, uint16_t num_vfs);

static void test_reset(void)
{
    Fixture f;
    QDmaTestdev *d = &f.pf.fn;

    fixture_start(&f, "");
    check_dma_ops(&f, d, 64);
    qdma_testdev_writeq(d, DMA_TESTDEV_REG_RING_BASE, 0x1000);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_CONTROL, DMA_TESTDEV_CTRL_IRQ_EN);
    qdma_testdev_vfs_enable(&f.pf, 2);

    qtest_system_reset(f.qts);
    /* Reset cleared BARs, command registers and PCIEXBAR: map again. */
    qdma_testdev_pf_cleanup(&f.pf);
    qdma_testdev_pf_init(&f.pf, f.bus, PF_DEVFN);
    g_assert_cmphex(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_CTRL), ==, 0);
    g_assert_cmphex(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_NUM_VF), ==, 0);
    check_vfs_present(&f, 0);
    for (uint32_t r = DMA_TESTDEV_REG_SRC; r < DMA_TESTDEV_REG_END; r += 4) {
        g_assert_cmphex(qdma_testdev_readl(d, r), ==, 0);
    }
    fixture_stop(&f);
}

static void test_bad_programming(void)
{
    Fixture f;
    QDmaTestdev *d = &f.pf.fn;
    uint64_t buf;

    fixture_start(&f, "");
    buf = guest_alloc(&f.alloc, 8192);

    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_COPY, buf, buf, 0, 0),
                     ==, DMA_TESTDEV_ERR_BAD_LEN);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_FILL, 0, buf,
                                      DMA_TESTDEV_MAX_LEN + 1, 0), ==,
                     DMA_TESTDEV_ERR_BAD_LEN);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_COPY, buf, buf,
                                      0xffffffff, 0), ==,
                     DMA_TESTDEV_ERR_BAD_LEN);
    g_assert_cmpuint(qdma_testdev_run(d, 0, buf, buf, 16, 0), ==,
                     DMA_TESTDEV_ERR_BAD_OP);
    g_assert_cmpuint(qdma_testdev_run(d, 99, buf, buf, 16, 0), ==,
                     DMA_TESTDEV_ERR_BAD_OP);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_CRC32C,
                                      UINT64_MAX - 7, 0, 16, 0), ==,
                     DMA_TESTDEV_ERR_BAD_ADDR);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_FAULT_ADDR), ==, 0);

    /* The first piece of the destination that is not RAM is reported. */
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_COPY, buf,
                                      HOLE_ADDR + 0x10, 64, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    HOLE_ADDR + 0x10);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_CRC32C,
                                      HOLE_ADDR - 4096, 0, 8192, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    HOLE_ADDR - 4096);
    /* The end of RAM: the fault is at the first page past it. */
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_FILL, 0,
                                      256 * 1024 * 1024 - 4096, 8192, 0),
                     ==, DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    256 * 1024 * 1024);

    qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, 7);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_STATUS), ==,
                     DMA_TESTDEV_ST_ERROR);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_ERROR), ==,
                     DMA_TESTDEV_ERR_BAD_DOORBELL);

    /* Read-only registers ignore writes. */
    qdma_testdev_writel(d, DMA_TESTDEV_REG_MAGIC, 0);
    qdma_testdev_writeq(d, DMA_TESTDEV_REG_COMPLETED_OPS, 1234);
    g_assert_cmphex(qdma_testdev_readl(d, DMA_TESTDEV_REG_MAGIC), ==,
                    DMA_TESTDEV_MAGIC);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_OPS),
                     ==, 0);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_ERROR_COUNT),
                     ==, 10);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_BYTES),
                     ==, 0);

    /* Still working after all that */
    check_dma_ops(&f, d, 100);
    guest_free(&f.alloc, buf);
    fixture_stop(&f);
}

/* A VF that is off answers no config cycle at all. */
static bool vf_present(Fixture *f, uint16_t index)
{
    int devfn = qdma_testdev_vf_devfn(&f->pf, index);
    uint32_t id = qpcie_ecam_readl(f->bus, devfn, PCI_VENDOR_ID);
    uint32_t class = qpcie_ecam_readl(f->bus, devfn, PCI_CLASS_REVISION);

    if (id == 0xffffffff && class == 0xffffffff) {
        return false;
    }
    /*
     * SR-IOV makes a VF's vendor and device ID read 0xffff; software takes
     * them from the PF (vendor) and its SR-IOV capability (VF Device ID).
     */
    g_assert_cmphex(id, ==, 0xffffffff);
    g_assert_cmphex(class, ==, DMA_TESTDEV_PCI_CLASS << 16 |
                    DMA_TESTDEV_PCI_REVISION);
    return true;
}

static void check_vfs_present(Fixture *f, uint16_t num_vfs)
{
    for (uint16_t i = 0; i < TOTAL_VFS; i++) {
        g_assert_cmpint(vf_present(f, i), ==, i < num_vfs);
    }
}

static void test_vf_enable_disable(void)
{
    Fixture f;

    fixture_start(&f, "");
    check_vfs_present(&f, 0);

    for (int round = 0; round < 3; round++) {
        uint16_t n = round == 1 ? TOTAL_VFS : 3;

        qdma_testdev_vfs_enable(&f.pf, n);
        g_assert_cmpuint(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_NUM_VF),
                         ==, n);
        check_vfs_present(&f, n);
        for (uint16_t i = 0; i < n; i++) {
            QDmaTestdev vf;

            qdma_testdev_vf_init(&vf, &f.pf, i);
            g_assert_cmphex(qpci_config_readb(vf.dev, PCI_HEADER_TYPE) & 0x7f,
                            ==, PCI_HEADER_TYPE_NORMAL);
            g_assert_cmphex(qpcie_ecam_find_ext_cap(f.bus, vf.dev->devfn,
                                                    PCI_EXT_CAP_ID_ARI), ==,
                            DMA_TESTDEV_VF_ARI_CAP_OFFSET);
            g_assert_cmphex(qpcie_ecam_find_ext_cap(f.bus, vf.dev->devfn,
                                                    PCI_EXT_CAP_ID_SRIOV), ==,
                            0);
            /* A VF's own BAR registers are read-only zero. */
            g_assert_cmphex(qpci_config_readl(vf.dev, PCI_BASE_ADDRESS_0),
                            ==, 0);
            g_assert_cmphex(qdma_testdev_readl(&vf, DMA_TESTDEV_REG_MAGIC),
                            ==, DMA_TESTDEV_MAGIC);
            g_assert_cmphex(qdma_testdev_readl(&vf, DMA_TESTDEV_REG_FUNC),
                            ==, DMA_TESTDEV_FUNC_VF | i);
            /* Enabling reset the VF: counters start from zero. */
            g_assert_cmpuint(qdma_testdev_readq(&vf,
                                                DMA_TESTDEV_REG_COMPLETED_OPS),
                             ==, 0);
            check_dma_ops(&f, &vf, 4096 + i);
            qdma_testdev_vf_cleanup(&vf);
        }
        /* The PF is not disturbed by its VFs. */
        check_dma_ops(&f, &f.pf.fn, 512);

        qdma_testdev_vfs_disable(&f.pf);
        check_vfs_present(&f, 0);
        /* A stale mapping of a VF BAR now reaches nothing. */
        g_assert_cmphex(qtest_readl(f.qts, f.pf.vf_bar_base +
                                    DMA_TESTDEV_REG_MAGIC), !=,
                        DMA_TESTDEV_MAGIC);
    }
    fixture_stop(&f);
}

static void test_sriov_corner_cases(void)
{
    Fixture f;
    QDmaTestdevPF *pf = &f.pf;

    fixture_start(&f, "");

    /*
     * NumVFs above TotalVFs is stored, but QEMU then makes VF Enable
     * read-only, so the VFs cannot be switched on (SR-IOV leaves the
     * outcome undefined; refusing is the safe choice).
     */
    qdma_testdev_sriov_writew(pf, PCI_SRIOV_NUM_VF, TOTAL_VFS + 1);
    g_assert_cmpuint(qdma_testdev_sriov_readw(pf, PCI_SRIOV_NUM_VF), ==,
                     TOTAL_VFS + 1);
    qdma_testdev_sriov_writew(pf, PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_VFE);
    g_assert_cmphex(qdma_testdev_sriov_readw(pf, PCI_SRIOV_CTRL) &
                    PCI_SRIOV_CTRL_VFE, ==, 0);
    check_vfs_present(&f, 0);

    /* NumVFs is read-only while VF Enable is set. */
    qdma_testdev_vfs_enable(pf, 2);
    check_vfs_present(&f, 2);
    qdma_testdev_sriov_writew(pf, PCI_SRIOV_NUM_VF, 5);
    g_assert_cmpuint(qdma_testdev_sriov_readw(pf, PCI_SRIOV_NUM_VF), ==, 2);
    check_vfs_present(&f, 2);
    qdma_testdev_vfs_disable(pf);
    check_vfs_present(&f, 0);

    /* VF Enable with NumVFs 0 is accepted and enables nothing. */
    qdma_testdev_vfs_enable(pf, 0);
    g_assert_cmphex(qdma_testdev_sriov_readw(pf, PCI_SRIOV_CTRL) &
                    PCI_SRIOV_CTRL_VFE, ==, PCI_SRIOV_CTRL_VFE);
    check_vfs_present(&f, 0);
    /* ... and NumVFs then stays 0 until VF Enable is cleared. */
    qdma_testdev_sriov_writew(pf, PCI_SRIOV_NUM_VF, 3);
    g_assert_cmpuint(qdma_testdev_sriov_readw(pf, PCI_SRIOV_NUM_VF), ==, 0);
    check_vfs_present(&f, 0);
    qdma_testdev_vfs_disable(pf);

    /* Exactly TotalVFs is fine. */
    qdma_testdev_vfs_enable(pf, TOTAL_VFS);
    check_vfs_present(&f, TOTAL_VFS);
    qdma_testdev_vfs_disable(pf);
    check_vfs_present(&f, 0);
    fixture_stop(&f);
}

static void test_ring(void)
{
    enum { N = 300, LEN = 1000 };
    Fixture f;
    QDmaTestdev *d = &f.pf.fn;
    g_autofree DmaTestdevDesc *descs = g_new0(DmaTestdevDesc, N);
    g_autofree uint8_t *in = g_malloc(LEN);
    g_autofree uint8_t *out = g_malloc(LEN);
    uint64_t src, dst, bytes = 0;

    fixture_start(&f, "");
    src = guest_alloc(&f.alloc, LEN);
    dst = guest_alloc(&f.alloc, (uint64_t)N * LEN);
    fill_random(in, LEN);
    qtest_memwrite(f.qts, src, in, LEN);

    /* More than RING_BUDGET descriptors: the helper must kick twice. */
    for (uint32_t i = 0; i < N; i++) {
        DmaTestdevDesc *desc = &descs[i];

        desc->op = DMA_TESTDEV_OP_COPY + i % 3;
        desc->src = src;
        desc->dst = dst + (uint64_t)i * LEN;
        desc->len = LEN - i;
        desc->pattern = (i & 0xff) * 0x01010101;
        bytes += desc->len;
    }
    g_assert_cmpuint(qdma_testdev_run_ring(d, &f.alloc, 512, descs, N), ==,
                     DMA_TESTDEV_ERR_NONE);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_RING_HEAD), ==, N);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_OPS),
                     ==, N);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_BYTES),
                     ==, bytes);

    for (uint32_t i = 0; i < N; i++) {
        DmaTestdevDesc *desc = &descs[i];

        g_assert_cmphex(desc->status, ==, DMA_TESTDEV_DESC_ST_COMPLETE);
        switch (desc->op) {
        case DMA_TESTDEV_OP_COPY:
            qtest_memread(f.qts, desc->dst, out, desc->len);
            g_assert_cmpmem(in, desc->len, out, desc->len);
            g_assert_cmphex(desc->result, ==, 0);
            break;
        case DMA_TESTDEV_OP_FILL:
            qtest_memread(f.qts, desc->dst, out, desc->len);
            for (uint32_t j = 0; j < desc->len; j++) {
                g_assert_cmphex(out[j], ==, i & 0xff);
            }
            break;
        case DMA_TESTDEV_OP_CRC32C:
            g_assert_cmphex(desc->result, ==, crc32c_ref(in, desc->len));
            break;
        }
    }
    guest_free(&f.alloc, src);
    guest_free(&f.alloc, dst);
    fixture_stop(&f);
}

static void test_ring_errors(void)
{
    Fixture f;
    QDmaTestdev *d = &f.pf.fn;
    DmaTestdevDesc descs[4] = { 0 };
    uint64_t buf;
    static const struct {
        uint64_t base;
        uint32_t size, head, tail;
    } bad_rings[] = {
        { 0x100000, 0, 0, 1 },
        { 0x100000, 1, 0, 0 },
        { 0x100000, 3, 0, 1 },
        { 0x100000, DMA_TESTDEV_RING_MAX_ENTRIES * 2, 0, 1 },
        { 0x100020, 16, 0, 1 },             /* not 64-byte aligned */
        { 0x100000, 16, 16, 1 },            /* head out of range */
        { 0x100000, 16, 0, 17 },            /* tail out of range */
        { UINT64_MAX & ~63ULL, 16, 0, 1 },  /* wraps 2^64 */
    };

    fixture_start(&f, "");
    for (int i = 0; i < ARRAY_SIZE(bad_rings); i++) {
        qdma_testdev_writeq(d, DMA_TESTDEV_REG_RING_BASE, bad_rings[i].base);
        qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_SIZE, bad_rings[i].size);
        qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_HEAD, bad_rings[i].head);
        qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_TAIL, bad_rings[i].tail);
        qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
        g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_STATUS), ==,
                         DMA_TESTDEV_ST_ERROR);
        g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_ERROR), ==,
                         DMA_TESTDEV_ERR_BAD_RING);
        g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_RING_HEAD),
                         ==, bad_rings[i].head);
    }

    /* A ring that is not in RAM faults at the descriptor's address. */
    qdma_testdev_writeq(d, DMA_TESTDEV_REG_RING_BASE, HOLE_ADDR);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_SIZE, 16);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_HEAD, 3);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_TAIL, 5);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_ERROR), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    HOLE_ADDR + 3 * DMA_TESTDEV_DESC_SIZE);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_RING_HEAD), ==, 3);

    /*
     * A failing descriptor is completed with its error and stops the
     * ring; HEAD points past it and later descriptors are left alone.
     */
    buf = guest_alloc(&f.alloc, 4096);
    descs[0] = (DmaTestdevDesc) { .op = DMA_TESTDEV_OP_FILL, .dst = buf,
                                  .len = 16, .pattern = 0x11111111 };
    descs[1] = (DmaTestdevDesc) { .op = DMA_TESTDEV_OP_COPY, .src = buf,
                                  .dst = HOLE_ADDR, .len = 16 };
    descs[2] = (DmaTestdevDesc) { .op = DMA_TESTDEV_OP_FILL, .dst = buf,
                                  .len = 16, .flags = 0x80 };
    descs[3] = (DmaTestdevDesc) { .op = 42, .dst = buf, .len = 16 };
    g_assert_cmpuint(qdma_testdev_run_ring(d, &f.alloc, 8, descs, 4), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    HOLE_ADDR);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_RING_HEAD), ==, 2);
    g_assert_cmphex(descs[0].status, ==, DMA_TESTDEV_DESC_ST_COMPLETE);
    g_assert_cmphex(descs[1].status, ==, DMA_TESTDEV_DESC_ST_COMPLETE |
                    DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(descs[2].status, ==, 0);

    /* Ringing again resumes at HEAD. */
    qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_ERROR), ==,
                     DMA_TESTDEV_ERR_BAD_FLAGS);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_RING_HEAD), ==, 3);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_ERROR), ==,
                     DMA_TESTDEV_ERR_BAD_OP);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_RING_HEAD), ==, 4);
    /* An empty ring is a successful no-op. */
    qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
    g_assert_cmpuint(qdma_testdev_readl(d, DMA_TESTDEV_REG_STATUS), ==,
                     DMA_TESTDEV_ST_DONE);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_OPS),
                     ==, 1);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_ERROR_COUNT),
                     ==, ARRAY_SIZE(bad_rings) + 4);
    guest_free(&f.alloc, buf);
    fixture_stop(&f);
}

static void check_msix(Fixture *f, QDmaTestdev *d, uint32_t data)
{
    uint64_t word = guest_alloc(&f->alloc, 4);
    uint64_t buf = guest_alloc(&f->alloc, 64);

    qtest_writel(f->qts, word, 0);
    qdma_testdev_msix_setup(d, word, data);
    /* Without CONTROL.IRQ_EN there is no message. */
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_FILL, 0, buf, 64, 0),
                     ==, DMA_TESTDEV_ERR_NONE);
    g_assert_cmphex(qtest_readl(f->qts, word), ==, 0);
    qdma_testdev_writel(d, DMA_TESTDEV_REG_CONTROL, DMA_TESTDEV_CTRL_IRQ_EN);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_FILL, 0, buf, 64, 0),
                     ==, DMA_TESTDEV_ERR_NONE);
    g_assert_cmphex(qtest_readl(f->qts, word), ==, data);
    /* Errors interrupt too. */
    qtest_writel(f->qts, word, 0);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_FILL, 0, buf, 0, 0),
                     ==, DMA_TESTDEV_ERR_BAD_LEN);
    g_assert_cmphex(qtest_readl(f->qts, word), ==, data);

    /* A ring interrupts only for descriptors that ask for it. */
    for (uint32_t flags = 0; flags <= DMA_TESTDEV_DESC_F_IRQ; flags++) {
        DmaTestdevDesc desc = {
            .op = DMA_TESTDEV_OP_FILL, .flags = flags, .dst = buf, .len = 64,
        };

        qtest_writel(f->qts, word, 0);
        g_assert_cmpuint(qdma_testdev_run_ring(d, &f->alloc, 4, &desc, 1),
                         ==, DMA_TESTDEV_ERR_NONE);
        g_assert_cmphex(desc.status, ==, DMA_TESTDEV_DESC_ST_COMPLETE);
        g_assert_cmphex(qtest_readl(f->qts, word), ==, flags ? data : 0);
    }
    guest_free(&f->alloc, word);
    guest_free(&f->alloc, buf);
}

static void test_msix(void)
{
    Fixture f;
    QDmaTestdev vf;

    fixture_start(&f, "");
    check_msix(&f, &f.pf.fn, 0x1234);
    qdma_testdev_vfs_enable(&f.pf, 2);
    qdma_testdev_vf_init(&vf, &f.pf, 1);
    check_msix(&f, &vf, 0x5678);
    qdma_testdev_vf_cleanup(&vf);
    fixture_stop(&f);
}

static void iommu_map(Fixture *f, QPCIDevice **dev, QPCIBar *bar)
{
    *dev = qpci_device_find(f->bus, IOMMU_DEVFN);
    g_assert_nonnull(*dev);
    g_assert_cmphex(qpci_config_readw(*dev, PCI_DEVICE_ID), ==,
                    VIRT_IOMMU_PCI_DEVICE_ID);
    qpci_device_enable(*dev);
    *bar = qpci_iomap(*dev, 0, NULL);
}

/* With virt-iommu in its default bypass, PF and VF DMA still work. */
static void test_iommu_bypass(void)
{
    Fixture f;
    QPCIDevice *iommu;
    QPCIBar bar;
    QDmaTestdev vf;

    fixture_start(&f, "-device virt-iommu,addr=04.0");
    iommu_map(&f, &iommu, &bar);
    check_dma_ops(&f, &f.pf.fn, 8192);
    qdma_testdev_vfs_enable(&f.pf, 3);
    for (uint16_t i = 0; i < 3; i++) {
        qdma_testdev_vf_init(&vf, &f.pf, i);
        check_dma_ops(&f, &vf, 5000);
        qdma_testdev_vf_cleanup(&vf);
    }
    qpci_iounmap(iommu, bar);
    g_free(iommu);
    fixture_stop(&f);
}

/*
 * Translation enabled without default bypass and no domain: every
 * requester ID is blocked (docs/specs/virt-iommu.rst), so DMA from the
 * PF and from a VF fails with DMA_FAULT at the first address touched.
 */
static void test_iommu_blocked(void)
{
    Fixture f;
    QPCIDevice *iommu;
    QPCIBar bar;
    QDmaTestdev vf;
    uint64_t src, dst;

    fixture_start(&f, "-device virt-iommu,addr=04.0");
    iommu_map(&f, &iommu, &bar);
    src = guest_alloc(&f.alloc, 4096);
    dst = guest_alloc(&f.alloc, 4096);
    qdma_testdev_vfs_enable(&f.pf, 2);
    qdma_testdev_vf_init(&vf, &f.pf, 1);
    check_dma_ops(&f, &vf, 256);

    qpci_io_writel(iommu, bar, VIRT_IOMMU_REG_CONTROL,
                   VIRT_IOMMU_CTRL_ENABLE);
    g_assert_cmpuint(qdma_testdev_run(&vf, DMA_TESTDEV_OP_COPY, src, dst, 64,
                                      0), ==, DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&vf, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    src);
    g_assert_cmpuint(qdma_testdev_run(&vf, DMA_TESTDEV_OP_FILL, 0, dst, 64,
                                      0), ==, DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&vf, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    dst);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_CRC32C, src,
                                      0, 64, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);

    /* Bypass again: the same VF works. */
    qpci_io_writel(iommu, bar, VIRT_IOMMU_REG_CONTROL,
                   VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    check_dma_ops(&f, &vf, 256);

    qdma_testdev_vf_cleanup(&vf);
    guest_free(&f.alloc, src);
    guest_free(&f.alloc, dst);
    qpci_iounmap(iommu, bar);
    g_free(iommu);
    fixture_stop(&f);
}

/*
 * Each function's DMA is translated for its own requester ID: with
 * translation on and no default bypass, only VF 1, attached to a DMA
 * domain, reaches memory (through its IOVAs); VF 0 and the PF are
 * blocked, and the fault records name their requester IDs.
 */
static void test_iommu_per_rid(void)
{
    enum { IOVA_SRC = 0x40000000, IOVA_DST = 0x40100000, LEN = 4096 };
    Fixture f;
    QVirtIOMMU iommu;
    QDmaTestdev vf0, vf1;
    g_autofree uint8_t *in = g_malloc(LEN);
    g_autofree uint8_t *out = g_malloc(LEN);
    uint64_t src, dst;
    uint32_t dom;
    uint16_t rid0, rid1;

    fixture_start(&f, "-device virt-iommu,addr=04.0");
    qvirt_iommu_init(&iommu, f.bus, IOMMU_DEVFN);
    qvirt_iommu_start(&iommu, &f.alloc, 4, 4, VIRT_IOMMU_CTRL_ENABLE);
    src = guest_alloc(&f.alloc, LEN);
    dst = guest_alloc(&f.alloc, LEN);
    fill_random(in, LEN);
    qtest_memwrite(f.qts, src, in, LEN);
    qtest_memset(f.qts, dst, 0, LEN);

    qdma_testdev_vfs_enable(&f.pf, 2);
    qdma_testdev_vf_init(&vf0, &f.pf, 0);
    qdma_testdev_vf_init(&vf1, &f.pf, 1);
    /* Bus 0 and no firmware: the requester ID is the devfn. */
    rid0 = vf0.dev->devfn;
    rid1 = vf1.dev->devfn;

    dom = qvirt_iommu_domain_alloc(&iommu, VIRT_IOMMU_DOMAIN_DMA);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&iommu, dom, IOVA_SRC, src, LEN,
                                           VIRT_IOMMU_PERM_READ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&iommu, dom, IOVA_DST, dst, LEN,
                                           VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_attach(&iommu, rid1, dom);

    g_assert_cmpuint(qdma_testdev_run(&vf1, DMA_TESTDEV_OP_COPY, IOVA_SRC,
                                      IOVA_DST, LEN, 0), ==,
                     DMA_TESTDEV_ERR_NONE);
    qtest_memread(f.qts, dst, out, LEN);
    g_assert_cmpmem(in, LEN, out, LEN);
    g_assert_cmpuint(qdma_testdev_run(&vf1, DMA_TESTDEV_OP_CRC32C, IOVA_SRC,
                                      0, LEN, 0), ==, DMA_TESTDEV_ERR_NONE);
    g_assert_cmphex(qdma_testdev_readq(&vf1, DMA_TESTDEV_REG_RESULT), ==,
                    crc32c_ref(in, LEN));

    /* Writing through the read-only mapping is refused at its IOVA. */
    g_assert_cmpuint(qdma_testdev_run(&vf1, DMA_TESTDEV_OP_FILL, 0,
                                      IOVA_SRC + 64, 64, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&vf1, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    IOVA_SRC + 64);
    qvirt_iommu_expect_fault(&iommu, VIRT_IOMMU_FAULT_PERMISSION, rid1, dom,
                             IOVA_SRC + 64, VIRT_IOMMU_PERM_WRITE);
    /* One DMA piece faulted once; nothing else may be queued. */
    qvirt_iommu_assert_no_event(&iommu);

    g_assert_cmpuint(qdma_testdev_run(&vf0, DMA_TESTDEV_OP_COPY, src, dst,
                                      LEN, 0), ==, DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&vf0, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    src);
    qvirt_iommu_expect_fault(&iommu, VIRT_IOMMU_FAULT_BLOCKED, rid0, 0, src,
                             VIRT_IOMMU_PERM_READ);
    /* One DMA piece faulted once; nothing else may be queued. */
    qvirt_iommu_assert_no_event(&iommu);

    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0, dst,
                                      LEN, 0), ==, DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&f.pf.fn, DMA_TESTDEV_REG_FAULT_ADDR),
                    ==, dst);
    qvirt_iommu_expect_fault(&iommu, VIRT_IOMMU_FAULT_BLOCKED, PF_DEVFN, 0, dst,
                             VIRT_IOMMU_PERM_WRITE);
    /* One DMA piece faulted once; nothing else may be queued. */
    qvirt_iommu_assert_no_event(&iommu);
    /* The blocked functions wrote nothing. */
    qtest_memread(f.qts, dst, out, LEN);
    g_assert_cmpmem(in, LEN, out, LEN);

    qdma_testdev_vf_cleanup(&vf0);
    qdma_testdev_vf_cleanup(&vf1);
    guest_free(&f.alloc, src);
    guest_free(&f.alloc, dst);
    qvirt_iommu_cleanup(&iommu);
    fixture_stop(&f);
}

/* VFs in another slot, every other function, and other IDs */
static void test_sriov_layout(void)
{
    Fixture f;

    fixture_start(&f, "-device dma-testdev,addr=08.0,total-vfs=4,"
                  "vf-offset=8,vf-stride=2,vendor-id=0x1b36,"
                  "device-id=0x1234,vf-device-id=0x1235");
    qdma_testdev_pf_cleanup(&f.pf);
    qdma_testdev_pf_init(&f.pf, f.bus, QPCI_DEVFN(8, 0));
    g_assert_cmphex(qpci_config_readl(f.pf.fn.dev, PCI_VENDOR_ID), ==,
                    0x12341b36);
    g_assert_cmpuint(f.pf.total_vfs, ==, 4);
    g_assert_cmpuint(f.pf.vf_offset, ==, 8);
    g_assert_cmpuint(f.pf.vf_stride, ==, 2);
    g_assert_cmphex(qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_VF_DID), ==,
                    0x1235);

    qdma_testdev_vfs_enable(&f.pf, 4);
    for (uint16_t i = 0; i < 4; i++) {
        QDmaTestdev vf;

        qdma_testdev_vf_init(&vf, &f.pf, i);
        g_assert_cmpint(vf.dev->devfn, ==, QPCI_DEVFN(9, 2 * i));
        /* The odd functions between them stay empty. */
        g_assert_cmphex(qpcie_ecam_readl(f.bus, vf.dev->devfn + 1,
                                         PCI_VENDOR_ID), ==, 0xffffffff);
        g_assert_cmphex(qdma_testdev_readl(&vf, DMA_TESTDEV_REG_FUNC), ==,
                        DMA_TESTDEV_FUNC_VF | i);
        check_dma_ops(&f, &vf, 300);
        qdma_testdev_vf_cleanup(&vf);
    }
    qdma_testdev_vfs_disable(&f.pf);
    g_assert_cmphex(qpcie_ecam_readl(f.bus, QPCI_DEVFN(9, 0),
                                     PCI_CLASS_REVISION), ==, 0xffffffff);
    fixture_stop(&f);
}

/* Each bad command line must stop QEMU with this message on stderr. */
static const QCmdlineError bad_configs[] = {
    { "vf-offset-0", "-device dma-testdev,addr=07.0,vf-offset=0",
      "*vf-offset must not be 0*" },
    { "vf-stride-0", "-device dma-testdev,addr=07.0,vf-stride=0",
      "*vf-stride must not be 0 with total-vfs 7*" },
    { "vf-devfn-overflow",
      "-device dma-testdev,addr=1e.0,total-vfs=16",
      "*VF addr overflows*" },
    { "vf-devfn-taken",
      "-device dma-testdev,addr=08.0,total-vfs=0 "
      "-device dma-testdev,addr=07.0,vf-offset=8,total-vfs=1",
      "*PCI: slot 8 function 0 not available for dma-testdev-vf*" },
    { "vendor-id", "-device dma-testdev,addr=07.0,vendor-id=0xffff",
      "*vendor-id 0xffff is not valid*" },
    { "device-id", "-device dma-testdev,addr=07.0,vf-device-id=0xffff",
      "*must not be 0xffff*" },
    { "conventional-pci",
      "-device pci-bridge,id=br,chassis_nr=1,addr=05.0 "
      "-device dma-testdev,bus=br,addr=01.0",
      "*needs a PCI Express bus*" },
    { "vf-not-creatable", "-device dma-testdev-vf",
      "*dma-testdev-vf*" },
};

static void test_bad_config(const void *data)
{
    const QCmdlineError *bad = data;
    g_autofree char *args = g_strdup_printf(MACHINE_ARGS "%s", bad->args);

    qtest_assert_cmdline_error(args, bad->error);
}

/*
 * PF and VF register state, VF Enable and the VFs' own PCI state (BAR
 * decoding, bus mastering, MSI-X) survive migration, and a ring that
 * was set up before it runs after it.
 */
static void test_migration(void)
{
    enum { N = 8, LEN = 512 };
    Fixture f;
    QTestState *to;
    QPCIBus *bus2;
    QDmaTestdev pf2, vf, vf2;
    g_autofree char *uri = g_strdup_printf("unix:%s/dma-testdev-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    uint8_t buf[DMA_TESTDEV_DESC_SIZE];
    g_autofree uint8_t *in = g_malloc(LEN);
    g_autofree uint8_t *out = g_malloc(LEN);
    uint64_t ring, src, dst, word;

    fixture_start(&f, "");
    qdma_testdev_vfs_enable(&f.pf, 3);
    qdma_testdev_vf_init(&vf, &f.pf, 2);
    check_dma_ops(&f, &vf, 1000);
    check_dma_ops(&f, &f.pf.fn, 100);
    word = guest_alloc(&f.alloc, 4);
    qtest_writel(f.qts, word, 0);
    qdma_testdev_msix_setup(&vf, word, 0xbeef);
    qdma_testdev_writel(&vf, DMA_TESTDEV_REG_CONTROL,
                        DMA_TESTDEV_CTRL_IRQ_EN);

    /* A ring with N descriptors queued but not kicked */
    src = guest_alloc(&f.alloc, LEN);
    dst = guest_alloc(&f.alloc, N * LEN);
    ring = guest_alloc(&f.alloc, 16 * DMA_TESTDEV_DESC_SIZE);
    fill_random(in, LEN);
    qtest_memwrite(f.qts, src, in, LEN);
    qtest_memset(f.qts, ring, 0, 16 * DMA_TESTDEV_DESC_SIZE);
    for (uint32_t i = 0; i < N; i++) {
        memset(buf, 0, sizeof(buf));
        stl_le_p(buf + DMA_TESTDEV_DESC_OP, DMA_TESTDEV_OP_COPY);
        stl_le_p(buf + DMA_TESTDEV_DESC_FLAGS,
                 i == N - 1 ? DMA_TESTDEV_DESC_F_IRQ : 0);
        stq_le_p(buf + DMA_TESTDEV_DESC_SRC, src);
        stq_le_p(buf + DMA_TESTDEV_DESC_DST, dst + i * LEN);
        stl_le_p(buf + DMA_TESTDEV_DESC_LEN, LEN);
        qtest_memwrite(f.qts, ring + i * DMA_TESTDEV_DESC_SIZE, buf,
                       sizeof(buf));
    }
    qdma_testdev_writeq(&vf, DMA_TESTDEV_REG_RING_BASE, ring);
    qdma_testdev_writel(&vf, DMA_TESTDEV_REG_RING_SIZE, 16);
    qdma_testdev_writel(&vf, DMA_TESTDEV_REG_RING_TAIL, N);

    to = qtest_initf(MACHINE_ARGS "-device dma-testdev,addr=06.0 "
                     "-incoming %s", uri);
    migrate_qmp(f.qts, to, uri, NULL, "{}");
    wait_for_migration_complete(f.qts);
    qtest_qmp_eventwait(to, "RESUME");

    bus2 = qpci_new_pc(to, NULL);
    /* Same BAR addresses: they are part of the migrated config space. */
    pf2 = (QDmaTestdev) { .dev = qpci_device_find(bus2, PF_DEVFN),
                          .bar = f.pf.fn.bar };
    vf2 = (QDmaTestdev) { .dev = g_new0(QPCIDevice, 1), .bar = vf.bar };
    vf2.dev->bus = bus2;
    vf2.dev->devfn = vf.dev->devfn;
    g_assert_cmphex(qpcie_ecam_readw(bus2, PF_DEVFN, f.pf.sriov +
                                     PCI_SRIOV_NUM_VF), ==, 3);
    g_assert_cmphex(qpci_config_readw(vf2.dev, PCI_COMMAND) &
                    PCI_COMMAND_MASTER, ==, PCI_COMMAND_MASTER);
    g_assert_cmpuint(qdma_testdev_readq(&pf2, DMA_TESTDEV_REG_COMPLETED_OPS),
                     ==, 3);
    g_assert_cmpuint(qdma_testdev_readq(&vf2, DMA_TESTDEV_REG_COMPLETED_OPS),
                     ==, 3);
    g_assert_cmpuint(qdma_testdev_readq(&vf2,
                                        DMA_TESTDEV_REG_COMPLETED_BYTES),
                     ==, 2999);
    g_assert_cmphex(qdma_testdev_readl(&vf2, DMA_TESTDEV_REG_FUNC), ==,
                    DMA_TESTDEV_FUNC_VF | 2);

    qdma_testdev_writel(&vf2, DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_RING);
    g_assert_cmpuint(qdma_testdev_readl(&vf2, DMA_TESTDEV_REG_STATUS), ==,
                     DMA_TESTDEV_ST_DONE);
    g_assert_cmpuint(qdma_testdev_readl(&vf2, DMA_TESTDEV_REG_RING_HEAD), ==,
                     N);
    for (uint32_t i = 0; i < N; i++) {
        qtest_memread(to, dst + i * LEN, out, LEN);
        g_assert_cmpmem(in, LEN, out, LEN);
    }
    g_assert_cmphex(qtest_readl(to, word), ==, 0xbeef);

    g_free(vf2.dev);
    g_free(pf2.dev);
    qpci_free_pc(bus2);
    qtest_quit(to);
    qdma_testdev_vf_cleanup(&vf);
    fixture_stop(&f);
}

/*
 * VFs switched on and off repeatedly with different counts, each VF
 * running a ring every time; a VF comes back reset, and a doorbell
 * written through a stale mapping of a VF that is off does nothing.
 */
static void test_vf_churn(void)
{
    enum { N = 20, LEN = 256 };
    static const uint16_t counts[] = { 1, 7, 2, 5, 7, 3 };
    Fixture f;
    DmaTestdevDesc descs[N];
    g_autofree uint8_t *in = g_malloc(LEN);
    g_autofree uint8_t *out = g_malloc(LEN);
    uint64_t src, dst;

    fixture_start(&f, "");
    src = guest_alloc(&f.alloc, LEN);
    dst = guest_alloc(&f.alloc, N * LEN);

    for (int round = 0; round < ARRAY_SIZE(counts); round++) {
        uint16_t n = counts[round];

        qdma_testdev_vfs_enable(&f.pf, n);
        check_vfs_present(&f, n);
        for (uint16_t i = 0; i < n; i++) {
            QDmaTestdev vf;

            qdma_testdev_vf_init(&vf, &f.pf, i);
            g_assert_cmpuint(qdma_testdev_readq(&vf,
                                                DMA_TESTDEV_REG_COMPLETED_OPS),
                             ==, 0);
            fill_random(in, LEN);
            qtest_memwrite(f.qts, src, in, LEN);
            for (uint32_t j = 0; j < N; j++) {
                descs[j] = (DmaTestdevDesc) {
                    .op = DMA_TESTDEV_OP_COPY, .src = src,
                    .dst = dst + j * LEN, .len = LEN,
                };
            }
            g_assert_cmpuint(qdma_testdev_run_ring(&vf, &f.alloc, 32, descs,
                                                   N), ==,
                             DMA_TESTDEV_ERR_NONE);
            for (uint32_t j = 0; j < N; j++) {
                g_assert_cmphex(descs[j].status, ==,
                                DMA_TESTDEV_DESC_ST_COMPLETE);
                qtest_memread(f.qts, dst + j * LEN, out, LEN);
                g_assert_cmpmem(in, LEN, out, LEN);
            }
            g_assert_cmpuint(qdma_testdev_readq(&vf,
                                                DMA_TESTDEV_REG_COMPLETED_OPS),
                             ==, N);
            /* Leave registers programmed for the stale doorbell below. */
            qdma_testdev_writeq(&vf, DMA_TESTDEV_REG_SRC, src);
            qdma_testdev_writeq(&vf, DMA_TESTDEV_REG_DST, dst);
            qdma_testdev_writel(&vf, DMA_TESTDEV_REG_LEN, LEN);
            qdma_testdev_writel(&vf, DMA_TESTDEV_REG_OP, DMA_TESTDEV_OP_FILL);
            qdma_testdev_vf_cleanup(&vf);
        }
        qdma_testdev_vfs_disable(&f.pf);
        check_vfs_present(&f, 0);

        qtest_memset(f.qts, dst, 0x5a, LEN);
        for (uint16_t i = 0; i < n; i++) {
            qtest_writel(f.qts, f.pf.vf_bar_base + i * DMA_TESTDEV_BAR0_SIZE +
                         DMA_TESTDEV_REG_DOORBELL, DMA_TESTDEV_DB_OP);
        }
        qtest_memread(f.qts, dst, out, LEN);
        for (uint32_t j = 0; j < LEN; j++) {
            g_assert_cmphex(out[j], ==, 0x5a);
        }
    }
    guest_free(&f.alloc, src);
    guest_free(&f.alloc, dst);
    fixture_stop(&f);
}

/*
 * DMA into the device's own BAR would re-enter the doorbell; QEMU's
 * re-entrancy guard refuses it, which shows up as DMA_FAULT.
 */
static void test_self_dma(void)
{
    Fixture f;
    QDmaTestdev *d = &f.pf.fn;
    uint64_t buf;

    fixture_start(&f, "");
    buf = guest_alloc(&f.alloc, 4);
    qtest_writel(f.qts, buf, DMA_TESTDEV_DB_OP);
    g_assert_cmpuint(qdma_testdev_run(d, DMA_TESTDEV_OP_COPY, buf,
                                      d->bar_addr + DMA_TESTDEV_REG_DOORBELL,
                                      4, 0), ==, DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(d, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                    d->bar_addr + DMA_TESTDEV_REG_DOORBELL);
    g_assert_cmpuint(qdma_testdev_readq(d, DMA_TESTDEV_REG_COMPLETED_OPS),
                     ==, 0);
    guest_free(&f.alloc, buf);
    fixture_stop(&f);
}

/*
 * Below a root port, 16 VFs spill past function 7 of device 0, which
 * only ARI makes valid (QEMU warns about the slot otherwise); with the
 * port's bus numbers, windows and ARI Forwarding set up as firmware
 * would, each VF is reachable and does DMA.
 */
static void test_root_port(void)
{
    enum { NUM_VFS = 16, PORT_DEVFN = QPCI_DEVFN(5, 0) };
    Fixture f;
    QPCIDevice *port;
    uint8_t exp;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, 0);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr_unmatched("*is not valid for*");
        return;
    }

    fixture_start(&f, "-device pcie-root-port,id=rp,chassis=1,addr=05.0 "
                  "-device dma-testdev,bus=rp,addr=00.0,total-vfs=16");
    qdma_testdev_pf_cleanup(&f.pf);
    g_assert_cmpint(qpci_secondary_buses_init(f.bus), ==, 1);
    port = qpci_device_find(f.bus, PORT_DEVFN);
    g_assert_nonnull(port);
    /* Forward the whole libqos MMIO range, 0xe0000000 up. */
    qpci_config_writew(port, PCI_MEMORY_BASE, 0xe000);
    qpci_config_writew(port, PCI_MEMORY_LIMIT, 0xfff0);
    qpci_config_writew(port, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    exp = qpci_find_capability(port, PCI_CAP_ID_EXP, 0);
    g_assert_cmphex(qpci_config_readl(port, exp + PCI_EXP_DEVCAP2) &
                    PCI_EXP_DEVCAP2_ARI, ==, PCI_EXP_DEVCAP2_ARI);
    qpci_config_writew(port, exp + PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_ARI);

    qdma_testdev_pf_init(&f.pf, f.bus, 1 << 8 | QPCI_DEVFN(0, 0));
    check_dma_ops(&f, &f.pf.fn, 1000);
    qdma_testdev_vfs_enable(&f.pf, NUM_VFS);
    for (uint16_t i = 0; i < NUM_VFS; i++) {
        QDmaTestdev vf;

        qdma_testdev_vf_init(&vf, &f.pf, i);
        g_assert_cmphex(vf.dev->devfn, ==, 1 << 8 | (i + 1));
        g_assert_cmphex(qdma_testdev_readl(&vf, DMA_TESTDEV_REG_FUNC), ==,
                        DMA_TESTDEV_FUNC_VF | i);
        check_dma_ops(&f, &vf, 2000);
        qdma_testdev_vf_cleanup(&vf);
    }
    qdma_testdev_vfs_disable(&f.pf);
    g_assert_cmphex(qpcie_ecam_readl(f.bus, 1 << 8 | 16, PCI_VENDOR_ID), ==,
                    0xffffffff);
    g_free(port);
    fixture_stop(&f);
}

/*
 * Random programming of the PF and two VFs: every doorbell must end in
 * DONE or ERROR with a known code, and the functions must still work
 * afterwards.  Addresses stay in a scratch buffer, a hole or the other
 * functions' registers, so the machine itself is not disturbed; rerun
 * with --seed to reproduce a failure.
 */
static void test_random_programming(void)
{
    enum { ROUNDS = 400, SCRATCH = 3 * 4096 };
    Fixture f;
    QDmaTestdev fns[3];
    uint64_t scratch, addrs[6];
    static const uint32_t lens[] = {
        0, 1, 7, 64, 4096, 5000, DMA_TESTDEV_MAX_LEN + 1, 0xffffffff,
    };

    fixture_start(&f, "");
    qdma_testdev_vfs_enable(&f.pf, 2);
    fns[0] = f.pf.fn;
    qdma_testdev_vf_init(&fns[1], &f.pf, 0);
    qdma_testdev_vf_init(&fns[2], &f.pf, 1);
    scratch = guest_alloc(&f.alloc, SCRATCH + 64 * 16);
    addrs[0] = scratch;
    addrs[1] = scratch + 4093;
    addrs[2] = HOLE_ADDR - 64;
    addrs[3] = fns[1].bar_addr;
    addrs[4] = fns[0].bar_addr + DMA_TESTDEV_REG_DOORBELL;
    addrs[5] = UINT64_MAX - 3;

    for (int i = 0; i < ROUNDS; i++) {
        QDmaTestdev *d = &fns[g_test_rand_int_range(0, 3)];
        uint32_t status, err;

        switch (g_test_rand_int_range(0, 4)) {
        case 0:
            qdma_testdev_writeq(d, DMA_TESTDEV_REG_SRC,
                                addrs[g_test_rand_int_range(0, 6)]);
            qdma_testdev_writeq(d, DMA_TESTDEV_REG_DST,
                                addrs[g_test_rand_int_range(0, 6)]);
            qdma_testdev_writel(d, DMA_TESTDEV_REG_LEN,
                                lens[g_test_rand_int_range(0, 8)]);
            qdma_testdev_writel(d, DMA_TESTDEV_REG_OP,
                                g_test_rand_int_range(0, 5));
            break;
        case 1:
            qdma_testdev_writeq(d, DMA_TESTDEV_REG_RING_BASE,
                                addrs[g_test_rand_int_range(0, 6)] &
                                ~(g_test_rand_bit() ? 63ULL : 0));
            qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_SIZE,
                                1u << g_test_rand_int_range(0, 14));
            qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_HEAD,
                                g_test_rand_int_range(0, 20));
            qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_TAIL,
                                g_test_rand_int_range(0, 20));
            break;
        case 2:
            /* Random descriptors in the scratch ring */
            for (int j = 0; j < 16 * 64; j += 4) {
                qtest_writel(f.qts, scratch + SCRATCH + j,
                             g_test_rand_bit() ?
                             (uint32_t)addrs[g_test_rand_int_range(0, 6)] :
                             lens[g_test_rand_int_range(0, 8)] % 8192);
            }
            qdma_testdev_writeq(d, DMA_TESTDEV_REG_RING_BASE,
                                scratch + SCRATCH);
            qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_SIZE, 16);
            qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_HEAD, 0);
            qdma_testdev_writel(d, DMA_TESTDEV_REG_RING_TAIL, 15);
            break;
        default:
            qdma_testdev_writel(d, g_test_rand_int_range(0, 0x200) * 4,
                                g_test_rand_int());
            break;
        }
        qdma_testdev_writel(d, DMA_TESTDEV_REG_DOORBELL,
                            g_test_rand_int_range(0, 4));
        status = qdma_testdev_readl(d, DMA_TESTDEV_REG_STATUS);
        err = qdma_testdev_readl(d, DMA_TESTDEV_REG_ERROR);
        g_assert_true(status == DMA_TESTDEV_ST_DONE ||
                      status == DMA_TESTDEV_ST_ERROR);
        g_assert_cmpuint(err, <=, DMA_TESTDEV_ERR_BAD_FLAGS);
        g_assert_cmpuint(err == 0, ==, status == DMA_TESTDEV_ST_DONE);
    }

    for (int i = 0; i < 3; i++) {
        check_dma_ops(&f, &fns[i], 4096);
    }
    qdma_testdev_vf_cleanup(&fns[1]);
    qdma_testdev_vf_cleanup(&fns[2]);
    guest_free(&f.alloc, scratch);
    fixture_stop(&f);
}

static void iommu_drain_events(QVirtIOMMU *v)
{
    VirtIOMMUEvent evt;

    while (qvirt_iommu_pop_event(v, &evt)) {
        g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_FAULT);
    }
}

/* Guest-physical and bus addresses of a ring, source and destination */
typedef struct RingCopy {
    uint64_t ring, src, dst;            /* guest-physical */
    uint64_t ring_bus, src_bus, dst_bus;
} RingCopy;

/*
 * Maps @gpa's ring and source (a page each) and destination (@dst_bytes)
 * in @dom; stores the IOVAs in @iova.
 */
static void map_ring_copy(QVirtIOMMU *v, uint32_t dom, const RingCopy *gpa,
                          RingCopy *iova, uint64_t dst_bytes)
{
    iova->ring_bus = qvirt_iommu_map_ok(v, dom, gpa->ring, 4096,
                                        VIRT_IOMMU_PERM_READ |
                                        VIRT_IOMMU_PERM_WRITE, 0);
    iova->src_bus = qvirt_iommu_map_ok(v, dom, gpa->src, 4096,
                                       VIRT_IOMMU_PERM_READ, 0);
    iova->dst_bus = qvirt_iommu_map_ok(v, dom, gpa->dst, dst_bytes,
                                       VIRT_IOMMU_PERM_WRITE, 0);
}

/*
 * Copies the page at @c->src to the @n pages at @c->dst through a ring
 * on @d, the device using the bus addresses.  Checks the data that
 * arrived and returns NONE; on failure returns the ERROR register.
 */
static uint32_t ring_copy(Fixture *f, QDmaTestdev *d, const RingCopy *c,
                          uint32_t n)
{
    uint64_t src = c->src_bus, dst = c->dst_bus;
    uint64_t gpa_src = c->src, gpa_dst = c->dst;
    DmaTestdevDesc descs[8];
    uint8_t in[4096], out[4096];
    uint32_t err;

    g_assert_cmpuint(n, <=, ARRAY_SIZE(descs));
    fill_random(in, sizeof(in));
    qtest_memwrite(f->qts, gpa_src, in, sizeof(in));
    qtest_memset(f->qts, gpa_dst, 0, n * sizeof(out));
    for (uint32_t i = 0; i < n; i++) {
        descs[i] = (DmaTestdevDesc) {
            .op = DMA_TESTDEV_OP_COPY, .src = src,
            .dst = dst + i * sizeof(out), .len = sizeof(out),
        };
    }
    err = qdma_testdev_run_ring_at(d, c->ring, c->ring_bus, 16, descs, n);
    if (err) {
        return err;
    }
    for (uint32_t i = 0; i < n; i++) {
        g_assert_cmphex(descs[i].status, ==, DMA_TESTDEV_DESC_ST_COMPLETE);
        qtest_memread(f->qts, gpa_dst + i * sizeof(out), out, sizeof(out));
        g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
    }
    return DMA_TESTDEV_ERR_NONE;
}

/*
 * Ring traffic from two VFs sharing a domain while the domain changes
 * type as Linux changes a group's default domain: DMA, DMA_FQ (mappings
 * kept), IDENTITY, BLOCKED and DMA again (mappings gone).  A third VF
 * that is not attached stays blocked throughout.
 */
static void test_iommu_domain_types(void)
{
    enum { PAGES = 4 };
    Fixture f;
    QVirtIOMMU iommu;
    QDmaTestdev vfs[3];
    RingCopy gpa, iova;
    uint32_t dom;

    fixture_start(&f, "-device virt-iommu,addr=04.0");
    qvirt_iommu_init(&iommu, f.bus, IOMMU_DEVFN);
    qvirt_iommu_start(&iommu, &f.alloc, 4, 6, VIRT_IOMMU_CTRL_ENABLE);
    gpa.ring = gpa.ring_bus = guest_alloc(&f.alloc, 4096);
    gpa.src = gpa.src_bus = guest_alloc(&f.alloc, 4096);
    gpa.dst = gpa.dst_bus = guest_alloc(&f.alloc, PAGES * 4096);
    qdma_testdev_vfs_enable(&f.pf, 3);
    for (int i = 0; i < 3; i++) {
        qdma_testdev_vf_init(&vfs[i], &f.pf, i);
    }

    dom = qvirt_iommu_domain_alloc(&iommu, VIRT_IOMMU_DOMAIN_DMA);
    qvirt_iommu_attach(&iommu, vfs[0].dev->devfn, dom);
    qvirt_iommu_attach(&iommu, vfs[1].dev->devfn, dom);
    iova = gpa;
    map_ring_copy(&iommu, dom, &gpa, &iova, PAGES * 4096);
    g_assert_cmphex(iova.src_bus, !=, gpa.src);

    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(ring_copy(&f, &vfs[i], &iova, PAGES), ==,
                         DMA_TESTDEV_ERR_NONE);
    }
    g_assert_cmpuint(ring_copy(&f, &vfs[2], &gpa, 1), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&vfs[2], DMA_TESTDEV_REG_FAULT_ADDR),
                    ==, gpa.ring);
    iommu_drain_events(&iommu);

    g_assert_cmpuint(qvirt_iommu_set_type(&iommu, dom,
                                          VIRT_IOMMU_DOMAIN_DMA_FQ), ==,
                     VIRT_IOMMU_S_OK);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(ring_copy(&f, &vfs[i], &iova, PAGES), ==,
                         DMA_TESTDEV_ERR_NONE);
    }

    g_assert_cmpuint(qvirt_iommu_set_type(&iommu, dom,
                                          VIRT_IOMMU_DOMAIN_IDENTITY), ==,
                     VIRT_IOMMU_S_OK);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(ring_copy(&f, &vfs[i], &gpa, PAGES), ==,
                         DMA_TESTDEV_ERR_NONE);
    }

    g_assert_cmpuint(qvirt_iommu_set_type(&iommu, dom,
                                          VIRT_IOMMU_DOMAIN_BLOCKED), ==,
                     VIRT_IOMMU_S_OK);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(qdma_testdev_run(&vfs[i], DMA_TESTDEV_OP_COPY,
                                          gpa.src, gpa.dst, 64, 0), ==,
                         DMA_TESTDEV_ERR_DMA_FAULT);
        g_assert_cmphex(qdma_testdev_readq(&vfs[i],
                                           DMA_TESTDEV_REG_FAULT_ADDR), ==,
                        gpa.src);
    }
    iommu_drain_events(&iommu);

    /* Back to DMA: a new IOVA space, where the old IOVAs mean nothing. */
    g_assert_cmpuint(qvirt_iommu_set_type(&iommu, dom, VIRT_IOMMU_DOMAIN_DMA),
                     ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(ring_copy(&f, &vfs[0], &iova, 1), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    iommu_drain_events(&iommu);
    map_ring_copy(&iommu, dom, &gpa, &iova, PAGES * 4096);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(ring_copy(&f, &vfs[i], &iova, PAGES), ==,
                         DMA_TESTDEV_ERR_NONE);
    }
    g_assert_cmpuint(ring_copy(&f, &vfs[2], &gpa, 1), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);

    for (int i = 0; i < 3; i++) {
        qdma_testdev_vf_cleanup(&vfs[i]);
    }
    guest_free(&f.alloc, gpa.ring);
    guest_free(&f.alloc, gpa.src);
    guest_free(&f.alloc, gpa.dst);
    qvirt_iommu_cleanup(&iommu);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/dma-testdev/crc32c-vector", test_crc32c_vector);
    qtest_add_func("/dma-testdev/pf/identity", test_pf_identity);
    qtest_add_func("/dma-testdev/pf/dma", test_pf_dma);
    qtest_add_func("/dma-testdev/pf/reset", test_reset);
    qtest_add_func("/dma-testdev/pf/bad-programming", test_bad_programming);
    qtest_add_func("/dma-testdev/pf/self-dma", test_self_dma);
    qtest_add_func("/dma-testdev/random-programming",
                   test_random_programming);
    qtest_add_func("/dma-testdev/sriov/enable-disable",
                   test_vf_enable_disable);
    qtest_add_func("/dma-testdev/sriov/corner-cases",
                   test_sriov_corner_cases);
    qtest_add_func("/dma-testdev/sriov/layout", test_sriov_layout);
    qtest_add_func("/dma-testdev/sriov/churn", test_vf_churn);
    qtest_add_func("/dma-testdev/sriov/root-port", test_root_port);
    qtest_add_func("/dma-testdev/ring/traffic", test_ring);
    qtest_add_func("/dma-testdev/ring/errors", test_ring_errors);
    qtest_add_func("/dma-testdev/msix", test_msix);
    qtest_add_func("/dma-testdev/migration", test_migration);
    qtest_add_func("/dma-testdev/iommu/bypass", test_iommu_bypass);
    qtest_add_func("/dma-testdev/iommu/blocked", test_iommu_blocked);
    qtest_add_func("/dma-testdev/iommu/per-rid", test_iommu_per_rid);
    qtest_add_func("/dma-testdev/iommu/domain-types",
                   test_iommu_domain_types);
    for (int i = 0; i < ARRAY_SIZE(bad_configs); i++) {
        g_autofree char *path = g_strdup_printf("/dma-testdev/bad-config/%s",
                                                bad_configs[i].name);
        qtest_add_data_func(path, &bad_configs[i], test_bad_config);
    }
    return g_test_run();
}
