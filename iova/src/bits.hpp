// SPDX-License-Identifier: GPL-2.0-or-later
//
// bits.hpp - power-of-two helpers shared by the allocator's source files.
//
// All quantities are pfns or pfn counts (granule units) unless a name says
// otherwise; callers guarantee the preconditions noted on each helper.
#pragma once

#include <bit>
#include <cstdint>

namespace iova::detail {

// Smallest power of two >= x, for 1 <= x <= 2^63.
constexpr std::uint64_t pow2_ceil(std::uint64_t x) noexcept
{
    return std::bit_ceil(x);
}

// ceil(log2(x)) for x >= 1: the size class of an rcache request, as Linux's
// order_base_2().  1 -> 0, 2 -> 1, 3..4 -> 2, 5..8 -> 3, ...
constexpr unsigned order_ceil(std::uint64_t x) noexcept
{
    return x <= 1 ? 0u : static_cast<unsigned>(std::bit_width(x - 1));
}

// floor(log2(x)) for x >= 1.
constexpr unsigned order_floor(std::uint64_t x) noexcept
{
    return static_cast<unsigned>(std::bit_width(x)) - 1u;
}

// x rounded down / up to a multiple of `align`, a power of two.  align_up
// must not overflow: callers only use it on pfns below 2^53.
constexpr std::uint64_t align_down(std::uint64_t x, std::uint64_t align) noexcept
{
    return x & ~(align - 1);
}

constexpr std::uint64_t align_up(std::uint64_t x, std::uint64_t align) noexcept
{
    return (x + align - 1) & ~(align - 1);
}

} // namespace iova::detail
