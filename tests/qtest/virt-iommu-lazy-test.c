/*
 * qtests for virt-iommu's commands without a doorbell (ABI 0.4,
 * CAP.CMDQ_LAZY): mapping commands left in the ring with only the TAIL
 * shadow moved run when an endpoint's access misses, and the device
 * says in COPYING when an endpoint never misses.  dma-testdev's PF fills
 * guest memory through a DMA domain; each case checks the bytes that
 * arrived, the exact fault record of a refused access, CMDQ_HEAD and
 * CMDQ_TAIL, the status in each command's slot and ERROR.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"
#include "libqos/dma-testdev.h"
#include "libqos/virt-iommu.h"
#include "libqos/virt-iommu-rig.h"

#define PF_RID          QVIRT_IOMMU_RIG_PF_DEVFN    /* bus 0 */
#define PAGE            4096ULL
#define LEN             256
#define IOVA_A          0x100000ULL
#define IOVA_B          0x201000ULL
#define IOVA_C          0x302000ULL     /* never mapped */

/* What CMDQ_TAIL_ADDR tells the device; the driver keeps its shadow always */
typedef enum {
    SHADOW_RAM,         /* the shadow word */
    SHADOW_NONE,        /* 0: ABI 0.3 */
    SHADOW_MMIO,        /* a register of the IOMMU's own BAR0 */
} ShadowAddr;

typedef struct Fixture {
    QVirtIOMMURig rig;
    QVirtIOMMU *v;          /* &rig.iommu */
    char *args;             /* QEMU's arguments past the rig's own */
    uint64_t shadow;        /* the TAIL shadow word, guest-physical */
    uint64_t buf[2];        /* guest-physical, a page each */
    uint32_t dom;           /* a domain the PF is attached to */
} Fixture;

/* COPYING, the word after the TAIL shadow, as the device last wrote it */
static uint32_t copying(Fixture *f)
{
    return qtest_readl(f->rig.qts, f->shadow + 4);
}

/*
 * Starts the rig with @args (the fixture's now) and CONTROL @control, a
 * ring of 2^@cmdq_log2 commands, and gives the driver a TAIL shadow that
 * CMDQ_TAIL_ADDR points at; the device writes COPYING when CMDQ_EN takes.
 */
static void fixture_boot(Fixture *f, char *args, uint32_t cmdq_log2,
                         uint32_t control)
{
    f->args = args;
    qvirt_iommu_rig_start(&f->rig, f->args, cmdq_log2, 4, control);
    f->v = &f->rig.iommu;
    f->shadow = guest_alloc(&f->rig.alloc, 8);
    f->buf[0] = guest_alloc(&f->rig.alloc, PAGE);
    f->buf[1] = guest_alloc(&f->rig.alloc, PAGE);
    qtest_writel(f->rig.qts, f->shadow + 4, 0xffffffff);
    qvirt_iommu_use_tail_shadow(f->v, f->shadow);
    g_assert_cmphex(qvirt_iommu_readl(f->v, VIRT_IOMMU_REG_ERROR), ==, 0);
    g_assert_cmpuint(copying(f), ==, 0);
}

/*
 * Boots with virt-iommu options @iommu_opts, a ring of 2^@cmdq_log2
 * commands and translation on (no default bypass), gives the device
 * @where as CMDQ_TAIL_ADDR, then allocates a domain of @type and attaches
 * the PF to it: commands 0 and 1, so the next one goes into slot 2.
 */
static void fixture_start(Fixture *f, const char *iommu_opts,
                          uint32_t cmdq_log2, uint8_t type, ShadowAddr where)
{
    fixture_boot(f, g_strdup_printf("-device virt-iommu,addr=04.0%s "
                                    "-device dma-testdev,addr=06.0,"
                                    "total-vfs=0", iommu_opts),
                 cmdq_log2, VIRT_IOMMU_CTRL_ENABLE);
    if (where == SHADOW_NONE) {
        qvirt_iommu_write_tail_addr(f->v, 0);
    } else if (where == SHADOW_MMIO) {
        /*
         * MMIO that reads as @cmdq_log2 (see test_shadow_not_ram): the
         * device cannot write COPYING there when CMDQ_EN takes.
         */
        qvirt_iommu_write_tail_addr(f->v, f->v->bar.addr +
                                    VIRT_IOMMU_REG_CMDQ_SIZE);
        g_assert_cmphex(qvirt_iommu_readl(f->v, VIRT_IOMMU_REG_ERROR), ==,
                        VIRT_IOMMU_ERR_CMDQ_FETCH);
        qvirt_iommu_writel(f->v, VIRT_IOMMU_REG_ERROR,
                           VIRT_IOMMU_ERR_CMDQ_FETCH);
    }
    g_assert_cmphex(qvirt_iommu_readl(f->v, VIRT_IOMMU_REG_ERROR), ==, 0);
    f->dom = qvirt_iommu_domain_alloc(f->v, type);
    qvirt_iommu_attach(f->v, PF_RID, f->dom);
}

