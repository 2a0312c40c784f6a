/*
 * qtests for virt-iommu: PCI identity, register reset values, control,
 * properties, realize errors, and DMA of another endpoint in bypass and
 * with translation blocked.  Commands, domains and faults are in
 * virt-iommu-cmd-test.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "standard-headers/linux/pci_regs.h"
#include "libqos/cmdline-error.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/edu.h"
#include "libqos/pci-pc.h"
#include "libqos/virt-iommu.h"

#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define EDU_DEVFN       QPCI_DEVFN(5, 0)
#define MACHINE_ARGS    "-M q35 -m 256M -nodefaults "

typedef struct Fixture {
    QTestState *qts;
    QPCIBus *bus;
    QVirtIOMMU iommu;
} Fixture;

/* Starts q35 with virt-iommu at 04.0 (@iommu_opts appended) and @more. */
static void fixture_start(Fixture *f, const char *iommu_opts, const char *more)
{
    f->qts = qtest_initf(MACHINE_ARGS "-device virt-iommu,addr=04.0%s %s",
                         iommu_opts, more);
    f->bus = qpci_new_pc(f->qts, NULL);
    qvirt_iommu_init(&f->iommu, f->bus, IOMMU_DEVFN);
}

static void fixture_stop(Fixture *f)
{
    qvirt_iommu_cleanup(&f->iommu);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
}

static void test_pci_identity(void)
{
    Fixture f;
    QPCIDevice *dev;

    fixture_start(&f, "", "");
    dev = f.iommu.dev;
    g_assert_cmphex(qpci_config_readw(dev, PCI_VENDOR_ID), ==,
                    VIRT_IOMMU_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(dev, PCI_DEVICE_ID), ==,
                    VIRT_IOMMU_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readw(dev, PCI_CLASS_DEVICE), ==,
                    VIRT_IOMMU_PCI_CLASS);
    g_assert_cmphex(qpci_config_readb(dev, PCI_REVISION_ID), ==,
                    VIRT_IOMMU_PCI_REVISION);
    /* BAR0: 32-bit, non-prefetchable memory, 4 KiB */
    g_assert_cmphex(qpci_config_readl(dev, PCI_BASE_ADDRESS_0) &
                    ~PCI_BASE_ADDRESS_MEM_MASK, ==,
                    PCI_BASE_ADDRESS_SPACE_MEMORY |
                    PCI_BASE_ADDRESS_MEM_TYPE_32);
    g_assert_cmphex(f.iommu.bar_size, ==, VIRT_IOMMU_BAR0_SIZE);
    fixture_stop(&f);
}

static void test_reset_values(void)
{
    Fixture f;
    QVirtIOMMU *v = &f.iommu;

    fixture_start(&f, "", "");
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_MAGIC), ==,
                    VIRT_IOMMU_MAGIC);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_VERSION), ==,
                    VIRT_IOMMU_VERSION);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CAP), ==,
                    VIRT_IOMMU_CAP_CMDQ | VIRT_IOMMU_CAP_EVTQ |
                    VIRT_IOMMU_CAP_MSIX | VIRT_IOMMU_CAP_CMDQ_LAZY);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_PGSIZE_MASK), ==,
                    4096);
    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_IOVA_BITS), ==, 48);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_DOMAIN_TYPES), ==,
                    1 << VIRT_IOMMU_DOMAIN_BLOCKED |
                    1 << VIRT_IOMMU_DOMAIN_IDENTITY |
                    1 << VIRT_IOMMU_DOMAIN_DMA |
                    1 << VIRT_IOMMU_DOMAIN_DMA_FQ);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_COMMANDS), ==,
                    1 << VIRT_IOMMU_CMD_DOMAIN_ALLOC |
                    1 << VIRT_IOMMU_CMD_DOMAIN_FREE |
                    1 << VIRT_IOMMU_CMD_DOMAIN_SET_TYPE |
                    1 << VIRT_IOMMU_CMD_ATTACH | 1 << VIRT_IOMMU_CMD_DETACH |
                    1 << VIRT_IOMMU_CMD_MAP | 1 << VIRT_IOMMU_CMD_MAP_FIXED |
                    1 << VIRT_IOMMU_CMD_UNMAP | 1 << VIRT_IOMMU_CMD_INVALIDATE |
                    1 << VIRT_IOMMU_CMD_SYNC | 1 << VIRT_IOMMU_CMD_QUERY_STATS);
    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_MAX_DOMAINS), ==,
                     256);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==, 0);
    for (uint32_t r = VIRT_IOMMU_REG_CMDQ_BASE;
         r <= VIRT_IOMMU_REG_EVTQ_TAIL; r += 4) {
        g_assert_cmphex(qvirt_iommu_readl(v, r), ==, 0);
    }
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CONTROL), ==,
                    VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS), ==,
                    VIRT_IOMMU_STS_BYPASS);
    /* A reserved offset reads as zero. */
    g_assert_cmphex(qvirt_iommu_readl(v, 0x100), ==, 0);
    fixture_stop(&f);
}

