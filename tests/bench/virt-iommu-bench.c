/*
 * virt-iommu-bench: DMA and command throughput of virt-iommu against no
 * IOMMU and against QEMU's virtio-iommu, in one run (make bench).
 *
 * A qtest-protocol program: it starts one QEMU per configuration, all
 * alive at once, prepares the work for a whole batch in guest memory
 * (dma-testdev descriptors, virt-iommu commands, virtio-iommu requests)
 * outside the measurement, then times only the MMIO writes that make the
 * device do the batch.  All three devices do their work synchronously
 * inside that write, so the write's round trip covers it.  The rounds
 * of the configurations are interleaved, so that a load change on the
 * machine hits every configuration alike and the ratios stay fair.
 *
 * Two clocks per batch: the wall clock around the write(s), and the CPU
 * time of QEMU's main thread (the one that runs qtest and the device
 * models) from /proc/PID/task/PID/schedstat, which is what the figures
 * use: other processes on a loaded machine inflate the first, not the
 * second.
 *
 * Output: one line per measurement, tab-separated, for
 * scripts/bench-report.py:
 *   dma  CONFIG PATTERN SIZE RUN OPS BYTES CPU_NS WALL_NS
 *   cmd  CONFIG VARIANT PAGES RUN PAIRS CPU_NS WALL_NS [SIDE]
 *
 * Usage: virt-iommu-bench [--runs N] [--scale F] [--ab] [--args-a ARGS]
 *                         [--args-b ARGS] [dma] [cmd]
 * (QTEST_QEMU_BINARY names qemu-system-x86_64, as for qtests.)
 *
 * --ab compares two QEMU configurations on the cmd part: side A runs
 * QTEST_QEMU_BINARY with --args-a added to every QEMU's command line,
 * side B QTEST_QEMU_BINARY_B (default: the same binary) with --args-b.
 * Every variant is measured on A and on B back to back (which goes first
 * alternates), in fresh QEMUs every run, and each cmd line ends with the
 * side, a or b.  For example, the flight recorder's cost:
 *   virt-iommu-bench --ab --args-a '-global virt-iommu.flight-recorder=0' cmd
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "standard-headers/linux/virtio_iommu.h"
#include "standard-headers/linux/virtio_ring.h"
#include "libqos/dma-testdev.h"
#include "libqos/libqos-malloc.h"
#include "libqos/malloc-pc.h"
#include "libqos/pci-pc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "libqos/virt-iommu.h"

#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define DMADEV_DEVFN    QPCI_DEVFN(5, 0)
#define DMADEV_RID      DMADEV_DEVFN        /* bus 0 */
#define PAGE            4096ULL

/* dma-testdev ring: 8 pages, so a warm working set fits the IOTLB. */
#define RING_ENTRIES    512
#define RING_BYTES      (RING_ENTRIES * DMA_TESTDEV_DESC_SIZE)
/* Buffers the cold pattern cycles through, per direction. */
#define COLD_BUFS       256
/* IOVA layout: slots of a 64-entry direct-mapped IOTLB do not collide. */
#define IOVA_SRC        0x100000ULL         /* pfn 0x100: slots 0..15 */
#define IOVA_DST        0x110000ULL         /* slots 16..31 */
#define IOVA_RING       0x120000ULL         /* slots 32..39 */
#define IOVA_COLD       0x10000000ULL
/* virt-iommu command ring: 4096 entries, the largest the ABI allows */
#define CMDQ_LOG2       12
#define CMDQ_ENTRIES    (1u << CMDQ_LOG2)

typedef enum Config {
    CFG_NONE,           /* no IOMMU on the bus */
    CFG_BYPASS,         /* virt-iommu after reset: no driver, bypass */
    CFG_IDENTITY,       /* translation on, IDENTITY domain */
    CFG_DMA,            /* translation on, DMA domain */
    CFG_VIRTIO,         /* virtio-iommu, endpoint attached, same maps */
    CFG_MAX,
} Config;

static const char *const config_names[CFG_MAX] = {
    "none", "bypass", "identity", "dma", "virtio-iommu",
};

typedef struct Machine {
    Config cfg;
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    pid_t pid;
    QDmaTestdevPF pf;
    QVirtIOMMU viommu;
    uint32_t domain;
    QVirtioPCIDevice *vio;
    QVirtQueue *vq;
    uint16_t avail_idx;     /* our shadow of the virtqueue's avail idx */
    uint16_t *avail_ring;   /* and of its ring, vq->size entries */
    uint64_t vio_reqs;      /* request buffers for a batch */
    /* guest-physical memory for DMA */
    uint64_t ring_gpa, src_gpa, dst_gpa, cold_src_gpa, cold_dst_gpa;
    /* the same, as the device addresses it */
    uint64_t ring_bus, src_bus, dst_bus, cold_src_bus, cold_dst_bus;
    uint64_t cmd_buf_gpa;   /* what MAP commands point at (16 pages) */
} Machine;

/*
 * A/B mode: side B's QEMUs start from $QTEST_QEMU_BINARY_B if set, and
 * each side adds its own arguments (e.g. -global PROPERTY=VALUE).
 */