static void fixture_stop(Fixture *f)
{
    qvirt_iommu_rig_stop(&f->rig);
    g_free(f->args);
}

/*
 * The PF fills LEN bytes at bus address @iova with a pattern made from
 * @seed; returns whether it went through.  If it did, the pattern must be
 * at guest-physical @gpa; if not, the PF must report a DMA fault at
 * @iova, and @gpa must be untouched.
 */
static bool fill_arrives(Fixture *f, uint64_t iova, uint64_t gpa,
                         uint8_t seed)
{
    QDmaTestdev *pf = &f->rig.pf.fn;
    uint32_t pattern = 0x01010101u * seed ^ 0xa5c30f00u;
    uint8_t want[LEN], got[LEN];
    uint32_t err;

    for (int i = 0; i < LEN; i++) {
        want[i] = pattern >> (8 * (i & 3));
    }
    qtest_memset(f->rig.qts, gpa, 0, LEN);
    err = qdma_testdev_run(pf, DMA_TESTDEV_OP_FILL, 0, iova, LEN, pattern);
    qtest_memread(f->rig.qts, gpa, got, LEN);
    if (err != DMA_TESTDEV_ERR_NONE) {
        g_assert_cmpuint(err, ==, DMA_TESTDEV_ERR_DMA_FAULT);
        g_assert_cmphex(qdma_testdev_readq(pf, DMA_TESTDEV_REG_FAULT_ADDR), ==,
                        iova);
        memset(want, 0, LEN);
        g_assert_cmpmem(got, LEN, want, LEN);
        return false;
    }
    g_assert_cmpmem(got, LEN, want, LEN);
    return true;
}

/* Pops one event: the PF's write to @iova refused for @reason. */
static void expect_fault(Fixture *f, uint8_t reason, uint64_t iova)
{
    qvirt_iommu_expect_fault(f->v, reason, PF_RID, f->dom, iova,
                             VIRT_IOMMU_PERM_WRITE);
}

/* A write DMA to @iova is refused, reported as not mapped. */
static void expect_not_mapped(Fixture *f, uint64_t iova, uint64_t gpa,
                              uint8_t seed)
{
    g_assert_false(fill_arrives(f, iova, gpa, seed));
    expect_fault(f, VIRT_IOMMU_FAULT_NOT_MAPPED, iova);
}

static void assert_queue(Fixture *f, uint32_t head, uint32_t tail)
{
    g_assert_cmpuint(qvirt_iommu_readl(f->v, VIRT_IOMMU_REG_CMDQ_HEAD), ==,
                     head);
    g_assert_cmpuint(qvirt_iommu_readl(f->v, VIRT_IOMMU_REG_CMDQ_TAIL), ==,
                     tail);
}

static void assert_slot(Fixture *f, uint32_t index, uint16_t status)
{
    g_assert_cmpuint(qvirt_iommu_slot_status(f->v, index), ==, status);
}

static uint32_t shadow_index(Fixture *f)
{
    return qtest_readl(f->rig.qts, f->shadow);
}

/* Writes CMDQ_TAIL up to the shadow, as a driver rings for what it queued */
static void ring_doorbell(Fixture *f)
{
    qvirt_iommu_writel(f->v, VIRT_IOMMU_REG_CMDQ_TAIL, shadow_index(f));
}

static VirtIOMMUCmd map_fixed_cmd(Fixture *f, uint64_t iova, uint64_t gpa,
                                  uint64_t size)
{
    return (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = f->dom, .iova = iova,
        .addr = gpa, .size = size, .arg = VIRT_IOMMU_PERM_WRITE,
    };
}

