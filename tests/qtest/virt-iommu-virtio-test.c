/*
 * qtests for virtio's split rings behind virt-iommu: a virtio-blk-pci
 * function with iommu_platform=on reaches its rings through
 * MemoryRegionCaches on the IOMMU region, and every access is translated.
 * The rings here straddle IOVA page boundaries whose two IOVA pages are
 * mapped to guest-physical pages that are not adjacent, with a sentinel
 * page right after the first one: before patches/0007, QEMU translated
 * only the first piece of such an access and went on into the next
 * guest-physical page (the sentinel).  That corrupted Linux guests, whose
 * dma-iommu builds coherent rings from scattered pages
 * (docs/devel/linux-driver.rst).
 *
 * The test drives the rings itself, not through libqos's virtqueue
 * helpers, because those write the rings at the addresses they give the
 * device: here the device sees IOVAs and the test writes and reads the
 * guest-physical pages they map to.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qemu/bswap.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_pci.h"
#include "standard-headers/linux/virtio_ring.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/virtio-pci.h"
#include "libqos/virt-iommu.h"

#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define BLK_DEVFN       QPCI_DEVFN(5, 0)
#define BLK_RID         BLK_DEVFN           /* bus 0 */
#define PAGE            4096ULL
#define TIMEOUT_US      (30 * 1000 * 1000)
#define QSIZE           16                  /* entries in queue 0 */

/* What the sentinel pages hold; any change to them is a stray write. */
#define SENTINEL        0xa5
#define SENTINEL32      0xa5a5a5a5u

/*
 * IOVA layout of the device's DMA domain.  The used ring starts 16 bytes
 * before the end of IOVA page USED_IOVA: flags and idx, ring[0], then
 * ring[1] at page offset 4092, so its id is in the first page and its len
 * in the second.  The indirect table starts 8 bytes before the end of
 * IOVA page INDIR_IOVA: its first descriptor's addr is in the first page,
 * its len, flags and next in the second.
 */
#define DESC_IOVA       0x100000ULL
#define AVAIL_IOVA      0x101000ULL
#define USED_IOVA       0x102000ULL         /* two pages */
#define USED_OFFSET     (PAGE - 16)
#define INDIR_IOVA      0x104000ULL         /* two pages */
#define INDIR_OFFSET    (PAGE - 8)
#define BUF_IOVA        0x200000ULL         /* BUF_PAGES pages */
#define BUF_PAGES       4

/* Request buffers, as offsets in the buffer pages */
#define HDR_OFF         0x000
#define STATUS_OFF      0x100
#define DATA_OFF        PAGE                /* up to 3 pages */

/*
 * Guest-physical pages, in one allocation.  Each straddled IOVA boundary
 * joins pages that are apart (the second IOVA page is mapped *below* the
 * first), and the page that physically follows the first is a sentinel.
 */
enum {
    PG_DESC,
    PG_AVAIL,
    PG_USED_HI,         /* IOVA USED_IOVA + PAGE */
    PG_USED_LO,         /* IOVA USED_IOVA */
    PG_USED_SENTINEL,   /* PG_USED_LO + 1: nothing maps it */
    PG_INDIR_HI,        /* IOVA INDIR_IOVA + PAGE */
    PG_INDIR_LO,        /* IOVA INDIR_IOVA */
    PG_INDIR_SENTINEL,  /* PG_INDIR_LO + 1: nothing maps it */
    PG_BUF,             /* BUF_PAGES pages at BUF_IOVA */
    PG_COUNT = PG_BUF + BUF_PAGES,
};

typedef struct Fixture {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    QVirtIOMMU iommu;
    QVirtioPCIDevice *blk;
    uint64_t base;          /* guest-physical, PG_COUNT pages */
    uint16_t qsize;         /* queue 0's size, as the device reports it */
    uint64_t notify;        /* BAR offset of queue 0's doorbell */
    uint16_t avail_idx;
} Fixture;

static uint64_t gpa(Fixture *f, int page)
{
    return f->base + page * PAGE;
}

/* The DMA domain's mappings: IOVA -> first page, page count */
static const struct {
    uint64_t iova;
    int page;
    int pages;
} maps[] = {
    { DESC_IOVA, PG_DESC, 1 },
    { AVAIL_IOVA, PG_AVAIL, 1 },
    { USED_IOVA, PG_USED_LO, 1 },
    { USED_IOVA + PAGE, PG_USED_HI, 1 },
    { INDIR_IOVA, PG_INDIR_LO, 1 },
    { INDIR_IOVA + PAGE, PG_INDIR_HI, 1 },
    { BUF_IOVA, PG_BUF, BUF_PAGES },
};