typedef enum Side { SIDE_A, SIDE_B, SIDE_MAX } Side;

static const char *const side_names[SIDE_MAX] = { "a", "b" };
static const char *side_args[SIDE_MAX] = { "", "" };

/* ---- clocks ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* CPU time of QEMU's main thread in ns (schedstat's first field). */
static uint64_t qemu_cpu_ns(Machine *m)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task/%d/schedstat",
                                            m->pid, m->pid);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        g_error("cannot read %s: no schedstat on this kernel?", path);
    }
    return g_ascii_strtoull(text, NULL, 10);
}

typedef struct Stamp {
    uint64_t cpu, wall;
} Stamp;

static Stamp stamp(Machine *m)
{
    Stamp s;

    s.cpu = qemu_cpu_ns(m);
    s.wall = now_ns();
    return s;
}

static void stamp_add(Stamp *acc, Machine *m, Stamp start)
{
    uint64_t wall = now_ns();

    acc->cpu += qemu_cpu_ns(m) - start.cpu;
    acc->wall += wall - start.wall;
}

/* ---- virt-iommu commands, batched ---- */

/*
 * Writes @n commands at the ring's tail (untimed), then the new TAIL;
 * returns the time of that one write, which runs them all.  Every status
 * must be OK; results (e.g. allocated IOVAs) land in @results if given.
 */
static Stamp cmdq_batch(Machine *m, const VirtIOMMUCmd *cmds, uint32_t n,
                        uint64_t *results)
{
    QVirtIOMMU *v = &m->viommu;
    g_autofree VirtIOMMUCmd *le = g_new0(VirtIOMMUCmd, CMDQ_ENTRIES);
    /* libqos's own submissions move TAIL too: start from the device's */
    uint32_t tail = qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_TAIL);
    uint32_t mask = CMDQ_ENTRIES - 1;
    Stamp t = { 0 }, s;

    g_assert_cmpuint(n, <, CMDQ_ENTRIES);
    /* The batch is laid out from the current tail, wrapping once. */
    for (uint32_t i = 0; i < n; i++) {
        qvirt_iommu_cmd_to_le(&le[(tail + i) & mask], &cmds[i]);
    }
    qtest_bufwrite(m->qts, v->cmdq, le, CMDQ_ENTRIES * sizeof(*le));

    s = stamp(m);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL, (tail + n) & mask);
    stamp_add(&t, m, s);

    g_assert_cmpuint(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_HEAD), ==,
                     (tail + n) & mask);
    qtest_memread(m->qts, v->cmdq, le, CMDQ_ENTRIES * sizeof(*le));
    for (uint32_t i = 0; i < n; i++) {
        VirtIOMMUCmd *c = &le[(tail + i) & mask];

        if (le16_to_cpu(c->status) != VIRT_IOMMU_S_OK) {
            g_error("%s: command %u (op 0x%x) status %u",
                    config_names[m->cfg], i, cmds[i].opcode,
                    le16_to_cpu(c->status));
        }
        if (results) {
            results[i] = le64_to_cpu(c->result);
        }
    }
    return t;
}

/* ---- virtio-iommu requests, batched on the request queue ---- */

