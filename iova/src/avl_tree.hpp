// SPDX-License-Identifier: GPL-2.0-or-later
//
// avl_tree.hpp - an augmented AVL tree over an index-based node pool, whose
// nodes hold their children's summaries.
//
// Both search structures of the allocator (the range tree and the aligned
// gap index) are ordered sets of nodes with a unique 64-bit key and a value
// computed from each subtree (the "summary", e.g. the longest free gap in
// it).  This template holds what they share: the pool, insertion, erasure
// and rebalancing.
//
// Why AVL: the height of an AVL tree with n nodes is below 1.45 log2(n + 2),
// a worst-case bound, so every walk from the root is O(log n) whatever the
// order of operations.  Linux uses a red-black tree; AVL trees are a little
// flatter, which favours our read-mostly descents.
//
// Why the children's summaries and heights live in the parent: big trees
// are bound by cache misses, one per node visited below the cached top
// levels.  A search that prunes with a child's summary, and an update that
// recomputes a node from its children, would otherwise read the sibling of
// every node on the path as well as the node: about twice the misses.  With
// the summaries in the parent, descents and bottom-up fix-ups read only the
// nodes on their path (a rotation reads the one child it lifts, and the
// double rotation a grandchild).  The same idea as a B-tree's keys and
// counts kept in the parent, applied to a binary tree.
//
// Why a pool of indices: nodes live in fixed chunks of kChunk nodes owned
// by the pool (std::unique_ptr arrays), so there is no per-node heap
// allocation, nodes are dense in memory, ownership is plain, and a 32-bit
// index names a node.  Chunks never move: growing the pool allocates one
// chunk and never copies existing nodes, so no single insert pays for the
// whole pool (a doubling std::vector would copy every node now and then,
// breaking the per-operation O(log n) bound).  A free list threads unused
// slots.  Callers may call reserve_room() first so that later inserts
// cannot throw: the allocator uses this to make frees and flushes
// allocation-free.
//
// Traits must provide:
//   using Summary = ...;  a regular type with operator==; Summary{} is the
//                         summary of an empty subtree;
//   using Node = ...;     derived from AvlLinks<Summary>, plus payload;
//   static std::uint64_t key(const Node&);
//   Summary summarize(const Node& n) const;
//       the summary of n's subtree from n's payload and n.child_sum[] (the
//       tree keeps child_sum[] and child_height[] up to date).
//
// Not thread-safe: the owner serialises access (the domain's tree lock).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace iova::detail {

inline constexpr std::uint32_t kNil = UINT32_MAX;

// An AVL tree of 2^32 nodes is at most 46 levels high: room for any walk.
inline constexpr int kMaxHeight = 64;

// Child slots: child[kLeft] holds smaller keys.
inline constexpr int kLeft = 0;
inline constexpr int kRight = 1;

// The tree's part of a node: links to the two children and, for each, the
// height and the summary of its subtree (0 and Summary{} for no child).
template <class Summary>
struct AvlLinks {
    std::uint32_t child[2];
    std::int8_t child_height[2];
    Summary child_sum[2];
};

template <class Traits>
class AvlTree {
public:
    using Node = typename Traits::Node;
    using Summary = typename Traits::Summary;

    // A walk down from the root: the nodes passed, the side taken from
    // each, and so the empty child slot where it ended.
    struct Path {
        std::uint32_t node[kMaxHeight];
        std::int8_t side[kMaxHeight];
        int depth = 0;
        void push(std::uint32_t n, int s) noexcept
        {
            node[depth] = n;
            side[depth] = static_cast<std::int8_t>(s);
            ++depth;
        }
    };

    explicit AvlTree(Traits traits = Traits{}) : traits_(traits) {}

    const Node& at(std::uint32_t i) const noexcept { return node(i); }
    std::uint32_t root() const noexcept { return root_; }
    std::size_t size() const noexcept { return live_; }
    const Traits& traits() const noexcept { return traits_; }

