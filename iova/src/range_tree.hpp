// SPDX-License-Identifier: GPL-2.0-or-later
//
// range_tree.hpp - the set of live IOVA ranges, as a balanced search tree
// augmented with the largest free gap of every subtree.
//
// Like Linux iova.c, every allocated or reserved range [lo, hi] (inclusive,
// in granules) is a node keyed by lo, and an "anchor" node sits just above
// the highest usable pfn so that the topmost gap, like every other gap, is
// the free space just below some node.  Unlike Linux, the tree is an AVL
// tree, and every node also stores pred_hi, the hi of the range just
// before it, so the gap below a node is known from the node alone.  Each
// subtree is summarised by max_gap, the longest of the gaps below its
// nodes, which the parent stores (see avl_tree.hpp): a pure subtree
// aggregate, O(1) per node to recompute, so O(log n) per insert or erase.
// An insertion or removal changes pred_hi of one more node, the in-order
// successor, which is always on the path the update walks anyway.
//
// Gaps never extend below start_pfn: a gap's length is measured from
// max(pred_hi + 1, start_pfn), so reservations below start_pfn (which Linux
// also accepts) are harmless.
//
// The tree also maintains the AlignedGapIndex so that size-aligned searches
// are exact and O(log n) as well; see alloc().
//
// Not thread-safe: the domain's tree lock protects it.
#pragma once

#include "avl_tree.hpp"
#include "gap_index.hpp"

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
            std::uint64_t pred_hi; // hi of the range before, or start - 1
            bool reserved;
        };
        std::uint64_t start;
        static std::uint64_t key(const Node& n) noexcept { return n.lo; }
        // Inline: it runs once per level of every update.
        Summary summarize(const Node& n) const noexcept
        {
            const std::uint64_t g = gap_len(n.pred_hi, n.lo);
            const std::uint64_t l = n.child_sum[kLeft], r = n.child_sum[kRight];
            const std::uint64_t m = l > r ? l : r;
            return g > m ? g : m;
        }
        // Length of the free space strictly between a range ending at a_hi
        // and one starting at b_lo, clipped below at start_pfn.
        std::uint64_t gap_len(std::uint64_t a_hi, std::uint64_t b_lo) const noexcept
        {
            const std::uint64_t lo = a_hi + 1 > start ? a_hi + 1 : start;
            return b_lo > lo ? b_lo - lo : 0;
        }
    };
    using Node = Traits::Node;

    std::optional<Gap> gap_between(std::uint64_t a_hi,
                                   std::uint64_t b_lo) const noexcept;
    using Path = AvlTree<Traits>::Path;
    std::uint32_t highest_gap_in(std::uint32_t n, std::uint64_t min_len,
                                 Path& path) const noexcept;
    void walk_to_gap_below(std::uint32_t x, Path& path) const noexcept;
    // Inserts [lo, hi] at the end of *path, or where a walk from the root
    // finds its place if path is null.
    void link(const Path* path, std::uint64_t lo, std::uint64_t hi,
              bool reserved);
    // The gap just below node n, known to be non-empty.
    Gap gap_below(const Node& n) const noexcept
    {
        const std::uint64_t len = tree_.traits().gap_len(n.pred_hi, n.lo);
        return Gap{n.lo - len, n.lo - 1};
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