static void test_control(void)
{
    Fixture f;
    QVirtIOMMU *v = &f.iommu;

    fixture_start(&f, "", "");
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL,
                       VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS), ==,
                    VIRT_IOMMU_STS_ENABLED | VIRT_IOMMU_STS_BYPASS);

    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, VIRT_IOMMU_CTRL_ENABLE);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS), ==,
                    VIRT_IOMMU_STS_ENABLED);

    /*
     * Unknown bits are dropped, not stored; the queue enables do not take
     * with the unprogrammed (size 0) rings, and say why in ERROR.
     */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, 0xffffffff);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CONTROL), ==,
                    VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_CMDQ_CONFIG | VIRT_IOMMU_ERR_EVTQ_CONFIG);
    /* ERROR is write-1-to-clear. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_CMDQ_CONFIG);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_EVTQ_CONFIG);

    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, 0);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS), ==,
                    VIRT_IOMMU_STS_BYPASS);

    /* Read-only registers ignore writes. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_MAGIC, 0);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_STATUS, 0);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_MAGIC), ==,
                    VIRT_IOMMU_MAGIC);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS), ==,
                    VIRT_IOMMU_STS_BYPASS);
    fixture_stop(&f);
}

static void test_properties(void)
{
    Fixture f;
    QPCIDevice *dev;

    fixture_start(&f, ",vendor-id=0x1b36,device-id=0x1234,"
                  "page-size=65536,iova-bits=39", "");
    dev = f.iommu.dev;
    g_assert_cmphex(qpci_config_readw(dev, PCI_VENDOR_ID), ==, 0x1b36);
    g_assert_cmphex(qpci_config_readw(dev, PCI_DEVICE_ID), ==, 0x1234);
    g_assert_cmphex(qvirt_iommu_readq(&f.iommu, VIRT_IOMMU_REG_PGSIZE_MASK),
                    ==, 65536);
    g_assert_cmpuint(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_IOVA_BITS),
                     ==, 39);
    fixture_stop(&f);
}

/* Each bad command line must stop QEMU with this message on stderr. */
static const QCmdlineError bad_configs[] = {
    { "page-size-not-pow2", "-device virt-iommu,page-size=12345",
      "*page-size 12345 is not a usable IOVA granule*" },
    { "page-size-too-small", "-device virt-iommu,page-size=2048",
      "*page-size 2048 is not a usable IOVA granule*" },
    { "page-size-too-big", "-device virt-iommu,page-size=2G",
      "*page-size must be at most 1 GiB*" },
    { "iova-bits-small", "-device virt-iommu,iova-bits=31",
      "*iova-bits must be between 32 and 64, not 31*" },
    { "iova-bits-large", "-device virt-iommu,iova-bits=65",
      "*iova-bits must be between 32 and 64, not 65*" },
    { "max-mappings-zero", "-device virt-iommu,max-mappings=0",
      "*max-mappings must be at least 1*" },
    { "two-iommus", "-device virt-iommu -device virt-iommu",
      "*already has an IOMMU*" },
    { "no-domains", "-device virt-iommu,max-domains=0",
      "*max-domains must be between 1 and 65535, not 0*" },
    { "no-iotlb", "-device virt-iommu,iotlb-size=0",
      "*iotlb-size must be between 1 and 65536, not 0*" },
    { "no-fq", "-device virt-iommu,fq-size=0",
      "*fq-size must be between 1 and 65536, not 0*" },
    { "fq-timeout-zero", "-device virt-iommu,fq-timeout=0",
      "*fq-timeout must be between 1 and 60000 ms, not 0*" },
    { "mag-size-zero", "-device virt-iommu,mag-size=0",
      "*mag-size must be between 1 and 4096, not 0*" },
};

