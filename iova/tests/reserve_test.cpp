// SPDX-License-Identifier: GPL-2.0-or-later
//
// reserve_test.cpp - reserve(): merging, conflicts and what alloc avoids.
#include "test_util.hpp"

namespace iova::test {
namespace {

TEST(Reserve, ReservedPfnsAreNeverAllocated)
{
    Domain d(k4K, 1);
    ASSERT_TRUE(d.reserve(10, 19).ok());
    ASSERT_TRUE(d.reserve(40, 40).ok());
    std::uint64_t got = 0;
    for (;;) {
        const auto r = d.alloc(1, 50, false);
        if (!r.ok()) {
            EXPECT_EQ(r.status(), Status::no_space);
            break;
        }
        EXPECT_FALSE(*r >= 10 && *r <= 19);
        EXPECT_NE(*r, 40u);
        ++got;
    }
    EXPECT_EQ(got, 50u - 11u);
    const Stats s = d.stats();
    EXPECT_EQ(s.reserved_ranges, 2u);
    EXPECT_EQ(s.live_ranges, got + 2);
    EXPECT_EQ(s.live_pfns, 50u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Reserve, OverlappingReservationsMergeIntoOne)
{
    Domain d(k4K, 1);
    EXPECT_EQ(Ok(d.reserve(10, 20)), (Range{10, 20, true}));
    EXPECT_EQ(Ok(d.reserve(15, 30)), (Range{10, 30, true}));
    EXPECT_EQ(Ok(d.reserve(50, 60)), (Range{50, 60, true}));
    EXPECT_EQ(Ok(d.reserve(70, 80)), (Range{70, 80, true}));
    // One reservation bridging three merges them all.
    EXPECT_EQ(Ok(d.reserve(25, 75)), (Range{10, 80, true}));
    EXPECT_EQ(d.stats().reserved_ranges, 1u);
    EXPECT_EQ(d.stats().live_pfns, 71u);
    // Inside an existing reservation: nothing changes.
    EXPECT_EQ(Ok(d.reserve(12, 13)), (Range{10, 80, true}));
    EXPECT_EQ(d.stats().reserved_ranges, 1u);
    // Touching but not overlapping: a separate range (as Linux).
    EXPECT_EQ(Ok(d.reserve(81, 81)), (Range{81, 81, true}));
    EXPECT_EQ(d.stats().reserved_ranges, 2u);
    EXPECT_TRUE(Consistent(d));
}

TEST(Reserve, OverlappingAnAllocatedRangeIsRefused)
{
    Domain d(k4K, 1);
    const std::uint64_t a = Ok(d.alloc(4, 100, true)); // 96..99
    ASSERT_TRUE(d.reserve(80, 90).ok());
    const Stats before = d.stats();
    EXPECT_EQ(d.reserve(a + 2, a + 10).status(), Status::exists);
    // Also when it would first merge with a reservation.
    EXPECT_EQ(d.reserve(85, a).status(), Status::exists);
    const Stats after = d.stats();
    EXPECT_EQ(after.live_ranges, before.live_ranges);
    EXPECT_EQ(after.live_pfns, before.live_pfns);
    EXPECT_EQ(Ok(d.find(85)), (Range{80, 90, true}));
    EXPECT_EQ(Ok(d.find(a)), (Range{a, a + 3, false}));
    EXPECT_TRUE(Consistent(d));
}

TEST(Reserve, RejectsInvertedOrOutOfSpaceRanges)
{
    Domain d(k4K, 1);
    EXPECT_EQ(d.reserve(20, 10).status(), Status::invalid);
    EXPECT_EQ(d.reserve(5, d.max_pfn() + 1).status(), Status::invalid);
    EXPECT_TRUE(d.reserve(d.max_pfn(), d.max_pfn()).ok());
    EXPECT_EQ(d.stats().reserved_ranges, 1u);
}

TEST(Reserve, BelowStartPfnIsAllowedAndHarmless)
{
    Domain d(k4K, 100);
    EXPECT_EQ(Ok(d.reserve(0, 150)), (Range{0, 150, true}));
    EXPECT_EQ(Ok(d.find(0)), (Range{0, 150, true}));
    EXPECT_EQ(Ok(d.alloc(1, 151, false)), 151u);
    EXPECT_EQ(d.alloc(1, 151, false).status(), Status::no_space);
    EXPECT_TRUE(Consistent(d));
}

TEST(Reserve, ReservedRangesCanBeFreed)
{
    // As Linux's free_iova(): a reservation is a range like any other, so
    // a guest-chosen (MAP_FIXED) IOVA can be released by its unmap.
    Domain d(k4K, 1);
    ASSERT_TRUE(d.reserve(10, 20).ok());
    EXPECT_EQ(Ok(d.free(15)), (Range{10, 20, true}));
    EXPECT_EQ(d.stats().reserved_ranges, 0u);
    EXPECT_EQ(Ok(d.alloc(11, 20, false)), 10u);
    EXPECT_TRUE(Consistent(d));
}

} // namespace
} // namespace iova::test
