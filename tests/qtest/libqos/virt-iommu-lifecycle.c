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
    g_assert_cmpuint(st->mags_reachable, ==, 0);
    g_assert_cmpuint(st->depot_mags, ==, 0);
    g_assert_cmpuint(st->cached_pfns, ==, 0);
    /* The one number that sees allocators already destroyed */
    g_assert_cmpuint(st->process_mags_live, ==, 0);
    g_assert_cmpuint(st->events_dropped, ==, dropped);
}

void lc_assert_mag_accounting(const VirtIOMMUStats *st)
{
    /* Counted by walking the lists, apart from the two counters */
    g_assert_cmpuint(st->mags_reachable, ==, st->mags_live);
    if (!st->cached_pfns) {
        g_assert_cmpuint(st->depot_mags, ==, 0);
    }
}
