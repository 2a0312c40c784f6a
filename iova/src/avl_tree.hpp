// SPDX-License-Identifier: GPL-2.0-or-later
//
// avl_tree.hpp - an augmented AVL tree over an index-based node pool.
//
// Both search structures of the allocator (the range tree and the aligned
// gap index) are ordered sets of nodes with a unique 64-bit key and a value
// computed from each node's subtree (the "augmentation").  This template
// holds what they share: the pool, insertion, erasure and rebalancing.
//
// Why AVL: the height of an AVL tree with n nodes is below 1.45 log2(n + 2),
// a worst-case bound, so every walk from the root is O(log n) whatever the
// order of operations.  Linux uses a red-black tree; AVL trees are a little
// flatter, which favours our read-mostly descents.
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
//   using Node = ...;  with members `std::uint32_t left, right;
//                      std::int8_t height;` plus payload and augmentation;
//   static std::uint64_t key(const Node&);
//   void pull(Node& n, const Node* left, const Node* right) const;
//       recomputes n's augmentation from its payload and its children's
//       augmentation (children may be null);
//   static bool same_augmentation(const Node& a, const Node& b);
//       whether a and b carry the same augmentation (lets a fix-up stop
//       early: above an unchanged node nothing changes).
//
// Not thread-safe: the owner serialises access (the domain's tree lock).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace iova::detail {

inline constexpr std::uint32_t kNil = UINT32_MAX;

template <class Traits>
class AvlTree {
public:
    using Node = typename Traits::Node;

    explicit AvlTree(Traits traits = Traits{}) : traits_(traits) {}

    const Node& at(std::uint32_t i) const noexcept { return node(i); }
    const Node* get(std::uint32_t i) const noexcept
    {
        return i == kNil ? nullptr : &node(i);
    }
    std::uint32_t root() const noexcept { return root_; }
    std::size_t size() const noexcept { return live_; }
    const Traits& traits() const noexcept { return traits_; }

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
    // kNil if the key exists (nothing changes then).  If pred/succ are
    // given, stores the indices of the new node's in-order neighbours
    // (kNil if none), found on the same walk.  Throws std::bad_alloc only
    // if no room was reserved, with the tree unchanged.
    std::uint32_t insert(const Node& payload, std::uint32_t* pred = nullptr,
                         std::uint32_t* succ = nullptr)
    {
        const std::uint64_t k = Traits::key(payload);
        Path path;
        std::uint32_t last_right = kNil, last_left = kNil;
        std::uint32_t cur = root_;
        while (cur != kNil) {
            const std::uint64_t ck = Traits::key(node(cur));
            if (k == ck) {
                return kNil;
            }
            const bool right = k > ck;
            path.push(cur, right);
            if (right) {
                last_right = cur;
                cur = node(cur).right;
            } else {
                last_left = cur;
                cur = node(cur).left;
            }
        }
        const std::uint32_t idx = new_node(payload); // may throw: no change yet
        fix_up(path, idx);
        if (pred) {
            *pred = last_right; // a new leaf's predecessor: last right turn
        }
        if (succ) {
            *succ = last_left;
        }
        return idx;
    }

    // What erase_floor_if() removed, and the removed node's in-order
    // neighbours as they were, copied before anything changed.
    struct Removal {
        Node node;
        bool has_pred = false;
        Node pred{};
        bool has_succ = false;
        Node succ{};
    };

