/*
 * qtests for virt-iommu's driver-debugging features: fault injection
 * (the x-inject property), the report of DMA through a stale IOTLB entry,
 * and the flight recorder's dump when strict-checks finds a mistake.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "libqos/dma-testdev.h"
#include "libqos/virt-iommu.h"
#include "libqos/virt-iommu-rig.h"

#define PF_RID          QVIRT_IOMMU_RIG_PF_DEVFN    /* bus 0 */
#define PAGE            4096ULL
#define LEN             256
#define IOVA_SRC        0x100000ULL
/* Not IOTLB-slot 0 like IOVA_SRC: the stale test needs both cached */
#define IOVA_DST        0x201000ULL

typedef struct Fixture {
    QVirtIOMMURig rig;
    uint64_t src, dst;      /* guest-physical, a page each */
} Fixture;

static void fixture_start(Fixture *f, const char *iommu_opts,
                          const char *qemu_opts)
{
    g_autofree char *args =
        g_strdup_printf("%s -device virt-iommu,addr=04.0%s "
                        "-device dma-testdev,addr=06.0,total-vfs=0",
                        qemu_opts, iommu_opts);

    qvirt_iommu_rig_start(&f->rig, args, 4, 3, VIRT_IOMMU_CTRL_ENABLE);
    f->src = guest_alloc(&f->rig.alloc, PAGE);
    f->dst = guest_alloc(&f->rig.alloc, PAGE);
}

static void fixture_stop(Fixture *f)
{
    qvirt_iommu_rig_stop(&f->rig);
}

/* A domain of @type with the PF attached, IOVA_SRC -> src, IOVA_DST -> dst */
static uint32_t pf_domain(Fixture *f, uint8_t type)
{
    uint32_t dom = qvirt_iommu_domain_alloc(&f->rig.iommu, type);

    qvirt_iommu_attach(&f->rig.iommu, PF_RID, dom);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f->rig.iommu, dom, IOVA_SRC, f->src,
                                           PAGE, VIRT_IOMMU_PERM_READ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f->rig.iommu, dom, IOVA_DST, f->dst,
                                           PAGE, VIRT_IOMMU_PERM_WRITE), ==,
                     VIRT_IOMMU_S_OK);
    return dom;
}

/* The PF copies a fresh pattern from IOVA_SRC to IOVA_DST: did it arrive? */
static bool copy_arrives(Fixture *f, uint8_t seed)
{
    uint8_t pattern[LEN], got[LEN];

    for (int i = 0; i < LEN; i++) {
        pattern[i] = seed ^ (i * 13);
    }
    qtest_memwrite(f->rig.qts, f->src, pattern, LEN);
    qtest_memset(f->rig.qts, f->dst, 0, LEN);
    if (qdma_testdev_run(&f->rig.pf.fn, DMA_TESTDEV_OP_COPY, IOVA_SRC, IOVA_DST,
                         LEN, 0) != DMA_TESTDEV_ERR_NONE) {
        return false;
    }
    qtest_memread(f->rig.qts, f->dst, got, LEN);
    return memcmp(got, pattern, LEN) == 0;
}

static uint16_t submit(Fixture *f, VirtIOMMUCmd cmd)
{
    return qvirt_iommu_submit(&f->rig.iommu, &cmd, NULL);
}