/* Where @iova is in guest memory, as the domain maps it */
static uint64_t iova_to_gpa(Fixture *f, uint64_t iova)
{
    for (int i = 0; i < ARRAY_SIZE(maps); i++) {
        if (iova >= maps[i].iova &&
            iova < maps[i].iova + maps[i].pages * PAGE) {
            return gpa(f, maps[i].page) + iova - maps[i].iova;
        }
    }
    g_assert_not_reached();
}

/* The driver's side of a DMA write: page by page, as the IOMMU maps it */
static void iova_write(Fixture *f, uint64_t iova, const void *buf,
                       size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        size_t l = MIN(len, PAGE - (iova & (PAGE - 1)));

        qtest_memwrite(f->qts, iova_to_gpa(f, iova), p, l);
        iova += l;
        p += l;
        len -= l;
    }
}

static uint32_t iova_readl(Fixture *f, uint64_t iova)
{
    return qtest_readl(f->qts, iova_to_gpa(f, iova));
}

/* Guest-physical address of used-ring byte @off */
static uint64_t used_gpa(Fixture *f, uint64_t off)
{
    return iova_to_gpa(f, USED_IOVA + USED_OFFSET + off);
}

static void common_writew(Fixture *f, size_t field, uint16_t val)
{
    qpci_io_writew(f->blk->pdev, f->blk->bar,
                   f->blk->common_cfg_offset + field, val);
}

static uint16_t common_readw(Fixture *f, size_t field)
{
    return qpci_io_readw(f->blk->pdev, f->blk->bar,
                         f->blk->common_cfg_offset + field);
}

/*
 * Starts q35 with virt-iommu (translation on, no default bypass: the
 * function reaches only what its domain maps) and a virtio-blk-pci on a
 * null-co drive; puts the function in a DMA domain with the layout above,
 * negotiates VIRTIO 1.0 with ACCESS_PLATFORM and indirect descriptors and
 * enables queue 0 at the IOVAs above.
 */
static void fixture_start(Fixture *f)
{
    QVirtioDevice *vdev;
    QVirtQueue vq = {
        .desc = DESC_IOVA,
        .avail = AVAIL_IOVA,
        .used = USED_IOVA + USED_OFFSET,
    };
    uint64_t features;
    uint32_t dom;

    f->qts = qtest_init("-M q35 -m 256M -nodefaults "
                        "-device virt-iommu,addr=04.0 "
                        "-drive if=none,id=drv0,file=null-co://,"
                        "file.read-zeroes=on,format=raw "
                        "-device virtio-blk-pci,addr=05.0,drive=drv0,"
                        "iommu_platform=on,disable-legacy=on");
    f->bus = qpci_new_pc(f->qts, NULL);
    pc_alloc_init(&f->alloc, f->qts, ALLOC_NO_FLAGS);
    qvirt_iommu_init(&f->iommu, f->bus, IOMMU_DEVFN);
    qvirt_iommu_start(&f->iommu, &f->alloc, 4, 4, VIRT_IOMMU_CTRL_ENABLE);

    f->base = guest_alloc(&f->alloc, PG_COUNT * PAGE);
    g_assert_cmphex(f->base & (PAGE - 1), ==, 0);
    qtest_memset(f->qts, f->base, 0, PG_COUNT * PAGE);
    qtest_memset(f->qts, gpa(f, PG_USED_SENTINEL), SENTINEL, PAGE);
    qtest_memset(f->qts, gpa(f, PG_INDIR_SENTINEL), SENTINEL, PAGE);

    /* Everything the function touches is mapped before it can touch it. */
    dom = qvirt_iommu_domain_alloc(&f->iommu, VIRT_IOMMU_DOMAIN_DMA);
    qvirt_iommu_attach(&f->iommu, BLK_RID, dom);
    for (int i = 0; i < ARRAY_SIZE(maps); i++) {
        g_assert_cmpuint(qvirt_iommu_map_fixed(&f->iommu, dom, maps[i].iova,
                                               gpa(f, maps[i].page),
                                               maps[i].pages * PAGE,
                                               VIRT_IOMMU_PERM_READ |
                                               VIRT_IOMMU_PERM_WRITE), ==,
                         VIRT_IOMMU_S_OK);
    }

    f->blk = virtio_pci_new(f->bus, &(QPCIAddress) { .devfn = BLK_DEVFN });
    g_assert_nonnull(f->blk);
    vdev = &f->blk->vdev;
    g_assert_cmpuint(vdev->device_type, ==, VIRTIO_ID_BLOCK);
    qvirtio_pci_device_enable(f->blk);
    qvirtio_start_device(vdev);
    features = qvirtio_get_features(vdev);
    /* Without ACCESS_PLATFORM offered, the device would bypass the IOMMU. */
    g_assert_cmphex(features & (1ull << VIRTIO_F_ACCESS_PLATFORM), !=, 0);
    g_assert_cmphex(features & (1ull << VIRTIO_RING_F_INDIRECT_DESC), !=, 0);
    qvirtio_set_features(vdev, (1ull << VIRTIO_F_VERSION_1) |
                         (1ull << VIRTIO_F_ACCESS_PLATFORM) |
                         (1ull << VIRTIO_RING_F_INDIRECT_DESC));

    /*
     * A VIRTIO 1.0 driver may shrink a queue: QSIZE keeps the desc table
     * in one page and the used ring in two.
     */
    vdev->bus->queue_select(vdev, 0);
    g_assert_cmpuint(vdev->bus->get_queue_size(vdev), >=, QSIZE);
    common_writew(f, offsetof(struct virtio_pci_common_cfg, queue_size),
                  QSIZE);
    f->qsize = vdev->bus->get_queue_size(vdev);
    g_assert_cmpuint(f->qsize, ==, QSIZE);
    vdev->bus->set_queue_address(vdev, &vq);
    f->notify = f->blk->notify_cfg_offset +
                common_readw(f, offsetof(struct virtio_pci_common_cfg,
                                         queue_notify_off)) *
                f->blk->notify_off_multiplier;
    common_writew(f, offsetof(struct virtio_pci_common_cfg, queue_enable), 1);
    qvirtio_set_driver_ok(vdev);
}

