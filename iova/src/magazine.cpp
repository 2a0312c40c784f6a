// SPDX-License-Identifier: GPL-2.0-or-later
//
// magazine.cpp - magazine construction and the process-wide live count.
#include "magazine.hpp"

#include "iova/domain.hpp"

#include <atomic>
#include <memory>

namespace iova {
namespace {
std::atomic<std::int64_t> g_live_magazines{0};
} // namespace

std::int64_t live_magazines() noexcept
{
    return g_live_magazines.load(std::memory_order_relaxed);
}

namespace detail {

MagazinePtr Magazine::make(unsigned capacity)
{
    std::allocator<Line> lines;
    // The Lines' storage, from an aligned allocation; the header is
    // created in the first line and the pfns, plain integers, need no
    // construction.
    Line* const p = lines.allocate(lines_for(capacity));
    return MagazinePtr(std::construct_at(reinterpret_cast<Magazine*>(p),
                                         Key{}, capacity));
}

Magazine::Magazine(Key, unsigned capacity) noexcept : capacity_(capacity)
{
    g_live_magazines.fetch_add(1, std::memory_order_relaxed);
}

Magazine::~Magazine()
{
    g_live_magazines.fetch_sub(1, std::memory_order_relaxed);
}

void MagazineDeleter::operator()(Magazine* m) const noexcept
{
    const std::size_t n = Magazine::lines_for(m->capacity_);
    std::destroy_at(m);
    std::allocator<Magazine::Line>().deallocate(
        reinterpret_cast<Magazine::Line*>(m), n);
}

} // namespace detail
} // namespace iova