static void vio_init(Machine *m)
{
    QVirtioDevice *vdev;
    uint64_t features;

    m->vio = virtio_pci_new(m->bus, &(QPCIAddress) { .devfn = IOMMU_DEVFN });
    g_assert_nonnull(m->vio);
    vdev = &m->vio->vdev;
    qvirtio_pci_device_enable(m->vio);
    qvirtio_start_device(vdev);
    features = qvirtio_get_features(vdev);
    /* As libqos's virtio-iommu driver: plain descriptors, no event idx */
    features &= ~(QVIRTIO_F_BAD_FEATURE |
                  (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
                  (1ull << VIRTIO_RING_F_EVENT_IDX) |
                  (1ull << VIRTIO_IOMMU_F_BYPASS));
    qvirtio_set_features(vdev, features);
    m->vq = qvirtqueue_setup(vdev, &m->alloc, 0);
    qvirtio_set_driver_ok(vdev);
    m->avail_idx = 0;
    m->avail_ring = g_new0(uint16_t, m->vq->size);
    /* request bodies (at most 64 bytes) and tails for a full queue */
    m->vio_reqs = guest_alloc(&m->alloc, m->vq->size * 64);
}

/* One request: the device-readable body and its 4-byte tail. */
typedef struct VioReq {
    uint8_t body[60];
    uint32_t len;
} VioReq;

/*
 * Queues @n requests (two descriptors each) at once, untimed, then times
 * the notify write, which makes virtio-iommu run them all.
 */
static Stamp vio_batch(Machine *m, const VioReq *reqs, uint32_t n)
{
    QVirtQueue *vq = m->vq;
    uint32_t qsize = vq->size;
    g_autofree struct vring_desc *desc = g_new0(struct vring_desc, qsize);
    g_autofree uint8_t *bodies = g_malloc0(qsize * 64);
    uint16_t used_idx;
    Stamp t = { 0 }, s;

    g_assert_cmpuint(2 * n, <=, qsize);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t body = m->vio_reqs + i * 64;

        memcpy(bodies + i * 64, reqs[i].body, reqs[i].len);
        memset(bodies + i * 64 + 60, 0xff, 4);      /* tail: not yet */
        desc[2 * i] = (struct vring_desc) {
            .addr = cpu_to_le64(body), .len = cpu_to_le32(reqs[i].len),
            .flags = cpu_to_le16(VRING_DESC_F_NEXT),
            .next = cpu_to_le16(2 * i + 1),
        };
        desc[2 * i + 1] = (struct vring_desc) {
            .addr = cpu_to_le64(body + 60),
            .len = cpu_to_le32(sizeof(struct virtio_iommu_req_tail)),
            .flags = cpu_to_le16(VRING_DESC_F_WRITE),
        };
        m->avail_ring[(m->avail_idx + i) % qsize] = cpu_to_le16(2 * i);
    }
    qtest_bufwrite(m->qts, m->vio_reqs, bodies, qsize * 64);
    qtest_bufwrite(m->qts, vq->desc, desc, qsize * sizeof(*desc));
    qtest_bufwrite(m->qts, vq->avail + 4, m->avail_ring,
                   qsize * sizeof(uint16_t));
    m->avail_idx += n;
    qtest_writew(m->qts, vq->avail + 2, m->avail_idx);

    s = stamp(m);
    m->vio->vdev.bus->virtqueue_kick(&m->vio->vdev, vq);
    stamp_add(&t, m, s);

    /* The request queue runs inside the notify write (no ioeventfd). */
    used_idx = qtest_readw(m->qts, vq->used + 2);
    g_assert_cmpuint(used_idx, ==, m->avail_idx);
    qtest_memread(m->qts, m->vio_reqs, bodies, qsize * 64);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t st = bodies[i * 64 + 60];

        if (st != VIRTIO_IOMMU_S_OK) {
            g_error("virtio-iommu: request %u (type %u) status %u", i,
                    reqs[i].body[0], st);
        }
    }
    return t;
}

static VioReq vio_attach_req(uint32_t domain, uint32_t ep)
{
    struct virtio_iommu_req_attach a = {
        .head.type = VIRTIO_IOMMU_T_ATTACH,
        .domain = cpu_to_le32(domain),
        .endpoint = cpu_to_le32(ep),
    };
    VioReq r = { .len = sizeof(a) - sizeof(a.tail) };

    memcpy(r.body, &a, r.len);
    return r;
}

static VioReq vio_map_req(uint32_t domain, uint64_t iova, uint64_t gpa,
                          uint64_t size)
{
    struct virtio_iommu_req_map a = {
        .head.type = VIRTIO_IOMMU_T_MAP,
        .domain = cpu_to_le32(domain),
        .virt_start = cpu_to_le64(iova),
        .virt_end = cpu_to_le64(iova + size - 1),
        .phys_start = cpu_to_le64(gpa),
        .flags = cpu_to_le32(VIRTIO_IOMMU_MAP_F_READ |
                             VIRTIO_IOMMU_MAP_F_WRITE),
    };
    VioReq r = { .len = sizeof(a) - sizeof(a.tail) };

    memcpy(r.body, &a, r.len);
    return r;
}

static VioReq vio_unmap_req(uint32_t domain, uint64_t iova, uint64_t size)
{
    struct virtio_iommu_req_unmap a = {
        .head.type = VIRTIO_IOMMU_T_UNMAP,
        .domain = cpu_to_le32(domain),
        .virt_start = cpu_to_le64(iova),
        .virt_end = cpu_to_le64(iova + size - 1),
    };
    VioReq r = { .len = sizeof(a) - sizeof(a.tail) };

    memcpy(r.body, &a, r.len);
    return r;
}

/* ---- machines ---- */

static void map_all(Machine *m, const uint64_t *iova, const uint64_t *gpa,
                    const uint64_t *size, uint32_t n)
{
    if (m->cfg == CFG_DMA) {
        g_autofree VirtIOMMUCmd *c = g_new0(VirtIOMMUCmd, n);

        for (uint32_t i = 0; i < n; i++) {
            c[i] = (VirtIOMMUCmd) {
                .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = m->domain,
                .iova = iova[i], .addr = gpa[i], .size = size[i],
                .arg = VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE,
            };
        }
        for (uint32_t i = 0; i < n; i += CMDQ_ENTRIES / 2) {
            cmdq_batch(m, c + i, MIN(n - i, CMDQ_ENTRIES / 2), NULL);
        }
    } else if (m->cfg == CFG_VIRTIO) {
        uint32_t per = m->vq->size / 2;
        g_autofree VioReq *r = g_new0(VioReq, n);

        for (uint32_t i = 0; i < n; i++) {
            r[i] = vio_map_req(m->domain, iova[i], gpa[i], size[i]);
        }
        for (uint32_t i = 0; i < n; i += per) {
            vio_batch(m, r + i, MIN(n - i, per));
        }
    }
}