/* Maps a page at IOVA_A to @gpa with a doorbell; fails the test unless OK */
static void map_a(Fixture *f, uint64_t gpa, uint32_t perms)
{
    g_assert_cmpuint(qvirt_iommu_map_fixed(f->v, f->dom, IOVA_A, gpa, PAGE,
                                           perms), ==, VIRT_IOMMU_S_OK);
}

/* Queues one command without a doorbell; returns its slot. */
static uint32_t queue(Fixture *f, VirtIOMMUCmd cmd)
{
    return qvirt_iommu_queue(f->v, &cmd, 1);
}

/*
 * Queues MAP_FIXED IOVA_A -> buf[0], DOMAIN_ALLOC (a DMA domain) and
 * MAP_FIXED IOVA_B -> buf[1]; returns the first one's slot.
 */
static uint32_t queue_a_alloc_b(Fixture *f)
{
    return qvirt_iommu_queue(f->v, (VirtIOMMUCmd[]) {
        map_fixed_cmd(f, IOVA_A, f->buf[0], PAGE),
        { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC,
          .arg = VIRT_IOMMU_DOMAIN_DMA },
        map_fixed_cmd(f, IOVA_B, f->buf[1], PAGE),
    }, 3);
}

/*
 * A MAP_FIXED left in the ring with only the shadow moved: the PF's DMA
 * to its IOVA misses, the device runs it, and the DMA goes through.
 */
static void test_map_fixed(void)
{
    Fixture f;
    uint32_t slot;

    fixture_start(&f, "", 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    g_assert_cmphex(qvirt_iommu_readq(f.v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    f.shadow);
    slot = queue(&f, map_fixed_cmd(&f, IOVA_A, f.buf[0], PAGE));
    g_assert_cmpuint(slot, ==, 2);
    g_assert_cmpuint(shadow_index(&f), ==, 3);
    assert_queue(&f, 2, 2);
    assert_slot(&f, slot, VIRT_IOMMU_S_PENDING);

    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 1));
    /* The shadow became TAIL and the command completed in its slot. */
    assert_queue(&f, 3, 3);
    assert_slot(&f, slot, VIRT_IOMMU_S_OK);
    qvirt_iommu_assert_no_event(f.v);
    /* The mapping is there for good: the next DMA does not miss. */
    g_assert_true(fill_arrives(&f, IOVA_A + LEN, f.buf[0] + LEN, 2));
    fixture_stop(&f);
}

/* The same ring with CMDQ_TAIL_ADDR 0: ABI 0.3, only a doorbell runs it. */
static void test_no_tail_addr(void)
{
    Fixture f;
    uint32_t slot;

    fixture_start(&f, "", 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_NONE);
    g_assert_cmphex(qvirt_iommu_readq(f.v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0);
    slot = queue(&f, map_fixed_cmd(&f, IOVA_A, f.buf[0], PAGE));
    g_assert_cmpuint(shadow_index(&f), ==, 3);

    expect_not_mapped(&f, IOVA_A, f.buf[0], 1);
    assert_queue(&f, 2, 2);
    assert_slot(&f, slot, VIRT_IOMMU_S_PENDING);
    /* The command itself is good: the doorbell runs it. */
    ring_doorbell(&f);
    assert_queue(&f, 3, 3);
    assert_slot(&f, slot, VIRT_IOMMU_S_OK);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 2));
    fixture_stop(&f);
}

/*
 * A miss on a mapping that does not allow the access (PERMISSION) runs
 * the queue too: a read-only mapping replaced by a writable one.
 */
static void test_permission_miss(void)
{
    Fixture f;
    uint32_t slot;

    fixture_start(&f, "", 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    map_a(&f, f.buf[0], VIRT_IOMMU_PERM_READ);
    /* A read: the IOTLB holds the read-only translation. */
    g_assert_cmpuint(qdma_testdev_run(&f.rig.pf.fn, DMA_TESTDEV_OP_CRC32C,
                                      IOVA_A, 0, LEN, 0), ==,
                     DMA_TESTDEV_ERR_NONE);
    slot = qvirt_iommu_queue(f.v, (VirtIOMMUCmd[]) {
        { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = f.dom, .iova = IOVA_A,
          .size = PAGE },
        map_fixed_cmd(&f, IOVA_A, f.buf[0], PAGE),
    }, 2);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 1));
    assert_queue(&f, slot + 2, slot + 2);
    assert_slot(&f, slot, VIRT_IOMMU_S_OK);
    assert_slot(&f, slot + 1, VIRT_IOMMU_S_OK);
    fixture_stop(&f);
}