    // Finds the node with the highest key <= k and, if accept(node) is
    // true, removes it, describing it and its neighbours in *out.  One walk
    // from the root, never allocates.  False if no node was removed.
    template <class Accept>
    bool erase_floor_if(std::uint64_t k, Accept&& accept, Removal* out) noexcept
    {
        Path path;
        int found_depth = -1;
        std::uint32_t found = kNil;
        std::uint32_t cur = root_;
        while (cur != kNil) {
            if (Traits::key(node(cur)) <= k) {
                found = cur;
                found_depth = path.depth;
                path.push(cur, true);
                cur = node(cur).right;
            } else {
                path.push(cur, false);
                cur = node(cur).left;
            }
        }
        if (found == kNil || !accept(static_cast<const Node&>(node(found)))) {
            return false;
        }
        path.depth = found_depth; // the path down to `found`, exclusive
        if (out) {
            out->node = node(found);
            out->has_pred = out->has_succ = false;
            if (node(found).left != kNil) {
                std::uint32_t p = node(found).left;
                while (node(p).right != kNil) {
                    p = node(p).right;
                }
                out->has_pred = true;
                out->pred = node(p);
            }
            if (node(found).right != kNil) {
                std::uint32_t q = node(found).right;
                while (node(q).left != kNil) {
                    q = node(q).left;
                }
                out->has_succ = true;
                out->succ = node(q);
            }
            // Without a subtree on that side, the neighbour is the last
            // ancestor where the walk turned the other way.
            for (int d = path.depth - 1; d >= 0 && !(out->has_pred && out->has_succ); --d) {
                if (path.right[d] && !out->has_pred) {
                    out->has_pred = true;
                    out->pred = node(path.node[d]);
                } else if (!path.right[d] && !out->has_succ) {
                    out->has_succ = true;
                    out->succ = node(path.node[d]);
                }
            }
        }
        unlink(found, path);
        return true;
    }

    // Removes the node with key `k`; false if there is none.  Never
    // allocates.
    bool erase(std::uint64_t k) noexcept
    {
        Path path;
        std::uint32_t cur = root_;
        while (cur != kNil) {
            const std::uint64_t ck = Traits::key(node(cur));
            if (k == ck) {
                break;
            }
            const bool right = k > ck;
            path.push(cur, right);
            cur = right ? node(cur).right : node(cur).left;
        }
        if (cur == kNil) {
            return false;
        }
        unlink(cur, path);
        return true;
    }

    // Highest node with key <= k, or kNil.
    std::uint32_t floor(std::uint64_t k) const noexcept
    {
        std::uint32_t best = kNil;
        std::uint32_t cur = root_;
        while (cur != kNil) {
            if (Traits::key(node(cur)) <= k) {
                best = cur;
                cur = node(cur).right;
            } else {
                cur = node(cur).left;
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
                cur = node(cur).left;
            } else {
                cur = node(cur).right;
            }
        }
        return best;
    }

    // In-order visit of every node (iterative: no recursion depth issue).
    template <class F>
    void for_each(F&& f) const
    {
        std::uint32_t stack[kMaxDepth];
        int depth = 0;
        std::uint32_t cur = root_;
        while (cur != kNil || depth > 0) {
            while (cur != kNil) {
                stack[depth++] = cur;
                cur = node(cur).left;
            }
            cur = stack[--depth];
            f(cur, node(cur));
            cur = node(cur).right;
        }
    }

    // Height of the subtree at i as stored (0 for kNil).
    int height(std::uint32_t i) const noexcept
    {
        return i == kNil ? 0 : node(i).height;
    }

    // Recomputes what pull() would store for node i, for invariant checks.
    Node recomputed(std::uint32_t i) const
    {
        Node copy = node(i);
        traits_.pull(copy, get(copy.left), get(copy.right));
        return copy;
    }

private:
    // An AVL tree of 2^32 nodes is at most 46 levels high.
    static constexpr int kMaxDepth = 64;

    struct Path {
        std::uint32_t node[kMaxDepth];
        bool right[kMaxDepth];
        int depth = 0;
        void push(std::uint32_t n, bool r) noexcept
        {
            node[depth] = n;
            right[depth] = r;
            ++depth;
        }
    };

    // Removes node `cur`, reached from the root by `path`, and rebalances.
    void unlink(std::uint32_t cur, Path& path) noexcept
    {
        std::uint32_t victim = cur;
        std::uint32_t replacement;
        int payload_changed_at = kMaxDepth; // depth of a re-filled node
        if (node(cur).left != kNil && node(cur).right != kNil) {
            payload_changed_at = path.depth;
            // Two children: the in-order successor (leftmost of the right
            // subtree) has no left child; move its payload here and unlink
            // the successor's slot instead.
            path.push(cur, true);
            std::uint32_t succ = node(cur).right;
            while (node(succ).left != kNil) {
                path.push(succ, false);
                succ = node(succ).left;
            }
            copy_payload(node(cur), node(succ));
            victim = succ;
            replacement = node(succ).right;
        } else {
            replacement = node(cur).left != kNil ? node(cur).left
                                                   : node(cur).right;
        }
        release_node(victim);
        fix_up(path, replacement, payload_changed_at);
    }

