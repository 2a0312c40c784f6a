/*
 * Hostile-input qtests of virt-iommu: what a malicious or buggy guest can
 * do to it.  A generated table puts every command field an opcode does
 * not use to non-zero values, and a hand-written one puts the fields it
 * does use at boundary and illegal values; both run one command at a time
 * and then again as batches across the ring's wrap.  Then: rings placed
 * over MMIO, at the top of the address space and over each other, queue
 * indexes out of range, an event queue overflowing, DMA at the top of the
 * IOVA and physical address spaces, and storms of VF enables.
 *
 * Every case checks the status or error bit the spec documents, that a
 * refused command changed nothing (every domain's statistics compared
 * byte for byte), that the mappings made before it still translate (data
 * read back after DMA) and, at the end, that no domain, IOVA or magazine
 * is left.
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
#include "standard-headers/linux/pci_regs.h"

#define IOMMU_DEVFN     QPCI_DEVFN(4, 0)
#define PF_DEVFN        QPCI_DEVFN(6, 0)
#define PF_RID          PF_DEVFN            /* bus 0 */
#define PAGE            4096ULL
#define RW              (VIRT_IOMMU_PERM_READ | VIRT_IOMMU_PERM_WRITE)
#define APERTURE_48     ((1ULL << 48) - 1)
#define MAX_DOMAINS     256
#define FIXED_IOVA      0x200000ULL
#define FQ_IOVA         0x300000ULL
#define TOTAL_VFS       7
/* Far above the 256 MiB of RAM and any PCI window libqos uses */
#define HOLE_ADDR       0x4000000000ULL

/* The domains every test starts with, by ID */
enum {
    DOM_DMA = 1,        /* PF attached; the canary mappings */
    DOM_IDENTITY,
    DOM_FQ,             /* one mapping at FQ_IOVA, nothing attached */
    DOM_BLOCKED,
    NR_DOMS = DOM_BLOCKED,
};

typedef struct Fixture {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator alloc;
    QVirtIOMMU iommu;
    QDmaTestdevPF pf;
    uint64_t src, dst, fixed;   /* canary pages, guest-physical */
    uint64_t src_iova, dst_iova;
    uint64_t scratch;           /* a page refused commands must not touch */
    uint64_t dropped;           /* event records the test made it drop */
    uint8_t data[PAGE];         /* what src holds */
} Fixture;

/* Every domain's statistics: a refused command must leave them as is. */
typedef struct Snapshot {
    VirtIOMMUStats st[NR_DOMS + 1];     /* [0]: the whole device */
} Snapshot;

static uint16_t submit(Fixture *f, VirtIOMMUCmd cmd, uint64_t *result)
{
    return qvirt_iommu_submit(&f->iommu, &cmd, result);
}

static void snapshot(Fixture *f, Snapshot *s)
{
    for (uint32_t d = 0; d <= NR_DOMS; d++) {
        qvirt_iommu_stats(&f->iommu, d, &s->st[d]);
    }
}

/*
 * Byte for byte, or, with @flushed (a MAP refused with NO_SPACE has
 * flushed the IOVA caches first, as Linux's alloc_iova_fast does), all
 * but the allocator's counters.
 */
static bool stats_equal(const VirtIOMMUStats *a, const VirtIOMMUStats *b,
                        bool flushed)
{
    if (!flushed) {
        return !memcmp(a, b, sizeof(*a));
    }
    return !memcmp(a, b, offsetof(VirtIOMMUStats, iova_live_ranges)) &&
           a->events == b->events && a->events_dropped == b->events_dropped &&
           a->iotlb_hits == b->iotlb_hits &&
           a->iotlb_misses == b->iotlb_misses &&
           a->iotlb_invalidations == b->iotlb_invalidations;
}

static void assert_unchanged_but(Fixture *f, const Snapshot *before,
                                 const char *what, bool flushed)
{
    Snapshot now;

    snapshot(f, &now);
    for (uint32_t d = 0; d <= NR_DOMS; d++) {
        if (!stats_equal(&before->st[d], &now.st[d], flushed)) {
            g_test_message("%s changed the statistics of domain %u", what, d);
            g_assert_not_reached();
        }
    }
}

static void assert_unchanged(Fixture *f, const Snapshot *before,
                             const char *what)
{
    assert_unchanged_but(f, before, what, false);
}

/* DMA through the canary mappings, with the data read back. */
static void assert_canary(Fixture *f)
{
    uint8_t out[PAGE];

    qtest_memset(f->qts, f->dst, 0, PAGE);
    qtest_memset(f->qts, f->fixed, 0, PAGE);
    g_assert_cmpuint(qdma_testdev_run(&f->pf.fn, DMA_TESTDEV_OP_COPY,
                                      f->src_iova, f->dst_iova, PAGE, 0), ==,
                     DMA_TESTDEV_ERR_NONE);
    qtest_memread(f->qts, f->dst, out, PAGE);
    g_assert_cmpmem(out, PAGE, f->data, PAGE);
    g_assert_cmpuint(qdma_testdev_run(&f->pf.fn, DMA_TESTDEV_OP_COPY,
                                      f->src_iova, FIXED_IOVA, PAGE, 0), ==,
                     DMA_TESTDEV_ERR_NONE);
    qtest_memread(f->qts, f->fixed, out, PAGE);
    g_assert_cmpmem(out, PAGE, f->data, PAGE);
}

