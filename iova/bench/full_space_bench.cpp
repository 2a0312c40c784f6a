// SPDX-License-Identifier: GPL-2.0-or-later
//
// full_space_bench.cpp - "32-bit space full": every pfn of the 32-bit
// window [1, 2^20 - 1] (4 KiB granule) holds a one-granule range; each
// iteration frees a random one, allocates one granule (finds that hole)
// and allocates one more (fails: the window is full again).  This is the
// case where Linux walks the whole tree from its cached node; here both
// allocations are O(log n).  Targets: mean <= 1 us, max <= 50 us per alloc.
// machine_max_ns is the max of fixed work timed in the same loop
// (machine_work): the part of the max that is the machine's.
#include "bench_util.hpp"

#include "iova/domain.hpp"

#include <memory>
#include <random>
#include <stdexcept>

namespace iova::bench {
namespace {

void BM_Full32BitSpace(benchmark::State& state)
{
    Domain d(k4K, 1);
    const std::uint64_t limit = d.dma_32bit_pfn() - 1;
    for (std::uint64_t i = 1; i <= limit; ++i) {
        if (!d.alloc(1, limit, false).ok()) {
            state.SkipWithError("could not fill the 32-bit space");
            return;
        }
    }
    std::mt19937_64 rng(42);
    Latency ok_alloc(state), failed_alloc(state), all_allocs(state, 2);
    Latency machine(state);
    for (auto _ : state) {
        const std::uint64_t victim = 1 + rng() % limit;
        benchmark::DoNotOptimize(
            machine.time([&] { return machine_work(victim); }));
        (void)d.free(victim);
        const auto got = all_allocs.time([&] {
            return ok_alloc.time([&] { return d.alloc(1, limit, false); });
        });
        const auto none = all_allocs.time([&] {
            return failed_alloc.time([&] { return d.alloc(1, limit, false); });
        });
        if (!got.ok() || *got != victim || none.ok()) {
            state.SkipWithError("allocator returned an unexpected result");
            break;
        }
    }
    state.SetItemsProcessed(2 * state.iterations());
    all_allocs.report(state, "alloc");
    ok_alloc.report(state, "ok_alloc");
    failed_alloc.report(state, "failed_alloc");
    machine.report(state, "machine");
    state.counters["live_ranges"] = static_cast<double>(d.stats().live_ranges);
}
BENCHMARK(BM_Full32BitSpace)->Unit(benchmark::kNanosecond)->Iterations(200000);

} // namespace
} // namespace iova::bench