    static void copy_payload(Node& dst, const Node& src) noexcept
    {
        const std::uint32_t l = dst.left, r = dst.right;
        const std::int8_t h = dst.height;
        dst = src;
        dst.left = l;
        dst.right = r;
        dst.height = h;
    }

    std::uint32_t new_node(const Node& payload)
    {
        std::uint32_t idx;
        if (free_ != kNil) {
            idx = free_;
            free_ = node(idx).left;
            --free_count_;
        } else {
            reserve_room(1); // may throw: no change yet
            idx = used_++;
        }
        node(idx) = payload;
        Node& n = node(idx);
        n.left = n.right = kNil;
        n.height = 1;
        traits_.pull(n, nullptr, nullptr);
        ++live_;
        return idx;
    }

    void release_node(std::uint32_t idx) noexcept
    {
        node(idx).left = free_;
        node(idx).right = kNil;
        node(idx).height = 0;
        free_ = idx;
        ++free_count_;
        --live_;
    }

    void update(std::uint32_t i) noexcept
    {
        Node& n = node(i);
        n.height = static_cast<std::int8_t>(
            1 + std::max(height(n.left), height(n.right)));
        traits_.pull(n, get(n.left), get(n.right));
    }

    std::uint32_t rotate_right(std::uint32_t i) noexcept
    {
        const std::uint32_t l = node(i).left;
        node(i).left = node(l).right;
        node(l).right = i;
        update(i);
        update(l);
        return l;
    }

    std::uint32_t rotate_left(std::uint32_t i) noexcept
    {
        const std::uint32_t r = node(i).right;
        node(i).right = node(r).left;
        node(r).left = i;
        update(i);
        update(r);
        return r;
    }

    // Restores the AVL property at i (whose children are balanced and whose
    // heights differ by at most 2), re-augments, and returns the subtree's
    // new root.  The common balanced case costs one pull().
    std::uint32_t rebalance(std::uint32_t i) noexcept
    {
        Node& n = node(i);
        const int hl = height(n.left), hr = height(n.right);
        if (hl - hr > 1) {
            const Node& l = node(n.left);
            if (height(l.left) < height(l.right)) {
                n.left = rotate_left(n.left);
            }
            return rotate_right(i);
        }
        if (hr - hl > 1) {
            const Node& r = node(n.right);
            if (height(r.right) < height(r.left)) {
                n.right = rotate_right(n.right);
            }
            return rotate_left(i);
        }
        n.height = static_cast<std::int8_t>(1 + (hl > hr ? hl : hr));
        traits_.pull(n, get(n.left), get(n.right));
        return i;
    }

    // Hangs `child` where the walk recorded in `path` ended, then
    // rebalances and re-augments the nodes on the path, bottom-up.  The
    // walk stops at the first node whose child link, height and
    // augmentation all come out unchanged: nothing above it can change.
    // A node whose payload was replaced (erase of a node with two
    // children) also took its successor's stale augmentation, so its
    // "before" is not what its parent saw: no stop happens at or below
    // `no_stop_at` (its depth).  Worst case the whole path: O(log n).
    void fix_up(const Path& path, std::uint32_t child,
                int no_stop_at = kMaxDepth) noexcept
    {
        for (int d = path.depth - 1; d >= 0; --d) {
            const std::uint32_t n = path.node[d];
            std::uint32_t& link = path.right[d] ? node(n).right : node(n).left;
            const bool relinked = link != child;
            link = child;
            const Node before = node(n);
            child = rebalance(n);
            if (d < no_stop_at && !relinked && child == n &&
                before.height == node(n).height &&
                Traits::same_augmentation(before, node(n))) {
                return;
            }
        }
        root_ = child;
    }

    static constexpr unsigned kChunkBits = 12;
    static constexpr std::uint32_t kChunk = 1u << kChunkBits;

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
    Traits traits_;
};

} // namespace iova::detail