/* The next two MAPs fail with NO_SPACE unrun; other commands run. */
static void test_inject_status(void)
{
    Fixture f;
    VirtIOMMUStats st;
    uint32_t dom;
    uint64_t iova;

    fixture_start(&f, ",x-inject=status:2:map:no-space", "");
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    g_assert_cmpuint(qvirt_iommu_map(&f.rig.iommu, dom, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0, &iova), ==,
                     VIRT_IOMMU_S_NO_SPACE);
    /* Other opcodes are not armed: this one runs (and finds nothing). */
    g_assert_cmpuint(qvirt_iommu_unmap(&f.rig.iommu, dom, IOVA_SRC, PAGE), ==,
                     VIRT_IOMMU_S_NOT_MAPPED);
    g_assert_cmpuint(qvirt_iommu_map(&f.rig.iommu, dom, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0, &iova), ==,
                     VIRT_IOMMU_S_NO_SPACE);
    qvirt_iommu_stats(&f.rig.iommu, dom, &st);
    g_assert_cmpuint(st.mappings, ==, 0);
    /* Disarmed after two */
    iova = qvirt_iommu_map_ok(&f.rig.iommu, dom, f.src, PAGE,
                              VIRT_IOMMU_PERM_READ, 0);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.rig.iommu, dom, iova, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    qvirt_iommu_stats(&f.rig.iommu, 0, &st);
    g_assert_cmpuint(st.injected_status, ==, 2);
    g_assert_cmpuint(st.injected_attaches, ==, 0);
    fixture_stop(&f);
}

/* QMP error text of qom-set x-inject=@spec on the running device, or NULL */
static char *set_inject(Fixture *f, const char *spec)
{
    g_autoptr(QDict) rsp = qtest_qmp(f->rig.qts, "{ 'execute': 'qom-set',"
                                     " 'arguments': { 'path': 'viommu',"
                                     " 'property': 'x-inject',"
                                     " 'value': %s } }", spec);

    if (qdict_haskey(rsp, "return")) {
        return NULL;
    }
    return g_strdup(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
}

/* Armed on a running device through QMP; a bad spec is a clear error. */
static void test_inject_runtime(void)
{
    g_autofree char *err = NULL;
    Fixture f;

    fixture_start(&f, ",id=viommu", "");
    g_assert_null(set_inject(&f, "status:1:any:invalid"));
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = VIRT_IOMMU_DOMAIN_DMA,
    }), ==, VIRT_IOMMU_S_INVALID);
    qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    err = set_inject(&f, "status:1:any:ok");
    g_assert_nonnull(strstr(err, "needs an error status"));
    g_free(err);
    err = set_inject(&f, "bogus:1");
    g_assert_nonnull(strstr(err, "expected status:N:OPCODE:STATUS"));
    fixture_stop(&f);
}

/*
 * x-virt-iommu-inject arms the same injections as x-inject, and
 * query-virt-iommu's flight records show them, newest last.
 */
static void test_inject_qmp(void)
{
    g_autoptr(QDict) rsp = NULL;
    QList *devs, *recs;
    QDict *dev, *rec;
    Fixture f;
    uint32_t dom;
    uint64_t iova;

    fixture_start(&f, ",id=viommu,flight-recorder=8", "");
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    rsp = qtest_qmp(f.rig.qts,
                    "{ 'execute': 'x-virt-iommu-inject', 'arguments':"
                    " { 'device': 'viommu', 'kind': 'status', 'count': 1,"
                    " 'opcode': 'map', 'status': 'no-space' } }");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    g_assert_cmpuint(qvirt_iommu_map(&f.rig.iommu, dom, f.src, PAGE,
                                     VIRT_IOMMU_PERM_READ, 0, &iova), ==,
                     VIRT_IOMMU_S_NO_SPACE);
    iova = qvirt_iommu_map_ok(&f.rig.iommu, dom, f.src, PAGE,
                              VIRT_IOMMU_PERM_READ, 0);

    rsp = qtest_qmp(f.rig.qts, "{ 'execute': 'query-virt-iommu', 'arguments':"
                    " { 'max-mappings': 0, 'flight-records': 2 } }");
    devs = qdict_get_qlist(rsp, "return");
    dev = qobject_to(QDict, qlist_peek(devs));
    g_assert_cmpint(qdict_get_int(dev, "flight-recorder-size"), ==, 8);
    /* qvirt_iommu_start's commands are none: DOMAIN_ALLOC, MAP, MAP */
    g_assert_cmpint(qdict_get_int(dev, "flight-records-total"), ==, 3);
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(dev, "injected"),
                                  "status"), ==, 1);
    recs = qdict_get_qlist(dev, "flight-records");
    g_assert_cmpuint(qlist_size(recs), ==, 2);
    rec = qobject_to(QDict, qlist_peek(recs));
    g_assert_cmpstr(qdict_get_str(rec, "kind"), ==, "command");
    g_assert_cmpint(qdict_get_int(rec, "type"), ==, VIRT_IOMMU_CMD_MAP);
    g_assert_cmpint(qdict_get_int(rec, "status"), ==, VIRT_IOMMU_S_NO_SPACE);
    g_assert_true(qdict_get_bool(rec, "injected"));
    rec = qobject_to(QDict, qlist_entry_obj(qlist_next(qlist_first(recs))));
    g_assert_cmpint(qdict_get_int(rec, "status"), ==, VIRT_IOMMU_S_OK);
    g_assert_cmphex(qdict_get_int(rec, "result"), ==, iova);
    g_assert_false(qdict_get_bool(rec, "injected"));
    qobject_unref(rsp);

    rsp = qtest_qmp(f.rig.qts,
                    "{ 'execute': 'x-virt-iommu-inject', 'arguments':"
                    " { 'device': 'nosuch', 'kind': 'drop-events',"
                    " 'count': 1 } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "no virt-iommu"));
    fixture_stop(&f);
}