    // Height of the subtree rooted at n (a leaf is 1).
    static int height(const Node& n) noexcept
    {
        return 1 + std::max(n.child_height[kLeft], n.child_height[kRight]);
    }

    // Makes sure `extra` further inserts need no memory allocation.
    // Throws std::bad_alloc (leaving the tree unchanged) if it cannot.
    void reserve_room(std::size_t extra)
    {
        while (free_count_ + (chunks_.size() * kChunk - used_) < extra) {
            // Both allocations may throw; neither changes the tree.
            chunks_.reserve(chunks_.size() + 1);
            chunks_.push_back(std::make_unique_for_overwrite<Node[]>(kChunk));
        }
    }

    // Inserts a node whose key is not yet present; returns its index, or
    // kNil if the key exists (nothing changes then).  Before re-balancing,
    // calls on_link(Node& fresh, Node* succ), succ being the new node's
    // in-order successor or null: it may change the payload (not the key)
    // of both, e.g. a value that depends on the neighbour, and returns
    // whether it changed *succ.  Throws std::bad_alloc only if no room was
    // reserved, with the tree unchanged.
    template <class OnLink>
    std::uint32_t insert(const Node& payload, OnLink&& on_link)
    {
        const std::uint64_t k = Traits::key(payload);
        Path path;
        for (std::uint32_t cur = root_; cur != kNil;) {
            const std::uint64_t ck = Traits::key(node(cur));
            if (k == ck) {
                return kNil;
            }
            const int side = k > ck ? kRight : kLeft;
            path.push(cur, side);
            cur = node(cur).child[side];
        }
        return insert_at(path, payload, on_link);
    }

    // insert() where the caller already walked to the empty slot the new
    // key belongs in (a search that found the gap it fills, say): `path`
    // must end there.  Same on_link, same guarantees.
    template <class OnLink>
    std::uint32_t insert_at(const Path& path, const Node& payload,
                            OnLink&& on_link)
    {
        // A new leaf's successor: where the walk last went left.
        int succ_depth = path.depth - 1;
        while (succ_depth >= 0 && path.side[succ_depth] != kLeft) {
            --succ_depth;
        }
        const std::uint32_t idx = new_node(payload); // may throw: no change yet
        const bool succ_changed = on_link(
            node(idx), succ_depth >= 0 ? &node(path.node[succ_depth]) : nullptr);
        fix_up(path, idx, succ_changed ? succ_depth : path.depth);
        return idx;
    }

    // Inserts a node whose key belongs just before x's (between x and its
    // predecessor) without walking to the predecessor: x's payload moves to
    // a new leaf at the left end of x's right subtree and `payload` takes
    // x's slot.  `path` leads from the root to x (x not included) and is
    // used up.  on_link(fresh, succ) as for insert(), fresh being x's slot
    // (now holding payload) and succ the new leaf (holding x's old
    // payload).  Returns x.  Worth it when x's right edge is in cache and
    // its predecessor is not: see last_refilled().
    template <class OnLink>
    std::uint32_t insert_before(Path& path, std::uint32_t x, const Node& payload,
                                OnLink&& on_link)
    {
        const int x_depth = path.depth;
        path.push(x, kRight);
        for (std::uint32_t c = node(x).child[kRight]; c != kNil;
             c = node(c).child[kLeft]) {
            path.push(c, kLeft);
        }
        const std::uint32_t leaf = new_node(node(x)); // may throw: no change yet
        copy_payload(node(x), payload);
        (void)on_link(node(x), &node(leaf));
        fix_up(path, leaf, x_depth);
        return x;
    }

    // The slot that the last erase of a node with two children refilled
    // with its successor's payload (kNil if none yet).  The gap that erase
    // opened lies just before that slot's key, and the erase walked the left
    // edge of its right subtree, not its left subtree: where insert_before()
    // rather than a walk to the predecessor finds the nodes in cache.  A
    // hint only: it may name a slot that has changed since.
    std::uint32_t last_refilled() const noexcept { return refilled_; }

