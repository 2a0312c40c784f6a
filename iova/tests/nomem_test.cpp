// SPDX-License-Identifier: GPL-2.0-or-later
//
// nomem_test.cpp - internal allocation failure.  This executable replaces
// the global operator new so a test can make allocations fail; it checks
// that a failed magazine allocation degrades as Linux (the IOVA goes back
// to the tree), that a failed node allocation leaves the tree unchanged,
// and that no exception crosses the C API.
#include "iova/iova.h"
#include "test_util.hpp"

#include <cstdlib>
#include <new>

namespace {
// When true, every allocation of this thread fails.
thread_local bool t_fail_allocations = false;

void* checked_malloc(std::size_t n)
{
    if (t_fail_allocations) {
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n ? n : 1)) {
        return p;
    }
    throw std::bad_alloc();
}

struct FailAllocations {
    FailAllocations() { t_fail_allocations = true; }
    ~FailAllocations() { t_fail_allocations = false; }
};
} // namespace

static void* checked_aligned(std::size_t n, std::align_val_t al)
{
    if (t_fail_allocations) {
        throw std::bad_alloc();
    }
    const std::size_t a = static_cast<std::size_t>(al);
    if (void* p = std::aligned_alloc(a, (n + a - 1) / a * a)) {
        return p;
    }
    throw std::bad_alloc();
}

void* operator new(std::size_t n) { return checked_malloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return checked_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return checked_aligned(n, a); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void* operator new[](std::size_t n) { return checked_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace iova::test {
namespace {

constexpr std::uint64_t kLimit = (std::uint64_t{1} << 20) - 1;

TEST(NoMemory, FreeFastFallsBackToTheTree)
{
    Domain d(k4K, 1);
    const std::uint64_t p = Ok(d.alloc_fast(1, kLimit, 0, false));
    {
        FailAllocations fail;
        EXPECT_EQ(d.free_fast(p, 1, 0), Status::ok);
    }
    EXPECT_EQ(d.find(p).status(), Status::not_found); // freed, not cached
    const Stats s = d.stats();
    EXPECT_EQ(s.cached_pfns, 0u);
    EXPECT_EQ(s.mags_allocated, 0u);
    EXPECT_EQ(s.live_ranges, 0u);
    EXPECT_TRUE(Consistent(d));
}

TEST(NoMemory, FullMagazinesFallBackWhenNoFreshOneCanBeHad)
{
    Options o;
    o.mag_size = 2;
    Domain d(k4K, 1, o);
    std::vector<std::uint64_t> pfns;
    for (int i = 0; i < 5; ++i) {
        pfns.push_back(Ok(d.alloc_fast(1, kLimit, 0, false)));
    }
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(d.free_fast(pfns[i], 1, 0), Status::ok); // fills both
    }
    {
        FailAllocations fail;
        EXPECT_EQ(d.free_fast(pfns[4], 1, 0), Status::ok);
    }
    EXPECT_EQ(d.find(pfns[4]).status(), Status::not_found);
    const Stats s = d.stats();
    EXPECT_EQ(s.cached_pfns, 4u);
    EXPECT_EQ(s.depot_mags, 0u);
    EXPECT_TRUE(Consistent(d));
}

TEST(NoMemory, FailedAllocLeavesTheTreeUnchanged)
{
    // The node pool grows a chunk at a time; allocate until it must grow
    // while memory is unavailable.
    Domain d(k4K, 1);
    std::uint64_t made = 0;
    bool threw = false;
    {
        FailAllocations fail;
        for (int i = 0; i < 100000 && !threw; ++i) {
            try {
                if (d.alloc(1, kLimit, false).ok()) {
                    ++made;
                }
            } catch (const std::bad_alloc&) {
                threw = true;
            }
        }
    }
    ASSERT_TRUE(threw);
    EXPECT_GT(made, 0u);
    EXPECT_EQ(d.stats().live_ranges, made);
    EXPECT_TRUE(Consistent(d));
    EXPECT_EQ(Ok(d.alloc(1, kLimit, false)), kLimit - made);
}

TEST(NoMemory, CApiReportsNomemAndNeverThrows)
{
    IovaConfig cfg{};
    cfg.granule = 4096;
    cfg.start_pfn = 1;
    IovaDomain* dom = nullptr;
    {
        FailAllocations fail;
        EXPECT_EQ(iova_domain_new(&cfg, &dom), IOVA_ERR_NOMEM);
        EXPECT_EQ(dom, nullptr);
    }
    ASSERT_EQ(iova_domain_new(&cfg, &dom), IOVA_OK);
    uint64_t pfn = 0;
    {
        FailAllocations fail;
        // Each entry point succeeds while the pool has room, then reports
        // IOVA_ERR_NOMEM (never an exception) once it would have to grow.
        IovaStatus st = IOVA_OK;
        for (int i = 0; i < 100000 && st == IOVA_OK; ++i) {
            st = iova_alloc(dom, 1, kLimit, false, &pfn);
        }
        EXPECT_EQ(st, IOVA_ERR_NOMEM);
        EXPECT_EQ(iova_alloc_fast(dom, 1, kLimit, 0, false, &pfn),
                  IOVA_ERR_NOMEM);
        EXPECT_EQ(iova_reserve(dom, 5, 6), IOVA_ERR_NOMEM);
        IovaStats st_out;
        iova_get_stats(dom, &st_out); // zeroes on failure, does not throw
        EXPECT_EQ(st_out.live_ranges, 0u);
        EXPECT_FALSE(iova_check_invariants(dom)); // cannot check: false
    }
    EXPECT_TRUE(iova_check_invariants(dom));
    iova_domain_free(dom);
}

} // namespace
} // namespace iova::test
