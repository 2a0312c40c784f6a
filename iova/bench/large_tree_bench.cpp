// SPDX-License-Identifier: GPL-2.0-or-later
//
// large_tree_bench.cpp - steady state with many live ranges below a 48-bit
// limit.
//   BM_LiveRanges48Bit: 300,000 one-granule ranges; free a random one,
//     allocate one granule (it lands in that hole).  Targets: alloc mean
//     <= 500 ns and p99 <= 2 us; the free is timed too, to compare with
//     Linux's (tests/bench/linux-iova).
//   BM_MixedSizes: 100,000 ranges of 1..64 granules; replace a random one
//     by a new random size, through the rcache (alloc_fast/free_fast) or
//     the tree only (alloc/free).
#include "bench_util.hpp"

#include "iova/domain.hpp"

#include <random>
#include <vector>

namespace iova::bench {
namespace {

constexpr std::uint64_t kLimit48 = (std::uint64_t{1} << 36) - 1; // 4 KiB

void BM_LiveRanges48Bit(benchmark::State& state)
{
    const std::size_t live = static_cast<std::size_t>(state.range(0));
    Domain d(k4K, 1);
    std::vector<std::uint64_t> pfns(live);
    for (auto& p : pfns) {
        p = d.alloc(1, kLimit48, false).value();
    }
    std::mt19937_64 rng(7);
    Latency alloc(state), free_time(state);
    for (auto _ : state) {
        std::uint64_t& slot = pfns[rng() % live];
        (void)free_time.time([&] { return d.free(slot); });
        const auto r = alloc.time([&] { return d.alloc(1, kLimit48, false); });
        if (!r.ok()) {
            state.SkipWithError("allocation failed");
            break;
        }
        slot = *r;
    }
    state.SetItemsProcessed(state.iterations());
    alloc.report(state, "alloc");
    free_time.report(state, "free");
}
BENCHMARK(BM_LiveRanges48Bit)->Arg(3000)->Arg(300000)->Unit(benchmark::kNanosecond);

void BM_MixedSizes(benchmark::State& state)
{
    const bool rcache = state.range(0) != 0;
    const std::size_t live = 100000;
    Domain d(k4K, 1);
    std::mt19937_64 rng(11);
    struct Held {
        std::uint64_t pfn, size;
    };
    std::vector<Held> held(live);
    auto get = [&](std::uint64_t size) {
        return rcache ? d.alloc_fast(size, kLimit48, 0, true)
                      : d.alloc(size, kLimit48, true);
    };
    auto put = [&](const Held& h) {
        if (rcache) {
            (void)d.free_fast(h.pfn, h.size, 0);
        } else {
            (void)d.free(h.pfn);
        }
    };
    for (auto& h : held) {
        h.size = 1 + rng() % 64;
        h.pfn = get(h.size).value();
    }
    Latency alloc(state);
    for (auto _ : state) {
        Held& h = held[rng() % live];
        put(h);
        h.size = 1 + rng() % 64;
        const auto r = alloc.time([&] { return get(h.size); });
        if (!r.ok()) {
            state.SkipWithError("allocation failed");
            break;
        }
        h.pfn = *r;
    }
    state.SetItemsProcessed(state.iterations());
    alloc.report(state, "alloc");
    const Stats s = d.stats();
    if (s.rcache_hits + s.rcache_misses > 0) {
        state.counters["hit_ratio"] =
            static_cast<double>(s.rcache_hits) /
            static_cast<double>(s.rcache_hits + s.rcache_misses);
    }
}
BENCHMARK(BM_MixedSizes)
    ->ArgName("rcache")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kNanosecond);

} // namespace
} // namespace iova::bench