    std::uint32_t insert(const Node& payload)
    {
        return insert(payload, [](Node&, Node*) { return false; });
    }

    // Finds the node with the highest key <= k and, if accept(node) is
    // true, removes it.  Before anything changes, calls
    // on_unlink(const Node& removed, Node* succ), succ being the removed
    // node's in-order successor or null, whose payload (not key) it may
    // change; it returns whether it did.  One walk from the root (it
    // reaches the successor too), never allocates.  False if no node was
    // removed.
    template <class Accept, class OnUnlink>
    bool erase_floor_if(std::uint64_t k, Accept&& accept,
                        OnUnlink&& on_unlink) noexcept
    {
        Path path;
        int found_depth = -1;
        std::uint32_t found = kNil;
        std::uint32_t cur = root_;
        // Below `found` every key is > k, so the walk ends on the leftmost
        // node of found's right subtree: its successor, if it has one there.
        while (cur != kNil) {
            const int side = Traits::key(node(cur)) <= k ? kRight : kLeft;
            if (side == kRight) {
                found = cur;
                found_depth = path.depth;
            }
            path.push(cur, side);
            cur = node(cur).child[side];
        }
        if (found == kNil || !accept(static_cast<const Node&>(node(found)))) {
            return false;
        }
        Node& f = node(found);
        if (f.child[kRight] != kNil) {
            // The successor is found's new child or gives found its
            // payload: recomputed either way, whatever on_unlink says.
            const std::uint32_t succ = path.node[path.depth - 1];
            (void)on_unlink(static_cast<const Node&>(f), &node(succ));
            if (f.child[kLeft] != kNil) {
                // Two children: move the successor's payload here and
                // unlink the successor's slot (it has no left child).
                // Keep the path down to the successor's parent.
                --path.depth;
                copy_payload(f, node(succ));
                const std::uint32_t replacement = node(succ).child[kRight];
                release_node(succ);
                fix_up(path, replacement, found_depth);
                refilled_ = found;
                return true;
            }
        } else {
            // The successor is the last ancestor where the walk went left.
            int d = found_depth - 1;
            while (d >= 0 && path.side[d] != kLeft) {
                --d;
            }
            const bool succ_changed = on_unlink(
                static_cast<const Node&>(f), d >= 0 ? &node(path.node[d]) : nullptr);
            path.depth = found_depth;
            if (d < 0 || !succ_changed) {
                d = path.depth;
            }
            const std::uint32_t replacement = f.child[kLeft];
            release_node(found);
            fix_up(path, replacement, d);
            return true;
        }
        // One child, on the right: with AVL balance it is a leaf, and it
        // takes found's place.
        path.depth = found_depth;
        const std::uint32_t replacement = f.child[kRight];
        release_node(found);
        fix_up(path, replacement, path.depth);
        return true;
    }

    // Removes the node with key `k`; false if there is none.  Never
    // allocates.
    bool erase(std::uint64_t k) noexcept
    {
        return erase_floor_if(
            k, [k](const Node& n) { return Traits::key(n) == k; },
            [](const Node&, Node*) { return false; });
    }

    // Highest node with key <= k, or kNil.
    std::uint32_t floor(std::uint64_t k) const noexcept
    {
        std::uint32_t best = kNil;
        std::uint32_t cur = root_;
        while (cur != kNil) {
            if (Traits::key(node(cur)) <= k) {
                best = cur;
                cur = node(cur).child[kRight];
            } else {
                cur = node(cur).child[kLeft];
            }
        }
        return best;
    }

    // Lowest node with key > k, or kNil.
    std::uint32_t higher(std::uint64_t k) const noexcept
    {
        std::uint32_t best = kNil;
        std::uint32_t cur = root_;
        while (cur != kNil) {
            if (Traits::key(node(cur)) > k) {
                best = cur;
                cur = node(cur).child[kLeft];
            } else {
                cur = node(cur).child[kRight];
            }
        }
        return best;
    }

