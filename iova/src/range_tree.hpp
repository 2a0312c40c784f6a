// SPDX-License-Identifier: GPL-2.0-or-later
//
// range_tree.hpp - the set of live IOVA ranges, as a balanced search tree
// augmented with the largest free gap of every subtree.
//
// Like Linux iova.c, every allocated or reserved range [lo, hi] (inclusive,
// in granules) is a node keyed by lo, and an "anchor" node sits just above
// the highest usable pfn so that the topmost gap, like every other gap, is
// the free space just below some node.  Unlike Linux, the tree is an AVL
// tree, and every node also stores the length of the gap just below it
// (between the range before it and itself), so that gap is known from the
// node alone.  Each subtree is summarised by max_gap, the longest of the
// gaps below its nodes, which the parent stores (see avl_tree.hpp): a pure
// subtree aggregate, O(1) per node to recompute, so O(log n) per insert or
// erase.  An insertion or removal changes the gap below one more node, the
// in-order successor, which is always on the path the update walks anyway.
//
// Gaps never extend below start_pfn: a gap is measured from
// max(previous hi + 1, start_pfn), so reservations below start_pfn (which
// Linux also accepts) are harmless.
//
// The tree also maintains the AlignedGapIndex so that size-aligned searches
// are exact and O(log n) as well; see alloc().
//
// Not thread-safe: the domain's tree lock protects it.
#pragma once

#include "avl_tree.hpp"
#include "gap_index.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace iova::detail {

struct RangeInfo {
    std::uint64_t lo;
    std::uint64_t hi;
    bool reserved;
};

class RangeTree {
public:
    // Ranges may be handed out in [start_pfn, max_pfn]; the anchor sits at
    // max_pfn + 1.  Requires 1 <= start_pfn <= max_pfn < 2^53.  Throws
    // std::bad_alloc.
    RangeTree(std::uint64_t start_pfn, std::uint64_t max_pfn);

    // Makes room so that the next alloc() or insert() cannot throw, and so
    // that frees never allocate afterwards.  Throws std::bad_alloc,
    // changing nothing.
    void reserve_for_insert();

    // Finds the highest pfn p with [p, p + size - 1] free, start_pfn <= p,
    // p + size - 1 <= limit, and p a multiple of align, and inserts that
    // range (allocated), after reserve_for_insert().  Preconditions:
    // size >= 1, limit <= max_pfn, and align is 1 or pow2_ceil(size) (the
    // only alignments the aligned gap index is built for).  O(log n).
    std::optional<std::uint64_t> alloc(std::uint64_t size, std::uint64_t align,
                                       std::uint64_t limit);

    // Inserts [lo, hi], which the caller checked is free, after
    // reserve_for_insert().  O(log n).
    void insert(std::uint64_t lo, std::uint64_t hi, bool reserved);

    // The range holding pfn, if any (never the anchor).  O(log n).
    std::optional<RangeInfo> find(std::uint64_t pfn) const noexcept;

    // Removes the range holding pfn and returns it.  Never allocates.
    std::optional<RangeInfo> remove(std::uint64_t pfn) noexcept;

    // Lowest range that overlaps [lo, hi], if any.  O(log n).
    std::optional<RangeInfo> first_overlap(std::uint64_t lo,
                                           std::uint64_t hi) const noexcept;

    // Next range above the one starting at lo, if any (never the anchor).
    std::optional<RangeInfo> next(std::uint64_t lo) const noexcept;

    std::uint64_t ranges() const noexcept { return ranges_; }
    std::uint64_t reserved_ranges() const noexcept { return reserved_; }
    std::uint64_t pfns() const noexcept { return pfns_; }
    std::size_t gap_index_entries() const noexcept { return gaps_.size(); }

    // Full structural check: order, no overlap, AVL balance, augmentation,
    // anchor, counters and the gap index.  O(n).
    bool check(std::string* why) const;

    // In-order visit of every range except the anchor.
    template <class F>
    void for_each(F&& f) const
    {
        tree_.for_each([&](std::uint32_t, const Node& n) {
            if (n.lo != anchor_) {
                f(RangeInfo{n.lo, n.hi, n.reserved});
            }
        });
    }

private:
    struct Traits {
        using Summary = std::uint64_t; // max_gap of the subtree
        // One cache line per node: big trees are bound by cache misses, and
        // a node straddling two lines would cost two.
        struct alignas(64) Node : AvlLinks<Summary> {
            std::uint64_t lo, hi;
            std::uint64_t gap; // length of the free gap just below lo
            bool reserved;
        };
        std::uint64_t start;
        static std::uint64_t key(const Node& n) noexcept { return n.lo; }
        // Inline: it runs once per level of every update.
        Summary summarize(const Node& n) const noexcept
        {
            const std::uint64_t l = n.child_sum[kLeft], r = n.child_sum[kRight];
            const std::uint64_t m = l > r ? l : r;
            return n.gap > m ? n.gap : m;
        }
        // Length of the free space strictly between a range ending at a_hi
        // and one starting at b_lo, clipped below at start_pfn.
        std::uint64_t gap_len(std::uint64_t a_hi, std::uint64_t b_lo) const noexcept
        {
            const std::uint64_t lo = a_hi + 1 > start ? a_hi + 1 : start;
            return b_lo > lo ? b_lo - lo : 0;
        }
        // Where the (maybe empty) gap below n starts: max(previous hi + 1,
        // start_pfn).  A node below start_pfn has an empty gap, and the
        // range before it ends below it, so its gap "starts" at start_pfn.
        std::uint64_t gap_start(const Node& n) const noexcept
        {
            return n.lo >= start ? n.lo - n.gap : start;
        }
    };
    using Node = Traits::Node;

    // The gap [glo, b_lo - 1], if not empty.
    static std::optional<Gap> gap_from(std::uint64_t glo, std::uint64_t b_lo) noexcept
    {
        return b_lo > glo ? std::optional<Gap>(Gap{glo, b_lo - 1}) : std::nullopt;
    }
    std::uint64_t gap_start_after(std::uint64_t hi) const noexcept
    {
        return std::max(hi + 1, start_);
    }
    using Path = AvlTree<Traits>::Path;
    std::uint32_t highest_gap_in(std::uint32_t n, std::uint64_t min_len,
                                 Path& path) const noexcept;
    void walk_to_gap_below(std::uint32_t x, Path& path) const noexcept;
    // Where link() puts a new node: where a walk from the root finds its
    // place (no path), at the end of *path, or (before != kNil) in the slot
    // of node `before` by AvlTree::insert_before(), *path leading to it.
    struct Place {
        Path* path = nullptr;
        std::uint32_t before = kNil;
    };
    // Inserts [lo, hi] as `place` says.
    void link(Place place, std::uint64_t lo, std::uint64_t hi, bool reserved);
    // The gap just below node n, known to be non-empty.
    static Gap gap_below(const Node& n) noexcept
    {
        return Gap{n.lo - n.gap, n.lo - 1};
    }

    std::uint64_t start_;
    std::uint64_t max_pfn_;
    std::uint64_t anchor_;
    AvlTree<Traits> tree_;
    AlignedGapIndex gaps_;
    std::uint64_t ranges_ = 0;
    std::uint64_t reserved_ = 0;
    std::uint64_t pfns_ = 0;
};

} // namespace iova::detail
