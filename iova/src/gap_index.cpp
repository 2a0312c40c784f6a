// SPDX-License-Identifier: GPL-2.0-or-later
//
// gap_index.cpp - the aligned gap index (see gap_index.hpp for the why).
#include "gap_index.hpp"

#include "bits.hpp"

#include <algorithm>

namespace iova::detail {

int AlignedGapIndex::bands_of(std::uint64_t len, unsigned out[2]) noexcept
{
    // Band k holds lengths 2^(k-1) + 1 .. 2^(k+1) - 2 (k >= 1).  A length in
    // [2^m, 2^(m+1)) can only be in band m or m + 1.
    int n = 0;
    if (len < 2) {
        return 0;
    }
    const unsigned m = order_floor(len);
    for (unsigned k = m; k <= m + 1; ++k) {
        if (k == 0 || k > 62) {
            continue;
        }
        const std::uint64_t lo = (std::uint64_t{1} << (k - 1)) + 1;
        const std::uint64_t hi = (std::uint64_t{1} << (k + 1)) - 2;
        if (len >= lo && len <= hi) {
            out[n++] = k;
        }
    }
    return n;
}

std::uint64_t AlignedGapIndex::cap(const Gap& g, unsigned k) noexcept
{
    const std::uint64_t first = align_up(g.lo, std::uint64_t{1} << k);
    return first <= g.hi ? g.hi + 1 - first : 0;
}

void AlignedGapIndex::reserve_total(std::size_t total)
{
    if (total > tree_.size()) {
        tree_.reserve_room(total - tree_.size());
    }
}

int AlignedGapIndex::entries_of(const Gap& g, Node out[2]) noexcept
{
    unsigned ks[2];
    const int nb = bands_of(g.len(), ks);
    for (int i = 0; i < nb; ++i) {
        out[i] = Node{};
        out[i].key = make_key(ks[i], g.lo);
        out[i].hi = g.hi;
        out[i].cap = cap(g, ks[i]);
    }
    return nb;
}

void AlignedGapIndex::add(const Gap& g)
{
    Node es[2];
    const int ne = entries_of(g, es);
    for (int i = 0; i < ne; ++i) {
        tree_.insert(es[i]);
    }
}

void AlignedGapIndex::remove(const Gap& g) noexcept
{
    unsigned ks[2];
    const int nb = bands_of(g.len(), ks);
    for (int i = 0; i < nb; ++i) {
        tree_.erase(make_key(ks[i], g.lo));
    }
}

// Highest entry with key <= key_max and cap >= s.  The keys <= key_max
// are, from the highest down: each node where the walk towards key_max
// turns right (deepest first), then that node's left subtree.  So one walk
// down collects those nodes and the answer is the first of them, deepest
// first, that is a hit itself or has a hit in its left subtree (its parent
// holds that subtree's max_cap): one more descent, O(height) in all.
std::uint32_t AlignedGapIndex::highest_upto(std::uint64_t key_max,
                                            std::uint64_t s) const noexcept
{
    std::uint32_t turns[kMaxHeight];
    int nturns = 0;
    for (std::uint32_t n = tree_.root(); n != kNil;) {
        const Node& nd = tree_.at(n);
        if (nd.key <= key_max) {
            turns[nturns++] = n;
            n = nd.child[kRight];
        } else {
            n = nd.child[kLeft];
        }
    }
    while (nturns > 0) {
        const std::uint32_t n = turns[--nturns];
        const Node& nd = tree_.at(n);
        if (nd.cap >= s) {
            return n;
        }
        if (nd.child_sum[kLeft] >= s) {
            return highest_in(nd.child[kLeft], s);
        }
    }
    return kNil;
}

// Highest entry with cap >= s in subtree n, which holds one.
std::uint32_t AlignedGapIndex::highest_in(std::uint32_t n,
                                          std::uint64_t s) const noexcept
{
    for (;;) {
        const Node& nd = tree_.at(n);
        if (nd.child_sum[kRight] >= s) {
            n = nd.child[kRight];
        } else if (nd.cap >= s) {
            return n;
        } else {
            n = nd.child[kLeft]; // the subtree's max_cap >= s is on the left
        }
    }
}

std::optional<Gap> AlignedGapIndex::highest_fit(unsigned k, std::uint64_t s,
                                                std::uint64_t below) const noexcept
{
    if (below == 0 || k == 0) {
        return std::nullopt;
    }
    const std::uint32_t n = highest_upto(make_key(k, below - 1), s);
    if (n == kNil) {
        return std::nullopt;
    }
    const Node& nd = tree_.at(n);
    if ((nd.key >> kPosBits) != k) {
        return std::nullopt; // the best hit belongs to a lower band
    }
    return Gap{nd.key & ((std::uint64_t{1} << kPosBits) - 1), nd.hi};
}

} // namespace iova::detail
