// SPDX-License-Identifier: GPL-2.0-or-later
//
// lifetime_test.cpp - destruction returns every magazine, even with a trim
// pending, and never calls the trim hook.
#include "test_util.hpp"

#include <memory>
#include <vector>

namespace iova::test {
namespace {

constexpr std::uint64_t kLimit = (std::uint64_t{1} << 20) - 1;

TEST(Lifetime, DestructionWithATrimPendingLeaksNothing)
{
    const std::int64_t baseline = live_magazines();
    int hook_calls = 0;
    {
        Options o;
        o.ncpus = 2;
        o.mag_size = 4;
        o.schedule_trim = [&hook_calls](std::uint64_t) { ++hook_calls; };
        auto d = std::make_unique<Domain>(k4K, 1, o);
        std::vector<std::uint64_t> pfns;
        for (unsigned cpu = 0; cpu < 2; ++cpu) {
            for (int i = 0; i < 40; ++i) {
                pfns.push_back(Ok(d->alloc_fast(1 + i % 8, kLimit, cpu, false)));
            }
        }
        for (std::size_t i = 0; i < pfns.size(); ++i) {
            ASSERT_EQ(d->free_fast(pfns[i], 1 + i % 8, (i / 40) % 2),
                      Status::ok);
        }
        ASSERT_TRUE(d->alloc(5, kLimit, false).ok()); // a tree-only range
        ASSERT_TRUE(d->reserve(10, 20).ok());

        const Stats s = d->stats();
        ASSERT_EQ(hook_calls, 1); // a trim is pending: the timer never ran
        ASSERT_GT(s.depot_mags, 2u * o.ncpus);
        // Counters balance before destruction: every magazine the domain
        // counts is one the process counts, and every cached pfn is a live
        // range.
        EXPECT_EQ(s.mags_reachable, s.mags_live);
        EXPECT_EQ(static_cast<std::int64_t>(s.mags_live),
                  live_magazines() - baseline);
        EXPECT_EQ(s.cached_pfns, pfns.size());
        EXPECT_EQ(s.live_ranges, pfns.size() + 2);
        EXPECT_TRUE(Consistent(*d));
        d.reset(); // the caller would have cancelled its timer first
    }
    EXPECT_EQ(live_magazines(), baseline);
    EXPECT_EQ(hook_calls, 1); // not called during destruction
}

TEST(Lifetime, FlushedDomainHoldsNoMagazines)
{
    const std::int64_t baseline = live_magazines();
    Options o;
    o.ncpus = 3;
    o.mag_size = 2;
    Domain d(k4K, 1, o);
    std::vector<std::uint64_t> pfns;
    for (int i = 0; i < 30; ++i) {
        pfns.push_back(Ok(d.alloc_fast(1, kLimit, i % 3, false)));
    }
    for (int i = 0; i < 30; ++i) {
        ASSERT_EQ(d.free_fast(pfns[i], 1, i % 3), Status::ok);
    }
    EXPECT_GT(live_magazines(), baseline);
    d.flush_rcaches();
    const Stats s = d.stats();
    EXPECT_EQ(s.mags_live, 0u);
    EXPECT_EQ(s.mags_allocated, s.mags_freed);
    EXPECT_EQ(s.cached_pfns, 0u);
    EXPECT_EQ(s.live_ranges, 0u);
    EXPECT_EQ(live_magazines(), baseline);
    EXPECT_TRUE(Consistent(d));
}

} // namespace
} // namespace iova::test
