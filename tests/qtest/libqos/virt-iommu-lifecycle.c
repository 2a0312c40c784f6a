/*
 * Helpers for the virt-iommu lifecycle qtests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "virt-iommu-lifecycle.h"

unsigned lc_soak_factor(void)
{
    const char *soak = getenv("SOAK");

    return soak && strcmp(soak, "0") && *soak ? 100 : 1;
}

unsigned lc_cycles(unsigned fast)
{
    const char *env = getenv("VIRT_IOMMU_SOAK_CYCLES");
    guint64 n;

    if (!env || !*env) {
        return fast * lc_soak_factor();
    }
    /* A typo must not silently turn a soak into a short run. */
    if (!g_ascii_string_to_unsigned(env, 10, 1, UINT_MAX, &n, NULL)) {
        g_error("VIRT_IOMMU_SOAK_CYCLES=%s: want a positive integer", env);
    }
    return n;
}

uint64_t lc_rss_kib(QTestState *qts)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status",
                                            (int)qtest_pid(qts));
    g_autofree char *text = NULL;
    const char *line;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    line = strstr(text, "\nVmRSS:");
    g_assert_nonnull(line);
    return g_ascii_strtoull(line + strlen("\nVmRSS:"), NULL, 10);
}

void lc_assert_rss_stable(uint64_t start_kib, uint64_t end_kib,
                          uint64_t slack_kib)
{
    if (getenv("QTEST_SANITIZED")) {
        g_test_message("RSS bound not checked in a sanitizer build");
        return;
    }
    g_assert_cmpuint(end_kib, <, start_kib + slack_kib);
}

void lc_qom_set_int(QTestState *qts, const char *prop, int64_t value)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': %s, 'property': %s,"
                             " 'value': %" PRId64 " } }",
                             LC_VIOMMU_PATH, prop, value);
}

static uint16_t submit(QVirtIOMMU *v, VirtIOMMUCmd cmd, uint64_t *result)
{
    return qvirt_iommu_submit(v, &cmd, result);
}

uint16_t lc_map(QVirtIOMMU *v, uint32_t domain, uint64_t gpa, uint64_t size,
                uint32_t perms, uint64_t limit, uint64_t *iova)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_MAP, .domain = domain, .addr = gpa,
        .size = size, .arg = perms, .limit = limit,
    }, iova);
}

uint64_t lc_map_ok(QVirtIOMMU *v, uint32_t domain, uint64_t gpa,
                   uint64_t size, uint32_t perms, uint64_t limit)
{
    uint64_t iova = 0;

    g_assert_cmpuint(lc_map(v, domain, gpa, size, perms, limit, &iova), ==,
                     VIRT_IOMMU_S_OK);
    return iova;
}

uint16_t lc_unmap(QVirtIOMMU *v, uint32_t domain, uint64_t iova,
                  uint64_t size)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_UNMAP, .domain = domain, .iova = iova,
        .size = size,
    }, NULL);
}

uint16_t lc_set_type(QVirtIOMMU *v, uint32_t domain, uint8_t type)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_SET_TYPE, .domain = domain,
        .arg = type,
    }, NULL);
}

uint16_t lc_detach(QVirtIOMMU *v, uint16_t rid)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DETACH, .endpoint = rid,
    }, NULL);
}

uint16_t lc_domain_free(QVirtIOMMU *v, uint32_t domain)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_DOMAIN_FREE, .domain = domain,
    }, NULL);
}

uint16_t lc_invalidate_domain(QVirtIOMMU *v, uint32_t domain)
{
    return submit(v, (VirtIOMMUCmd) {
        .opcode = VIRT_IOMMU_CMD_INVALIDATE, .domain = domain,
        .arg = VIRT_IOMMU_INV_DOMAIN,
    }, NULL);
}

void lc_assert_baseline(QVirtIOMMU *v, VirtIOMMUStats *st)
{
    lc_assert_baseline_dropped(v, st, 0);
}

void lc_assert_baseline_dropped(QVirtIOMMU *v, VirtIOMMUStats *st,
                                uint64_t dropped)
{
    qvirt_iommu_stats(v, 0, st);
    g_assert_cmpuint(st->type, ==, 0);          /* live domains */
    g_assert_cmpuint(st->endpoints, ==, 0);
    g_assert_cmpuint(st->mappings, ==, 0);
    g_assert_cmpuint(st->mapped_bytes, ==, 0);
    g_assert_cmpuint(st->fq_pending, ==, 0);
    g_assert_cmpuint(st->iova_live_ranges, ==, 0);
    g_assert_cmpuint(st->iova_live_pfns, ==, 0);
    g_assert_cmpuint(st->mags_live, ==, 0);
    g_assert_cmpuint(st->depot_mags, ==, 0);
    g_assert_cmpuint(st->cached_pfns, ==, 0);
    /* The one number that sees allocators already destroyed */
    g_assert_cmpuint(st->process_mags_live, ==, 0);
    g_assert_cmpuint(st->events_dropped, ==, dropped);
}

void lc_assert_mag_accounting(const VirtIOMMUStats *st)
{
    g_assert_cmpuint(st->mags_live, ==, st->mags_allocated - st->mags_freed);
    if (!st->cached_pfns) {
        g_assert_cmpuint(st->depot_mags, ==, 0);
    }
}

void lc_assert_no_event(QVirtIOMMU *v)
{
    VirtIOMMUEvent evt;

    if (qvirt_iommu_pop_event(v, &evt)) {
        g_error("unexpected event: type %u reason %u endpoint 0x%x "
                "domain %u iova 0x%" PRIx64, evt.type, evt.reason,
                evt.endpoint, evt.domain, evt.iova);
    }
    g_assert_cmphex(qvirt_iommu_readl(v, VIRT_IOMMU_REG_ERROR), ==, 0);
}