static void test_refuse_attach(void)
{
    Fixture f;
    VirtIOMMUStats st;
    uint32_t dom;

    fixture_start(&f, ",x-inject=refuse-attach:1:busy", "");
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    g_assert_cmpuint(submit(&f, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_ATTACH, .domain = dom, .endpoint = PF_RID,
    }), ==, VIRT_IOMMU_S_BUSY);
    qvirt_iommu_stats(&f.rig.iommu, dom, &st);
    g_assert_cmpuint(st.endpoints, ==, 0);
    qvirt_iommu_attach(&f.rig.iommu, PF_RID, dom);
    qvirt_iommu_stats(&f.rig.iommu, 0, &st);
    g_assert_cmpuint(st.endpoints, ==, 1);
    g_assert_cmpuint(st.injected_attaches, ==, 1);
    g_assert_cmpuint(st.injected_status, ==, 0);
    fixture_stop(&f);
}

/* Two of three fault records are lost as to an overflow, and said so. */
static void test_drop_events(void)
{
    Fixture f;
    VirtIOMMUStats st;
    uint32_t dom;

    fixture_start(&f, ",x-inject=drop-events:2", "");
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    qvirt_iommu_attach(&f.rig.iommu, PF_RID, dom);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(qdma_testdev_run(&f.rig.pf.fn, DMA_TESTDEV_OP_COPY,
                                          IOVA_SRC + i * PAGE, IOVA_DST, LEN,
                                          0), ==, DMA_TESTDEV_ERR_DMA_FAULT);
    }
    g_assert_cmphex(qvirt_iommu_readl(&f.rig.iommu, VIRT_IOMMU_REG_ERROR), ==,
                    VIRT_IOMMU_ERR_EVTQ_OVERFLOW);
    qvirt_iommu_expect_fault(&f.rig.iommu, VIRT_IOMMU_FAULT_NOT_MAPPED, PF_RID,
                             dom, IOVA_SRC + 2 * PAGE, VIRT_IOMMU_PERM_READ);
    qvirt_iommu_stats(&f.rig.iommu, 0, &st);
    g_assert_cmpuint(st.events, ==, 1);
    g_assert_cmpuint(st.events_dropped, ==, 2);
    g_assert_cmpuint(st.injected_drops, ==, 2);
    qvirt_iommu_writel(&f.rig.iommu, VIRT_IOMMU_REG_ERROR,
                       VIRT_IOMMU_ERR_EVTQ_OVERFLOW);
    fixture_stop(&f);
}

/*
 * A delayed SYNC holds CMDQ_HEAD, and every command after it waits, until
 * the virtual clock reaches its delay.
 */
