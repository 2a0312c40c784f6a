// SPDX-License-Identifier: GPL-2.0-or-later
//
// aligned_search_test.cpp - the O(log n) search must return exactly the
// pfn a plain top-down scan returns, alignment included.
#include "test_util.hpp"

#include <bit>
#include <optional>
#include <random>
#include <vector>

namespace iova::test {
namespace {

// Brute force over a bitmap of the window [start, busy.size() - 1].
std::optional<std::uint64_t> scan_top_down(const std::vector<bool>& busy,
                                           std::uint64_t start,
                                           std::uint64_t size,
                                           std::uint64_t limit, bool aligned)
{
    const std::uint64_t align = aligned ? std::bit_ceil(size) : 1;
    if (limit + 1 < size) {
        return std::nullopt;
    }
    for (std::uint64_t p = (limit + 1 - size) / align * align;; p -= align) {
        if (p < start) {
            return std::nullopt;
        }
        bool free = true;
        for (std::uint64_t i = p; i < p + size && free; ++i) {
            free = !busy[i];
        }
        if (free) {
            return p;
        }
        if (p < align) {
            return std::nullopt;
        }
    }
}

TEST(AlignedSearch, SkipsManyMisalignedHolesExactly)
{
    // Holes of 4 granules at 2 mod 4 can hold 3 unaligned granules but
    // not 3 aligned to 4.  Put many of them above the only hole that fits
    // and check the answer (the search must not be fooled by their length).
    Domain d(k4K, 1);
    const std::uint64_t top = 8192;
    for (std::uint64_t i = 0; i < top; ++i) {
        ASSERT_TRUE(d.alloc(1, top, false).ok());
    }
    for (std::uint64_t base = 4002; base + 3 < top; base += 16) {
        for (std::uint64_t p = base; p < base + 4; ++p) {
            ASSERT_TRUE(d.free(p).ok());
        }
    }
    for (std::uint64_t p = 1000; p < 1004; ++p) { // aligned hole
        ASSERT_TRUE(d.free(p).ok());
    }
    EXPECT_TRUE(Consistent(d));
    EXPECT_EQ(Ok(d.alloc(3, top, true)), 1000u);
    // Unaligned, the highest misaligned hole is used: the last base below
    // top - 3 is 4002 + 16 * k.
    const std::uint64_t last_base = 4002 + (top - 4 - 4002) / 16 * 16;
    EXPECT_EQ(Ok(d.alloc(3, top, false)), last_base + 1);
    EXPECT_TRUE(Consistent(d));
}

TEST(AlignedSearch, RandomisedAgainstBruteForce)
{
    const std::uint64_t start = 3, window = 700;
    std::mt19937_64 rng(12345);
    Domain d(k16M, start); // 32-bit window 1..255 inside ours: max32 too
    std::vector<bool> busy(window + 1, false);
    std::vector<Range> live;
    for (int step = 0; step < 40000; ++step) {
        SCOPED_TRACE("step " + std::to_string(step));
        const unsigned op = rng() % 10;
        if (op < 6) {
            const std::uint64_t size = 1 + rng() % (rng() % 4 == 0 ? 40 : 6);
            const std::uint64_t limit = rng() % (window + 1);
            const bool aligned = rng() % 2;
            const auto expect = scan_top_down(busy, start, size, limit, aligned);
            const auto got = d.alloc(size, limit, aligned);
            ASSERT_EQ(got.ok(), expect.has_value())
                << "size " << size << " limit " << limit << " aligned "
                << aligned;
            if (expect) {
                ASSERT_EQ(*got, *expect);
                for (std::uint64_t i = *expect; i < *expect + size; ++i) {
                    busy[i] = true;
                }
                live.push_back({*expect, *expect + size - 1, false});
            }
        } else if (op < 9 && !live.empty()) {
            const std::size_t i = rng() % live.size();
            ASSERT_EQ(Ok(d.free(live[i].pfn_lo)), live[i]);
            for (std::uint64_t p = live[i].pfn_lo; p <= live[i].pfn_hi; ++p) {
                busy[p] = false;
            }
            live[i] = live.back();
            live.pop_back();
        } else {
            // A small reservation where everything is free.
            const std::uint64_t lo = rng() % window, hi = lo + rng() % 3;
            bool free = hi <= window;
            for (std::uint64_t p = lo; free && p <= hi; ++p) {
                free = !busy[p];
            }
            if (free) {
                ASSERT_TRUE(d.reserve(lo, hi).ok());
                for (std::uint64_t p = lo; p <= hi; ++p) {
                    busy[p] = true;
                }
                live.push_back({lo, hi, true});
            }
        }
        if (step % 500 == 0) {
            ASSERT_TRUE(Consistent(d));
        }
    }
    ASSERT_TRUE(Consistent(d));
}

} // namespace
} // namespace iova::test

namespace iova::test {
namespace {

// Deep trees: many rotations, erasures of nodes with two children, and
// fix-ups that stop early; the augmentation and the gap index must stay
// exact (check_invariants recomputes both from scratch).
TEST(TreeStress, DeepTreesStayConsistent)
{
    std::mt19937_64 rng(2024);
    Domain d(k4K, 1);
    std::vector<std::uint64_t> live;
    const std::uint64_t limit = 1 << 18;
    for (int step = 0; step < 40000; ++step) {
        const bool grow = live.size() < 5000 && (live.empty() || rng() % 3 != 0);
        if (grow) {
            const std::uint64_t size = 1 + rng() % (rng() % 8 ? 3 : 64);
            const auto r = d.alloc(size, rng() % limit, rng() % 2);
            if (r.ok()) {
                live.push_back(*r);
            }
        } else {
            const std::size_t i = rng() % live.size();
            ASSERT_TRUE(d.free(live[i]).ok());
            live[i] = live.back();
            live.pop_back();
        }
        if (step % 250 == 249) {
            ASSERT_TRUE(Consistent(d)) << "step " << step;
        }
    }
    EXPECT_EQ(d.stats().live_ranges, live.size());
}

} // namespace
} // namespace iova::test