static void fixture_start(Fixture *f, const char *more)
{
    /* The counters (dropped) start at zero; callers declare f uninitialised */
    memset(f, 0, sizeof(*f));
    f->qts = qtest_initf("-M q35 -m 256M -smp 2 -nodefaults "
                         "-device virt-iommu,addr=04.0,id=viommu%s "
                         "-device dma-testdev,addr=06.0", more);
    f->bus = qpci_new_pc(f->qts, NULL);
    pc_alloc_init(&f->alloc, f->qts, ALLOC_NO_FLAGS);
    qvirt_iommu_init(&f->iommu, f->bus, IOMMU_DEVFN);
    qdma_testdev_pf_init(&f->pf, f->bus, PF_DEVFN);
    qvirt_iommu_start(&f->iommu, &f->alloc, 6, 6, VIRT_IOMMU_CTRL_ENABLE);

    f->src = guest_alloc(&f->alloc, PAGE);
    f->dst = guest_alloc(&f->alloc, PAGE);
    f->fixed = guest_alloc(&f->alloc, PAGE);
    f->scratch = guest_alloc(&f->alloc, PAGE);
    for (size_t i = 0; i < PAGE; i++) {
        f->data[i] = g_test_rand_int();
    }
    qtest_memwrite(f->qts, f->src, f->data, PAGE);
    qtest_memset(f->qts, f->scratch, 0xa5, PAGE);

    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f->iommu,
                     VIRT_IOMMU_DOMAIN_DMA), ==, DOM_DMA);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f->iommu,
                     VIRT_IOMMU_DOMAIN_IDENTITY), ==, DOM_IDENTITY);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f->iommu,
                     VIRT_IOMMU_DOMAIN_DMA_FQ), ==, DOM_FQ);
    g_assert_cmpuint(qvirt_iommu_domain_alloc(&f->iommu,
                     VIRT_IOMMU_DOMAIN_BLOCKED), ==, DOM_BLOCKED);
    qvirt_iommu_attach(&f->iommu, PF_RID, DOM_DMA);
    f->src_iova = qvirt_iommu_map_ok(&f->iommu, DOM_DMA, f->src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0);
    f->dst_iova = qvirt_iommu_map_ok(&f->iommu, DOM_DMA, f->dst, PAGE,
                                     VIRT_IOMMU_PERM_WRITE, 0);
    g_assert_cmpuint(submit(f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = DOM_DMA,
        .iova = FIXED_IOVA, .addr = f->fixed, .size = PAGE, .arg = RW,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(submit(f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = DOM_FQ,
        .iova = FQ_IOVA, .addr = f->fixed, .size = PAGE, .arg = RW,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    assert_canary(f);
}

/*
 * The canary still works, then everything is torn down and every
 * allocator of the process must be back at zero.
 */
static void fixture_stop(Fixture *f)
{
    VirtIOMMUStats st;

    assert_canary(f);
    qvirt_iommu_assert_no_event(&f->iommu);
    g_assert_cmpuint(qvirt_iommu_detach(&f->iommu, PF_RID), ==,
                     VIRT_IOMMU_S_OK);
    for (uint32_t d = 1; d <= NR_DOMS; d++) {
        g_assert_cmpuint(qvirt_iommu_domain_free(&f->iommu, d), ==,
                         VIRT_IOMMU_S_OK);
    }
    lc_assert_baseline_dropped(&f->iommu, &st, f->dropped);
    qdma_testdev_pf_cleanup(&f->pf);
    qvirt_iommu_cleanup(&f->iommu);
    alloc_destroy(&f->alloc);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
}

/*
 * Valid commands that would change state, each refused only because of
 * the field a case sets: if the check were missing, the snapshot or the
 * scratch page would show it.
 */
typedef struct BaseCmd {
    const char *name;
    VirtIOMMUCmd cmd;
    uint8_t used;           /* FIELD_* the opcode reads (from the spec) */
} BaseCmd;

enum {
    FIELD_DOMAIN = 1 << 0,
    FIELD_ENDPOINT = 1 << 1,
    FIELD_ARG = 1 << 2,
    FIELD_IOVA = 1 << 3,
    FIELD_ADDR = 1 << 4,
    FIELD_SIZE = 1 << 5,
    FIELD_LIMIT = 1 << 6,
    FIELD_RESERVED = 1 << 7,    /* never used */
    NR_FIELDS = 8,
};

static const char *const field_names[NR_FIELDS] = {
    "domain", "endpoint", "arg", "iova", "addr", "size", "limit", "reserved",
};

static void base_cmds(Fixture *f, BaseCmd *b)
{
    BaseCmd cmds[] = {
        { "domain-alloc", { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC,
          .arg = VIRT_IOMMU_DOMAIN_DMA }, FIELD_ARG },
        { "domain-free", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE,
          .domain = DOM_FQ }, FIELD_DOMAIN },
        { "set-type", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
          .domain = DOM_FQ, .arg = VIRT_IOMMU_DOMAIN_IDENTITY },
          FIELD_DOMAIN | FIELD_ARG },
        { "attach", { .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = DOM_FQ,
          .endpoint = PF_RID }, FIELD_DOMAIN | FIELD_ENDPOINT },
        { "detach", { .opcode = VIRT_IOMMU_CMD_DETACH, .endpoint = PF_RID },
          FIELD_ENDPOINT },
        { "map", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
          .addr = f->src, .size = PAGE, .arg = VIRT_IOMMU_PERM_READ },
          FIELD_DOMAIN | FIELD_ARG | FIELD_ADDR | FIELD_SIZE | FIELD_LIMIT },
        { "map-fixed", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
          .domain = DOM_DMA, .iova = 0x400000, .addr = f->src,
          .size = PAGE, .arg = VIRT_IOMMU_PERM_READ },
          FIELD_DOMAIN | FIELD_ARG | FIELD_IOVA | FIELD_ADDR | FIELD_SIZE },
        { "unmap", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = DOM_DMA,
          .iova = FIXED_IOVA, .size = PAGE },
          FIELD_DOMAIN | FIELD_IOVA | FIELD_SIZE },
        { "invalidate", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
          .domain = DOM_DMA, .arg = VIRT_IOMMU_INV_RANGE,
          .iova = f->src_iova, .size = PAGE },
          FIELD_DOMAIN | FIELD_ARG | FIELD_IOVA | FIELD_SIZE },
        { "sync", { .opcode = VIRT_IOMMU_CMD_SYNC, .addr = f->scratch,
          .limit = 0x1234 }, FIELD_ADDR | FIELD_LIMIT },
        { "query-stats", { .opcode = VIRT_IOMMU_CMD_QUERY_STATS,
          .domain = DOM_DMA, .addr = f->scratch }, FIELD_DOMAIN | FIELD_ADDR },
    };

    memcpy(b, cmds, sizeof(cmds));
}

#define NR_BASE_CMDS 11

static void set_field(VirtIOMMUCmd *cmd, unsigned field, uint64_t value)
{
    switch (1 << field) {
    case FIELD_DOMAIN:
        cmd->domain = value;
        break;
    case FIELD_ENDPOINT:
        cmd->endpoint = value;
        break;
    case FIELD_ARG:
        cmd->arg = value;
        break;
    case FIELD_IOVA:
        cmd->iova = value;
        break;
    case FIELD_ADDR:
        cmd->addr = value;
        break;
    case FIELD_SIZE:
        cmd->size = value;
        break;
    case FIELD_LIMIT:
        cmd->limit = value;
        break;
    default:
        cmd->reserved = value;
    }
}

static void assert_scratch_untouched(Fixture *f)
{
    uint8_t page[PAGE], want[PAGE];

    memset(want, 0xa5, PAGE);
    qtest_memread(f->qts, f->scratch, page, PAGE);
    g_assert_cmpmem(page, PAGE, want, PAGE);
}

/* Runs @cmd alone and checks its status and that it changed nothing. */
static void run_refused(Fixture *f, const char *name, VirtIOMMUCmd cmd,
                        uint16_t want)
{
    Snapshot before;
    uint64_t result = 0xdead;

    snapshot(f, &before);
    if (submit(f, cmd, &result) != want) {
        g_test_message("%s: status is not %u", name, want);
        g_assert_not_reached();
    }
    g_assert_cmpuint(result, ==, 0);
    assert_unchanged_but(f, &before, name, want == VIRT_IOMMU_S_NO_SPACE);
    assert_scratch_untouched(f);
    qvirt_iommu_assert_no_event(&f->iommu);
}

/*
 * Every field an opcode does not read, set to 1 and to all ones, and
 * every flag but SYNC's INTERRUPT: INVALID, and nothing changes.
 */
