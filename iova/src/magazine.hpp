// SPDX-License-Identifier: GPL-2.0-or-later
//
// magazine.hpp - fixed-capacity stacks of cached pfns, and the depot list.
//
// The rcache follows Bonwick and Adams' magazines (USENIX 2001), as Linux
// iova.c does: a CPU frees into and allocates from a small stack of pfns of
// one size class without touching the shared tree; whole magazines move
// between CPUs through a depot.  Linux sizes a magazine at 127 pfns so that
// with its length word it fills a 1 KiB slab object; here the capacity is a
// runtime option (default 127, same behaviour) and the array is a separate
// allocation, so nothing depends on that size.
//
// Every Magazine constructed or destroyed updates a process-wide counter
// (iova::live_magazines()) so tests can prove that none leaks.
//
// Not thread-safe: a magazine belongs to one CPU slot or one depot, under
// that owner's lock.  Each magazine and its pfn array sit on cache lines of
// their own: two CPUs' magazines allocated one after the other would
// otherwise share a line, and every push or pop writes the count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace iova::detail {

class alignas(64) Magazine {
public:
    // Throws std::bad_alloc.
    explicit Magazine(unsigned capacity);
    ~Magazine();
    Magazine(const Magazine&) = delete;
    Magazine& operator=(const Magazine&) = delete;

    bool full() const noexcept { return count_ == capacity_; }
    bool empty() const noexcept { return count_ == 0; }
    unsigned size() const noexcept { return count_; }
    std::uint64_t pfn(unsigned i) const noexcept { return at(i); }

    // Precondition: !full().
    void push(std::uint64_t pfn) noexcept { at(count_++) = pfn; }

    // Removes and returns a pfn <= max_lo, trying the most recently pushed
    // first (hot in the IOTLB and likely to fit) and walking down only if
    // that one is above the caller's limit, as Linux does: falling back to
    // the tree while a usable pfn sits in the magazine would waste it.  The
    // hole is filled with the top entry.  Returns `none` if no pfn is
    // <= max_lo.
    std::uint64_t pop_at_most(std::uint64_t max_lo, std::uint64_t none) noexcept
    {
        for (unsigned i = count_; i-- > 0;) {
            const std::uint64_t pfn = at(i);
            if (pfn <= max_lo) {
                at(i) = at(--count_);
                return pfn;
            }
        }
        return none;
    }

    void clear() noexcept { count_ = 0; }

    // Link to the next magazine while this one is in a depot.
    std::unique_ptr<Magazine> next;

private:
    struct alignas(64) Line {
        std::uint64_t pfn[8];
    };
    std::uint64_t& at(unsigned i) noexcept { return lines_[i / 8].pfn[i % 8]; }
    const std::uint64_t& at(unsigned i) const noexcept
    {
        return lines_[i / 8].pfn[i % 8];
    }

    std::unique_ptr<Line[]> lines_;
    unsigned count_ = 0;
    unsigned capacity_;
};

// A depot: an unbounded LIFO of full magazines, linked through
// Magazine::next so that pushing never allocates (as Linux, which reuses
// the magazine's size word as the link).
class MagazineStack {
public:
    MagazineStack() = default;
    MagazineStack(const MagazineStack&) = delete;
    MagazineStack& operator=(const MagazineStack&) = delete;
    // Iterative, so a long depot cannot overflow the stack.
    ~MagazineStack() { clear(); }

    void push(std::unique_ptr<Magazine> m) noexcept
    {
        m->next = std::move(head_);
        head_ = std::move(m);
        ++size_;
    }
    std::unique_ptr<Magazine> pop() noexcept
    {
        std::unique_ptr<Magazine> m = std::move(head_);
        if (m) {
            head_ = std::move(m->next);
            --size_;
        }
        return m;
    }
    void clear() noexcept
    {
        while (head_) {
            pop();
        }
    }
    bool empty() const noexcept { return !head_; }
    std::size_t size() const noexcept { return size_; }

    template <class F>
    void for_each(F&& f) const
    {
        for (const Magazine* m = head_.get(); m; m = m->next.get()) {
            f(*m);
        }
    }

private:
    std::unique_ptr<Magazine> head_;
    std::size_t size_ = 0;
};

} // namespace iova::detail
