// SPDX-License-Identifier: GPL-2.0-or-later
//
// test_util.hpp - small helpers shared by the allocator's tests.
#pragma once

#include "iova/domain.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace iova {
// Lets GoogleTest print statuses and ranges readably.
inline void PrintTo(Status s, std::ostream* os)
{
    *os << to_string(s);
}
inline void PrintTo(const Range& r, std::ostream* os)
{
    *os << "[" << r.pfn_lo << ", " << r.pfn_hi << "]"
        << (r.reserved ? " reserved" : "");
}
} // namespace iova

namespace iova::test {

// 4 KiB granule: dma_32bit_pfn = 2^20.
inline constexpr std::uint64_t k4K = 4096;
// 16 MiB granule: dma_32bit_pfn = 256, so the 32-bit window is tiny and
// tests can fill it.
inline constexpr std::uint64_t k16M = std::uint64_t{1} << 24;

// True in ASan/TSan builds, where every operation is several times slower:
// long randomised tests default to fewer operations there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// Asserts check_invariants() and shows why it failed.
inline ::testing::AssertionResult Consistent(const Domain& d)
{
    std::string why;
    if (d.check_invariants(&why)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "invariant broken: " << why;
}

// Unwraps a Result that the test expects to succeed.
template <class T>
T Ok(const Result<T>& r)
{
    EXPECT_TRUE(r.ok()) << "status: " << to_string(r.status());
    return r.value_or(T{});
}

} // namespace iova::test