static void test_unused_fields(void)
{
    static const uint64_t values[] = { 1, UINT64_MAX };
    BaseCmd base[NR_BASE_CMDS];
    Fixture f;
    unsigned cases = 0;

    fixture_start(&f, "");
    base_cmds(&f, base);
    for (int i = 0; i < NR_BASE_CMDS; i++) {
        for (unsigned field = 0; field < NR_FIELDS; field++) {
            if (base[i].used & (1 << field)) {
                continue;
            }
            for (int v = 0; v < ARRAY_SIZE(values); v++) {
                g_autofree char *name = g_strdup_printf("%s with %s 0x%" PRIx64,
                    base[i].name, field_names[field], values[v]);
                VirtIOMMUCmd cmd = base[i].cmd;

                set_field(&cmd, field, values[v]);
                run_refused(&f, name, cmd, VIRT_IOMMU_S_INVALID);
                cases++;
            }
        }
        for (unsigned bit = 0; bit < 8; bit++) {
            g_autofree char *name = g_strdup_printf("%s with flag %u",
                                                    base[i].name, bit);
            VirtIOMMUCmd cmd = base[i].cmd;

            if (cmd.opcode == VIRT_IOMMU_CMD_SYNC &&
                (1u << bit) == VIRT_IOMMU_CMD_F_INTERRUPT) {
                continue;
            }
            cmd.flags = 1u << bit;
            run_refused(&f, name, cmd, VIRT_IOMMU_S_INVALID);
            cases++;
        }
    }
    /* Opcode 0 and every opcode above the last: UNSUPPORTED */
    for (unsigned op = 0; op < 256; op++) {
        if (op >= VIRT_IOMMU_CMD_DOMAIN_ALLOC &&
            op <= VIRT_IOMMU_CMD_QUERY_STATS) {
            continue;
        }
        run_refused(&f, "unknown opcode", (VirtIOMMUCmd) { .opcode = op },
                    VIRT_IOMMU_S_UNSUPPORTED);
        cases++;
    }
    g_test_message("%u malformed commands refused", cases);
    fixture_stop(&f);
}

typedef struct Hostile {
    const char *name;
    VirtIOMMUCmd cmd;
    uint16_t status;
} Hostile;

/*
 * Used fields at boundary and illegal values.  Addresses that must be
 * page-aligned guest memory use 0x1000 (below the canary pages, mapped by
 * nothing); all of these are refused or change nothing.
 */