static void test_sync_delay(void)
{
    Fixture f;
    VirtIOMMUStats st;
    uint64_t word;
    VirtIOMMUCmd cmds[2];
    uint32_t first;

    fixture_start(&f, ",x-inject=sync-delay:1:1000000", "");
    word = guest_alloc(&f.rig.alloc, 8);
    qtest_writel(f.rig.qts, word, 0);
    cmds[0] = (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_SYNC, .addr = word, .limit = 0x1234,
    };
    cmds[1] = (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_ALLOC, .arg = VIRT_IOMMU_DOMAIN_DMA,
    };
    first = qvirt_iommu_post(&f.rig.iommu, cmds, 2);
    qtest_clock_step(f.rig.qts, 999999);
    g_assert_cmpuint(qvirt_iommu_readl(&f.rig.iommu, VIRT_IOMMU_REG_CMDQ_HEAD),
                     ==, first);
    g_assert_cmpuint(qvirt_iommu_slot_status(&f.rig.iommu, first), ==,
                     VIRT_IOMMU_S_PENDING);
    g_assert_cmpuint(qvirt_iommu_slot_status(&f.rig.iommu, first + 1), ==,
                     VIRT_IOMMU_S_PENDING);
    g_assert_cmphex(qtest_readl(f.rig.qts, word), ==, 0);

    qtest_clock_step(f.rig.qts, 1);
    g_assert_cmphex(qtest_readl(f.rig.qts, word), ==, 0x1234);
    g_assert_cmpuint(qvirt_iommu_slot_status(&f.rig.iommu, first), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_slot_status(&f.rig.iommu, first + 1), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_readl(&f.rig.iommu, VIRT_IOMMU_REG_CMDQ_HEAD),
                     ==, first + 2);
    /* Disarmed: the next SYNC completes inside the doorbell write */
    qtest_writel(f.rig.qts, word, 0);
    g_assert_cmpuint(submit(&f, cmds[0]), ==, VIRT_IOMMU_S_OK);
    g_assert_cmphex(qtest_readl(f.rig.qts, word), ==, 0x1234);
    qvirt_iommu_stats(&f.rig.iommu, 0, &st);
    g_assert_cmpuint(st.injected_syncs, ==, 1);
    fixture_stop(&f);
}

/*
 * In a DMA_FQ domain an unmapped page keeps translating through its IOTLB
 * entry until the batched invalidation, as on hardware: strict-checks
 * lets the DMA through and reports it once, with the age of the unmap.
 */