static void fixture_stop(Fixture *f)
{
    /* The function stayed inside its mappings: no fault was recorded. */
    qvirt_iommu_assert_no_event(&f->iommu);
    qvirtio_reset(&f->blk->vdev);
    qos_object_destroy(&f->blk->obj);
    qvirt_iommu_cleanup(&f->iommu);
    alloc_destroy(&f->alloc);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
}

/* Writes descriptor @i of the table at IOVA @table */
static void desc_write(Fixture *f, uint64_t table, uint16_t i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next)
{
    struct vring_desc d = {
        .addr = cpu_to_le64(addr),
        .len = cpu_to_le32(len),
        .flags = cpu_to_le16(flags),
        .next = cpu_to_le16(next),
    };

    iova_write(f, table + i * sizeof(d), &d, sizeof(d));
}

/*
 * Writes the header of a read of @data_len bytes from sector 0, fills the
 * data buffer with 0xff and the status byte with 0xff: the read of a
 * zero-filled drive must write over all of it.
 */
static void request_prepare(Fixture *f, uint32_t data_len)
{
    struct virtio_blk_outhdr hdr = {
        .type = cpu_to_le32(VIRTIO_BLK_T_IN),
    };

    g_assert_cmpuint(DATA_OFF + data_len, <=, BUF_PAGES * PAGE);
    qtest_memwrite(f->qts, gpa(f, PG_BUF) + HDR_OFF, &hdr, sizeof(hdr));
    qtest_memset(f->qts, gpa(f, PG_BUF) + DATA_OFF, 0xff, data_len);
    qtest_writeb(f->qts, gpa(f, PG_BUF) + STATUS_OFF, 0xff);
}

/* Asserts that the request's status is OK and its data all zeroes. */
static void request_check(Fixture *f, uint32_t data_len)
{
    g_autofree uint8_t *data = g_malloc(data_len);

    g_assert_cmpuint(qtest_readb(f->qts, gpa(f, PG_BUF) + STATUS_OFF), ==,
                     VIRTIO_BLK_S_OK);
    qtest_memread(f->qts, gpa(f, PG_BUF) + DATA_OFF, data, data_len);
    for (uint32_t i = 0; i < data_len; i++) {
        g_assert_cmphex(data[i], ==, 0);
    }
}

/* Offers descriptor chain @head in the avail ring and rings the doorbell. */
static void submit(Fixture *f, uint16_t head)
{
    uint64_t avail = gpa(f, PG_AVAIL);

    qtest_writew(f->qts, avail + 4 + 2 * (f->avail_idx % f->qsize), head);
    f->avail_idx++;
    qtest_writew(f->qts, avail + 2, f->avail_idx);
    qpci_io_writew(f->blk->pdev, f->blk->bar, f->notify, 0);
}

/*
 * Waits until the device's used idx reaches @idx, or the device gives up
 * (NEEDS_RESET, as virtio_error() sets it); fails the test unless @idx was
 * reached.
 */
