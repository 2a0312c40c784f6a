// SPDX-License-Identifier: GPL-2.0-or-later
//
// fast_path_bench.cpp - alloc_fast + free_fast pairs served by the rcache,
// on 1 and 2 threads with one CPU index each.  Targets: <= 15 ns per pair
// on one thread; >= 1.8x the one-thread items/s with two threads.
#include "bench_util.hpp"

#include "iova/domain.hpp"

#include <memory>

namespace iova::bench {
namespace {

constexpr std::uint64_t kLimit32 = (std::uint64_t{1} << 20) - 1;

std::unique_ptr<Domain> g_domain;

void make_domain(const benchmark::State&)
{
    Options o;
    o.ncpus = 2;
    g_domain = std::make_unique<Domain>(k4K, 1, o);
    // Prime each CPU's magazine so that every measured alloc is a hit.
    for (unsigned cpu = 0; cpu < 2; ++cpu) {
        const auto p = g_domain->alloc_fast(1, kLimit32, cpu, false);
        (void)g_domain->free_fast(p.value(), 1, cpu);
    }
}

void drop_domain(const benchmark::State&)
{
    g_domain.reset();
}

void BM_FastPairHit(benchmark::State& state)
{
    Domain& d = *g_domain;
    const unsigned cpu = static_cast<unsigned>(state.thread_index());
    for (auto _ : state) {
        const auto p = d.alloc_fast(1, kLimit32, cpu, false);
        benchmark::DoNotOptimize(p);
        (void)d.free_fast(p.value(), 1, cpu);
    }
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) {
        const Stats s = d.stats();
        state.counters["hit_ratio"] =
            static_cast<double>(s.rcache_hits) /
            static_cast<double>(s.rcache_hits + s.rcache_misses);
    }
}
BENCHMARK(BM_FastPairHit)
    ->Setup(make_domain)
    ->Teardown(drop_domain)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

} // namespace
} // namespace iova::bench
