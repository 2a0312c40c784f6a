// virt-iommu's IOVA allocator (iova/, through its C API as QEMU uses it)
// against QEMU's util/iova-tree.c, on the same workloads in one run:
//   size1: N live 1-page ranges in a 48-bit space; each iteration frees a
//          random one and allocates one page;
//   mixed: N live ranges of 1..64 pages; each iteration frees a random one
//          and allocates a random size.
// Both start from N ranges packed where each allocator puts them (iova/
// top-down, iova-tree bottom-up), filled outside the timed loop; the
// iova-tree is filled by insertion, since filling it by allocation costs
// O(N^2).
//
// SPDX-License-Identifier: GPL-2.0-or-later

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "iova/iova.h"
#include "qemu-iova-tree-shim.h"

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr unsigned kShift = 12;
constexpr std::uint64_t kLast = (1ULL << 48) - 1;

struct Live {
    std::uint64_t addr;   // bytes
    std::uint64_t pages;
};

std::uint64_t pick_pages(std::mt19937_64 &rng, bool mixed)
{
    return mixed ? std::uniform_int_distribution<std::uint64_t>(1, 64)(rng)
                 : 1;
}

// Owns one iova/ domain for the length of a benchmark.
class OurSpace {
public:
    OurSpace()
    {
        IovaConfig cfg{};
        cfg.granule = kPage;
        cfg.start_pfn = 1;
        if (iova_domain_new(&cfg, &domain_) != IOVA_OK) {
            domain_ = nullptr;
        }
    }
    ~OurSpace() { iova_domain_free(domain_); }
    OurSpace(const OurSpace &) = delete;
    OurSpace &operator=(const OurSpace &) = delete;

    bool alloc(std::uint64_t pages, std::uint64_t *addr)
    {
        std::uint64_t pfn;

        if (iova_alloc(domain_, pages, kLast >> kShift, false, &pfn) !=
            IOVA_OK) {
            return false;
        }
        *addr = pfn << kShift;
        return true;
    }
    bool fill(std::uint64_t pages, std::uint64_t *addr)
    {
        return alloc(pages, addr);
    }
    void free(std::uint64_t addr, std::uint64_t)
    {
        (void)iova_free(domain_, addr >> kShift);
    }

private:
    IovaDomain *domain_ = nullptr;
};

// Owns one QEMU IOVATree for the length of a benchmark.
class QemuSpace {
public:
    QemuSpace() : tree_(qemu_iova_tree_new()) {}
    ~QemuSpace() { qemu_iova_tree_free(tree_); }
    QemuSpace(const QemuSpace &) = delete;
    QemuSpace &operator=(const QemuSpace &) = delete;

    bool alloc(std::uint64_t pages, std::uint64_t *addr)
    {
        return qemu_iova_tree_alloc(tree_, pages * kPage, kPage, kLast, addr);
    }
    // Where iova_tree_alloc_map() would put it in a packed tree.
    bool fill(std::uint64_t pages, std::uint64_t *addr)
    {
        *addr = next_;
        next_ += pages * kPage;
        return qemu_iova_tree_insert(tree_, *addr, pages * kPage);
    }
    void free(std::uint64_t addr, std::uint64_t pages)
    {
        qemu_iova_tree_remove(tree_, addr, pages * kPage);
    }

private:
    QemuIovaTree *tree_;
    std::uint64_t next_ = kPage;
};

template <class Space>
void churn(benchmark::State &state, bool mixed)
{
    const auto n = static_cast<std::size_t>(state.range(0));
    std::mt19937_64 rng(1);
    Space space;
    std::vector<Live> live;

    live.reserve(n);
    for (std::size_t i = 0; i < n; i++) {
        Live l{0, pick_pages(rng, mixed)};

        if (!space.fill(l.pages, &l.addr)) {
            state.SkipWithError("fill failed");
            return;
        }
        live.push_back(l);
    }
    for (auto _ : state) {
        auto &victim = live[rng() % n];

        space.free(victim.addr, victim.pages);
        victim.pages = pick_pages(rng, mixed);
        if (!space.alloc(victim.pages, &victim.addr)) {
            state.SkipWithError("alloc failed");
            return;
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["live"] = static_cast<double>(n);
}

void BM_size1_iova(benchmark::State &s) { churn<OurSpace>(s, false); }
void BM_size1_qemu_iova_tree(benchmark::State &s) { churn<QemuSpace>(s, false); }
void BM_mixed_iova(benchmark::State &s) { churn<OurSpace>(s, true); }
void BM_mixed_qemu_iova_tree(benchmark::State &s) { churn<QemuSpace>(s, true); }

} // namespace

BENCHMARK(BM_size1_iova)->Arg(10000)->Arg(100000)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_size1_qemu_iova_tree)->Arg(10000)->Arg(100000)
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_mixed_iova)->Arg(10000)->Arg(100000)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_mixed_qemu_iova_tree)->Arg(10000)->Arg(100000)
    ->Unit(benchmark::kNanosecond);