    // In-order visit of every node (iterative: no recursion depth issue).
    template <class F>
    void for_each(F&& f) const
    {
        std::uint32_t stack[kMaxHeight];
        int depth = 0;
        std::uint32_t cur = root_;
        while (cur != kNil || depth > 0) {
            while (cur != kNil) {
                stack[depth++] = cur;
                cur = node(cur).child[kLeft];
            }
            cur = stack[--depth];
            f(cur, node(cur));
            cur = node(cur).child[kRight];
        }
    }

    // Checks, in O(n), every node's balance and the heights and summaries
    // it holds for its children against the children themselves.  On
    // failure describes it in *why.
    bool check_structure(std::string* why) const
    {
        const char* problem = nullptr;
        std::size_t count = 0;
        for_each([&](std::uint32_t, const Node& n) {
            ++count;
            for (const int s : {kLeft, kRight}) {
                const std::uint32_t c = n.child[s];
                const int h = c == kNil ? 0 : height(node(c));
                const Summary sum =
                    c == kNil ? Summary{} : traits_.summarize(node(c));
                if (!problem && n.child_height[s] != h) {
                    problem = "stale child height";
                }
                if (!problem && !(n.child_sum[s] == sum)) {
                    problem = "stale child summary";
                }
            }
            const int balance = n.child_height[kLeft] - n.child_height[kRight];
            if (!problem && (balance > 1 || balance < -1)) {
                problem = "AVL balance broken";
            }
        });
        if (!problem && count != live_) {
            problem = "node count disagrees with the tree";
        }
        if (problem && why) {
            *why = problem;
        }
        return !problem;
    }

private:
    // Copies src's payload into dst, keeping dst's place in the tree.
    static void copy_payload(Node& dst, const Node& src) noexcept
    {
        const AvlLinks<Summary> links = dst;
        dst = src;
        static_cast<AvlLinks<Summary>&>(dst) = links;
    }

    std::uint32_t new_node(const Node& payload)
    {
        std::uint32_t idx;
        if (free_ != kNil) {
            idx = free_;
            free_ = node(idx).child[kLeft];
            --free_count_;
        } else {
            reserve_room(1); // may throw: no change yet
            idx = scatter(used_++);
        }
        Node& n = node(idx);
        n = payload;
        for (const int s : {kLeft, kRight}) {
            n.child[s] = kNil;
            n.child_height[s] = 0;
            n.child_sum[s] = Summary{};
        }
        ++live_;
        return idx;
    }

    void release_node(std::uint32_t idx) noexcept
    {
        node(idx).child[kLeft] = free_;
        free_ = idx;
        ++free_count_;
        --live_;
    }

    // Makes c the child of p on `side`, recording c's height and summary.
    void set_child(Node& p, int side, std::uint32_t c) const noexcept
    {
        p.child[side] = c;
        if (c == kNil) {
            p.child_height[side] = 0;
            p.child_sum[side] = Summary{};
        } else {
            const Node& cn = node(c);
            p.child_height[side] = static_cast<std::int8_t>(height(cn));
            p.child_sum[side] = traits_.summarize(cn);
        }
    }

    // Rotation: the child of i on `side` takes i's place and i becomes its
    // child on the other side; returns the new subtree root.  The subtree
    // that changes parent moves with its height and summary, which its old
    // parent held, so only i and that child are read.
    std::uint32_t lift(std::uint32_t i, int side) noexcept
    {
        Node& n = node(i);
        const std::uint32_t c = n.child[side];
        Node& cn = node(c);
        const int other = 1 - side;
        n.child[side] = cn.child[other];
        n.child_height[side] = cn.child_height[other];
        n.child_sum[side] = cn.child_sum[other];
        set_child(cn, other, i);
        return c;
    }