static bool translated(Machine *m)
{
    return m->cfg == CFG_DMA || m->cfg == CFG_VIRTIO;
}

static Machine *machine_start(Config cfg, bool dma, Side side)
{
    Machine *m = g_new0(Machine, 1);
    const char *iommu = "";
    g_autofree char *args = NULL;
    /* Cold buffers: COLD_BUFS of up to 64 KiB per direction. */
    uint64_t cold_bytes = COLD_BUFS * 65536ULL;

    m->cfg = cfg;
    if (cfg == CFG_VIRTIO) {
        iommu = "-device virtio-iommu-pci,addr=04.0 ";
    } else if (cfg != CFG_NONE) {
        iommu = "-device virt-iommu,addr=04.0 ";
    }
    args = g_strdup_printf("-M q35 -m 512M -nodefaults %s"
                           "-device dma-testdev,addr=05.0,total-vfs=0 %s",
                           iommu, side_args[side]);
    /* unset, QTEST_QEMU_BINARY_B falls back to QTEST_QEMU_BINARY */
    m->qts = qtest_init_with_env(side == SIDE_B ? "QTEST_QEMU_BINARY_B" :
                                 NULL, args, true);
    m->pid = qtest_pid(m->qts);
    m->bus = qpci_new_pc(m->qts, NULL);
    pc_alloc_init(&m->alloc, m->qts, ALLOC_NO_FLAGS);
    qdma_testdev_pf_init(&m->pf, m->bus, DMADEV_DEVFN);

    if (cfg == CFG_IDENTITY || cfg == CFG_DMA) {
        qvirt_iommu_init(&m->viommu, m->bus, IOMMU_DEVFN);
        qvirt_iommu_start(&m->viommu, &m->alloc, CMDQ_LOG2, 4,
                          VIRT_IOMMU_CTRL_ENABLE);
        m->domain = qvirt_iommu_domain_alloc(&m->viommu,
                                             cfg == CFG_DMA ?
                                             VIRT_IOMMU_DOMAIN_DMA :
                                             VIRT_IOMMU_DOMAIN_IDENTITY);
        qvirt_iommu_attach(&m->viommu, DMADEV_RID, m->domain);
    } else if (cfg == CFG_VIRTIO) {
        VioReq a = vio_attach_req(1, DMADEV_RID);

        vio_init(m);
        m->domain = 1;
        vio_batch(m, &a, 1);
    }
    if (!dma) {
        return m;
    }

    m->ring_gpa = guest_alloc(&m->alloc, RING_BYTES);
    m->src_gpa = guest_alloc(&m->alloc, 65536);
    m->dst_gpa = guest_alloc(&m->alloc, 65536);
    m->cold_src_gpa = guest_alloc(&m->alloc, cold_bytes);
    m->cold_dst_gpa = guest_alloc(&m->alloc, cold_bytes);
    if (translated(m)) {
        uint32_t n = 3 + 2 * COLD_BUFS;
        g_autofree uint64_t *iova = g_new(uint64_t, n);
        g_autofree uint64_t *gpa = g_new(uint64_t, n);
        g_autofree uint64_t *size = g_new(uint64_t, n);

        m->ring_bus = IOVA_RING;
        m->src_bus = IOVA_SRC;
        m->dst_bus = IOVA_DST;
        m->cold_src_bus = IOVA_COLD;
        m->cold_dst_bus = IOVA_COLD + cold_bytes;
        iova[0] = m->ring_bus, gpa[0] = m->ring_gpa, size[0] = RING_BYTES;
        iova[1] = m->src_bus, gpa[1] = m->src_gpa, size[1] = 65536;
        iova[2] = m->dst_bus, gpa[2] = m->dst_gpa, size[2] = 65536;
        /* One mapping per cold buffer, as a driver maps each buffer. */
        for (uint32_t i = 0; i < COLD_BUFS; i++) {
            iova[3 + i] = m->cold_src_bus + i * 65536ULL;
            gpa[3 + i] = m->cold_src_gpa + i * 65536ULL;
            size[3 + i] = 65536;
            iova[3 + COLD_BUFS + i] = m->cold_dst_bus + i * 65536ULL;
            gpa[3 + COLD_BUFS + i] = m->cold_dst_gpa + i * 65536ULL;
            size[3 + COLD_BUFS + i] = 65536;
        }
        map_all(m, iova, gpa, size, n);
    } else {
        m->ring_bus = m->ring_gpa;
        m->src_bus = m->src_gpa;
        m->dst_bus = m->dst_gpa;
        m->cold_src_bus = m->cold_src_gpa;
        m->cold_dst_bus = m->cold_dst_gpa;
    }
    return m;
}

static void machine_stop(Machine *m)
{
    if (m->vio) {
        qvirtqueue_cleanup(m->vio->vdev.bus, m->vq, &m->alloc);
        qvirtio_pci_device_disable(m->vio);
        g_free(m->avail_ring);
        g_free(m->vio);
    }
    if (m->viommu.dev) {
        qvirt_iommu_cleanup(&m->viommu);
    }
    qdma_testdev_pf_cleanup(&m->pf);
    alloc_destroy(&m->alloc);
    qpci_free_pc(m->bus);
    qtest_quit(m->qts);
    g_free(m);
}

