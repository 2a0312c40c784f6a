// SPDX-License-Identifier: GPL-2.0-or-later
//
// avl_tree_test.cpp - the generic AVL tree of iova/src/avl_tree.hpp on its
// own: random inserts (through insert(), insert_at() and insert_before())
// and erases against std::map, with a payload that depends on the in-order
// predecessor (as the range tree's gap does), so that the successor updates
// of on_link and on_unlink and the fix-up's stopping rule are exercised;
// and the checker catching a stale child height or summary.
#include "../src/avl_tree.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>

namespace iova::detail {
namespace {

// Each node's `dist` is its key minus its predecessor's (its key for the
// first node); a subtree is summarised by its largest dist.
struct DistTraits {
    using Summary = std::uint64_t;
    struct Node : AvlLinks<Summary> {
        std::uint64_t key;
        std::uint64_t dist;
    };
    static std::uint64_t key(const Node& n) noexcept { return n.key; }
    Summary summarize(const Node& n) const noexcept
    {
        return std::max({n.dist, n.child_sum[kLeft], n.child_sum[kRight]});
    }
};
using Tree = AvlTree<DistTraits>;
using Node = DistTraits::Node;

// The tree must hold exactly the keys of `want`, each with the right dist,
// and pass its own structural check.
void expect_matches(const Tree& t, const std::map<std::uint64_t, bool>& want)
{
    std::string why;
    ASSERT_TRUE(t.check_structure(&why)) << why;
    ASSERT_EQ(t.size(), want.size());
    auto it = want.begin();
    std::uint64_t prev = 0, max_dist = 0;
    t.for_each([&](std::uint32_t, const Node& n) {
        ASSERT_EQ(n.key, it->first);
        ASSERT_EQ(n.dist, n.key - prev) << "at key " << n.key;
        max_dist = std::max(max_dist, n.dist);
        prev = n.key;
        ++it;
    });
    if (t.root() != kNil) {
        EXPECT_EQ(t.traits().summarize(t.at(t.root())), max_dist);
    }
}

Node payload(std::uint64_t key)
{
    Node n{};
    n.key = key;
    return n;
}

// The new node takes the distance to its predecessor, which its successor
// had, and the successor's shrinks.
bool link_dist(Node& fresh, Node* succ, std::uint64_t pred_key)
{
    fresh.dist = fresh.key - pred_key;
    if (succ) {
        succ->dist = succ->key - fresh.key;
    }
    return succ != nullptr;
}

// Walks from the root to the empty slot of `key`, as a search would.
Tree::Path path_to(const Tree& t, std::uint64_t key)
{
    Tree::Path path;
    for (std::uint32_t n = t.root(); n != kNil;) {
        const int side = key > t.at(n).key ? kRight : kLeft;
        path.push(n, side);
        n = t.at(n).child[side];
    }
    return path;
}

TEST(AvlTree, RandomInsertsAndErasesKeepEveryRecord)
{
    std::mt19937_64 rng(1);
    Tree t;
    std::map<std::uint64_t, bool> want;
    for (int step = 0; step < 20000; ++step) {
        const std::uint64_t k = 1 + rng() % 4000;
        const auto above = want.upper_bound(k);
        const std::uint64_t pred_key =
            above == want.begin() ? 0 : std::prev(above)->first;
        switch (rng() % 4) {
        case 0: // insert() walks from the root itself
            if (!want.contains(k)) {
                t.reserve_room(1);
                ASSERT_NE(t.insert(payload(k),
                                   [&](Node& f, Node* s) {
                                       return link_dist(f, s, pred_key);
                                   }),
                          kNil);
                want[k] = true;
            }
            break;
        case 1: // insert_at() at the end of a caller's walk
            if (!want.contains(k)) {
                t.reserve_room(1);
                t.insert_at(path_to(t, k), payload(k), [&](Node& f, Node* s) {
                    return link_dist(f, s, pred_key);
                });
                want[k] = true;
            }
            break;
        case 2: { // insert_before() the successor, taking its slot
            const std::uint32_t x = t.higher(k);
            if (want.contains(k) || x == kNil) {
                break;
            }
            Tree::Path path;
            for (std::uint32_t n = t.root(); n != x;) {
                const int side = t.at(x).key > t.at(n).key ? kRight : kLeft;
                path.push(n, side);
                n = t.at(n).child[side];
            }
            t.reserve_room(1);
            ASSERT_EQ(t.insert_before(path, x, payload(k),
                                      [&](Node& f, Node* s) {
                                          return link_dist(f, s, pred_key);
                                      }),
                      x);
            EXPECT_EQ(t.at(x).key, k);
            want[k] = true;
            break;
        }
        default: { // erase the floor of k, or k only; its successor
                   // inherits its dist
            const bool exact = rng() % 2 == 0;
            const bool erased = t.erase_floor_if(
                k,
                [&](const Node& n) { return !exact || n.key == k; },
                [](const Node& gone, Node* s) {
                    if (s) {
                        s->dist += gone.dist;
                    }
                    return s != nullptr;
                });
            const bool expected =
                exact ? want.contains(k) : above != want.begin();
            ASSERT_EQ(erased, expected);
            if (erased) {
                want.erase(std::prev(above));
            }
            break;
        }
        }
        if (step % 97 == 0 || t.size() < 50) {
            expect_matches(t, want);
        }
    }
    expect_matches(t, want);
}

// Ordered inserts, the allocator's usual pattern, through the scrambled
// slot order; then the checker must catch any stale record.
TEST(AvlTree, CheckerCatchesStaleChildRecords)
{
    Tree t;
    std::map<std::uint64_t, bool> want;
    for (std::uint64_t k = 10000; k > 0; --k) {
        t.reserve_room(1);
        t.insert(payload(k), [](Node& f, Node* s) { return link_dist(f, s, 0); });
        want[k] = true;
    }
    expect_matches(t, want);

    Node& root = const_cast<Node&>(t.at(t.root()));
    std::string why;
    ++root.child_sum[kLeft];
    EXPECT_FALSE(t.check_structure(&why));
    EXPECT_EQ(why, "stale child summary");
    --root.child_sum[kLeft];
    ++root.child_height[kRight];
    EXPECT_FALSE(t.check_structure(&why));
    EXPECT_EQ(why, "stale child height");
    --root.child_height[kRight];
    EXPECT_TRUE(t.check_structure(&why)) << why;
}

} // namespace
} // namespace iova::detail