    // Restores the AVL property at i, whose children are balanced and whose
    // heights differ by at most 2; returns the subtree's new root.  The
    // common balanced case reads nothing but i.
    std::uint32_t rebalance(std::uint32_t i) noexcept
    {
        Node& n = node(i);
        const int diff = n.child_height[kLeft] - n.child_height[kRight];
        if (diff >= -1 && diff <= 1) {
            return i;
        }
        const int heavy = diff > 1 ? kLeft : kRight;
        const int light = 1 - heavy;
        const Node& h = node(n.child[heavy]);
        if (h.child_height[light] > h.child_height[heavy]) {
            set_child(n, heavy, lift(n.child[heavy], light));
        }
        return lift(i, heavy);
    }

    // Hangs `child` where the walk recorded in `path` ended, then
    // rebalances the nodes on the path bottom-up and records each one's
    // height and summary in its parent.  The walk stops at the first
    // parent whose record of its child (link, height, summary) is already
    // right: nothing above it can change.  Nodes of the path whose own
    // payload the caller changed (erase of a node with two children, or a
    // neighbour updated by on_link/on_unlink) must still be recomputed, so
    // no stop happens at or below depth `changed_from`, the shallowest of
    // them (path.depth if none).  Worst case the whole path: O(log n), one
    // summarize() per level.
    void fix_up(const Path& path, std::uint32_t child, int changed_from) noexcept
    {
        int h = 0;
        Summary sum{};
        if (child != kNil) {
            h = height(node(child));
            sum = traits_.summarize(node(child));
        }
        for (int d = path.depth - 1; d >= 0; --d) {
            const std::uint32_t n = path.node[d];
            Node& p = node(n);
            const int side = path.side[d];
            if (d < changed_from && p.child[side] == child &&
                p.child_height[side] == h && p.child_sum[side] == sum) {
                return;
            }
            p.child[side] = child;
            p.child_height[side] = static_cast<std::int8_t>(h);
            p.child_sum[side] = sum;
            child = rebalance(n);
            const Node& c = node(child);
            h = height(c);
            sum = traits_.summarize(c);
        }
        root_ = child;
    }

    static constexpr unsigned kChunkBits = 12;
    static constexpr std::uint32_t kChunk = 1u << kChunkBits;

    // The slot handed out when k slots have been used so far.  Trees built
    // by ordered inserts (top-down IOVA packing is the usual case) give the
    // nodes of their upper levels slot numbers like 2^j - 1: in plain order
    // those share the low bits that pick a cache set, so the levels that
    // should stay cached evict each other (callgrind: 12 of the 18 nodes of
    // the right spine at 300,000 ranges fell in one L1 set of 8 ways).  The
    // scrambled order XORs the six bits that pick the set with the next six
    // and with a hash of the chunk number; it is a bijection within each
    // chunk, so chunks still fill in order and densely.
    static std::uint32_t scatter(std::uint32_t k) noexcept
    {
        static_assert(kChunkBits == 12, "scatter() mixes two 6-bit fields");
        const std::uint32_t upper = (k >> 6) & 63;
        const std::uint32_t chunk_hash = ((k >> kChunkBits) * 0x9E3779B9u) >> 26;
        return k ^ upper ^ chunk_hash;
    }

    Node& node(std::uint32_t i) noexcept
    {
        return chunks_[i >> kChunkBits][i & (kChunk - 1)];
    }
    const Node& node(std::uint32_t i) const noexcept
    {
        return chunks_[i >> kChunkBits][i & (kChunk - 1)];
    }

    std::vector<std::unique_ptr<Node[]>> chunks_;
    std::uint32_t used_ = 0; // slots ever handed out (high-water mark)
    std::uint32_t root_ = kNil;
    std::uint32_t free_ = kNil;
    std::size_t live_ = 0;
    std::size_t free_count_ = 0;
    std::uint32_t refilled_ = kNil;
    Traits traits_;
};

} // namespace iova::detail