/* A lazy MAP_FIXED the device refuses: a fault, and the refusal in its slot */
typedef struct RefusedCase {
    const char *name;
    const char *iommu_opts;
    uint64_t iova, size;        /* of the queued MAP_FIXED */
    uint64_t dma;               /* where the PF writes */
    uint16_t status;
} RefusedCase;

/* IOVA_A is mapped to buf[1] (by a doorbell) in each case. */
static const RefusedCase refused_cases[] = {
    /* Its second page overlaps IOVA_A */
    { "exists", "", IOVA_A - PAGE, 2 * PAGE, IOVA_A - PAGE,
      VIRT_IOMMU_S_EXISTS },
    /* Beyond the 48-bit IOVA space */
    { "range", "", 1ULL << 48, PAGE, 1ULL << 48, VIRT_IOMMU_S_RANGE },
    /* One mapping at most, and IOVA_A has it */
    { "no-space", ",max-mappings=1", IOVA_B, PAGE, IOVA_B,
      VIRT_IOMMU_S_NO_SPACE },
};

static void test_refused(const void *data)
{
    const RefusedCase *c = data;
    Fixture f;
    uint32_t slot;

    fixture_start(&f, c->iommu_opts, 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    map_a(&f, f.buf[1], VIRT_IOMMU_PERM_WRITE);
    slot = queue(&f, map_fixed_cmd(&f, c->iova, f.buf[0], c->size));
    g_assert_cmpuint(slot, ==, 3);

    expect_not_mapped(&f, c->dma, f.buf[0], 1);
    /* It ran on the miss: only its slot tells the driver why. */
    assert_queue(&f, 4, 4);
    assert_slot(&f, slot, c->status);
    g_assert_cmphex(qvirt_iommu_readl(f.v, VIRT_IOMMU_REG_ERROR), ==, 0);
    /* A refused command changed nothing. */
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[1], 2));
    fixture_stop(&f);
}

/*
 * A miss runs mapping commands only: it stops at DOMAIN_ALLOC, which
 * waits with what follows it for the doorbell.
 */
static void test_stops_at_other_command(void)
{
    Fixture f;
    uint32_t a;
    VirtIOMMUStats st;

    fixture_start(&f, "", 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    a = queue_a_alloc_b(&f);
    g_assert_cmpuint(shadow_index(&f), ==, a + 3);

    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 1));
    assert_queue(&f, a + 1, a + 3);
    assert_slot(&f, a, VIRT_IOMMU_S_OK);
    assert_slot(&f, a + 1, VIRT_IOMMU_S_PENDING);
    assert_slot(&f, a + 2, VIRT_IOMMU_S_PENDING);
    /* B is behind DOMAIN_ALLOC: another miss does not reach it. */
    expect_not_mapped(&f, IOVA_B, f.buf[1], 2);
    assert_queue(&f, a + 1, a + 3);
    assert_slot(&f, a + 1, VIRT_IOMMU_S_PENDING);
    assert_slot(&f, a + 2, VIRT_IOMMU_S_PENDING);

    ring_doorbell(&f);
    assert_queue(&f, a + 3, a + 3);
    assert_slot(&f, a + 1, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_slot_result(f.v, a + 1), ==, f.dom + 1);
    assert_slot(&f, a + 2, VIRT_IOMMU_S_OK);
    g_assert_true(fill_arrives(&f, IOVA_B, f.buf[1], 3));
    qvirt_iommu_stats(f.v, 0, &st);
    g_assert_cmpuint(st.type, ==, 2);       /* domains */
    g_assert_cmpuint(st.mappings, ==, 2);
    fixture_stop(&f);
}

/*
 * Queues @cmd, which the PF's DMA to IOVA_A does not need as long as
 * IOVA_A translates: that DMA goes through and @cmd waits, until a miss
 * of the PF's at IOVA_C runs it (and still faults).
 */
static void queue_for_other_miss(Fixture *f, VirtIOMMUCmd cmd, uint8_t seed)
{
    uint32_t slot = queue(f, cmd);

    g_assert_true(fill_arrives(f, IOVA_A, f->buf[0], seed));
    assert_queue(f, slot, slot);
    assert_slot(f, slot, VIRT_IOMMU_S_PENDING);
    expect_not_mapped(f, IOVA_C, f->buf[1], seed + 1);
    assert_queue(f, slot + 1, slot + 1);
    assert_slot(f, slot, VIRT_IOMMU_S_OK);
}

