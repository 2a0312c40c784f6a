// SPDX-License-Identifier: GPL-2.0-or-later
//
// rcache_test.cpp - alloc_fast/free_fast: rounding, hits and misses, the
// limit check, cpu_dead and flush-and-retry.
#include "test_util.hpp"

#include <set>
#include <vector>

namespace iova::test {
namespace {

constexpr std::uint64_t kLimit = (std::uint64_t{1} << 20) - 1;

Options cpus(unsigned n, unsigned mag_size = 127)
{
    Options o;
    o.ncpus = n;
    o.mag_size = mag_size;
    return o;
}

TEST(Rcache, RoundsCacheableSizesUpAndAligns)
{
    Domain d(k4K, 1);
    const std::uint64_t p = Ok(d.alloc_fast(3, kLimit, 0, false));
    EXPECT_EQ(p % 4, 0u);
    EXPECT_EQ(Ok(d.find(p)), (Range{p, p + 3, false})); // 4 granules
    // Above max_cached_size (32): not rounded, but still size-aligned.
    const std::uint64_t q = Ok(d.alloc_fast(33, kLimit, 0, false));
    EXPECT_EQ(q % 64, 0u);
    EXPECT_EQ(Ok(d.find(q)), (Range{q, q + 32, false}));
    EXPECT_TRUE(Consistent(d));
}

TEST(Rcache, HitAfterFreeOnTheSameCpuAndCountsPerClass)
{
    Domain d(k4K, 1, cpus(2));
    const std::uint64_t p = Ok(d.alloc_fast(2, kLimit, 0, false));
    ASSERT_EQ(d.free_fast(p, 2, 0), Status::ok);
    EXPECT_EQ(Ok(d.find(p)).pfn_hi, p + 1); // still allocated in the tree
    Stats s = d.stats();
    EXPECT_EQ(s.cached_pfns, 1u);
    EXPECT_EQ(s.mags_live, 1u); // created lazily on the first free
    // Another CPU does not see CPU 0's magazine.
    const std::uint64_t other = Ok(d.alloc_fast(2, kLimit, 1, false));
    EXPECT_NE(other, p);
    EXPECT_EQ(Ok(d.alloc_fast(2, kLimit, 0, false)), p);
    s = d.stats();
    EXPECT_EQ(s.rcache_hits, 1u);
    EXPECT_EQ(s.rcache_misses, 2u);
    EXPECT_EQ(s.hits_per_class[1], 1u);
    EXPECT_EQ(s.misses_per_class[1], 2u);
    EXPECT_EQ(s.misses_per_class[0], 0u);
    EXPECT_EQ(s.cached_pfns, 0u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Rcache, NeverReturnsACachedRangeAboveTheLimit)
{
    Domain d(k4K, 1);
    const std::uint64_t high = Ok(d.alloc_fast(1, 5000, 0, false));
    const std::uint64_t low = Ok(d.alloc_fast(1, 1000, 0, false));
    ASSERT_EQ(high, 5000u);
    ASSERT_EQ(low, 1000u);
    ASSERT_EQ(d.free_fast(low, 1, 0), Status::ok);
    ASSERT_EQ(d.free_fast(high, 1, 0), Status::ok); // on top of the magazine
    // The top entry (5000) is above the limit: the one below is used.
    EXPECT_EQ(Ok(d.alloc_fast(1, 2000, 0, false)), low);
    // Nothing cached fits now: a miss, served by the tree below the limit.
    EXPECT_EQ(Ok(d.alloc_fast(1, 2000, 0, false)), 2000u);
    // A 2-granule class range must end at or below the limit, not start.
    const std::uint64_t two = Ok(d.alloc_fast(2, 3001, 0, false));
    ASSERT_EQ(two, 3000u);
    ASSERT_EQ(d.free_fast(two, 2, 0), Status::ok);
    EXPECT_NE(Ok(d.alloc_fast(2, 3000, 0, false)), two);
    const Stats s = d.stats();
    EXPECT_EQ(s.rcache_hits, 1u);
    EXPECT_EQ(s.cached_pfns, 2u); // 5000 and 3000 still cached
    EXPECT_TRUE(Consistent(d));
}

TEST(Rcache, LargeSizesBypassTheCache)
{
    Options o;
    o.max_cached_size = 4;
    Domain d(k4K, 1, o);
    EXPECT_EQ(d.size_classes(), 3u);
    const std::uint64_t p = Ok(d.alloc_fast(8, kLimit, 0, false));
    ASSERT_EQ(d.free_fast(p, 8, 0), Status::ok);
    EXPECT_EQ(d.find(p).status(), Status::not_found); // back in the tree
    const Stats s = d.stats();
    EXPECT_EQ(s.cached_pfns, 0u);
    EXPECT_EQ(s.rcache_misses, 0u); // not a cacheable request at all
    EXPECT_EQ(d.free_fast(p, 8, 0), Status::not_found); // double free seen
}

TEST(Rcache, RejectsBadArguments)
{
    Domain d(k4K, 1, cpus(2));
    EXPECT_EQ(d.alloc_fast(0, kLimit, 0, false).status(), Status::invalid);
    EXPECT_EQ(d.alloc_fast(1, kLimit, 2, false).status(), Status::invalid);
    const std::uint64_t p = Ok(d.alloc_fast(4, kLimit, 0, false));
    EXPECT_EQ(d.free_fast(p, 0, 0), Status::invalid);
    EXPECT_EQ(d.free_fast(p, 4, 2), Status::invalid);
    EXPECT_EQ(d.free_fast(p + 1, 4, 0), Status::invalid); // not aligned
    EXPECT_EQ(d.free_fast(0, 1, 0), Status::invalid);     // below start
    EXPECT_EQ(d.stats().cached_pfns, 0u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Rcache, CpuDeadReturnsExactlyThatCpusIovas)
{
    Domain d(k4K, 1, cpus(3, 8));
    std::vector<std::uint64_t> mine, theirs;
    for (int i = 0; i < 12; ++i) { // 12 > 8: uses loaded and prev
        mine.push_back(Ok(d.alloc_fast(1, kLimit, 0, false)));
        theirs.push_back(Ok(d.alloc_fast(4, kLimit, 1, false)));
    }
    for (int i = 0; i < 12; ++i) {
        ASSERT_EQ(d.free_fast(mine[i], 1, 0), Status::ok);
        ASSERT_EQ(d.free_fast(theirs[i], 4, 1), Status::ok);
    }
    const Stats before = d.stats();
    EXPECT_EQ(before.cached_pfns, 24u);
    d.cpu_dead(0);
    for (std::uint64_t p : mine) {
        EXPECT_EQ(d.find(p).status(), Status::not_found);
    }
    for (std::uint64_t p : theirs) {
        EXPECT_TRUE(d.find(p).ok());
    }
    const Stats after = d.stats();
    EXPECT_EQ(after.cached_pfns, 12u);
    EXPECT_EQ(after.cpu_flushes, 1u);
    EXPECT_EQ(after.live_ranges, before.live_ranges - 12);
    EXPECT_EQ(after.mags_live, before.mags_live - 2);
    d.cpu_dead(0); // nothing left: not counted
    d.cpu_dead(2); // never used
    d.cpu_dead(7); // no such CPU: ignored
    EXPECT_EQ(d.stats().cpu_flushes, 1u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Rcache, FlushAndRetryWhenCachesHoldTheSpace)
{
    Domain d(k4K, 1, cpus(2));
    const std::uint64_t limit = 64;
    std::vector<std::uint64_t> pfns;
    for (std::uint64_t i = 0; i < limit; ++i) {
        pfns.push_back(Ok(d.alloc_fast(1, limit, 0, false)));
    }
    for (std::uint64_t p : pfns) {
        ASSERT_EQ(d.free_fast(p, 1, 1), Status::ok); // all cached on CPU 1
    }
    // CPU 0 wants 2 granules: its caches are empty and the tree is full.
    EXPECT_EQ(d.alloc_fast(2, limit, 0, false).status(), Status::no_space);
    EXPECT_EQ(d.stats().rcache_flushes, 0u);
    const std::uint64_t got = Ok(d.alloc_fast(2, limit, 0, true));
    // Top-down after everything came back: the highest even pfn whose
    // pair ends at or below the limit.
    EXPECT_EQ(got, limit - 2);
    const Stats s = d.stats();
    EXPECT_EQ(s.rcache_flushes, 1u);
    EXPECT_EQ(s.cached_pfns, 0u);
    EXPECT_EQ(s.live_ranges, 1u);
    EXPECT_EQ(s.mags_live, 0u);
    // When even the retry fails, exactly one flush happens.
    for (std::uint64_t i = 0; i < limit - 2; ++i) {
        ASSERT_TRUE(d.alloc_fast(1, limit, 0, true).ok());
    }
    EXPECT_EQ(d.alloc_fast(1, limit, 0, true).status(), Status::no_space);
    EXPECT_EQ(d.stats().rcache_flushes, 2u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Rcache, MagazineSizeIsHonoured)
{
    Domain d(k4K, 1, cpus(1, 5));
    std::vector<std::uint64_t> pfns;
    for (int i = 0; i < 11; ++i) {
        pfns.push_back(Ok(d.alloc_fast(1, kLimit, 0, false)));
    }
    for (std::uint64_t p : pfns) {
        ASSERT_EQ(d.free_fast(p, 1, 0), Status::ok);
    }
    // 5 in one magazine, 5 in the other, the 11th needs a third: the full
    // loaded one moves to the depot.
    const Stats s = d.stats();
    EXPECT_EQ(s.depot_mags, 1u);
    EXPECT_EQ(s.mags_live, 3u);
    EXPECT_EQ(s.mags_reachable, 3u); // 2 loaded/prev + 1 in the depot
    EXPECT_EQ(s.cached_pfns, 11u);
    // Everything comes back as hits, in some order, each exactly once.
    std::set<std::uint64_t> back;
    for (int i = 0; i < 11; ++i) {
        back.insert(Ok(d.alloc_fast(1, kLimit, 0, false)));
    }
    EXPECT_EQ(back, std::set<std::uint64_t>(pfns.begin(), pfns.end()));
    EXPECT_EQ(d.stats().rcache_hits, 11u);
    EXPECT_EQ(d.stats().depot_mags, 0u);
    EXPECT_TRUE(Consistent(d));
}

} // namespace
} // namespace iova::test