static void wait_used_idx(Fixture *f, uint16_t idx)
{
    QVirtioDevice *vdev = &f->blk->vdev;
    gint64 start = g_get_monotonic_time();
    uint8_t status;

    for (;;) {
        status = vdev->bus->get_status(vdev);
        if (qtest_readw(f->qts, used_gpa(f, 2)) == idx ||
            (status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
            break;
        }
        g_assert_cmpint(g_get_monotonic_time() - start, <=, TIMEOUT_US);
        qtest_clock_step(f->qts, 100);
    }
    g_assert_cmphex(status & VIRTIO_CONFIG_S_NEEDS_RESET, ==, 0);
    g_assert_cmpuint(qtest_readw(f->qts, used_gpa(f, 2)), ==, idx);
}

/* Fails the test unless the sentinel page @page still holds only SENTINEL. */
static void assert_sentinel(Fixture *f, int page)
{
    uint32_t words[PAGE / 4];

    qtest_memread(f->qts, gpa(f, page), words, sizeof(words));
    for (int i = 0; i < ARRAY_SIZE(words); i++) {
        if (words[i] != SENTINEL32) {
            g_test_message("sentinel page overwritten at offset %d", i * 4);
        }
        g_assert_cmphex(le32_to_cpu(words[i]), ==, SENTINEL32);
    }
}

/*
 * Two reads by direct descriptor chains; the second used element
 * straddles the used ring's IOVA page boundary.  Its id must land in the
 * last 4 bytes of the first page, its len in the first 4 bytes of the
 * page the next IOVA page maps to, and nothing in the sentinel page
 * (without patches/0007, the len 0x801 lands at the sentinel's offset 0).
 */
static void test_used_elem_straddles(void)
{
    Fixture f = { 0 };
    const uint32_t data_len[2] = { 512, 2048 };
    const uint16_t head[2] = { 0, 3 };

    fixture_start(&f);
    for (int k = 0; k < 2; k++) {
        request_prepare(&f, data_len[k]);
        desc_write(&f, DESC_IOVA, head[k], BUF_IOVA + HDR_OFF,
                   sizeof(struct virtio_blk_outhdr), VRING_DESC_F_NEXT,
                   head[k] + 1);
        desc_write(&f, DESC_IOVA, head[k] + 1, BUF_IOVA + DATA_OFF,
                   data_len[k], VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                   head[k] + 2);
        desc_write(&f, DESC_IOVA, head[k] + 2, BUF_IOVA + STATUS_OFF, 1,
                   VRING_DESC_F_WRITE, 0);
        submit(&f, head[k]);
        wait_used_idx(&f, k + 1);
        request_check(&f, data_len[k]);
    }

    /* ring[1] straddles: id at the end of one page, len in another page. */
    g_assert_cmphex(used_gpa(&f, 4 + 8), ==, gpa(&f, PG_USED_LO) + PAGE - 4);
    g_assert_cmphex(used_gpa(&f, 4 + 8 + 4), ==, gpa(&f, PG_USED_HI));

    /* The len must not have gone on into the next guest-physical page. */
    assert_sentinel(&f, PG_USED_SENTINEL);
    for (int k = 0; k < 2; k++) {
        uint64_t elem = USED_IOVA + USED_OFFSET + 4 + 8 * k;

        g_assert_cmpuint(iova_readl(&f, elem), ==, head[k]);
        g_assert_cmpuint(iova_readl(&f, elem + 4), ==, data_len[k] + 1);
    }
    fixture_stop(&f);
}

/*
 * One read through an indirect table whose first descriptor straddles an
 * IOVA page boundary: the device must read its len, flags and next from
 * the page the next IOVA page maps to, not from the sentinel page (whose
 * bytes make a descriptor the device refuses: without patches/0007 it
 * reports "bogus descriptor" and sets NEEDS_RESET).
 */
static void test_indirect_desc_straddles(void)
{
    Fixture f = { 0 };
    const uint32_t data_len = 1024;
    const uint64_t table = INDIR_IOVA + INDIR_OFFSET;

    fixture_start(&f);
    request_prepare(&f, data_len);
    desc_write(&f, table, 0, BUF_IOVA + HDR_OFF,
               sizeof(struct virtio_blk_outhdr), VRING_DESC_F_NEXT, 1);
    desc_write(&f, table, 1, BUF_IOVA + DATA_OFF, data_len,
               VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
    desc_write(&f, table, 2, BUF_IOVA + STATUS_OFF, 1, VRING_DESC_F_WRITE, 0);
    g_assert_cmphex(iova_to_gpa(&f, table + 8), ==, gpa(&f, PG_INDIR_HI));
    desc_write(&f, DESC_IOVA, 0, table, 3 * sizeof(struct vring_desc),
               VRING_DESC_F_INDIRECT, 0);
    submit(&f, 0);
    wait_used_idx(&f, 1);
    request_check(&f, data_len);
    g_assert_cmpuint(iova_readl(&f, USED_IOVA + USED_OFFSET + 4), ==, 0);
    g_assert_cmpuint(iova_readl(&f, USED_IOVA + USED_OFFSET + 8), ==,
                     data_len + 1);
    assert_sentinel(&f, PG_INDIR_SENTINEL);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/virtio/used-elem-straddles",
                   test_used_elem_straddles);
    qtest_add_func("/virt-iommu/virtio/indirect-desc-straddles",
                   test_indirect_desc_straddles);
    return g_test_run();
}
