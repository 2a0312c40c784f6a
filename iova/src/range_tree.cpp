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
    a.gap = anchor_ - start_;
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

void RangeTree::insert(std::uint64_t lo, std::uint64_t hi, bool reserved)
{
    link(Place{}, lo, hi, reserved);
}

void RangeTree::link(Place place, std::uint64_t lo, std::uint64_t hi,
                     bool reserved)
{
    Node n{};
    n.lo = lo;
    n.hi = hi;
    n.reserved = reserved;
    std::uint64_t glo = 0, s_lo = 0;
    auto on_link = [&](Node& fresh, Node* succ) {
        // succ exists: the anchor is above every range.  The new range
        // takes the gap below succ up to its own lo; succ keeps the rest.
        const Traits& t = tree_.traits();
        glo = t.gap_start(*succ);
        s_lo = succ->lo;
        fresh.gap = lo > glo ? lo - glo : 0;
        succ->gap = t.gap_len(hi, s_lo);
        return true;
    };
    // Neither can throw: reserve_for_insert() made room for the node and
    // for the gap index entries.
    if (!place.path) {
        tree_.insert(n, on_link);
    } else if (place.before == kNil) {
        tree_.insert_at(*place.path, n, on_link);
    } else {
        tree_.insert_before(*place.path, place.before, n, on_link);
    }

    // The gap [glo, s_lo-1] becomes (up to) two gaps around [lo, hi].
    if (auto g = gap_from(glo, s_lo)) {
        gaps_.remove(*g);
    }
    if (auto g = gap_from(glo, lo)) {
        gaps_.add(*g);
    }
    if (auto g = gap_from(gap_start_after(hi), s_lo)) {
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
    // hi reaches pfn) and its successor, whose gap grows down to where the
    // removed range's gap started.
    RangeInfo x{};
    std::uint64_t glo = 0, s_lo = 0;
    const std::uint64_t anchor = anchor_;
    if (!tree_.erase_floor_if(
            pfn,
            [pfn, anchor](const Node& n) { return n.hi >= pfn && n.lo != anchor; },
            [&](const Node& n, Node* succ) {
                x = RangeInfo{n.lo, n.hi, n.reserved};
                glo = tree_.traits().gap_start(n);
                s_lo = succ->lo; // exists: the anchor
                succ->gap = s_lo > glo ? s_lo - glo : 0;
                return true;
            })) {
        return std::nullopt;
    }

    // The two old gaps become one.  The index never exceeds the room
    // reserve_for_insert() guaranteed, so adding cannot allocate.
    if (auto g = gap_from(glo, x.lo)) {
        gaps_.remove(*g);
    }
    if (auto g = gap_from(gap_start_after(x.hi), s_lo)) {
        gaps_.remove(*g);
    }
    if (auto g = gap_from(glo, s_lo)) {
        gaps_.add(*g);
    }
    --ranges_;
    reserved_ -= x.reserved ? 1 : 0;
    pfns_ -= x.hi - x.lo + 1;
    return x;
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

// The highest node of subtree n, which holds one, whose gap below has
// length >= min_len; the steps down from n are appended to path.  Each
// node holds its children's max_gap, so the walk reads only the nodes it
// passes through and never backtracks.
std::uint32_t RangeTree::highest_gap_in(std::uint32_t n, std::uint64_t min_len,
                                        Path& path) const noexcept
{
    for (;;) {
        const Node& nd = tree_.at(n);
        if (nd.child_sum[kRight] >= min_len) {
            path.push(n, kRight);
            n = nd.child[kRight];
        } else if (nd.gap >= min_len) {
            return n;
        } else {
            path.push(n, kLeft); // the subtree's max_gap is on the left
            n = nd.child[kLeft];
        }
    }
}

// Extends a walk that reached node x to the empty slot just before x in
// key order, where a range filling part of the gap below x belongs: x's
// left child if it has none, else the right end of its left subtree.
void RangeTree::walk_to_gap_below(std::uint32_t x, Path& path) const noexcept
{
    path.push(x, kLeft);
    for (std::uint32_t c = tree_.at(x).child[kLeft]; c != kNil;
         c = tree_.at(c).child[kRight]) {
        path.push(c, kRight);
    }
}

// The search, top-down as Linux's, but exact and O(log n):
//  1. One walk towards `limit` finds P, the node with the highest
//     lo <= limit, and the nodes where it turned right ("turns", P the
//     deepest).  If limit is free, the gap holding it, clipped at limit, is
//     the highest candidate; it is checked directly.
//  2. Every other candidate gap lies wholly below P: it is the gap below
//     one of the turns or below a node of a turn's left subtree, and from
//     the highest down they come as: the deepest turn, its left subtree,
//     the next turn up, its left subtree, and so on.  Among those, a
//     fitting gap either has length >= size + align - 1 (always fits;
//     found by a max_gap descent into the first left subtree whose summary
//     proves one is there) or is in band log2(align) of the aligned gap
//     index with cap >= size (found by its own descent).  The higher of the
//     two answers is the highest fitting gap, and the highest aligned
//     position in it is the result: the same pfn Linux's top-down walk from
//     limit would return.
// The walks of steps 1 and 2 end at the empty slot where the new range
// belongs, so it is linked there without a second walk from the root;
// only a hit in the aligned gap index, which is another tree, needs one.
std::optional<std::uint64_t> RangeTree::alloc(std::uint64_t size,
                                              std::uint64_t align,
                                              std::uint64_t limit)
{
    if (limit < start_ || size == 0) {
        return std::nullopt;
    }
    Path path;
    for (std::uint32_t n = tree_.root(); n != kNil;) {
        const Node& nd = tree_.at(n);
        const int side = nd.lo <= limit ? kRight : kLeft;
        path.push(n, side);
        n = nd.child[side];
    }
    int turn = path.depth - 1;
    while (turn >= 0 && path.side[turn] != kRight) {
        --turn;
    }
    const Node* p = turn >= 0 ? &tree_.at(path.node[turn]) : nullptr;
    if (!p || p->hi < limit) {
        const std::uint64_t glo = !p ? start_ : std::max(p->hi + 1, start_);
        if (limit >= glo && limit - glo + 1 >= size) {
            const std::uint64_t pfn = align_down(limit - size + 1, align);
            if (pfn >= glo) {
                // Between P and its successor, as the walk's end slot is.
                link(Place{&path}, pfn, pfn + size - 1, false);
                return pfn;
            }
        }
        if (!p) {
            return std::nullopt; // that gap was the lowest one
        }
    }
    const std::uint64_t p_lo = p->lo;

    const std::uint64_t min_len = size + align - 1;
    Gap best = Gap::none();
    std::uint32_t x = kNil; // the node whose gap below is best
    for (; turn >= 0; --turn) {
        if (path.side[turn] != kRight) {
            continue;
        }
        const std::uint32_t n = path.node[turn];
        const Node& nd = tree_.at(n);
        if (nd.gap >= min_len) {
            path.depth = turn;
            x = n;
        } else if (nd.child_sum[kLeft] >= min_len) {
            path.depth = turn;
            path.push(n, kLeft);
            x = highest_gap_in(nd.child[kLeft], min_len, path);
        } else {
            continue;
        }
        best = gap_below(tree_.at(x));
        break;
    }
    Place place{&path};
    if (align > 1) {
        const auto band = gaps_.highest_fit(order_floor(align), size, p_lo);
        if (band && (best.empty() || band->lo > best.lo)) {
            best = *band;
            place = Place{};
        }
    }
    if (best.empty()) {
        return std::nullopt;
    }
    if (place.path) {
        // The new range goes just before x.  When a free has just opened
        // this gap by refilling x's slot with its successor, the free
        // walked x's right edge but not x's left subtree, where x's
        // predecessor is: take x's slot instead and move x down its right
        // edge.  Otherwise walk to the predecessor (the free walked it, or
        // it is missing).
        if (tree_.at(x).child[kLeft] != kNil && x == tree_.last_refilled()) {
            place.before = x;
        } else {
            walk_to_gap_below(x, path);
        }
    }
    const std::uint64_t pfn = align_down(best.hi - size + 1, align);
    link(place, pfn, pfn + size - 1, false);
    return pfn;
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
    if (!tree_.check_structure(why)) {
        return false;
    }
    tree_.for_each([&](std::uint32_t, const Node& n) {
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
        if (n.gap != tree_.traits().gap_len(pred_hi, n.lo)) {
            return bad("stale gap length");
        }
        if (auto g = gap_from(gap_start_after(pred_hi), n.lo)) {
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