/* ---- DMA throughput ---- */

typedef enum Pattern { PAT_WARM, PAT_COLD } Pattern;

/*
 * Fills the whole ring with COPY descriptors of @len bytes once; every
 * slot is reused as HEAD goes round, so no descriptor is written again
 * while measuring.  Warm: one source and one destination buffer.  Cold:
 * slot i copies buffer i % COLD_BUFS, so consecutive descriptors touch
 * pages the IOTLB cannot hold all at once.
 */
static void dma_prepare(Machine *m, Pattern pat, uint32_t len)
{
    g_autofree uint8_t *ring = g_malloc0(RING_BYTES);
    DmaTestdevDesc d;
    QDmaTestdev *f = &m->pf.fn;

    for (uint32_t i = 0; i < RING_ENTRIES; i++) {
        uint32_t b = i % COLD_BUFS;
        uint8_t *p = ring + i * DMA_TESTDEV_DESC_SIZE;

        d = (DmaTestdevDesc) {
            .op = DMA_TESTDEV_OP_COPY,
            .len = len,
            .src = pat == PAT_WARM ? m->src_bus :
                   m->cold_src_bus + b * 65536ULL,
            .dst = pat == PAT_WARM ? m->dst_bus :
                   m->cold_dst_bus + b * 65536ULL,
        };
        stl_le_p(p + DMA_TESTDEV_DESC_OP, d.op);
        stq_le_p(p + DMA_TESTDEV_DESC_SRC, d.src);
        stq_le_p(p + DMA_TESTDEV_DESC_DST, d.dst);
        stl_le_p(p + DMA_TESTDEV_DESC_LEN, d.len);
    }
    qtest_bufwrite(m->qts, m->ring_gpa, ring, RING_BYTES);
    qdma_testdev_writeq(f, DMA_TESTDEV_REG_RING_BASE, m->ring_bus);
    qdma_testdev_writel(f, DMA_TESTDEV_REG_RING_SIZE, RING_ENTRIES);
    qdma_testdev_writel(f, DMA_TESTDEV_REG_RING_HEAD, 0);
    qdma_testdev_writel(f, DMA_TESTDEV_REG_RING_TAIL, 0);
}

/*
 * Runs at least @ops descriptors, RING_ENTRIES - 1 per TAIL write, and
 * times the TAIL write and the doorbells.  Fails unless every one
 * completed without error.
 */
static Stamp dma_run(Machine *m, uint64_t ops, uint32_t len, uint64_t *done)
{
    QDmaTestdev *f = &m->pf.fn;
    uint64_t before = qdma_testdev_readq(f, DMA_TESTDEV_REG_COMPLETED_OPS);
    uint32_t tail = qdma_testdev_readl(f, DMA_TESTDEV_REG_RING_HEAD);
    uint64_t n = 0;
    Stamp t = { 0 }, s;

    while (n < ops) {
        uint32_t batch = RING_ENTRIES - 1;
        uint32_t rings = DIV_ROUND_UP(batch, DMA_TESTDEV_RING_BUDGET);

        tail = (tail + batch) & (RING_ENTRIES - 1);
        s = stamp(m);
        qdma_testdev_writel(f, DMA_TESTDEV_REG_RING_TAIL, tail);
        for (uint32_t i = 0; i < rings; i++) {
            qdma_testdev_writel(f, DMA_TESTDEV_REG_DOORBELL,
                                DMA_TESTDEV_DB_RING);
        }
        stamp_add(&t, m, s);
        n += batch;
    }
    g_assert_cmpuint(qdma_testdev_readl(f, DMA_TESTDEV_REG_RING_HEAD), ==,
                     tail);
    g_assert_cmpuint(qdma_testdev_readl(f, DMA_TESTDEV_REG_STATUS), ==,
                     DMA_TESTDEV_ST_DONE);
    g_assert_cmpuint(qdma_testdev_readq(f, DMA_TESTDEV_REG_ERROR_COUNT), ==,
                     0);
    g_assert_cmpuint(qdma_testdev_readq(f, DMA_TESTDEV_REG_COMPLETED_OPS) -
                     before, ==, n);
    *done = n;
    return t;
}

/* The copy really happened: a fresh pattern in source arrives at dest. */
static void dma_check_data(Machine *m, Pattern pat, uint32_t len)
{
    uint64_t src = pat == PAT_WARM ? m->src_gpa : m->cold_src_gpa;
    uint64_t dst = pat == PAT_WARM ? m->dst_gpa : m->cold_dst_gpa;
    g_autofree uint8_t *want = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    uint64_t n;

    for (uint32_t i = 0; i < len; i++) {
        want[i] = g_random_int();
    }
    qtest_bufwrite(m->qts, src, want, len);
    qtest_memset(m->qts, dst, 0, len);
    dma_run(m, 1, len, &n);
    qtest_memread(m->qts, dst, got, len);
    if (memcmp(want, got, len)) {
        g_error("%s: DMA copy of %u bytes did not arrive",
                config_names[m->cfg], len);
    }
}