/*
 * UNMAP queued without a doorbell: no access needs it, so it waits for
 * another access's miss (or the doorbell).  Once it ran, the IOVA faults
 * at once in a strict DMA domain; in DMA_FQ its IOTLB entry translates
 * on (a hit, not a miss) until the domain's invalidation, which again
 * runs on a miss elsewhere.
 */
static void test_lazy_unmap(const void *data)
{
    uint8_t type = (uintptr_t)data;
    Fixture f;
    VirtIOMMUStats st;

    fixture_start(&f, "", 4, type, SHADOW_RAM);
    map_a(&f, f.buf[0], VIRT_IOMMU_PERM_WRITE);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 1));  /* IOTLB filled */
    queue_for_other_miss(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = f.dom, .iova = IOVA_A,
        .size = PAGE,
    }, 2);
    if (type == VIRT_IOMMU_DOMAIN_DMA_FQ) {
        queue_for_other_miss(&f, (VirtIOMMUCmd) {
            .opcode = VIRT_IOMMU_CMD_INVALIDATE, .domain = f.dom,
            .arg = VIRT_IOMMU_INV_DOMAIN,
        }, 4);
    }
    expect_not_mapped(&f, IOVA_A, f.buf[0], 6);
    qvirt_iommu_stats(f.v, f.dom, &st);
    g_assert_cmpuint(st.mappings, ==, 0);
    g_assert_cmpuint(st.fq_pending, ==, 0);
    g_assert_cmpuint(st.fq_flushes, ==,
                     type == VIRT_IOMMU_DOMAIN_DMA_FQ ? 1 : 0);
    fixture_stop(&f);
}

/*
 * The PF's DMA to IOVA_A misses and the device cannot use the shadow: the
 * DMA faults, ERROR is @error, and the MAP_FIXED in @slot has not run.
 */
static void expect_shadow_error(Fixture *f, uint32_t slot, uint32_t error)
{
    expect_not_mapped(f, IOVA_A, f->buf[0], 1);
    g_assert_cmphex(qvirt_iommu_readl(f->v, VIRT_IOMMU_REG_ERROR), ==, error);
    assert_queue(f, slot, slot);
    assert_slot(f, slot, VIRT_IOMMU_S_PENDING);
}

/*
 * A shadow with an index beyond the 16-entry ring: ERROR.CMDQ_TAIL, and
 * nothing runs on a miss until the guest clears it.
 */
static void test_shadow_beyond_ring(void)
{
    Fixture f;
    uint32_t slot;

    fixture_start(&f, "", 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    slot = queue(&f, map_fixed_cmd(&f, IOVA_A, f.buf[0], PAGE));
    qtest_writel(f.rig.qts, f.shadow, 16);
    expect_shadow_error(&f, slot, VIRT_IOMMU_ERR_CMDQ_TAIL);

    /* A good shadow does not run while the error stands... */
    qtest_writel(f.rig.qts, f.shadow, slot + 1);
    expect_not_mapped(&f, IOVA_A, f.buf[0], 2);
    assert_queue(&f, slot, slot);
    /* ...and does once it is cleared. */
    qvirt_iommu_writel(f.v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_CMDQ_TAIL);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 3));
    assert_queue(&f, slot + 1, slot + 1);
    assert_slot(&f, slot, VIRT_IOMMU_S_OK);
    fixture_stop(&f);
}

/*
 * CMDQ_TAIL_ADDR at the IOMMU's own CMDQ_SIZE register: not RAM, so
 * ERROR.CMDQ_FETCH, when CMDQ_EN took (COPYING could not be written: the
 * fixture checks and clears it) and when a miss reads the shadow.  It
 * reads as 3, the index after the queued command: a device that read
 * MMIO as the shadow would run the command.
 */
static void test_shadow_not_ram(void)
{
    Fixture f;
    uint32_t slot;

    fixture_start(&f, "", 3, VIRT_IOMMU_DOMAIN_DMA, SHADOW_MMIO);
    slot = queue(&f, map_fixed_cmd(&f, IOVA_A, f.buf[0], PAGE));
    g_assert_cmpuint(slot, ==, 2);
    expect_shadow_error(&f, slot, VIRT_IOMMU_ERR_CMDQ_FETCH);
    /* The queue itself is fine: cleared, the doorbell runs the command. */
    qvirt_iommu_writel(f.v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_CMDQ_FETCH);
    ring_doorbell(&f);
    assert_queue(&f, slot + 1, slot + 1);
    assert_slot(&f, slot, VIRT_IOMMU_S_OK);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 2));
    fixture_stop(&f);
}