static const Hostile hostile[] = {
    /* Domain IDs are 1..MAX_DOMAINS; types 0..3 */
    { "alloc-type-4", { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = 4 },
      VIRT_IOMMU_S_INVALID },
    { "alloc-type-max", { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC,
      .arg = UINT32_MAX }, VIRT_IOMMU_S_INVALID },
    { "free-0", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE },
      VIRT_IOMMU_S_NO_DOMAIN },
    { "free-unallocated", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE,
      .domain = NR_DOMS + 1 }, VIRT_IOMMU_S_NO_DOMAIN },
    { "free-max", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE,
      .domain = MAX_DOMAINS }, VIRT_IOMMU_S_NO_DOMAIN },
    { "free-max+1", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE,
      .domain = MAX_DOMAINS + 1 }, VIRT_IOMMU_S_NO_DOMAIN },
    { "free-all-ones", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE,
      .domain = UINT32_MAX }, VIRT_IOMMU_S_NO_DOMAIN },
    { "free-attached", { .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE,
      .domain = DOM_DMA }, VIRT_IOMMU_S_BUSY },
    { "set-type-0", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
      .arg = VIRT_IOMMU_DOMAIN_DMA }, VIRT_IOMMU_S_NO_DOMAIN },
    { "set-type-4", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
      .domain = DOM_DMA, .arg = 4 }, VIRT_IOMMU_S_INVALID },
    { "set-type-all-ones", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
      .domain = DOM_FQ, .arg = UINT32_MAX }, VIRT_IOMMU_S_INVALID },
    { "set-type-same", { .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE,
      .domain = DOM_FQ, .arg = VIRT_IOMMU_DOMAIN_DMA_FQ }, VIRT_IOMMU_S_OK },
    /* Requester IDs are 16 bits; the IOMMU is not its own endpoint */
    { "attach-rid-0x10000", { .opcode = VIRT_IOMMU_CMD_ATTACH,
      .domain = DOM_FQ, .endpoint = 0x10000 }, VIRT_IOMMU_S_INVALID },
    { "attach-rid-all-ones", { .opcode = VIRT_IOMMU_CMD_ATTACH,
      .domain = DOM_FQ, .endpoint = UINT32_MAX }, VIRT_IOMMU_S_INVALID },
    { "attach-self", { .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = DOM_FQ,
      .endpoint = IOMMU_DEVFN }, VIRT_IOMMU_S_INVALID },
    { "attach-rid-0xffff", { .opcode = VIRT_IOMMU_CMD_ATTACH,
      .domain = DOM_FQ, .endpoint = 0xffff }, VIRT_IOMMU_S_NO_ENDPOINT },
    { "attach-disabled-vf", { .opcode = VIRT_IOMMU_CMD_ATTACH,
      .domain = DOM_FQ, .endpoint = PF_RID + 1 }, VIRT_IOMMU_S_NO_ENDPOINT },
    { "attach-domain-0", { .opcode = VIRT_IOMMU_CMD_ATTACH,
      .endpoint = PF_RID }, VIRT_IOMMU_S_NO_DOMAIN },
    { "detach-rid-0x10000", { .opcode = VIRT_IOMMU_CMD_DETACH,
      .endpoint = 0x10000 }, VIRT_IOMMU_S_INVALID },
    { "detach-nothing", { .opcode = VIRT_IOMMU_CMD_DETACH,
      .endpoint = 0xffff }, VIRT_IOMMU_S_OK },
    /* MAP: size, alignment, perms, wrap, limit, type */
    { "map-size-0", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = 0x1000, .arg = RW }, VIRT_IOMMU_S_INVALID },
    { "map-size-page-1", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = 0x1000, .size = PAGE - 1, .arg = RW }, VIRT_IOMMU_S_INVALID },
    { "map-size-page+1", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = 0x1000, .size = PAGE + 1, .arg = RW }, VIRT_IOMMU_S_INVALID },
    { "map-size-all-ones", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = 0x1000, .size = UINT64_MAX, .arg = RW },
      VIRT_IOMMU_S_INVALID },
    { "map-size-2^63", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .size = 1ULL << 63, .arg = RW }, VIRT_IOMMU_S_NO_SPACE },
    { "map-size-aperture", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .size = 1ULL << 48, .arg = RW }, VIRT_IOMMU_S_NO_SPACE },
    { "map-gpa-unaligned", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = 0x1001, .size = PAGE, .arg = RW }, VIRT_IOMMU_S_INVALID },
    { "map-gpa-wraps", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = UINT64_MAX - PAGE + 1, .size = 2 * PAGE, .arg = RW },
      VIRT_IOMMU_S_INVALID },
    { "map-perms-0", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = 0x1000, .size = PAGE }, VIRT_IOMMU_S_INVALID },
    { "map-perms-4", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_DMA,
      .addr = 0x1000, .size = PAGE, .arg = 4 }, VIRT_IOMMU_S_INVALID },
    { "map-perms-all-ones", { .opcode = VIRT_IOMMU_CMD_MAP,
      .domain = DOM_DMA, .addr = 0x1000, .size = PAGE, .arg = UINT32_MAX },
      VIRT_IOMMU_S_INVALID },
    { "map-limit-below-page", { .opcode = VIRT_IOMMU_CMD_MAP,
      .domain = DOM_DMA, .addr = 0x1000, .size = PAGE, .arg = RW,
      .limit = PAGE - 1 }, VIRT_IOMMU_S_NO_SPACE },
    { "map-limit-below-size", { .opcode = VIRT_IOMMU_CMD_MAP,
      .domain = DOM_DMA, .addr = 0x1000, .size = 16 * PAGE, .arg = RW,
      .limit = 8 * PAGE }, VIRT_IOMMU_S_NO_SPACE },
    { "map-identity", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_IDENTITY,
      .addr = 0x1000, .size = PAGE, .arg = RW }, VIRT_IOMMU_S_WRONG_TYPE },
    { "map-blocked", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = DOM_BLOCKED,
      .addr = 0x1000, .size = PAGE, .arg = RW }, VIRT_IOMMU_S_WRONG_TYPE },
    { "map-no-domain", { .opcode = VIRT_IOMMU_CMD_MAP, .domain = UINT32_MAX,
      .addr = 0x1000, .size = PAGE, .arg = RW }, VIRT_IOMMU_S_NO_DOMAIN },
    /* MAP_FIXED: the aperture's edges, wrap, the MSI window, overlap */
    { "fixed-iova-unaligned", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = 0x400800, .addr = 0x1000, .size = PAGE,
      .arg = RW }, VIRT_IOMMU_S_INVALID },
    { "fixed-across-aperture-top", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = APERTURE_48 + 1 - PAGE, .addr = 0x1000,
      .size = 2 * PAGE, .arg = RW }, VIRT_IOMMU_S_RANGE },
    { "fixed-beyond-aperture", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = APERTURE_48 + 1, .addr = 0x1000,
      .size = PAGE, .arg = RW }, VIRT_IOMMU_S_RANGE },
    { "fixed-iova-wraps", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = UINT64_MAX - PAGE + 1, .addr = 0x1000,
      .size = 2 * PAGE, .arg = RW }, VIRT_IOMMU_S_RANGE },
    { "fixed-size-2^63", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = 0x400000, .size = 1ULL << 63, .arg = RW },
      VIRT_IOMMU_S_RANGE },
    { "fixed-into-msi-window", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = 0xfeeff000, .addr = 0x1000, .size = PAGE,
      .arg = RW }, VIRT_IOMMU_S_RANGE },
    { "fixed-over-msi-window-start", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = 0xfedff000, .addr = 0x1000,
      .size = 2 * PAGE, .arg = RW }, VIRT_IOMMU_S_RANGE },
    { "fixed-over-canary", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = FIXED_IOVA - PAGE, .addr = 0x1000,
      .size = 2 * PAGE, .arg = RW }, VIRT_IOMMU_S_EXISTS },
    { "fixed-perms-0", { .opcode = VIRT_IOMMU_CMD_MAP_FIXED,
      .domain = DOM_DMA, .iova = 0x400000, .addr = 0x1000, .size = PAGE },
      VIRT_IOMMU_S_INVALID },
    /* UNMAP: alignment, range, partial, nothing, type */
    { "unmap-size-0", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = DOM_DMA,
      .iova = FIXED_IOVA }, VIRT_IOMMU_S_INVALID },
    { "unmap-size-unaligned", { .opcode = VIRT_IOMMU_CMD_UNMAP,
      .domain = DOM_DMA, .iova = FIXED_IOVA, .size = PAGE - 1 },
      VIRT_IOMMU_S_INVALID },
    { "unmap-iova-unaligned", { .opcode = VIRT_IOMMU_CMD_UNMAP,
      .domain = DOM_DMA, .iova = FIXED_IOVA + 1, .size = PAGE },
      VIRT_IOMMU_S_INVALID },
    { "unmap-beyond-aperture", { .opcode = VIRT_IOMMU_CMD_UNMAP,
      .domain = DOM_DMA, .iova = APERTURE_48 + 1, .size = PAGE },
      VIRT_IOMMU_S_RANGE },
    { "unmap-wraps", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = DOM_DMA,
      .iova = UINT64_MAX - PAGE + 1, .size = 2 * PAGE }, VIRT_IOMMU_S_RANGE },
    { "unmap-size-all-pages", { .opcode = VIRT_IOMMU_CMD_UNMAP,
      .domain = DOM_DMA, .iova = PAGE, .size = UINT64_MAX - PAGE + 1 },
      VIRT_IOMMU_S_RANGE },
    { "unmap-half-of-fixed", { .opcode = VIRT_IOMMU_CMD_UNMAP,
      .domain = DOM_DMA, .iova = FIXED_IOVA - PAGE, .size = PAGE },
      VIRT_IOMMU_S_NOT_MAPPED },
    { "unmap-top-page", { .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = DOM_FQ,
      .iova = APERTURE_48 + 1 - PAGE, .size = PAGE },
      VIRT_IOMMU_S_NOT_MAPPED },
    { "unmap-identity", { .opcode = VIRT_IOMMU_CMD_UNMAP,
      .domain = DOM_IDENTITY, .iova = FIXED_IOVA, .size = PAGE },
      VIRT_IOMMU_S_WRONG_TYPE },
    /* INVALIDATE: scopes and their fields */
    { "invalidate-scope-3", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = DOM_DMA, .arg = 3 }, VIRT_IOMMU_S_INVALID },
    { "invalidate-scope-all-ones", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = DOM_DMA, .arg = UINT32_MAX }, VIRT_IOMMU_S_INVALID },
    { "invalidate-all-with-iova", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .arg = VIRT_IOMMU_INV_ALL, .iova = PAGE }, VIRT_IOMMU_S_INVALID },
    { "invalidate-domain-with-size", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = DOM_DMA, .arg = VIRT_IOMMU_INV_DOMAIN, .size = PAGE },
      VIRT_IOMMU_S_INVALID },
    { "invalidate-range-unaligned", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = DOM_DMA, .arg = VIRT_IOMMU_INV_RANGE, .iova = 1,
      .size = PAGE }, VIRT_IOMMU_S_INVALID },
    { "invalidate-range-wraps", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = DOM_DMA, .arg = VIRT_IOMMU_INV_RANGE,
      .iova = UINT64_MAX - PAGE + 1, .size = 2 * PAGE }, VIRT_IOMMU_S_RANGE },
    { "invalidate-no-domain", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = MAX_DOMAINS + 1, .arg = VIRT_IOMMU_INV_DOMAIN },
      VIRT_IOMMU_S_NO_DOMAIN },
    { "invalidate-blocked", { .opcode = VIRT_IOMMU_CMD_INVALIDATE,
      .domain = DOM_BLOCKED, .arg = VIRT_IOMMU_INV_DOMAIN },
      VIRT_IOMMU_S_WRONG_TYPE },
    /* SYNC and QUERY_STATS: values and targets that cannot be written */
    { "sync-value-2^32", { .opcode = VIRT_IOMMU_CMD_SYNC,
      .limit = 1ULL << 32 }, VIRT_IOMMU_S_INVALID },
    { "sync-to-hole", { .opcode = VIRT_IOMMU_CMD_SYNC, .addr = HOLE_ADDR,
      .limit = 1 }, VIRT_IOMMU_S_DMA_ERROR },
    { "sync-to-top", { .opcode = VIRT_IOMMU_CMD_SYNC,
      .addr = UINT64_MAX - 3, .limit = 1 }, VIRT_IOMMU_S_DMA_ERROR },
    { "sync-across-top", { .opcode = VIRT_IOMMU_CMD_SYNC,
      .addr = UINT64_MAX - 1, .limit = 1 }, VIRT_IOMMU_S_DMA_ERROR },
    { "stats-to-hole", { .opcode = VIRT_IOMMU_CMD_QUERY_STATS,
      .domain = DOM_DMA, .addr = HOLE_ADDR }, VIRT_IOMMU_S_DMA_ERROR },
    { "stats-across-top", { .opcode = VIRT_IOMMU_CMD_QUERY_STATS,
      .addr = UINT64_MAX - 127 }, VIRT_IOMMU_S_DMA_ERROR },
    { "stats-no-domain", { .opcode = VIRT_IOMMU_CMD_QUERY_STATS,
      .domain = MAX_DOMAINS, .addr = 0x1000 }, VIRT_IOMMU_S_NO_DOMAIN },
};