static const struct {
    uint32_t len;
    uint64_t ops;           /* per run, at --scale 1 */
} dma_sizes[] = {
    { 64, 40000 }, { 4096, 20000 }, { 65536, 2000 },
};

static void bench_dma(int runs, double scale)
{
    static const struct {
        Config cfg;
        Pattern pat;
    } scen[] = {
        { CFG_NONE, PAT_WARM }, { CFG_BYPASS, PAT_WARM },
        { CFG_IDENTITY, PAT_WARM }, { CFG_DMA, PAT_WARM },
        { CFG_VIRTIO, PAT_WARM },
        { CFG_NONE, PAT_COLD }, { CFG_DMA, PAT_COLD },
        { CFG_VIRTIO, PAT_COLD },
    };
    Machine *mach[CFG_MAX];

    /*
     * Fresh QEMUs for every run: a process's own layout (where its heap
     * bounce buffers and guest RAM land, huge pages or not) moved one
     * configuration by several percent for its whole life, which no
     * number of runs in the same process averages out.
     */
    for (int r = -1; r < runs; r++) {       /* run -1: warm-up, checks */
        for (int c = 0; c < CFG_MAX; c++) {
            mach[c] = machine_start(c, true, SIDE_A);
        }
        for (size_t z = 0; z < ARRAY_SIZE(dma_sizes); z++) {
            uint32_t len = dma_sizes[z].len;
            uint64_t ops = MAX(1, dma_sizes[z].ops * scale);

            for (size_t i = 0; i < ARRAY_SIZE(scen); i++) {
                Machine *m = mach[scen[i].cfg];
                uint64_t done;
                Stamp t;

                dma_prepare(m, scen[i].pat, len);
                if (r < 0) {
                    dma_check_data(m, scen[i].pat, len);
                }
                t = dma_run(m, r < 0 ? ops / 4 + 1 : ops, len, &done);
                if (r >= 0) {
                    printf("dma\t%s\t%s\t%u\t%d\t%" PRIu64 "\t%" PRIu64
                           "\t%" PRIu64 "\t%" PRIu64 "\n",
                           config_names[scen[i].cfg],
                           scen[i].pat == PAT_WARM ? "warm" : "cold", len,
                           r, done, done * len, t.cpu, t.wall);
                    fflush(stdout);
                }
            }
        }
        for (int c = 0; c < CFG_MAX; c++) {
            machine_stop(mach[c]);
        }
    }
}

/* ---- command throughput ---- */

typedef enum CmdVariant {
    CV_DMA_ALLOC,       /* strict DMA domain, MAP (device allocates) */
    CV_DMA_ALLOC_PAIR,  /* the same, each MAP followed by its UNMAP */
    CV_DMA_FIXED,       /* strict DMA domain, MAP_FIXED */
    CV_FQ_ALLOC,        /* DMA_FQ domain, MAP */
    CV_FQ_FIXED,        /* DMA_FQ domain, MAP_FIXED */
    CV_VIRTIO,          /* virtio-iommu MAP + UNMAP */
    CV_MAX,
} CmdVariant;

static const char *const cv_names[CV_MAX] = {
    "dma-alloc", "dma-alloc-pair", "dma-fixed", "fq-alloc", "fq-fixed",
    "virtio-iommu",
};

/* Pairs of one batch: as many as one ring (or virtqueue) holds. */
static uint32_t cmd_batch_pairs(CmdVariant v, Machine *m)
{
    if (v == CV_VIRTIO) {
        return m->vq->size / 4;     /* two descriptors per request */
    }
    if (v == CV_DMA_ALLOC || v == CV_FQ_ALLOC) {
        return CMDQ_ENTRIES - 1;    /* a ring of MAPs, then of UNMAPs */
    }
    return (CMDQ_ENTRIES - 1) / 2;  /* MAP[_FIXED], UNMAP, ... */
}

/*
 * MAP+UNMAP pairs with device-allocated IOVAs, as a driver maps and
 * unmaps one buffer at a time: a strict UNMAP puts the IOVA in this
 * CPU's rcache magazine and the next MAP of that size takes it back
 * (last in, first out), so after one untimed pair the guest knows the
 * IOVA every MAP returns, and the ring can hold the UNMAPs too.  Every
 * MAP's result is checked to be that IOVA.
 */
static Stamp cmd_alloc_pairs(Machine *m, uint64_t size, uint32_t pairs)
{
    g_autofree VirtIOMMUCmd *c = g_new0(VirtIOMMUCmd, 2 * pairs);
    g_autofree uint64_t *got = g_new0(uint64_t, 2 * pairs);
    VirtIOMMUCmd map = {
        .opcode = VIRT_IOMMU_CMD_MAP, .domain = m->domain,
        .addr = m->cmd_buf_gpa, .size = size,
        .arg = VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE,
    };
    VirtIOMMUCmd unmap = {
        .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = m->domain, .size = size,
    };
    Stamp t;

    cmdq_batch(m, &map, 1, got);
    unmap.iova = got[0];
    cmdq_batch(m, &unmap, 1, NULL);
    for (uint32_t i = 0; i < pairs; i++) {
        c[2 * i] = map;
        c[2 * i + 1] = unmap;
    }
    t = cmdq_batch(m, c, 2 * pairs, got);
    for (uint32_t i = 0; i < pairs; i++) {
        g_assert_cmphex(got[2 * i], ==, unmap.iova);
    }
    return t;
}

