/*
 * c_api_test.c - iova.h used from C, as QEMU uses it: compiles the header
 * as C and checks every entry point's contract once.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "iova/iova.h"

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                      \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static unsigned trim_requests;
static uint64_t trim_delay;

static void schedule_trim(void *opaque, uint64_t delay_ns)
{
    CHECK(opaque == &trim_requests);
    trim_requests++;
    trim_delay = delay_ns;
}

static void test_config(void)
{
    IovaConfig cfg;
    IovaDomain *d = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.granule = 4096;
    cfg.start_pfn = 0;
    CHECK(iova_domain_new(&cfg, &d) == IOVA_ERR_INVAL && d == NULL);
    cfg.start_pfn = 1;
    cfg.granule = 1000;
    CHECK(iova_domain_new(&cfg, &d) == IOVA_ERR_INVAL);
    cfg.granule = 4096;
    cfg.max_cached_size = 3;
    CHECK(iova_domain_new(&cfg, &d) == IOVA_ERR_INVAL);
    CHECK(iova_domain_new(NULL, &d) == IOVA_ERR_INVAL);
    iova_domain_free(NULL);
}

static void test_slow_path(void)
{
    IovaConfig cfg;
    IovaDomain *d = NULL;
    IovaStats st;
    uint64_t pfn = 0, lo = 0, hi = 0;

    memset(&cfg, 0, sizeof(cfg));
    cfg.granule = 4096;
    cfg.start_pfn = 1;
    CHECK(iova_domain_new(&cfg, &d) == IOVA_OK && d != NULL);

    CHECK(iova_alloc(d, 4, 0xfffff, true, &pfn) == IOVA_OK);
    CHECK(pfn == 0xffffc);
    CHECK(iova_find(d, pfn + 2, &lo, &hi) == IOVA_OK);
    CHECK(lo == 0xffffc && hi == 0xfffff);
    CHECK(iova_alloc(d, 0, 0xfffff, false, &pfn) == IOVA_ERR_INVAL);
    CHECK(iova_alloc(d, 1, 0, false, &pfn) == IOVA_ERR_NOSPC);
    CHECK(iova_reserve(d, 0xffff0, 0xffffd) == IOVA_ERR_EXIST);
    CHECK(iova_reserve(d, 0x100, 0x1ff) == IOVA_OK);
    CHECK(iova_reserve(d, 0x180, 0x2ff) == IOVA_OK); /* merges */
    CHECK(iova_reserve(d, 9, 8) == IOVA_ERR_INVAL);
    CHECK(iova_find(d, 0x2ff, &lo, &hi) == IOVA_OK);
    CHECK(lo == 0x100 && hi == 0x2ff);

    iova_get_stats(d, &st);
    CHECK(st.live_ranges == 2 && st.reserved_ranges == 1);
    CHECK(st.live_pfns == 4 + 0x200);

    CHECK(iova_free(d, 0xffffd) == IOVA_OK);
    CHECK(iova_free(d, 0xffffd) == IOVA_ERR_NOENT);
    CHECK(iova_find(d, 0xffffd, &lo, &hi) == IOVA_ERR_NOENT);
    CHECK(iova_check_invariants(d));
    iova_domain_free(d);
}

static void test_fast_path(void)
{
    IovaConfig cfg;
    IovaDomain *d = NULL;
    IovaStats st;
    uint64_t pfn = 0, again = 0;
    unsigned i;

    memset(&cfg, 0, sizeof(cfg));
    cfg.granule = 4096;
    cfg.start_pfn = 1;
    cfg.ncpus = 2;
    cfg.mag_size = 4;
    cfg.schedule_trim = schedule_trim;
    cfg.opaque = &trim_requests;
    CHECK(iova_domain_new(&cfg, &d) == IOVA_OK);

    CHECK(iova_alloc_fast(d, 3, 0xfffff, 0, false, &pfn) == IOVA_OK);
    CHECK(pfn % 4 == 0); /* rounded up to 4 and aligned */
    CHECK(iova_free_fast(d, pfn, 3, 0) == IOVA_OK);
    CHECK(iova_alloc_fast(d, 4, 0xfffff, 0, false, &again) == IOVA_OK);
    CHECK(again == pfn);
    CHECK(iova_alloc_fast(d, 1, 0xfffff, 2, false, &pfn) == IOVA_ERR_INVAL);
    iova_get_stats(d, &st);
    CHECK(st.rcache_hits == 1 && st.rcache_misses == 1);

    /* Enough frees on one CPU to push magazines past the depot limit. */
    {
        uint64_t pfns[40];
        for (i = 0; i < 40; i++) {
            CHECK(iova_alloc_fast(d, 1, 0xfffff, 1, false, &pfns[i]) == IOVA_OK);
        }
        for (i = 0; i < 40; i++) {
            CHECK(iova_free_fast(d, pfns[i], 1, 1) == IOVA_OK);
        }
    }
    iova_get_stats(d, &st);
    CHECK(st.depot_mags > 2);
    CHECK(st.mags_reachable == st.mags_live);
    CHECK(trim_requests == 1);
    CHECK(trim_delay == 100000000ull);
    iova_trim_depot(d);
    iova_get_stats(d, &st);
    CHECK(st.depot_trims == 1);
    iova_cpu_dead(d, 1);
    iova_flush_rcaches(d);
    iova_get_stats(d, &st);
    CHECK(st.cached_pfns == 0 && st.depot_mags == 0 && st.mags_live == 0);
    CHECK(st.cpu_flushes == 1 && st.rcache_flushes == 1);
    CHECK(iova_check_invariants(d));
    iova_domain_free(d);
}

/* Destroying a domain with full magazines frees every one of them. */
static void test_live_magazines(void)
{
    IovaConfig cfg = { 0 };
    IovaDomain *d = NULL;
    int64_t before = iova_live_magazines();
    uint64_t pfns[20];
    int i;

    cfg.granule = 4096;
    cfg.start_pfn = 1;
    cfg.mag_size = 4;
    CHECK(iova_domain_new(&cfg, &d) == IOVA_OK);
    for (i = 0; i < 20; i++) {
        CHECK(iova_alloc_fast(d, 1, 0xfffff, 0, false, &pfns[i]) == IOVA_OK);
    }
    for (i = 0; i < 20; i++) {
        CHECK(iova_free_fast(d, pfns[i], 1, 0) == IOVA_OK);
    }
    CHECK(iova_live_magazines() > before);
    iova_domain_free(d);
    CHECK(iova_live_magazines() == before);
}

int main(void)
{
    CHECK(strcmp(iova_status_str(IOVA_OK), "ok") == 0);
    CHECK(strcmp(iova_status_str((IovaStatus)-42), "unknown status") == 0);
    test_config();
    test_slow_path();
    test_fast_path();
    test_live_magazines();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("c-api: all checks passed\n");
    return 0;
}