static void test_field_values(void)
{
    Fixture f;

    fixture_start(&f, "");
    for (int i = 0; i < ARRAY_SIZE(hostile); i++) {
        run_refused(&f, hostile[i].name, hostile[i].cmd, hostile[i].status);
    }
    fixture_stop(&f);
}

/* Moves the command queue to a fresh ring of 2^@log2 entries. */
static void cmdq_resize(Fixture *f, uint32_t log2)
{
    uint32_t control = qvirt_iommu_readl(&f->iommu, VIRT_IOMMU_REG_CONTROL);
    uint64_t bytes = (sizeof(VirtIOMMUCmd) << log2);

    f->iommu.cmdq = guest_alloc(&f->alloc, MAX(bytes, PAGE) * 2);
    f->iommu.cmdq = QEMU_ALIGN_UP(f->iommu.cmdq, MAX(bytes, PAGE));
    f->iommu.cmdq_log2 = log2;
    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_CONTROL,
                       control & ~VIRT_IOMMU_CTRL_CMDQ_EN);
    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_CMDQ_BASE, f->iommu.cmdq);
    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_CMDQ_BASE + 4,
                       f->iommu.cmdq >> 32);
    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_CMDQ_SIZE, log2);
    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_CONTROL, control);
    g_assert_cmphex(qvirt_iommu_readl(&f->iommu, VIRT_IOMMU_REG_ERROR), ==, 0);
    g_assert_cmpuint(qvirt_iommu_readl(&f->iommu, VIRT_IOMMU_REG_CMDQ_HEAD),
                     ==, 0);
}

/*
 * The same table in batches of 7 on an 8-entry ring, so that batches
 * start at every index and cross the wrap: each command gets its own
 * status in its own slot, and together they change nothing.
 */
static void test_batches_across_wrap(void)
{
    enum { BATCH = 7 };
    uint16_t status[BATCH];
    VirtIOMMUCmd cmds[BATCH];
    Snapshot before;
    Fixture f;

    fixture_start(&f, "");
    cmdq_resize(&f, 3);
    snapshot(&f, &before);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < ARRAY_SIZE(hostile); i += BATCH) {
            uint32_t n = MIN(BATCH, ARRAY_SIZE(hostile) - i);

            for (uint32_t j = 0; j < n; j++) {
                cmds[j] = hostile[i + j].cmd;
            }
            qvirt_iommu_submit_batch(&f.iommu, cmds, n, status);
            for (uint32_t j = 0; j < n; j++) {
                if (status[j] != hostile[i + j].status) {
                    g_test_message("%s in a batch: status %u",
                                   hostile[i + j].name, status[j]);
                    g_assert_not_reached();
                }
            }
        }
    }
    assert_unchanged_but(&f, &before, "the batches", true);
    assert_scratch_untouched(&f);
    fixture_stop(&f);
}

/*
 * A one-slot ring (2 entries) used for thousands of MAP/UNMAP pairs: each
 * doorbell runs exactly the one command, HEAD and TAIL wrap every time.
 */
static void test_smallest_ring(void)
{
    Fixture f;
    uint64_t iova;

    fixture_start(&f, "");
    cmdq_resize(&f, 1);
    for (int i = 0; i < 2000; i++) {
        iova = qvirt_iommu_map_ok(&f.iommu, DOM_DMA, f.src, PAGE,
                                  VIRT_IOMMU_PERM_READ, 0);
        g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, DOM_DMA, iova, PAGE), ==,
                         VIRT_IOMMU_S_OK);
    }
    fixture_stop(&f);
}

/*
 * Doorbell indexes out of range: TAIL beyond the ring stops the queue
 * with ERROR.CMDQ_TAIL until the guest clears it; HEAD of the event
 * queue likewise with EVTQ_HEAD.  Nothing runs meanwhile, and both
 * recover.
 */
static void test_bad_indexes(void)
{
    Snapshot before;
    Fixture f;
    uint32_t tail;

    fixture_start(&f, "");
    snapshot(&f, &before);
    tail = qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL, 64);
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_CMDQ_TAIL);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL, UINT32_MAX);
    /* A valid doorbell does not run while the error is set. */
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL, (tail + 1) & 63);
    g_assert_cmpuint(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CMDQ_HEAD), ==,
                     tail);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_ERROR,
                       VIRT_IOMMU_ERR_CMDQ_TAIL);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL, tail);
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==, 0);
    assert_unchanged(&f, &before, "bad CMDQ_TAIL");

    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_EVTQ_HEAD, 64);
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_EVTQ_HEAD);
    /* A fault meanwhile is dropped, and counted */
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0,
                                      0x800000, 4, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmpuint(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_EVTQ_TAIL), ==,
                     0);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_ERROR,
                       VIRT_IOMMU_ERR_EVTQ_HEAD);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_EVTQ_HEAD, 0);
    f.dropped = 1;
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0,
                                      0x900000, 4, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    qvirt_iommu_expect_fault(&f.iommu, VIRT_IOMMU_FAULT_NOT_MAPPED, PF_RID,
                             DOM_DMA, 0x900000, VIRT_IOMMU_PERM_WRITE);
    fixture_stop(&f);
}

/*
 * A 2-entry event ring holds one record: of five faults the first is
 * recorded and four are dropped, counted and flagged; once the guest has
 * read it and cleared the flag, records flow again.
 */
static void test_event_overflow(void)
{
    VirtIOMMUStats st;
    Fixture f;
    uint32_t control;

    fixture_start(&f, "");
    control = qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CONTROL);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CONTROL,
                       control & ~VIRT_IOMMU_CTRL_EVTQ_EN);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_EVTQ_SIZE, 1);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CONTROL, control);
    f.iommu.evtq_log2 = 1;

    for (int i = 0; i < 5; i++) {
        g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0,
                                          0x800000 + i * PAGE, 4, 0), ==,
                         DMA_TESTDEV_ERR_DMA_FAULT);
    }
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_EVTQ_OVERFLOW);
    qvirt_iommu_stats(&f.iommu, 0, &st);
    g_assert_cmpuint(st.events_dropped, ==, 4);
    f.dropped = 4;
    qvirt_iommu_expect_fault(&f.iommu, VIRT_IOMMU_FAULT_NOT_MAPPED, PF_RID,
                             DOM_DMA, 0x800000, VIRT_IOMMU_PERM_WRITE);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_ERROR,
                       VIRT_IOMMU_ERR_EVTQ_OVERFLOW);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_COPY,
                                      0xa00000, f.dst_iova, 4, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    qvirt_iommu_expect_fault(&f.iommu, VIRT_IOMMU_FAULT_NOT_MAPPED, PF_RID,
                             DOM_DMA, 0xa00000, VIRT_IOMMU_PERM_READ);
    g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==, 0);
    fixture_stop(&f);
}