/* One batch of MAP+UNMAP pairs of @pages pages; returns its time. */
static Stamp cmd_batch(Machine *m, CmdVariant v, uint32_t pages,
                       uint32_t pairs, uint32_t round)
{
    uint64_t size = pages * PAGE;
    /*
     * Alternate IOVA halves so that IOVAs parked in a flush queue by the
     * previous batch are never asked for again by MAP_FIXED.
     */
    uint64_t base = 0x40000000ULL + (round & 1) * 0x40000000ULL;
    Stamp t = { 0 }, s;

    if (v == CV_VIRTIO) {
        g_autofree VioReq *r = g_new0(VioReq, 2 * pairs);

        for (uint32_t i = 0; i < pairs; i++) {
            uint64_t iova = base + i * size;

            r[2 * i] = vio_map_req(m->domain, iova, m->cmd_buf_gpa, size);
            r[2 * i + 1] = vio_unmap_req(m->domain, iova, size);
        }
        return vio_batch(m, r, 2 * pairs);
    }
    if (v == CV_DMA_ALLOC_PAIR) {
        return cmd_alloc_pairs(m, size, pairs);
    }
    if (v == CV_DMA_FIXED || v == CV_FQ_FIXED) {
        g_autofree VirtIOMMUCmd *c = g_new0(VirtIOMMUCmd, 2 * pairs);

        for (uint32_t i = 0; i < pairs; i++) {
            uint64_t iova = base + i * size;

            c[2 * i] = (VirtIOMMUCmd) {
                .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = m->domain,
                .iova = iova, .addr = m->cmd_buf_gpa, .size = size,
                .arg = VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE,
            };
            c[2 * i + 1] = (VirtIOMMUCmd) {
                .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = m->domain,
                .iova = iova, .size = size,
            };
        }
        return cmdq_batch(m, c, 2 * pairs, NULL);
    } else {
        g_autofree VirtIOMMUCmd *c = g_new0(VirtIOMMUCmd, pairs);
        g_autofree uint64_t *iova = g_new0(uint64_t, pairs);

        for (uint32_t i = 0; i < pairs; i++) {
            c[i] = (VirtIOMMUCmd) {
                .opcode = VIRT_IOMMU_CMD_MAP, .domain = m->domain,
                .addr = m->cmd_buf_gpa, .size = size,
                .arg = VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE,
            };
        }
        s = cmdq_batch(m, c, pairs, iova);
        t.cpu += s.cpu, t.wall += s.wall;
        for (uint32_t i = 0; i < pairs; i++) {
            c[i] = (VirtIOMMUCmd) {
                .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = m->domain,
                .iova = iova[i], .size = size,
            };
        }
        s = cmdq_batch(m, c, pairs, NULL);
        t.cpu += s.cpu, t.wall += s.wall;
        return t;
    }
}

static Machine *cmd_machine(CmdVariant v, Side side)
{
    Machine *m = machine_start(v == CV_VIRTIO ? CFG_VIRTIO : CFG_DMA, false,
                               side);

    if (v == CV_FQ_ALLOC || v == CV_FQ_FIXED) {
        /* a fresh domain of the flush-queue type for the endpoint */
        m->domain = qvirt_iommu_domain_alloc(&m->viommu,
                                             VIRT_IOMMU_DOMAIN_DMA_FQ);
        qvirt_iommu_attach(&m->viommu, DMADEV_RID, m->domain);
    }
    m->cmd_buf_gpa = guest_alloc(&m->alloc, 16 * PAGE);
    return m;
}

/*
 * One run of MAP+UNMAP pairs of @pages pages on variant @v (-1: the
 * untimed warm-up, one batch), printed unless it is the warm-up.
 */
static void cmd_run(Machine *m, CmdVariant v, uint32_t pages, int r,
                    double scale, uint32_t *round, int side)
{
    /* pairs per run at --scale 1 */
    const uint64_t target = 16000;
    uint32_t per = cmd_batch_pairs(v, m);
    uint64_t want = r < 0 ? per : MAX(1, target * scale);
    uint64_t done = 0;
    Stamp t = { 0 };

    while (done < want) {
        Stamp s = cmd_batch(m, v, pages, per, (*round)++);

        t.cpu += s.cpu, t.wall += s.wall;
        done += per;
    }
    if (r >= 0) {
        printf("cmd\t%s\t%u\t%d\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
               "%s%s\n", cv_names[v], pages, r, done, t.cpu, t.wall,
               side < 0 ? "" : "\t", side < 0 ? "" : side_names[side]);
        fflush(stdout);
    }
}