/*
 * A shadow that is not ahead of TAIL is ignored: equal to TAIL (the
 * driver wrote a command but not the shadow), or moved back behind TAIL
 * while commands wait between HEAD and TAIL.
 */
static void test_shadow_stale(void)
{
    Fixture f;
    uint32_t a, c;

    fixture_start(&f, "", 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    c = queue(&f, map_fixed_cmd(&f, IOVA_C, f.buf[1], PAGE));
    qtest_writel(f.rig.qts, f.shadow, c);
    expect_not_mapped(&f, IOVA_C, f.buf[1], 1);
    assert_queue(&f, c, c);
    assert_slot(&f, c, VIRT_IOMMU_S_PENDING);

    /* Over C's slot; a miss stops at DOMAIN_ALLOC */
    a = queue_a_alloc_b(&f);
    g_assert_cmpuint(a, ==, c);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 2));
    assert_queue(&f, a + 1, a + 3);
    /* Back to B's slot: behind TAIL, though not behind HEAD */
    qtest_writel(f.rig.qts, f.shadow, a + 2);
    expect_not_mapped(&f, IOVA_C, f.buf[1], 3);
    assert_queue(&f, a + 1, a + 3);
    assert_slot(&f, a + 1, VIRT_IOMMU_S_PENDING);
    g_assert_cmphex(qvirt_iommu_readl(f.v, VIRT_IOMMU_REG_ERROR), ==, 0);

    qtest_writel(f.rig.qts, f.shadow, a + 3);
    ring_doorbell(&f);
    assert_queue(&f, a + 3, a + 3);
    fixture_stop(&f);
}

/*
 * The ring has gone round once, so every slot holds a command that ran,
 * and the driver's shadow is left one behind TAIL (its store lost to a
 * doorbell that went past): the spec says the device ignores it.  Slots
 * 2..7 ran MAP_FIXED A, UNMAP A three times, then slots 0 and 1 once
 * more, so A is not mapped.  With HEAD == TAIL, TAIL - 1 is also "7
 * commands ahead": only the slot at HEAD, not PENDING, tells it is
 * stale; a device that ran slots 2..7 and 0 again would map A.
 */