/* Moves the queue selected by @en to @base, 2^@log2 entries, and enables */
static void queue_move(Fixture *f, uint32_t en, uint64_t base, uint32_t log2)
{
    uint32_t reg = en == VIRT_IOMMU_CTRL_CMDQ_EN ? VIRT_IOMMU_REG_CMDQ_BASE :
                   VIRT_IOMMU_REG_EVTQ_BASE;
    uint32_t control = qvirt_iommu_readl(&f->iommu, VIRT_IOMMU_REG_CONTROL);

    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_CONTROL, control & ~en);
    qvirt_iommu_writel(&f->iommu, reg, base);
    qvirt_iommu_writel(&f->iommu, reg + 4, base >> 32);
    qvirt_iommu_writel(&f->iommu, reg + 8, log2);
    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_CONTROL, control);
}

static void queues_restore(Fixture *f)
{
    queue_move(f, VIRT_IOMMU_CTRL_CMDQ_EN, f->iommu.cmdq, f->iommu.cmdq_log2);
    queue_move(f, VIRT_IOMMU_CTRL_EVTQ_EN, f->iommu.evtq, f->iommu.evtq_log2);
    qvirt_iommu_writel(&f->iommu, VIRT_IOMMU_REG_ERROR, VIRT_IOMMU_ERR_MASK);
    g_assert_cmphex(qvirt_iommu_readl(&f->iommu, VIRT_IOMMU_REG_ERROR), ==, 0);
}

/* The registers of dma-testdev, which must not change behind its back */
static void read_testdev_regs(Fixture *f, uint32_t *regs)
{
    for (uint32_t off = 0; off < DMA_TESTDEV_REG_END; off += 4) {
        regs[off / 4] = qdma_testdev_readl(&f->pf.fn, off);
    }
}

static void read_iommu_regs(Fixture *f, uint32_t *regs)
{
    for (uint32_t off = 0; off < 0x100; off += 4) {
        regs[off / 4] = qvirt_iommu_readl(&f->iommu, off);
    }
}

/*
 * Rings, SYNC targets and statistics buffers that are not RAM: the
 * IOMMU's own registers, the endpoint's registers, a hole and the top of
 * the address space.  The device reads and writes them only in RAM;
 * anything else fails with the fetch or write error bit or DMA_ERROR,
 * and no register of either device is written by the IOMMU.
 */
static void test_rings_not_ram(void)
{
    uint32_t tdev[DMA_TESTDEV_REG_END / 4], tdev_after[DMA_TESTDEV_REG_END / 4];
    uint32_t regs[0x40], regs_after[0x40];
    Fixture f;
    uint64_t iommu_bar, tdev_bar;
    const uint64_t targets[] = { 0, 0, HOLE_ADDR, -PAGE };

    fixture_start(&f, "");
    iommu_bar = f.iommu.bar.addr;
    tdev_bar = f.pf.fn.bar_addr;

    for (int i = 0; i < ARRAY_SIZE(targets); i++) {
        uint64_t base = i == 0 ? iommu_bar : i == 1 ? tdev_bar : targets[i];

        g_test_message("command ring at 0x%" PRIx64, base);
        queue_move(&f, VIRT_IOMMU_CTRL_CMDQ_EN, base, 1);
        g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==,
                        0);
        read_iommu_regs(&f, regs);
        read_testdev_regs(&f, tdev);
        qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL, 1);
        g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==,
                        VIRT_IOMMU_ERR_CMDQ_FETCH);
        g_assert_cmpuint(qvirt_iommu_readl(&f.iommu,
                                           VIRT_IOMMU_REG_CMDQ_HEAD), ==, 0);
        read_iommu_regs(&f, regs_after);
        regs[VIRT_IOMMU_REG_ERROR / 4] = VIRT_IOMMU_ERR_CMDQ_FETCH;
        regs[VIRT_IOMMU_REG_CMDQ_TAIL / 4] = 1;
        g_assert_cmpmem(regs, sizeof(regs), regs_after, sizeof(regs_after));
        read_testdev_regs(&f, tdev_after);
        g_assert_cmpmem(tdev, sizeof(tdev), tdev_after, sizeof(tdev_after));
        queues_restore(&f);

        g_test_message("event ring at 0x%" PRIx64, base);
        queue_move(&f, VIRT_IOMMU_CTRL_EVTQ_EN, base, 7);
        g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0,
                                          0x800000 + i * PAGE, 4, 0), ==,
                         DMA_TESTDEV_ERR_DMA_FAULT);
        g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_ERROR), ==,
                        VIRT_IOMMU_ERR_EVTQ_WRITE);
        g_assert_cmphex(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CONTROL),
                        ==, VIRT_IOMMU_CTRL_ENABLE | VIRT_IOMMU_CTRL_CMDQ_EN |
                        VIRT_IOMMU_CTRL_EVTQ_EN);
        g_assert_cmpuint(qvirt_iommu_readl(&f.iommu,
                                           VIRT_IOMMU_REG_EVTQ_TAIL), ==, 0);
        /* A record there would have overwritten SRC and DST. */
        g_assert_cmphex(qdma_testdev_readq(&f.pf.fn, DMA_TESTDEV_REG_SRC),
                        ==, 0);
        g_assert_cmphex(qdma_testdev_readq(&f.pf.fn, DMA_TESTDEV_REG_DST),
                        ==, 0x800000 + i * PAGE);
        f.dropped++;
        queues_restore(&f);

        g_test_message("SYNC and QUERY_STATS to 0x%" PRIx64, base);
        read_testdev_regs(&f, tdev);
        run_refused(&f, "sync", (VirtIOMMUCmd) {
            .opcode = VIRT_IOMMU_CMD_SYNC,
            .addr = base + (i == 0 ? VIRT_IOMMU_REG_CMDQ_TAIL :
                            DMA_TESTDEV_REG_DOORBELL),
            .limit = i == 0 ? 0 : DMA_TESTDEV_DB_OP,
        }, VIRT_IOMMU_S_DMA_ERROR);
        run_refused(&f, "query-stats", (VirtIOMMUCmd) {
            .opcode = VIRT_IOMMU_CMD_QUERY_STATS, .domain = DOM_DMA,
            .addr = base,
        }, VIRT_IOMMU_S_DMA_ERROR);
        read_testdev_regs(&f, tdev_after);
        g_assert_cmpmem(tdev, sizeof(tdev), tdev_after, sizeof(tdev_after));
    }
    /* The MSI window is not memory either: SYNC cannot forge an MSI. */
    run_refused(&f, "sync-to-msi-window", (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_SYNC, .addr = 0xfee00000, .limit = 0x30,
    }, VIRT_IOMMU_S_DMA_ERROR);
    fixture_stop(&f);
}