static void bench_cmd(int runs, double scale)
{
    static const uint32_t pages[] = { 1, 16 };
    Machine *mach[CV_MAX];
    uint32_t round = 0;

    for (int v = 0; v < CV_MAX; v++) {
        mach[v] = cmd_machine(v, SIDE_A);
    }
    for (size_t p = 0; p < ARRAY_SIZE(pages); p++) {
        for (int r = -1; r < runs; r++) {
            for (int v = 0; v < CV_MAX; v++) {
                cmd_run(mach[v], v, pages[p], r, scale, &round, -1);
            }
        }
    }
    for (int v = 0; v < CV_MAX; v++) {
        machine_stop(mach[v]);
    }
}

/*
 * --ab: each variant on side A and on side B back to back, the order
 * alternating with run and variant, so that a change of load hits both
 * sides alike.  Fresh QEMUs for every run (after an untimed warm-up in
 * each), as for the DMA part: a process's layout must not follow one
 * side through the whole run.
 */
static void bench_cmd_ab(int runs, double scale)
{
    static const uint32_t pages[] = { 1, 16 };
    Machine *mach[SIDE_MAX][CV_MAX];
    uint32_t round[SIDE_MAX] = { 0 };

    for (int r = 0; r < runs; r++) {
        for (int i = 0; i < SIDE_MAX; i++) {
            for (int v = 0; v < CV_MAX; v++) {
                mach[i][v] = cmd_machine(v, i);
            }
        }
        for (size_t p = 0; p < ARRAY_SIZE(pages); p++) {
            for (int v = 0; v < CV_MAX; v++) {
                for (int k = 0; k < SIDE_MAX; k++) {
                    int i = (k + r + v + p) % SIDE_MAX;

                    cmd_run(mach[i][v], v, pages[p], -1, scale, &round[i],
                            i);
                    cmd_run(mach[i][v], v, pages[p], r, scale, &round[i], i);
                }
            }
        }
        for (int i = 0; i < SIDE_MAX; i++) {
            for (int v = 0; v < CV_MAX; v++) {
                machine_stop(mach[i][v]);
            }
        }
    }
}

/* The cost of one qtest MMIO round trip, for the report's method notes. */
static void bench_rtt(void)
{
    Machine *m = machine_start(CFG_NONE, false, SIDE_A);
    Stamp t = { 0 }, s;
    int n = 2000;

    for (int i = 0; i < n; i++) {
        s = stamp(m);
        qdma_testdev_readl(&m->pf.fn, DMA_TESTDEV_REG_STATUS);
        stamp_add(&t, m, s);
    }
    printf("rtt\t%d\t%" PRIu64 "\t%" PRIu64 "\n", n, t.cpu, t.wall);
    machine_stop(m);
}

int main(int argc, char **argv)
{
    int runs = 5;
    double scale = 1.0;
    bool dma = false, cmd = false, ab = false;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
            scale = g_ascii_strtod(argv[++i], NULL);
        } else if (!strcmp(argv[i], "--ab")) {
            ab = true;
        } else if (!strcmp(argv[i], "--args-a") && i + 1 < argc) {
            side_args[SIDE_A] = argv[++i];
        } else if (!strcmp(argv[i], "--args-b") && i + 1 < argc) {
            side_args[SIDE_B] = argv[++i];
        } else if (!strcmp(argv[i], "dma")) {
            dma = true;
        } else if (!strcmp(argv[i], "cmd")) {
            cmd = true;
        } else {
            fprintf(stderr, "usage: %s [--runs N] [--scale F] [--ab] "
                    "[--args-a ARGS] [--args-b ARGS] [dma] [cmd]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || scale <= 0) {
        fprintf(stderr, "--runs must be >= 1 and --scale > 0\n");
        return 2;
    }
    if (!dma && !cmd) {
        cmd = true;
        dma = !ab;
    }
    if (ab && dma) {
        fprintf(stderr, "--ab measures the cmd part only\n");
        return 2;
    }
    if (!ab && (*side_args[SIDE_A] || *side_args[SIDE_B])) {
        fprintf(stderr, "--args-a and --args-b need --ab\n");
        return 2;
    }
    if (!getenv("QTEST_QEMU_BINARY")) {
        fprintf(stderr, "QTEST_QEMU_BINARY must name qemu-system-x86_64\n");
        return 2;
    }
    printf("# virt-iommu-bench runs=%d scale=%g\n", runs, scale);
    if (ab) {
        printf("# A: %s %s\n# B: %s %s\n", getenv("QTEST_QEMU_BINARY"),
               side_args[SIDE_A], getenv("QTEST_QEMU_BINARY_B") ?:
               getenv("QTEST_QEMU_BINARY"), side_args[SIDE_B]);
    }
    bench_rtt();
    if (dma) {
        bench_dma(runs, scale);
    }
    if (cmd) {
        if (ab) {
            bench_cmd_ab(runs, scale);
        } else {
            bench_cmd(runs, scale);
        }
    }
    return 0;
}
