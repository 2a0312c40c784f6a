// SPDX-License-Identifier: GPL-2.0-or-later
//
// magazine.cpp - magazine construction and the process-wide live count.
#include "magazine.hpp"

#include "iova/domain.hpp"

#include <atomic>

namespace iova {
namespace {
std::atomic<std::int64_t> g_live_magazines{0};
} // namespace

std::int64_t live_magazines() noexcept
{
    return g_live_magazines.load(std::memory_order_relaxed);
}

namespace detail {

Magazine::Magazine(unsigned capacity)
    : lines_(std::make_unique_for_overwrite<Line[]>((capacity + 7) / 8)),
      capacity_(capacity)
{
    g_live_magazines.fetch_add(1, std::memory_order_relaxed);
}

Magazine::~Magazine()
{
    g_live_magazines.fetch_sub(1, std::memory_order_relaxed);
}

} // namespace detail
} // namespace iova
