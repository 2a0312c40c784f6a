// SPDX-License-Identifier: GPL-2.0-or-later
//
// gap_index.hpp - the aligned gap index: finds, in O(log n), the highest free
// gap where a size-aligned request fits even when the gap is only barely
// big enough.
//
// The problem.  A size-aligned request of s granules has alignment
// a = pow2_ceil(s), so a/2 < s <= a.  A free gap [lo, hi] of length len:
//   - never fits if len < s;
//   - always fits if len >= s + a - 1 (the first multiple of a at or above
//     lo is at most lo + a - 1);
//   - in between, fits iff its "aligned capacity"
//         cap_k(gap) = hi + 1 - align_up(lo, a)      (a = 2^k)
//     is >= s.
// The range tree's "largest gap in subtree" augmentation answers the first
// two cases in O(log n), but not the third: a subtree can hold gaps long
// enough yet all misaligned, and walking into it to find out is what makes
// a plain augmented search (or Linux's list walk) linear in the worst case.
//
// The fix.  The in-between lengths for order k are s <= len <= s + a - 2,
// i.e. 2^(k-1) + 1 <= len <= 2^(k+1) - 2 over every s of that order.  Call
// that length interval "band k".  A gap is in at most two bands (its length
// is in [2^m, 2^(m+1)) for one m, and only bands m and m+1 overlap that).
// This index holds one entry per (band, gap), keyed by (k, gap lo) and
// augmented with the largest cap_k in each subtree, so "highest band-k gap
// below X with cap_k >= s" is one O(log n) descent that never backtracks:
// a subtree is entered only if its maximum proves a fit is inside.
//
// Together with the range tree's descent for len >= s + a - 1, this finds
// the highest fitting gap exactly (see RangeTree::alloc).  Each change
// to the ranges changes at most three gaps, hence at most six entries:
// O(log n) per update.  Gaps of length 1 are in no band, so a space full of
// single-granule holes costs nothing here.
//
// Not thread-safe: owned by the RangeTree, under the domain's tree lock.
#pragma once

#include "avl_tree.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace iova::detail {

// A maximal free interval [lo, hi] inside [start_pfn, max_pfn].
struct Gap {
    std::uint64_t lo;
    std::uint64_t hi;
    std::uint64_t len() const noexcept { return hi - lo + 1; }
    // "No gap", for searches that return a Gap by value (two registers,
    // cheaper than std::optional<Gap> through a recursion).
    static constexpr Gap none() noexcept { return Gap{1, 0}; }
    bool empty() const noexcept { return lo > hi; }
};

class AlignedGapIndex {
public:
    // Bands of a gap of length len (1..2 of them), written to out[]; returns
    // how many.
    static int bands_of(std::uint64_t len, unsigned out[2]) noexcept;

    // Aligned capacity of `g` for alignment 2^k (0 if no aligned start).
    static std::uint64_t cap(const Gap& g, unsigned k) noexcept;

    // Makes sure the index can hold `total` entries without allocating.
    void reserve_total(std::size_t total);

    // Adds / removes the entries of gap g (no-op for gaps in no band).
    // add() needs room (see reserve_total) or may throw std::bad_alloc.
    void add(const Gap& g);
    void remove(const Gap& g) noexcept;

    // Highest band-k gap with lo < below and cap_k >= s.
    std::optional<Gap> highest_fit(unsigned k, std::uint64_t s,
                                   std::uint64_t below) const noexcept;

    std::size_t size() const noexcept { return tree_.size(); }

    // Checks structure and augmentation, and that the entries are exactly
    // those of `gaps` (ascending).  On failure describes it in *why.
    template <class GapRange>
    bool check(const GapRange& gaps, std::string* why) const;

private:
    // Positions are below 2^53; the band number goes above them.
    static constexpr unsigned kPosBits = 58;

    struct Traits {
        using Summary = std::uint64_t; // largest cap in the subtree
        struct Node : AvlLinks<Summary> {
            std::uint64_t key; // (band << kPosBits) | gap lo
            std::uint64_t hi;  // gap hi
            std::uint64_t cap; // cap_band(gap)
        };
        static std::uint64_t key(const Node& n) noexcept { return n.key; }
        Summary summarize(const Node& n) const noexcept
        {
            return std::max({n.cap, n.child_sum[kLeft], n.child_sum[kRight]});
        }
    };
    using Node = Traits::Node;

    static std::uint64_t make_key(unsigned k, std::uint64_t lo) noexcept
    {
        return (static_cast<std::uint64_t>(k) << kPosBits) | lo;
    }
    // The entries of gap g, one per band it is in, written to out[];
    // returns how many (0..2).  add() and check() both build them here.
    static int entries_of(const Gap& g, Node out[2]) noexcept;

    std::uint32_t highest_upto(std::uint64_t key_max,
                               std::uint64_t s) const noexcept;
    std::uint32_t highest_in(std::uint32_t n, std::uint64_t s) const noexcept;

    AvlTree<Traits> tree_;
};

template <class GapRange>
bool AlignedGapIndex::check(const GapRange& gaps, std::string* why) const
{
    if (!tree_.check_structure(why)) {
        if (why) {
            *why = "gap index: " + *why;
        }
        return false;
    }
    // Expected entries, generated from the gaps, must match the tree's
    // in-order sequence (sorted by band, then position).
    std::vector<Node> expect;
    for (const Gap& g : gaps) {
        Node es[2];
        const int ne = entries_of(g, es);
        expect.insert(expect.end(), es, es + ne);
    }
    std::sort(expect.begin(), expect.end(),
              [](const Node& x, const Node& y) { return x.key < y.key; });
    if (expect.size() != tree_.size()) {
        if (why) {
            *why = "gap index holds " + std::to_string(tree_.size()) +
                   " entries, expected " + std::to_string(expect.size());
        }
        return false;
    }
    std::size_t i = 0;
    bool ok = true;
    tree_.for_each([&](std::uint32_t, const Node& n) {
        const Node& e = expect[i++];
        if (ok && (n.key != e.key || n.hi != e.hi || n.cap != e.cap)) {
            ok = false;
            if (why) {
                *why = "gap index entry " + std::to_string(i - 1) +
                       " does not match the gaps of the range tree";
            }
        }
    });
    return ok;
}

} // namespace iova::detail
