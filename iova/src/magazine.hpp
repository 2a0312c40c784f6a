// SPDX-License-Identifier: GPL-2.0-or-later
//
// magazine.hpp - fixed-capacity stacks of cached pfns, and the depot list.
//
// The rcache follows Bonwick and Adams' magazines (USENIX 2001), as Linux
// iova.c does: a CPU frees into and allocates from a small stack of pfns of
// one size class without touching the shared tree; whole magazines move
// between CPUs through a depot.  Linux sizes a magazine at 127 pfns so that
// with its length word it fills a 1 KiB slab object; here the capacity is a
// runtime option (default 127, same behaviour).  As in Linux, the pfns sit
// in the magazine's own allocation, on the cache lines right after its
// header: a pop then reads the count and the top pfn with no pointer to
// the array in between (a separate array cost 1 ns of an 11.7 ns
// alloc_fast+free_fast pair, and 2.4 ns of 14 when sizes vary).
//
// Every Magazine constructed or destroyed updates a process-wide counter
// (iova::live_magazines()) so tests can prove that none leaks.
//
// Not thread-safe: a magazine belongs to one CPU slot or one depot, under
// that owner's lock.  Each magazine and its pfn array sit on cache lines of
// their own: two CPUs' magazines allocated one after the other would
// otherwise share a line, and every push or pop writes the count.
//
// A magazine is created only by Magazine::make() and owned through
// MagazinePtr, whose deleter frees the header and the pfns together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace iova::detail {

class Magazine;

struct MagazineDeleter {
    void operator()(Magazine* m) const noexcept;
};
using MagazinePtr = std::unique_ptr<Magazine, MagazineDeleter>;

class alignas(64) Magazine {
public:
    // A new empty magazine for `capacity` pfns (>= 1).  Throws
    // std::bad_alloc.
    static MagazinePtr make(unsigned capacity);
    // Only make() can name a Key: a magazine needs its pfn lines after it.
    class Key {
        friend class Magazine;
        explicit Key() = default;
    };
    Magazine(Key, unsigned capacity) noexcept;
    ~Magazine();
    Magazine(const Magazine&) = delete;
    Magazine& operator=(const Magazine&) = delete;

    bool full() const noexcept { return count_ == capacity_; }
    bool empty() const noexcept { return count_ == 0; }
    unsigned size() const noexcept { return count_; }
    std::uint64_t pfn(unsigned i) const noexcept { return at(i); }

    // Precondition: !full().
    void push(std::uint64_t pfn) noexcept { at(count_++) = pfn; }

    // The most recently pushed pfn, and removing it.  Precondition:
    // !empty().
    std::uint64_t top() const noexcept { return at(count_ - 1); }
    std::uint64_t pop_top() noexcept { return at(--count_); }

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
    MagazinePtr next;

private:
    friend struct MagazineDeleter;

    // The unit of allocation: the header takes the first line, the pfns
    // the ones after it.
    struct alignas(64) Line {
        std::uint64_t pfn[8];
    };
    static std::size_t lines_for(unsigned capacity) noexcept
    {
        return 1 + (std::size_t{capacity} + 7) / 8;
    }

    // The Line after the header, in the storage make() allocated as Lines.
    // Formally the pointer wants std::launder; GCC 12 then stops assuming
    // that the pfns do not alias the count, and a size-1 pair took 12.1 ns
    // instead of 10.7 (8 alternated rounds of iova-vs-linux).
    std::uint64_t* pfns() noexcept
    {
        return reinterpret_cast<Line*>(this)[1].pfn;
    }
    const std::uint64_t* pfns() const noexcept
    {
        return reinterpret_cast<const Line*>(this)[1].pfn;
    }
    std::uint64_t& at(unsigned i) noexcept { return pfns()[i]; }
    const std::uint64_t& at(unsigned i) const noexcept { return pfns()[i]; }

    unsigned count_ = 0;
    unsigned capacity_;
};
static_assert(sizeof(Magazine) == 64, "the pfns start on the second line");

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

    void push(MagazinePtr m) noexcept
    {
        m->next = std::move(head_);
        head_ = std::move(m);
        ++size_;
    }
    MagazinePtr pop() noexcept
    {
        MagazinePtr m = std::move(head_);
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
    MagazinePtr head_;
    std::size_t size_ = 0;
};

} // namespace iova::detail