static void test_shadow_stale_lap(void)
{
    Fixture f;
    uint32_t tail;

    fixture_start(&f, "", 3, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    for (int i = 0; i < 4; i++) {
        map_a(&f, f.buf[0], VIRT_IOMMU_PERM_WRITE);
        g_assert_cmpuint(qvirt_iommu_unmap(f.v, f.dom, IOVA_A, PAGE), ==,
                         VIRT_IOMMU_S_OK);
    }
    tail = shadow_index(&f);
    g_assert_cmpuint(tail, ==, 2);
    assert_queue(&f, tail, tail);
    qtest_writel(f.rig.qts, f.shadow, tail - 1);

    g_assert_false(fill_arrives(&f, IOVA_A, f.buf[0], 1));
    expect_fault(&f, VIRT_IOMMU_FAULT_NOT_MAPPED, IOVA_A);
    assert_queue(&f, tail, tail);
    qtest_writel(f.rig.qts, f.shadow, tail);
    fixture_stop(&f);
}

/*
 * CMDQ_TAIL_ADDR: 0 at reset, written and read as two halves or one
 * 64-bit access, only while the command queue is off; CMDQ_EN takes only
 * with a multiple of 8, and then the device writes COPYING.
 */
static void test_register(void)
{
    QVirtIOMMURig r;
    QVirtIOMMU *v = &r.iommu;
    uint32_t on, off;
    uint64_t words;

    qvirt_iommu_rig_start(&r, "-device virt-iommu,addr=04.0 "
                          "-device dma-testdev,addr=06.0,total-vfs=0", 4, 4,
                          VIRT_IOMMU_CTRL_ENABLE);
    on = qvirt_iommu_readl(v, VIRT_IOMMU_REG_CONTROL);
    g_assert_cmphex(on & VIRT_IOMMU_CTRL_CMDQ_EN, ==, VIRT_IOMMU_CTRL_CMDQ_EN);
    off = on & ~VIRT_IOMMU_CTRL_CMDQ_EN;
    words = guest_alloc(&r.alloc, 8);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CAP) &
                    VIRT_IOMMU_CAP_CMDQ_LAZY, ==, VIRT_IOMMU_CAP_CMDQ_LAZY);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0);

    /* The queue runs: both kinds of write are ignored. */
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, 0x1000);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR + 4, 1);
    qpci_io_writeq(v->dev, v->bar, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, 0x2000);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0);

    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, off);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, 0x89abcdec);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0x89abcdec);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR + 4, 0x12);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0x89abcdec);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR + 4),
                    ==, 0x12);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0x1289abcdecULL);
    qpci_io_writeq(v->dev, v->bar, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR,
                   0x0000003456789a41ULL);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0x56789a41);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR + 4),
                    ==, 0x34);

    /* Not a multiple of 8, by either kind of write: CMDQ_EN does not take */
    for (int wide = 0; wide < 2; wide++) {
        if (wide) {
            qpci_io_writeq(v->dev, v->bar, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR,
                           words + 2);
        } else {
            qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, words + 4);
            qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR + 4, 0);
        }
        qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, on);
        g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_CONTROL), ==, off);
        g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS) &
                        VIRT_IOMMU_STS_CMDQ_ON, ==, 0);
        g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==,
                        VIRT_IOMMU_ERR_CMDQ_CONFIG);
        qvirt_iommu_writel(v, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_CMDQ_CONFIG);
    }

    /* Aligned: CMDQ_EN takes, COPYING is written, writes are ignored. */
    qtest_writel(r.qts, words + 4, 0xffffffff);
    qpci_io_writeq(v->dev, v->bar, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, words);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CONTROL, on);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_STATUS) &
                    VIRT_IOMMU_STS_CMDQ_ON, ==, VIRT_IOMMU_STS_CMDQ_ON);
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==, 0);
    g_assert_cmphex(qtest_readl(r.qts, words + 4), ==, 0);
    qvirt_iommu_writel(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, 0x3000);
    qpci_io_writeq(v->dev, v->bar, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR, 0x4000);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    words);

    /* A system reset clears it. */
    qtest_system_reset(r.qts);
    qvirt_iommu_cleanup(v);
    qvirt_iommu_init(v, r.bus, QVIRT_IOMMU_RIG_IOMMU_DEVFN);
    g_assert_cmphex(qvirt_iommu_readq(v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    0);
    qvirt_iommu_rig_stop(&r);
}

/*
 * COPYING: 1 while an endpoint keeps its own copy of the translations
 * (dma-testdev's x-shadow-iotlb, as VFIO), whose DMA never misses in the
 * device, so that a MAP_FIXED left for a miss never runs for it: the
 * driver must ring.  The PF copies once attached to a domain; unattached
 * it bypasses (DEFAULT_BYPASS) and has no IOMMU region to copy.
 */
static void test_copying(void)
{
    Fixture f;
    uint32_t slot;

    fixture_boot(&f, g_strdup("-device virt-iommu,addr=04.0 "
                              "-device dma-testdev,addr=06.0,total-vfs=0,"
                              "x-shadow-iotlb=on"),
                 4, VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_DEFAULT_BYPASS);
    f.dom = qvirt_iommu_domain_alloc(f.v, VIRT_IOMMU_DOMAIN_DMA);
    qvirt_iommu_attach(f.v, PF_RID, f.dom);
    g_assert_cmpuint(copying(&f), ==, 1);
    slot = queue(&f, map_fixed_cmd(&f, IOVA_A, f.buf[0], PAGE));
    /* Refused by the PF's copy: no miss, no fault record, nothing ran */
    g_assert_false(fill_arrives(&f, IOVA_A, f.buf[0], 1));
    qvirt_iommu_assert_no_event(f.v);
    assert_queue(&f, slot, slot);
    assert_slot(&f, slot, VIRT_IOMMU_S_PENDING);
    ring_doorbell(&f);
    assert_slot(&f, slot, VIRT_IOMMU_S_OK);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 2));

    g_assert_cmpuint(qvirt_iommu_detach(f.v, PF_RID), ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(copying(&f), ==, 0);
    fixture_stop(&f);
}

/*
 * Migrates the machine to a new QEMU with the same arguments and moves
 * the rig over: same guest, so same BARs, rings, shadow and buffers.
 */