/*
 * Rings over each other and over the statistics buffer: a QUERY_STATS
 * written over the commands that follow it in the ring replaces them
 * before they run, so they run as whatever the bytes say; the device
 * reads each command when it gets to it, as a real one would.  The
 * event ring placed over the command ring is overwritten by records.
 * All of it only touches RAM and leaves the mappings alone.
 */
static void test_rings_overlap(void)
{
    VirtIOMMUCmd cmds[5] = {
        { .opcode = VIRT_IOMMU_CMD_QUERY_STATS, .domain = 0 },
        { .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC,
          .arg = VIRT_IOMMU_DOMAIN_DMA },
    };
    uint16_t status[5];
    VirtIOMMUStats st;
    Fixture f;
    uint32_t tail;

    fixture_start(&f, "");
    cmdq_resize(&f, 3);
    cmds[0].addr = f.iommu.cmdq + sizeof(VirtIOMMUCmd);
    qvirt_iommu_submit_batch(&f.iommu, cmds, 2, status);
    g_assert_cmpuint(status[0], ==, VIRT_IOMMU_S_OK);
    /*
     * The second slot now starts with the statistics' domain field, 0:
     * opcode 0, so the DOMAIN_ALLOC it replaced never ran.
     */
    g_assert_cmpuint(status[1], ==, VIRT_IOMMU_S_UNSUPPORTED);
    qvirt_iommu_stats(&f.iommu, 0, &st);
    g_assert_cmpuint(st.type, ==, NR_DOMS);

    /* Event ring == command ring: records land in command slots */
    queue_move(&f, VIRT_IOMMU_CTRL_EVTQ_EN, f.iommu.cmdq, 4);
    tail = qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0,
                                      0x800000, 4, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmpuint(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_EVTQ_TAIL), ==,
                     1);
    /*
     * Slot 0 holds the record now: type FAULT (1) reads as opcode
     * DOMAIN_ALLOC with the reason as flags, so it is INVALID.  Running
     * the ring round to it runs five zeroed slots first.
     */
    g_assert_cmpuint(tail, ==, 3);
    qvirt_iommu_writel(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL, 1);
    g_assert_cmpuint(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CMDQ_HEAD), ==,
                     1);
    g_assert_cmpuint(qtest_readw(f.qts, f.iommu.cmdq +
                                 offsetof(VirtIOMMUCmd, status)), ==,
                     VIRT_IOMMU_S_INVALID);
    g_assert_cmpuint(qtest_readw(f.qts, f.iommu.cmdq + 7 * sizeof(cmds[0]) +
                                 offsetof(VirtIOMMUCmd, status)), ==,
                     VIRT_IOMMU_S_UNSUPPORTED);
    queues_restore(&f);
    qvirt_iommu_stats(&f.iommu, 0, &st);
    g_assert_cmpuint(st.type, ==, NR_DOMS);
    g_assert_cmpuint(st.events, ==, 1);
    fixture_stop(&f);
}

/*
 * Peer-to-peer: an endpoint may write the IOMMU's registers by DMA, as on
 * PCIe; the command it rings in runs, and nothing breaks.  (Only the
 * IOMMU's own accesses are limited to RAM.)
 */
static void test_p2p_doorbell(void)
{
    Fixture f;
    uint64_t bar_iova;
    uint32_t tail;
    VirtIOMMUCmd le;

    fixture_start(&f, "");
    bar_iova = qvirt_iommu_map_ok(&f.iommu, DOM_DMA, f.iommu.bar.addr, PAGE,
                                  VIRT_IOMMU_PERM_WRITE, 0);
    tail = qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CMDQ_TAIL);
    qvirt_iommu_cmd_to_le(&le, &(VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = VIRT_IOMMU_DOMAIN_DMA,
    });
    qtest_memwrite(f.qts, f.iommu.cmdq + tail * sizeof(le), &le, sizeof(le));
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0,
                                      bar_iova + VIRT_IOMMU_REG_CMDQ_TAIL, 4,
                                      (tail + 1) & 63), ==,
                     DMA_TESTDEV_ERR_NONE);
    g_assert_cmpuint(qvirt_iommu_readl(&f.iommu, VIRT_IOMMU_REG_CMDQ_HEAD), ==,
                     (tail + 1) & 63);
    qtest_memread(f.qts, f.iommu.cmdq + tail * sizeof(le), &le, sizeof(le));
    g_assert_cmpuint(le16_to_cpu(le.status), ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(le64_to_cpu(le.result), ==, NR_DOMS + 1);
    g_assert_cmpuint(qvirt_iommu_domain_free(&f.iommu, NR_DOMS + 1), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, DOM_DMA, bar_iova, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    fixture_stop(&f);
}

/*
 * DMA at the top of the IOVA space: with a 64-bit aperture the last page
 * maps and translates; a transfer that would wrap past 2^64 is refused by
 * the endpoint; with the default 48 bits, a transfer running past the
 * aperture faults at exactly 2^48; an IDENTITY domain passes the top of
 * the physical space through, to a bus error and no fault record.
 */
static void test_dma_at_top(void)
{
    const uint64_t top = UINT64_MAX - PAGE + 1;
    uint8_t out[PAGE];
    Fixture f;
    uint64_t last48;

    fixture_start(&f, ",iova-bits=64");
    /* The first device-allocated IOVA is the aperture's last page. */
    g_assert_cmphex(f.src_iova, ==, top);
    qtest_memset(f.qts, f.dst, 0, PAGE);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_COPY, top,
                                      f.dst_iova, PAGE, 0), ==,
                     DMA_TESTDEV_ERR_NONE);
    qtest_memread(f.qts, f.dst, out, PAGE);
    g_assert_cmpmem(out, PAGE, f.data, PAGE);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_COPY, top,
                                      f.dst_iova, PAGE + 1, 0), ==,
                     DMA_TESTDEV_ERR_BAD_ADDR);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = DOM_FQ, .iova = top,
        .addr = f.src, .size = PAGE, .arg = VIRT_IOMMU_PERM_READ,
    }, NULL), ==, VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, DOM_FQ, top, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_invalidate_domain(&f.iommu, DOM_FQ), ==,
                     VIRT_IOMMU_S_OK);
    fixture_stop(&f);

    fixture_start(&f, "");
    last48 = APERTURE_48 + 1 - PAGE;
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = DOM_DMA,
        .iova = last48, .addr = f.src, .size = PAGE,
        .arg = VIRT_IOMMU_PERM_READ,
    }, NULL), ==, VIRT_IOMMU_S_EXISTS);
    /* The first device-allocated IOVA (src) is that last page. */
    g_assert_cmphex(f.src_iova, ==, last48);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_COPY, last48,
                                      f.dst_iova, 2 * PAGE, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    g_assert_cmphex(qdma_testdev_readq(&f.pf.fn, DMA_TESTDEV_REG_FAULT_ADDR),
                    ==, APERTURE_48 + 1);
    qvirt_iommu_expect_fault(&f.iommu, VIRT_IOMMU_FAULT_NOT_MAPPED, PF_RID,
                             DOM_DMA, APERTURE_48 + 1, VIRT_IOMMU_PERM_READ);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0, top,
                                      PAGE, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    qvirt_iommu_expect_fault(&f.iommu, VIRT_IOMMU_FAULT_NOT_MAPPED, PF_RID,
                             DOM_DMA, top, VIRT_IOMMU_PERM_WRITE);

    qvirt_iommu_attach(&f.iommu, PF_RID, DOM_IDENTITY);
    g_assert_cmpuint(qdma_testdev_run(&f.pf.fn, DMA_TESTDEV_OP_FILL, 0, top,
                                      PAGE, 0), ==,
                     DMA_TESTDEV_ERR_DMA_FAULT);
    qvirt_iommu_assert_no_event(&f.iommu);
    qvirt_iommu_attach(&f.iommu, PF_RID, DOM_DMA);
    fixture_stop(&f);
}

