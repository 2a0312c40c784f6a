// SPDX-License-Identifier: GPL-2.0-or-later
//
// slow_path_test.cpp - alloc/free/find of the tree, their edges and the
// max32_alloc_size fast failure.
#include "test_util.hpp"

#include <stdexcept>

namespace iova::test {
namespace {

TEST(DomainConfig, RejectsBadArguments)
{
    EXPECT_EQ(Domain::validate(4096, 1, {}), Status::ok);
    EXPECT_EQ(Domain::validate(2048, 1, {}), Status::invalid); // < 4 KiB
    EXPECT_EQ(Domain::validate(4096 + 4096 / 2, 1, {}), Status::invalid);
    EXPECT_EQ(Domain::validate(4096, 0, {}), Status::invalid); // start 0
    EXPECT_EQ(Domain::validate(4096, std::uint64_t{1} << 52, {}),
              Status::invalid); // start above max_pfn
    Options o;
    o.ncpus = 0;
    EXPECT_EQ(Domain::validate(4096, 1, o), Status::invalid);
    o = {};
    o.mag_size = 0;
    EXPECT_EQ(Domain::validate(4096, 1, o), Status::invalid);
    o = {};
    o.max_cached_size = 24; // not a power of two
    EXPECT_EQ(Domain::validate(4096, 1, o), Status::invalid);
    EXPECT_THROW(Domain(4096, 0), std::invalid_argument);
}

TEST(DomainConfig, DerivesLimitsFromGranule)
{
    Domain d4k(k4K, 1);
    EXPECT_EQ(d4k.dma_32bit_pfn(), std::uint64_t{1} << 20);
    EXPECT_EQ(d4k.max_pfn(), (std::uint64_t{1} << 52) - 1);
    Domain d64k(64 * 1024, 1);
    EXPECT_EQ(d64k.dma_32bit_pfn(), std::uint64_t{1} << 16);
    EXPECT_EQ(d64k.max_pfn(), (std::uint64_t{1} << 48) - 1);
    EXPECT_EQ(d4k.size_classes(), 6u); // 1, 2, 4, 8, 16, 32 granules
}

TEST(SlowPath, AllocatesTopDownBelowTheLimit)
{
    Domain d(k4K, 1);
    const std::uint64_t limit = 1000;
    EXPECT_EQ(Ok(d.alloc(1, limit, false)), limit);
    EXPECT_EQ(Ok(d.alloc(1, limit, false)), limit - 1);
    // Unaligned: ends right below the previous range.
    EXPECT_EQ(Ok(d.alloc(3, limit, false)), limit - 4);
    // Aligned: 3 granules aligned to 4, highest multiple of 4 that fits
    // below pfn 996 is 992 (992..994).
    EXPECT_EQ(Ok(d.alloc(3, limit, true)), 992u);
    EXPECT_EQ(Ok(d.find(993)), (Range{992, 994, false}));
    EXPECT_TRUE(Consistent(d));
}

TEST(SlowPath, RejectsImpossibleSizes)
{
    Domain d(k4K, 1);
    EXPECT_EQ(d.alloc(0, 1000, false).status(), Status::invalid);
    EXPECT_EQ(d.alloc(d.max_pfn() + 1, d.max_pfn(), false).status(),
              Status::invalid); // larger than the whole space
    // As large as the whole space: fits exactly once.
    EXPECT_EQ(Ok(d.alloc(d.max_pfn(), d.max_pfn(), false)), 1u);
    EXPECT_EQ(d.alloc(1, d.max_pfn(), false).status(), Status::no_space);
    EXPECT_TRUE(Consistent(d));
}

TEST(SlowPath, LimitsBelowStartOrTooLowFail)
{
    Domain d(k4K, 16);
    EXPECT_EQ(d.alloc(1, 0, false).status(), Status::no_space);
    EXPECT_EQ(d.alloc(1, 15, false).status(), Status::no_space);
    EXPECT_EQ(d.alloc(4, 18, false).status(), Status::no_space); // 16..19 > 18
    EXPECT_EQ(Ok(d.alloc(3, 18, false)), 16u);
    EXPECT_EQ(d.stats().live_ranges, 1u);
}

TEST(SlowPath, LimitAboveTheSpaceIsClipped)
{
    Domain d(k4K, 1);
    EXPECT_EQ(Ok(d.alloc(1, UINT64_MAX, false)), d.max_pfn());
    // Highest even pfn whose pair ends below max_pfn (taken): max_pfn - 3.
    EXPECT_EQ(Ok(d.alloc(2, UINT64_MAX, true)), d.max_pfn() - 3);
}

TEST(SlowPath, FindAndFree)
{
    Domain d(k4K, 1);
    const std::uint64_t lo = Ok(d.alloc(8, 4095, true));
    EXPECT_EQ(lo, 4088u);
    EXPECT_EQ(Ok(d.find(lo + 5)), (Range{lo, lo + 7, false}));
    EXPECT_EQ(d.find(lo - 1).status(), Status::not_found);
    // Freeing through any pfn of the range frees all of it (as Linux).
    EXPECT_EQ(Ok(d.free(lo + 3)), (Range{lo, lo + 7, false}));
    EXPECT_EQ(d.find(lo).status(), Status::not_found);
    const Stats s = d.stats();
    EXPECT_EQ(s.live_ranges, 0u);
    EXPECT_EQ(s.live_pfns, 0u);
    EXPECT_TRUE(Consistent(d));
}

TEST(SlowPath, DoubleFreeAndUnknownPfnAreReported)
{
    Domain d(k4K, 1);
    const std::uint64_t a = Ok(d.alloc(2, 100, false));
    const std::uint64_t b = Ok(d.alloc(2, 100, false));
    EXPECT_TRUE(d.free(a).ok());
    EXPECT_EQ(d.free(a).status(), Status::not_found);
    EXPECT_EQ(d.free(12345).status(), Status::not_found);
    EXPECT_EQ(d.free(d.max_pfn() + 1).status(), Status::not_found); // anchor
    // b is untouched.
    EXPECT_EQ(Ok(d.find(b)), (Range{b, b + 1, false}));
    EXPECT_EQ(d.stats().live_ranges, 1u);
    EXPECT_TRUE(Consistent(d));
}

TEST(SlowPath, ExhaustionAndReuse)
{
    Domain d(k4K, 1);
    const std::uint64_t limit = 64;
    for (std::uint64_t i = 0; i < limit; ++i) {
        ASSERT_EQ(Ok(d.alloc(1, limit, false)), limit - i);
    }
    EXPECT_EQ(d.alloc(1, limit, false).status(), Status::no_space);
    ASSERT_TRUE(d.free(17).ok());
    ASSERT_TRUE(d.free(40).ok());
    // Top-down: the highest hole first.
    EXPECT_EQ(Ok(d.alloc(1, limit, false)), 40u);
    EXPECT_EQ(Ok(d.alloc(1, limit, false)), 17u);
    EXPECT_EQ(d.alloc(1, limit, false).status(), Status::no_space);
    EXPECT_EQ(d.stats().live_pfns, limit);
    EXPECT_TRUE(Consistent(d));
}

TEST(SlowPath, PicksTheHighestHoleThatFits)
{
    Domain d(k4K, 1);
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(d.alloc(1, 100, false).ok());
    }
    // Holes: [90,91] (2), [60,64] (5), [20,22] (3).
    for (std::uint64_t p : {90, 91, 60, 61, 62, 63, 64, 20, 21, 22}) {
        ASSERT_TRUE(d.free(p).ok());
    }
    EXPECT_EQ(Ok(d.alloc(3, 100, false)), 62u); // top of the 5-hole
    EXPECT_EQ(Ok(d.alloc(2, 100, false)), 90u);
    EXPECT_EQ(Ok(d.alloc(2, 100, false)), 60u);
    EXPECT_EQ(Ok(d.alloc(3, 100, false)), 20u);
    EXPECT_EQ(d.alloc(1, 100, false).status(), Status::no_space);
    EXPECT_TRUE(Consistent(d));
}

TEST(Max32, FailsFastUntilSomethingBelow4GiBIsFreed)
{
    Domain d(k16M, 1); // 32-bit window: pfns 1..255
    const std::uint64_t lim32 = d.dma_32bit_pfn() - 1;
    std::uint64_t first = 0;
    for (std::uint64_t i = 0; i < lim32; ++i) {
        first = Ok(d.alloc(1, lim32, false));
    }
    EXPECT_EQ(first, 1u);
    // The first failure searches and records the size...
    EXPECT_EQ(d.alloc(1, lim32, false).status(), Status::no_space);
    EXPECT_EQ(d.stats().max32_fast_fails, 0u);
    // ...later 32-bit requests of that size or more fail without a search.
    EXPECT_EQ(d.alloc(1, lim32, false).status(), Status::no_space);
    EXPECT_EQ(d.alloc(7, 100, true).status(), Status::no_space);
    EXPECT_EQ(d.stats().max32_fast_fails, 2u);
    // Requests above 4 GiB are not affected.
    EXPECT_TRUE(d.alloc(1, 1000, false).ok());
    // Freeing above 4 GiB does not reset it.
    ASSERT_TRUE(d.free(1000).ok());
    EXPECT_EQ(d.alloc(1, lim32, false).status(), Status::no_space);
    EXPECT_EQ(d.stats().max32_fast_fails, 3u);
    // Freeing below 4 GiB does, and the hole is found.
    ASSERT_TRUE(d.free(77).ok());
    EXPECT_EQ(Ok(d.alloc(1, lim32, false)), 77u);
    EXPECT_EQ(d.stats().max32_fast_fails, 3u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Max32, NeverRefusesARequestThatFits)
{
    Domain d(k16M, 1);
    const std::uint64_t lim32 = d.dma_32bit_pfn() - 1;
    // Fill 1..100; a request limited to 50 fails, but only below 50: that
    // failure must not stop a request with the full 32-bit limit (Linux
    // would refuse it until the next free).
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(d.alloc(1, 100, false).ok());
    }
    EXPECT_EQ(d.alloc(1, 50, false).status(), Status::no_space);
    EXPECT_EQ(Ok(d.alloc(1, lim32, false)), lim32);

    // An aligned failure does not stop an unaligned request of that size.
    Domain e(k16M, 1);
    for (std::uint64_t p = 1; p <= lim32; ++p) {
        ASSERT_TRUE(e.alloc(1, lim32, false).ok());
    }
    // Leave one hole of 3 granules at 5..7: misaligned for size 3 / align 4.
    for (std::uint64_t p : {5, 6, 7}) {
        ASSERT_TRUE(e.free(p).ok());
    }
    EXPECT_EQ(e.alloc(3, lim32, true).status(), Status::no_space);
    EXPECT_EQ(Ok(e.alloc(3, lim32, false)), 5u);
    EXPECT_EQ(e.stats().max32_fast_fails, 0u);
    EXPECT_TRUE(Consistent(e));
}

} // namespace
} // namespace iova::test