static void migrate(Fixture *f)
{
    QVirtIOMMURig *r = &f->rig;
    QVirtIOMMU driver = r->iommu;
    g_autofree char *uri = g_strdup_printf("unix:%s/virt-iommu-lazy-%d.sock",
                                           g_get_tmp_dir(), getpid());
    QTestState *to = qtest_initf("-M q35 -m 256M -nodefaults %s -incoming %s",
                                 f->args, uri);

    migrate_qmp(r->qts, to, uri, NULL, "{}");
    wait_for_migration_complete(r->qts);
    qtest_qmp_eventwait(to, "RESUME");
    qdma_testdev_pf_cleanup(&r->pf);
    qvirt_iommu_cleanup(&r->iommu);
    qpci_free_pc(r->bus);
    qtest_quit(r->qts);

    r->qts = to;
    r->bus = qpci_new_pc(to, NULL);
    qvirt_iommu_init(&r->iommu, r->bus, QVIRT_IOMMU_RIG_IOMMU_DEVFN);
    qdma_testdev_pf_init(&r->pf, r->bus, QVIRT_IOMMU_RIG_PF_DEVFN);
    driver.dev = r->iommu.dev;
    driver.bar = r->iommu.bar;
    r->iommu = driver;
}

/*
 * CMDQ_TAIL_ADDR migrates, COPYING is written again on the destination,
 * and a MAP_FIXED queued before migration, and one queued after, run on
 * the destination's misses.
 */
static void test_migration(void)
{
    Fixture f;
    uint32_t a, b;

    fixture_start(&f, "", 4, VIRT_IOMMU_DOMAIN_DMA, SHADOW_RAM);
    a = queue(&f, map_fixed_cmd(&f, IOVA_A, f.buf[0], PAGE));
    qtest_writel(f.rig.qts, f.shadow + 4, 0xffffffff);
    migrate(&f);

    g_assert_cmphex(qvirt_iommu_readq(f.v, VIRT_IOMMU_REG_CMDQ_TAIL_ADDR), ==,
                    f.shadow);
    /* The destination wrote COPYING for its own endpoints. */
    g_assert_cmpuint(copying(&f), ==, 0);
    assert_queue(&f, a, a);
    g_assert_true(fill_arrives(&f, IOVA_A, f.buf[0], 1));
    assert_queue(&f, a + 1, a + 1);
    assert_slot(&f, a, VIRT_IOMMU_S_OK);
    b = queue(&f, map_fixed_cmd(&f, IOVA_B, f.buf[1], PAGE));
    g_assert_true(fill_arrives(&f, IOVA_B, f.buf[1], 2));
    assert_queue(&f, b + 1, b + 1);
    assert_slot(&f, b, VIRT_IOMMU_S_OK);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/lazy/map-fixed", test_map_fixed);
    qtest_add_func("/virt-iommu/lazy/no-tail-addr", test_no_tail_addr);
    qtest_add_func("/virt-iommu/lazy/permission-miss", test_permission_miss);
    for (int i = 0; i < ARRAY_SIZE(refused_cases); i++) {
        g_autofree char *path = g_strdup_printf("/virt-iommu/lazy/refused/%s",
                                                refused_cases[i].name);
        qtest_add_data_func(path, &refused_cases[i], test_refused);
    }
    qtest_add_func("/virt-iommu/lazy/stops-at-other-command",
                   test_stops_at_other_command);
    qtest_add_data_func("/virt-iommu/lazy/unmap/dma",
                        (void *)(uintptr_t)VIRT_IOMMU_DOMAIN_DMA,
                        test_lazy_unmap);
    qtest_add_data_func("/virt-iommu/lazy/unmap/dma-fq",
                        (void *)(uintptr_t)VIRT_IOMMU_DOMAIN_DMA_FQ,
                        test_lazy_unmap);
    qtest_add_func("/virt-iommu/lazy/shadow/beyond-ring",
                   test_shadow_beyond_ring);
    qtest_add_func("/virt-iommu/lazy/shadow/not-ram", test_shadow_not_ram);
    qtest_add_func("/virt-iommu/lazy/shadow/stale", test_shadow_stale);
    qtest_add_func("/virt-iommu/lazy/shadow/stale-lap", test_shadow_stale_lap);
    qtest_add_func("/virt-iommu/lazy/register", test_register);
    qtest_add_func("/virt-iommu/lazy/copying", test_copying);
    qtest_add_func("/virt-iommu/lazy/migration", test_migration);
    return g_test_run();
}