/*
 * VF enable storms.  Toggled with no command in between, VFs are the same
 * functions to the device and stay attached (the spec's known limit);
 * toggled with a command after each disable, every attached VF is reported
 * gone once and detached.  NumVFs above TotalVFs and NumVFs changes while
 * enabled do not create functions.  Attaching a VF that is off is refused.
 */
static void test_vf_storm(void)
{
    VirtIOMMUStats st;
    VirtIOMMUEvent evt;
    Fixture f;
    uint16_t gone = 0;

    fixture_start(&f, "");
    qdma_testdev_vfs_enable(&f.pf, TOTAL_VFS);
    for (uint16_t i = 0; i < TOTAL_VFS; i++) {
        qvirt_iommu_attach(&f.iommu, qdma_testdev_vf_devfn(&f.pf, i), DOM_FQ);
    }
    for (int i = 0; i < 200; i++) {
        uint16_t ctrl = qdma_testdev_sriov_readw(&f.pf, PCI_SRIOV_CTRL);

        qdma_testdev_sriov_writew(&f.pf, PCI_SRIOV_CTRL,
                                  ctrl ^ PCI_SRIOV_CTRL_VFE);
    }
    qvirt_iommu_stats(&f.iommu, DOM_FQ, &st);
    g_assert_cmpuint(st.endpoints, ==, TOTAL_VFS);
    qvirt_iommu_assert_no_event(&f.iommu);

    /* NumVFs while enabled is ignored; above TotalVFs nothing enables */
    qdma_testdev_sriov_writew(&f.pf, PCI_SRIOV_NUM_VF, 1);
    qvirt_iommu_stats(&f.iommu, DOM_FQ, &st);
    g_assert_cmpuint(st.endpoints, ==, TOTAL_VFS);
    for (int cycle = 0; cycle < 50; cycle++) {
        qdma_testdev_vfs_disable(&f.pf);
        qvirt_iommu_stats(&f.iommu, DOM_FQ, &st);
        while (qvirt_iommu_pop_event(&f.iommu, &evt)) {
            g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_ENDPOINT_GONE);
            g_assert_cmpuint(evt.domain, ==, DOM_FQ);
            gone++;
        }
        g_assert_cmpuint(st.endpoints, ==, 0);
        g_assert_cmpuint(qvirt_iommu_map(&f.iommu, DOM_FQ, f.src, PAGE,
                                         VIRT_IOMMU_PERM_READ, 0, NULL), ==,
                         VIRT_IOMMU_S_OK);
        g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
            .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = DOM_FQ,
            .endpoint = qdma_testdev_vf_devfn(&f.pf, cycle % TOTAL_VFS),
        }, NULL), ==, VIRT_IOMMU_S_NO_ENDPOINT);
        qdma_testdev_sriov_writew(&f.pf, PCI_SRIOV_NUM_VF, TOTAL_VFS + 1);
        qdma_testdev_sriov_writew(&f.pf, PCI_SRIOV_CTRL,
                                  PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
        g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
            .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = DOM_FQ,
            .endpoint = qdma_testdev_vf_devfn(&f.pf, 0),
        }, NULL), ==, VIRT_IOMMU_S_NO_ENDPOINT);
        qdma_testdev_sriov_writew(&f.pf, PCI_SRIOV_CTRL, 0);
        qdma_testdev_vfs_enable(&f.pf, 1 + cycle % TOTAL_VFS);
        for (uint16_t i = 0; i <= cycle % TOTAL_VFS; i++) {
            qvirt_iommu_attach(&f.iommu, qdma_testdev_vf_devfn(&f.pf, i),
                               DOM_FQ);
        }
    }
    qdma_testdev_vfs_disable(&f.pf);
    qvirt_iommu_stats(&f.iommu, DOM_FQ, &st);
    while (qvirt_iommu_pop_event(&f.iommu, &evt)) {
        gone++;
    }
    /* 7 from the first storm, then 1 + (cycle % 7) per cycle */
    g_assert_cmpuint(gone, ==, TOTAL_VFS + 7 * 28 + 1);
    g_assert_cmpuint(st.endpoints, ==, 0);
    g_assert_cmpuint(st.mappings, ==, 51);
    fixture_stop(&f);
}

/*
 * A guest cannot make the host hold more than max-mappings mappings: MAP
 * and MAP_FIXED beyond it get NO_SPACE (nothing changes), and an UNMAP
 * makes room again.  The fixture itself holds four.
 */
static void test_max_mappings(void)
{
    Snapshot before;
    Fixture f;
    uint64_t iova;

    fixture_start(&f, ",max-mappings=5");
    iova = qvirt_iommu_map_ok(&f.iommu, DOM_FQ, f.src, PAGE,
                              VIRT_IOMMU_PERM_READ, 0);
    snapshot(&f, &before);
    g_assert_cmpuint(qvirt_iommu_map(&f.iommu, DOM_DMA, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0, NULL), ==,
                     VIRT_IOMMU_S_NO_SPACE);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP_FIXED, .domain = DOM_DMA,
        .iova = 0x400000, .addr = f.src, .size = PAGE,
        .arg = VIRT_IOMMU_PERM_READ,
    }, NULL), ==, VIRT_IOMMU_S_NO_SPACE);
    assert_unchanged(&f, &before, "MAP beyond max-mappings");
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, DOM_FQ, iova, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    iova = qvirt_iommu_map_ok(&f.iommu, DOM_DMA, f.src, PAGE,
                              VIRT_IOMMU_PERM_READ, 0);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.iommu, DOM_DMA, iova, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_invalidate_domain(&f.iommu, DOM_FQ), ==,
                     VIRT_IOMMU_S_OK);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/hostile/unused-fields", test_unused_fields);
    qtest_add_func("/virt-iommu/hostile/field-values", test_field_values);
    qtest_add_func("/virt-iommu/hostile/batches-across-wrap",
                   test_batches_across_wrap);
    qtest_add_func("/virt-iommu/hostile/smallest-ring", test_smallest_ring);
    qtest_add_func("/virt-iommu/hostile/bad-indexes", test_bad_indexes);
    qtest_add_func("/virt-iommu/hostile/event-overflow", test_event_overflow);
    qtest_add_func("/virt-iommu/hostile/rings-not-ram", test_rings_not_ram);
    qtest_add_func("/virt-iommu/hostile/rings-overlap", test_rings_overlap);
    qtest_add_func("/virt-iommu/hostile/p2p-doorbell", test_p2p_doorbell);
    qtest_add_func("/virt-iommu/hostile/dma-at-top", test_dma_at_top);
    qtest_add_func("/virt-iommu/hostile/vf-storm", test_vf_storm);
    qtest_add_func("/virt-iommu/hostile/max-mappings", test_max_mappings);
    return g_test_run();
}
