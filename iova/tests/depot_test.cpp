// SPDX-License-Identifier: GPL-2.0-or-later
//
// depot_test.cpp - depot growth, the schedule_trim hook and trim_depot().
#include "test_util.hpp"

#include <vector>

namespace iova::test {
namespace {

constexpr std::uint64_t kLimit = (std::uint64_t{1} << 20) - 1;

// Records what the library asks of its caller's timer.
struct TrimTimer {
    std::vector<std::uint64_t> delays;
    Options options(unsigned ncpus, unsigned mag_size, std::uint64_t delay)
    {
        Options o;
        o.ncpus = ncpus;
        o.mag_size = mag_size;
        o.trim_delay_ns = delay;
        o.schedule_trim = [this](std::uint64_t ns) { delays.push_back(ns); };
        return o;
    }
};

// Allocates n ranges of `size` on cpu and frees them all back on cpu.
void churn(Domain& d, unsigned cpu, std::uint64_t size, unsigned n)
{
    std::vector<std::uint64_t> pfns;
    for (unsigned i = 0; i < n; ++i) {
        pfns.push_back(Ok(d.alloc_fast(size, kLimit, cpu, false)));
    }
    for (std::uint64_t p : pfns) {
        ASSERT_EQ(d.free_fast(p, size, cpu), Status::ok);
    }
}

TEST(Depot, GrowsPastNcpusThenTrimsOneMagazinePerCall)
{
    TrimTimer timer;
    const unsigned ncpus = 2, mag = 4;
    Domain d(k4K, 1, timer.options(ncpus, mag, 12345));
    // 2 magazines stay with the CPU; every further `mag` frees push one
    // full magazine to the depot.
    const unsigned depot_target = 6;
    churn(d, 0, 1, 2 * mag + depot_target * mag);
    Stats s = d.stats();
    ASSERT_EQ(s.depot_mags, depot_target);
    EXPECT_EQ(s.depot_mags_per_class[0], depot_target);
    // The hook was asked once, when the depot first exceeded ncpus, with
    // the configured delay; further growth while pending asks nothing.
    ASSERT_EQ(timer.delays.size(), 1u);
    EXPECT_EQ(timer.delays[0], 12345u);

    for (unsigned expect = depot_target - 1; expect >= ncpus; --expect) {
        const std::size_t asked = timer.delays.size();
        d.trim_depot();
        s = d.stats();
        EXPECT_EQ(s.depot_mags, expect);
        EXPECT_EQ(s.depot_trims, depot_target - expect);
        // Re-scheduled exactly while the depot still exceeds ncpus.
        EXPECT_EQ(timer.delays.size(), asked + (expect > ncpus ? 1 : 0));
        ASSERT_TRUE(Consistent(d));
    }
    // At ncpus: a further run changes nothing and asks for nothing.
    const std::size_t asked = timer.delays.size();
    d.trim_depot();
    s = d.stats();
    EXPECT_EQ(s.depot_mags, ncpus);
    EXPECT_EQ(s.depot_trims, depot_target - ncpus);
    EXPECT_EQ(timer.delays.size(), asked);
    // Trimmed IOVAs went back to the tree; the rest are still cached.
    EXPECT_EQ(s.cached_pfns, (2 + ncpus) * mag);
    EXPECT_EQ(s.live_ranges, s.cached_pfns);
}

TEST(Depot, EachRunTrimsEveryOverfullClass)
{
    TrimTimer timer;
    Domain d(k4K, 1, timer.options(1, 2, 100));
    churn(d, 0, 1, 2 * 2 + 3 * 2);  // class 0: depot 3
    churn(d, 0, 8, 2 * 2 + 2 * 2);  // class 3: depot 2
    Stats s = d.stats();
    ASSERT_EQ(s.depot_mags_per_class[0], 3u);
    ASSERT_EQ(s.depot_mags_per_class[3], 2u);
    EXPECT_EQ(timer.delays.size(), 1u);
    d.trim_depot();
    s = d.stats();
    EXPECT_EQ(s.depot_mags_per_class[0], 2u);
    EXPECT_EQ(s.depot_mags_per_class[3], 1u);
    EXPECT_EQ(s.depot_trims, 2u);
    EXPECT_EQ(timer.delays.size(), 2u); // class 0 still above 1
    d.trim_depot();
    s = d.stats();
    EXPECT_EQ(s.depot_mags, 2u);
    EXPECT_EQ(s.depot_trims, 3u);
    EXPECT_EQ(timer.delays.size(), 2u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Depot, WithoutAHookTrimmingIsOnDemand)
{
    Options o;
    o.mag_size = 2;
    Domain d(k4K, 1, o);
    churn(d, 0, 1, 12); // 2 + 2 with the CPU, 4 magazines in the depot
    ASSERT_EQ(d.stats().depot_mags, 4u);
    d.trim_depot();
    d.trim_depot();
    d.trim_depot();
    d.trim_depot();
    EXPECT_EQ(d.stats().depot_mags, 1u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Depot, DepotMagazinesServeOtherCpus)
{
    Options o;
    o.ncpus = 2;
    o.mag_size = 3;
    Domain d(k4K, 1, o);
    churn(d, 0, 1, 9); // CPU 0: 3 + 3, depot: 1 magazine of 3
    ASSERT_EQ(d.stats().depot_mags, 1u);
    // CPU 1 has no magazines: its first alloc takes the depot's.
    ASSERT_TRUE(d.alloc_fast(1, kLimit, 1, false).ok());
    const Stats s = d.stats();
    EXPECT_EQ(s.depot_mags, 0u);
    EXPECT_EQ(s.rcache_hits, 1u);
    EXPECT_TRUE(Consistent(d));
}

} // namespace
} // namespace iova::test