static void test_bad_config(const void *data)
{
    const QCmdlineError *bad = data;
    g_autofree char *args = g_strdup_printf(MACHINE_ARGS "%s", bad->args);

    qtest_assert_cmdline_error(args, bad->error);
}

/* Copies a pattern from @src to @dst through edu; true if it arrived. */
static bool edu_copy_arrives(QTestState *qts, QEdu *edu, uint64_t src,
                             uint64_t dst, uint8_t seed)
{
    uint8_t pattern[256], got[256];

    for (int i = 0; i < sizeof(pattern); i++) {
        pattern[i] = seed + i * 7;
    }
    qtest_memwrite(qts, src, pattern, sizeof(pattern));
    qtest_memset(qts, dst, 0, sizeof(got));
    qedu_copy(edu, src, dst, sizeof(pattern));
    qtest_memread(qts, dst, got, sizeof(got));
    if (memcmp(got, pattern, sizeof(got)) == 0) {
        return true;
    }
    /* A blocked DMA must leave memory untouched, not half-written. */
    for (int i = 0; i < sizeof(got); i++) {
        g_assert_cmpuint(got[i], ==, 0);
    }
    return false;
}

static void test_bypass_dma(void)
{
    Fixture f;
    QGuestAllocator alloc;
    QEdu edu;
    uint64_t src, dst;

    fixture_start(&f, "", "-device edu,addr=05.0");
    pc_alloc_init(&alloc, f.qts, ALLOC_NO_FLAGS);
    qedu_init(&edu, f.bus, EDU_DEVFN);
    src = guest_alloc(&alloc, 4096);
    dst = guest_alloc(&alloc, 4096);

    /* Reset state: default bypass, so DMA reaches guest memory as is. */
    g_assert_true(edu_copy_arrives(f.qts, &edu, src, dst, 1));

    /* Enabled with bypass: still untranslated. */
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CONTROL,
                       VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    g_assert_true(edu_copy_arrives(f.qts, &edu, src, dst, 2));

    /* Enabled without bypass and no domain: every DMA is blocked. */
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CONTROL,
                       VIRT_IOMMU_CTRL_ENABLE);
    g_assert_false(edu_copy_arrives(f.qts, &edu, src, dst, 3));

    /* Disabled again: DMA flows. */
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CONTROL, 0);
    g_assert_true(edu_copy_arrives(f.qts, &edu, src, dst, 4));

    qedu_cleanup(&edu);
    alloc_destroy(&alloc);
    fixture_stop(&f);
}

static void test_system_reset(void)
{
    Fixture f;

    fixture_start(&f, "", "");
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CONTROL,
                       VIRT_IOMMU_CTRL_ENABLE);
    qtest_system_reset(f.qts);
    /* Reset cleared the BAR and the command register: map again. */
    qvirt_iommu_cleanup(&f.iommu);
    qvirt_iommu_init(&f.iommu, f.bus, IOMMU_DEVFN);
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CONTROL), ==,
                    VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_STATUS), ==,
                    VIRT_IOMMU_STS_BYPASS);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/pci-identity", test_pci_identity);
    qtest_add_func("/virt-iommu/reset-values", test_reset_values);
    qtest_add_func("/virt-iommu/control", test_control);
    qtest_add_func("/virt-iommu/properties", test_properties);
    qtest_add_func("/virt-iommu/bypass-dma", test_bypass_dma);
    qtest_add_func("/virt-iommu/system-reset", test_system_reset);
    for (int i = 0; i < ARRAY_SIZE(bad_configs); i++) {
        g_autofree char *path = g_strdup_printf("/virt-iommu/bad-config/%s",
                                                bad_configs[i].name);
        qtest_add_data_func(path, &bad_configs[i], test_bad_config);
    }
    return g_test_run();
}