static void test_stale_iotlb(gconstpointer strict)
{
    Fixture f;
    VirtIOMMUStats st;
    VirtIOMMUEvent evt;
    uint32_t dom;

    fixture_start(&f, strict ? ",strict-checks=on,fq-timeout=60000" :
                  ",fq-timeout=60000", "");
    dom = pf_domain(&f, VIRT_IOMMU_DOMAIN_DMA_FQ);
    g_assert_true(copy_arrives(&f, 1));
    g_assert_cmpuint(qvirt_iommu_unmap(&f.rig.iommu, dom, IOVA_SRC, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    qtest_clock_step(f.rig.qts, 5000);
    g_assert_true(copy_arrives(&f, 2));
    g_assert_true(copy_arrives(&f, 3));
    qvirt_iommu_stats(&f.rig.iommu, 0, &st);
    if (strict) {
        g_assert_true(qvirt_iommu_pop_event(&f.rig.iommu, &evt));
        g_assert_cmpuint(evt.type, ==, VIRT_IOMMU_EVT_STRICT);
        g_assert_cmpuint(evt.reason, ==, VIRT_IOMMU_STRICT_STALE_IOTLB);
        g_assert_cmphex(evt.endpoint, ==, PF_RID);
        g_assert_cmpuint(evt.domain, ==, dom);
        g_assert_cmphex(evt.iova, ==, IOVA_SRC);
        g_assert_cmpuint(evt.access, ==, VIRT_IOMMU_PERM_READ);
        g_assert_cmpuint(evt.age_ns, ==, 5000);
        g_assert_cmpuint(st.stale_reports, ==, 1);
    } else {
        g_assert_cmpuint(st.stale_reports, ==, 0);
    }
    qvirt_iommu_assert_no_event(&f.rig.iommu);

    /* After the batch the IOVA faults like any unmapped one. */
    g_assert_cmpuint(qvirt_iommu_invalidate_domain(&f.rig.iommu, dom), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_false(copy_arrives(&f, 4));
    qvirt_iommu_expect_fault(&f.rig.iommu, strict ? VIRT_IOMMU_FAULT_UNMAPPED :
                             VIRT_IOMMU_FAULT_NOT_MAPPED, PF_RID, dom,
                             IOVA_SRC, VIRT_IOMMU_PERM_READ);
    fixture_stop(&f);
}

/*
 * strict-checks dumps the last flight-recorder records to the log: with
 * K = 4 the three commands before a double UNMAP and its STRICT record.
 */
static void test_flight_recorder_dump(void)
{
    g_autofree char *log = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GPtrArray) records = g_ptr_array_new();
    int fd = g_file_open_tmp("virt-iommu-debug-XXXXXX.log", &log, NULL);
    g_autofree char *opts = g_strdup_printf("-d guest_errors -D %s", log);
    Fixture f;
    uint32_t dom;

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    fixture_start(&f, ",strict-checks=on,flight-recorder=4", opts);
    dom = qvirt_iommu_domain_alloc(&f.rig.iommu, VIRT_IOMMU_DOMAIN_DMA);
    g_assert_cmpuint(qvirt_iommu_map_fixed(&f.rig.iommu, dom, IOVA_SRC, f.src,
                                           PAGE, VIRT_IOMMU_PERM_READ), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.rig.iommu, dom, IOVA_SRC, PAGE), ==,
                     VIRT_IOMMU_S_OK);
    g_assert_cmpuint(qvirt_iommu_unmap(&f.rig.iommu, dom, IOVA_SRC, PAGE), ==,
                     VIRT_IOMMU_S_NOT_MAPPED);
    g_assert_true(qvirt_iommu_pop_event(&f.rig.iommu, &(VirtIOMMUEvent){ 0 }));
    fixture_stop(&f);

    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    g_assert_nonnull(strstr(text, "strict-checks found a driver mistake"));
    lines = g_strsplit(text, "\n", 0);
    for (int i = 0; lines[i]; i++) {
        if (strstr(lines[i], " ns cmd ") || strstr(lines[i], " ns event ")) {
            g_ptr_array_add(records, lines[i]);
        }
    }
    g_assert_cmpuint(records->len, ==, 4);
    /* DOMAIN_ALLOC, MAP_FIXED, UNMAP, then the STRICT DOUBLE_UNMAP record */
    g_assert_nonnull(strstr(records->pdata[0], " cmd 0x1 status/reason 1"));
    g_assert_nonnull(strstr(records->pdata[1], " cmd 0x7 status/reason 1"));
    g_assert_nonnull(strstr(records->pdata[2], " cmd 0x8 status/reason 1"));
    g_assert_nonnull(strstr(records->pdata[3],
                            " event 0x3 status/reason 2"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-iommu/debug/inject-status", test_inject_status);
    qtest_add_func("/virt-iommu/debug/inject-runtime", test_inject_runtime);
    qtest_add_func("/virt-iommu/debug/inject-qmp", test_inject_qmp);
    qtest_add_func("/virt-iommu/debug/refuse-attach", test_refuse_attach);
    qtest_add_func("/virt-iommu/debug/drop-events", test_drop_events);
    qtest_add_func("/virt-iommu/debug/sync-delay", test_sync_delay);
    qtest_add_data_func("/virt-iommu/debug/stale-iotlb/strict",
                        (void *)1, test_stale_iotlb);
    qtest_add_data_func("/virt-iommu/debug/stale-iotlb/off", NULL,
                        test_stale_iotlb);
    qtest_add_func("/virt-iommu/debug/flight-recorder-dump",
                   test_flight_recorder_dump);
    return g_test_run();
}
