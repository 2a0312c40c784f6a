// SPDX-License-Identifier: GPL-2.0-or-later
//
// range_tree.cpp - live ranges in an AVL tree augmented with free gaps.
#include "range_tree.hpp"

#include "bits.hpp"

#include <algorithm>
#include <vector>

namespace iova::detail {

RangeTree::RangeTree(std::uint64_t start_pfn, std::uint64_t max_pfn)
    : start_(start_pfn), max_pfn_(max_pfn), anchor_(max_pfn + 1),
      tree_(Traits{start_pfn})
{
    // The anchor: a one-granule node above the usable space, as in Linux,
    // so that "the gap below node X" names every gap including the top one.
    Node a{};
    a.lo = a.hi = anchor_;
    tree_.insert(a);
    gaps_.add(Gap{start_, max_pfn_});
}

void RangeTree::reserve_for_insert()
{
    tree_.reserve_room(1);
    // Every gap is the gap below exactly one node and has at most two index
    // entries, so 2 * nodes bounds the index.  Holding that much room from
    // now on means removals (which merge gaps) never need memory.
    gaps_.reserve_total(2 * (tree_.size() + 1));
}

std::optional<Gap> RangeTree::gap_between(std::uint64_t a_hi,
                                          std::uint64_t b_lo) const noexcept
{
    const std::uint64_t len = tree_.traits().gap_len(a_hi, b_lo);
    if (len == 0) {
        return std::nullopt;
    }
    return Gap{b_lo - len, b_lo - 1};
}

void RangeTree::insert(std::uint64_t lo, std::uint64_t hi, bool reserved)
{
    Node n{};
    n.lo = lo;
    n.hi = hi;
    n.reserved = reserved;
    std::uint32_t pred = kNil, succ = kNil;
    tree_.insert(n, &pred, &succ); // one walk finds the neighbours too
    const std::uint64_t p_hi = pred != kNil ? tree_.at(pred).hi : start_ - 1;
    const std::uint64_t s_lo = tree_.at(succ).lo; // exists: the anchor

    // The gap [p_hi+1, s_lo-1] becomes (up to) two gaps around [lo, hi].
    if (auto g = gap_between(p_hi, s_lo)) {
        gaps_.remove(*g);
    }
    if (auto g = gap_between(p_hi, lo)) {
        gaps_.add(*g);
    }
    if (auto g = gap_between(hi, s_lo)) {
        gaps_.add(*g);
    }
    ++ranges_;
    reserved_ += reserved ? 1 : 0;
    pfns_ += hi - lo + 1;
}

std::optional<RangeInfo> RangeTree::find(std::uint64_t pfn) const noexcept
{
    const std::uint32_t f = tree_.floor(pfn);
    if (f == kNil) {
        return std::nullopt;
    }
    const Node& n = tree_.at(f);
    if (n.hi < pfn || n.lo == anchor_) {
        return std::nullopt;
    }
    return RangeInfo{n.lo, n.hi, n.reserved};
}

std::optional<RangeInfo> RangeTree::remove(std::uint64_t pfn) noexcept
{
    // One walk finds the range holding pfn (the highest lo <= pfn, if its
    // hi reaches pfn), removes it and reports its neighbours.
    AvlTree<Traits>::Removal r;
    const std::uint64_t anchor = anchor_;
    if (!tree_.erase_floor_if(
            pfn,
            [pfn, anchor](const Node& n) { return n.hi >= pfn && n.lo != anchor; },
            &r)) {
        return std::nullopt;
    }
    const std::uint64_t p_hi = r.has_pred ? r.pred.hi : start_ - 1;
    const std::uint64_t s_lo = r.succ.lo; // exists: the anchor

    // The two old gaps become one.  The index never exceeds the room
    // reserve_for_insert() guaranteed, so adding cannot allocate.
    if (auto g = gap_between(p_hi, r.node.lo)) {
        gaps_.remove(*g);
    }
    if (auto g = gap_between(r.node.hi, s_lo)) {
        gaps_.remove(*g);
    }
    if (auto g = gap_between(p_hi, s_lo)) {
        gaps_.add(*g);
    }
    --ranges_;
    reserved_ -= r.node.reserved ? 1 : 0;
    pfns_ -= r.node.hi - r.node.lo + 1;
    return RangeInfo{r.node.lo, r.node.hi, r.node.reserved};
}

std::optional<RangeInfo> RangeTree::first_overlap(std::uint64_t lo,
                                                  std::uint64_t hi) const noexcept
{
    if (auto r = find(lo)) {
        return r;
    }
    const std::uint32_t s = tree_.higher(lo);
    if (s == kNil) {
        return std::nullopt;
    }
    const Node& n = tree_.at(s);
    if (n.lo > hi || n.lo == anchor_) {
        return std::nullopt;
    }
    return RangeInfo{n.lo, n.hi, n.reserved};
}

std::optional<RangeInfo> RangeTree::next(std::uint64_t lo) const noexcept
{
    const std::uint32_t s = tree_.higher(lo);
    if (s == kNil || tree_.at(s).lo == anchor_) {
        return std::nullopt;
    }
    const Node& n = tree_.at(s);
    return RangeInfo{n.lo, n.hi, n.reserved};
}

// Highest gap of length >= min_len among the gaps just below the nodes of
// subtree n whose lo is <= bound.  pred_hi is the hi of the range before
// the subtree.  The walk follows the boundary path of `bound`; a subtree
// wholly below the bound is searched by highest_gap_in(), which enters a
// child only when its augmentation proves a hit is inside, so the total
// work is O(height).
Gap RangeTree::highest_gap_upto(std::uint32_t n, std::uint64_t pred_hi,
                                std::uint64_t bound,
                                std::uint64_t min_len) const noexcept
{
    const Traits& t = tree_.traits();
    while (n != kNil) {
        const Node& nd = tree_.at(n);
        if (nd.lo > bound) {
            n = nd.left;
            continue;
        }
        if (nd.right != kNil) {
            const Node& r = tree_.at(nd.right);
            // Enter only if some gap of the right subtree is below the
            // bound and long enough somewhere in it.
            if (r.min_lo <= bound && (r.max_gap >= min_len ||
                                      t.gap_len(nd.hi, r.min_lo) >= min_len)) {
                const Gap g = highest_gap_upto(nd.right, nd.hi, bound, min_len);
                if (!g.empty()) {
                    return g;
                }
            }
        }
        const std::uint64_t left_hi =
            nd.left != kNil ? tree_.at(nd.left).max_hi : pred_hi;
        if (t.gap_len(left_hi, nd.lo) >= min_len) {
            return gap_at(left_hi, nd.lo);
        }
        return highest_gap_in(nd.left, pred_hi, min_len);
    }
    return Gap::none();
}

Gap RangeTree::highest_gap_in(std::uint32_t n, std::uint64_t pred_hi,
                              std::uint64_t min_len) const noexcept
{
    const Traits& t = tree_.traits();
    while (n != kNil) {
        const Node& nd = tree_.at(n);
        if (nd.right != kNil) {
            const Node& r = tree_.at(nd.right);
            if (r.max_gap >= min_len || t.gap_len(nd.hi, r.min_lo) >= min_len) {
                pred_hi = nd.hi;
                n = nd.right;
                continue;
            }
        }
        const std::uint64_t left_hi =
            nd.left != kNil ? tree_.at(nd.left).max_hi : pred_hi;
        if (t.gap_len(left_hi, nd.lo) >= min_len) {
            return gap_at(left_hi, nd.lo);
        }
        if (nd.left == kNil) {
            return Gap::none();
        }
        const Node& l = tree_.at(nd.left);
        if (l.max_gap < min_len && t.gap_len(pred_hi, l.min_lo) < min_len) {
            return Gap::none();
        }
        n = nd.left;
    }
    return Gap::none();
}

// The search, top-down as Linux's, but exact and O(log n):
//  1. The gap holding `limit` (if limit is free), clipped at limit, is the
//     highest candidate; it is checked directly.
//  2. Every other candidate gap lies wholly below the node P holding or
//     preceding limit.  Among those, a fitting gap either has length
//     >= size + align - 1 (always fits; found by the max_gap descent) or is
//     in band log2(align) of the aligned gap index with cap >= size (found
//     by its own descent).  The higher of the two answers is the highest
//     fitting gap, and the highest aligned position in it is the result:
//     the same pfn Linux's top-down walk from limit would return.
std::optional<std::uint64_t> RangeTree::find_fit(std::uint64_t size,
                                                 std::uint64_t align,
                                                 std::uint64_t limit) const noexcept
{
    if (limit < start_ || size == 0) {
        return std::nullopt;
    }
    const std::uint32_t p = tree_.floor(limit);
    if (p == kNil || tree_.at(p).hi < limit) {
        const std::uint64_t glo =
            p == kNil ? start_ : std::max(tree_.at(p).hi + 1, start_);
        if (limit >= glo && limit - glo + 1 >= size) {
            const std::uint64_t pfn = align_down(limit - size + 1, align);
            if (pfn >= glo) {
                return pfn;
            }
        }
        if (p == kNil) {
            return std::nullopt; // that gap was the lowest one
        }
    }
    const std::uint64_t bound = tree_.at(p).lo;

    Gap best = highest_gap_upto(tree_.root(), start_ - 1, bound, size + align - 1);
    if (align > 1) {
        const auto band = gaps_.highest_fit(order_floor(align), size, bound);
        if (band && (best.empty() || band->lo > best.lo)) {
            best = *band;
        }
    }
    if (best.empty()) {
        return std::nullopt;
    }
    return align_down(best.hi - size + 1, align);
}

bool RangeTree::check(std::string* why) const
{
    auto fail = [&](std::string msg) {
        if (why) {
            *why = std::move(msg);
        }
        return false;
    };
    bool ok = true;
    std::string msg;
    bool have_prev = false;
    std::uint64_t prev_hi = 0;
    std::uint64_t prev_lo = 0;
    std::uint64_t n_ranges = 0, n_reserved = 0, n_pfns = 0;
    std::uint64_t pred_hi = start_ - 1;
    std::vector<Gap> gaps;
    bool saw_anchor = false;
    tree_.for_each([&](std::uint32_t i, const Node& n) {
        if (!ok) {
            return;
        }
        auto bad = [&](std::string m) {
            ok = false;
            msg = std::move(m) + " at range [" + std::to_string(n.lo) + ", " +
                  std::to_string(n.hi) + "]";
        };
        if (n.hi < n.lo) {
            return bad("inverted range");
        }
        if (have_prev && (n.lo <= prev_lo || n.lo <= prev_hi)) {
            return bad("ranges out of order or overlapping");
        }
        const int hl = tree_.height(n.left), hr = tree_.height(n.right);
        if (n.height != 1 + std::max(hl, hr) || hl - hr > 1 || hr - hl > 1) {
            return bad("AVL height/balance broken");
        }
        const Node r = tree_.recomputed(i);
        if (r.min_lo != n.min_lo || r.max_hi != n.max_hi ||
            r.max_gap != n.max_gap) {
            return bad("stale gap augmentation");
        }
        if (auto g = gap_between(pred_hi, n.lo)) {
            gaps.push_back(*g);
        }
        pred_hi = n.hi;
        have_prev = true;
        prev_lo = n.lo;
        prev_hi = n.hi;
        if (n.lo == anchor_) {
            saw_anchor = true;
            if (n.hi != anchor_ || n.reserved) {
                return bad("corrupt anchor");
            }
            return;
        }
        if (saw_anchor || n.hi > max_pfn_) {
            return bad("range above max_pfn");
        }
        ++n_ranges;
        n_reserved += n.reserved ? 1 : 0;
        n_pfns += n.hi - n.lo + 1;
    });
    if (!ok) {
        return fail(msg);
    }
    if (!saw_anchor) {
        return fail("anchor missing");
    }
    if (n_ranges != ranges_ || n_reserved != reserved_ || n_pfns != pfns_ ||
        tree_.size() != ranges_ + 1) {
        return fail("range counters disagree with the tree");
    }
    return gaps_.check(gaps, why);
}

} // namespace iova::detail
