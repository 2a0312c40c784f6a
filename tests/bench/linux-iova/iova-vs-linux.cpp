// SPDX-License-Identifier: GPL-2.0-or-later
//
// iova-vs-linux.cpp - virt-iommu's IOVA allocator (iova/) against Linux's
// own drivers/iommu/iova.c (built unmodified over the kernel shim in
// shim/), on the same workloads in the same run.  Each workload is
// registered for both allocators, one right after the other; names are
// WORKLOAD/ALLOCATOR ("ours" or "linux").  Both use a 4 KiB granule, start
// pfn 1, rcaches with 2 CPUs, and depot trimming after 100 ms on the same
// worker thread.  A benchmark thread is CPU `thread_index` for both.
//
//   fast_pair_1:      alloc_fast + free_fast of 1 granule (rcache hits),
//                     on 1 and 2 threads;
//   fast_pair_1_32:   the same, sizes cycling through 1..32;
//   fast_pair_1/host: no allocator: the host's own scaling from 1 to 2
//                     threads, against which fast_pair_1's is read;
//   full_32bit:       every pfn of the 32-bit window allocated; free a
//                     random one, allocate one granule (finds the hole),
//                     allocate one more (fails);
//   live_300k_48bit:  300,000 one-granule ranges below 2^48 bytes; free a
//                     random one (timed too), allocate one granule;
//   mixed_1_64_100k_{rcache,tree}: 100,000 size-aligned ranges of 1..64
//                     granules; replace a random one by a new random size
//                     through the fast path or the tree only.
//
// Latency workloads report the allocation's mean, p99 and max (ns) as
// counters.  scripts/bench-report.py puts the two side by side.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "iova/domain.hpp"
#include "linux-iova.h"
#include "shim/kshim.h"

namespace {

constexpr std::uint64_t kGranule = 4096;                       // bytes
constexpr unsigned kCpus = 2;                                  // CPU indexes
constexpr std::uint64_t kLimit32 = (std::uint64_t{1} << 20) - 1; // pfn
constexpr std::uint64_t kLimit48 = (std::uint64_t{1} << 36) - 1; // pfn
constexpr std::uint64_t kTrimDelayNs = 100'000'000;            // Linux's

// virt-iommu's allocator, through its C++ API, its depot trim on the
// shim's worker thread.
class Ours {
public:
    static constexpr const char* kName = "ours";

    Ours() : timer_(kshim_timer_new(&Ours::trim, this))
    {
        iova::Options o;
        o.ncpus = kCpus;
        o.trim_delay_ns = kTrimDelayNs;
        o.schedule_trim = [this](std::uint64_t delay_ns) {
            kshim_timer_arm(timer_, delay_ns);
        };
        domain_ = std::make_unique<iova::Domain>(kGranule, 1, std::move(o));
    }
    ~Ours()
    {
        kshim_timer_free(timer_); // cancels: the domain must outlive it
        domain_.reset();
    }
    Ours(const Ours&) = delete;
    Ours& operator=(const Ours&) = delete;

    // First pfn, 0 if nothing fits.
    std::uint64_t alloc(std::uint64_t size, std::uint64_t limit, bool aligned)
    {
        return domain_->alloc(size, limit, aligned).value_or(0);
    }
    void free(std::uint64_t pfn) { (void)domain_->free(pfn); }
    std::uint64_t alloc_fast(std::uint64_t size, std::uint64_t limit,
                             unsigned cpu)
    {
        return domain_->alloc_fast(size, limit, cpu, true).value_or(0);
    }
    void free_fast(std::uint64_t pfn, std::uint64_t size, unsigned cpu)
    {
        (void)domain_->free_fast(pfn, size, cpu);
    }

private:
    static void trim(void* self)
    {
        static_cast<Ours*>(self)->domain_->trim_depot();
    }

    kshim_timer* timer_;
    std::unique_ptr<iova::Domain> domain_;
};

// Linux's iova.c; its CPU is the calling thread's kshim_set_cpu() index.
class Linux {
public:
    static constexpr const char* kName = "linux";

    Linux() : domain_(linux_iova_domain_new(kGranule, 1)) {}
    ~Linux() { linux_iova_domain_free(domain_); }
    Linux(const Linux&) = delete;
    Linux& operator=(const Linux&) = delete;

    bool ok() const { return domain_ != nullptr; }
    std::uint64_t alloc(std::uint64_t size, std::uint64_t limit, bool aligned)
    {
        return linux_iova_alloc(domain_, size, limit, aligned);
    }
    void free(std::uint64_t pfn) { free_iova(domain_, pfn); }
    std::uint64_t alloc_fast(std::uint64_t size, std::uint64_t limit,
                             unsigned /*cpu*/)
    {
        return alloc_iova_fast(domain_, size, limit, true);
    }
    void free_fast(std::uint64_t pfn, std::uint64_t size, unsigned /*cpu*/)
    {
        free_iova_fast(domain_, pfn, size);
    }

private:
    iova_domain* domain_;
};

using iova::bench::Latency;

// ---- fast pair: one domain shared by the benchmark's threads ------------

template <class A>
std::unique_ptr<A> g_shared;

// Every size class the workload uses holds a cached range on every CPU,
// so that every measured alloc_fast is a hit.
template <class A>
void make_shared(const benchmark::State& state)
{
    g_shared<A> = std::make_unique<A>();
    for (unsigned cpu = 0; cpu < kCpus; ++cpu) {
        kshim_set_cpu(cpu);
        for (std::uint64_t size = 1;
             size <= static_cast<std::uint64_t>(state.range(0)); size *= 2) {
            const std::uint64_t p = g_shared<A>->alloc_fast(size, kLimit32, cpu);
            g_shared<A>->free_fast(p, size, cpu);
        }
    }
    kshim_set_cpu(0);
}

template <class A>
void drop_shared(const benchmark::State&)
{
    g_shared<A>.reset();
}

// range(0): largest size; sizes cycle through 1 .. range(0).
template <class A>
void BM_FastPair(benchmark::State& state)
{
    A& a = *g_shared<A>;
    const unsigned cpu = static_cast<unsigned>(state.thread_index());
    const std::uint64_t mask = static_cast<std::uint64_t>(state.range(0)) - 1;
    std::uint64_t i = 0;
    kshim_set_cpu(cpu);
    for (auto _ : state) {
        const std::uint64_t size = 1 + (i++ & mask);
        const std::uint64_t p = a.alloc_fast(size, kLimit32, cpu);
        benchmark::DoNotOptimize(p);
        if (p == 0) {
            state.SkipWithError("alloc_fast failed");
            break;
        }
        a.free_fast(p, size, cpu);
    }
    state.SetItemsProcessed(state.iterations());
}

// ---- latency workloads: a domain of their own ---------------------------

template <class A>
void BM_Full32Bit(benchmark::State& state)
{
    A a;
    for (std::uint64_t i = 1; i <= kLimit32; ++i) {
        if (a.alloc(1, kLimit32, false) == 0) {
            state.SkipWithError("could not fill the 32-bit space");
            return;
        }
    }
    std::mt19937_64 rng(42);
    Latency ok_alloc(state), failed_alloc(state);
    for (auto _ : state) {
        const std::uint64_t victim = 1 + rng() % kLimit32;
        a.free(victim);
        const auto got =
            ok_alloc.time([&] { return a.alloc(1, kLimit32, false); });
        const auto none =
            failed_alloc.time([&] { return a.alloc(1, kLimit32, false); });
        if (got != victim || none != 0) {
            state.SkipWithError("allocator returned an unexpected result");
            break;
        }
    }
    state.SetItemsProcessed(2 * state.iterations());
    ok_alloc.report(state, "ok_alloc");
    failed_alloc.report(state, "failed_alloc");
}

template <class A>
void BM_Live48Bit(benchmark::State& state)
{
    const auto live = static_cast<std::size_t>(state.range(0));
    A a;
    std::vector<std::uint64_t> pfns(live);
    for (auto& p : pfns) {
        p = a.alloc(1, kLimit48, false);
    }
    std::mt19937_64 rng(7);
    Latency alloc(state);
    Latency free_time(state);
    for (auto _ : state) {
        std::uint64_t& slot = pfns[rng() % live];
        free_time.time([&] {
            a.free(slot);
            return 0;
        });
        slot = alloc.time([&] { return a.alloc(1, kLimit48, false); });
        if (slot == 0) {
            state.SkipWithError("allocation failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
    alloc.report(state, "alloc");
    free_time.report(state, "free");
}

// range(0): 1 through the fast path (alloc_fast/free_fast on CPU 0), 0
// through the tree (alloc/free); always size-aligned.
template <class A>
void BM_Mixed(benchmark::State& state)
{
    const bool fast = state.range(0) != 0;
    constexpr std::size_t kLive = 100'000;
    A a;
    std::mt19937_64 rng(11);
    struct Held {
        std::uint64_t pfn, size;
    };
    auto get = [&](std::uint64_t size) {
        return fast ? a.alloc_fast(size, kLimit48, 0)
                    : a.alloc(size, kLimit48, true);
    };
    auto put = [&](const Held& h) {
        if (fast) {
            a.free_fast(h.pfn, h.size, 0);
        } else {
            a.free(h.pfn);
        }
    };
    kshim_set_cpu(0);
    std::vector<Held> held(kLive);
    for (auto& h : held) {
        h.size = 1 + rng() % 64;
        h.pfn = get(h.size);
    }
    Latency alloc(state);
    for (auto _ : state) {
        Held& h = held[rng() % kLive];
        put(h);
        h.size = 1 + rng() % 64;
        h.pfn = alloc.time([&] { return get(h.size); });
        if (h.pfn == 0) {
            state.SkipWithError("allocation failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
    alloc.report(state, "alloc");
}

// The host's scaling: 16 dependent additions and exclusive-ors in
// registers per iteration, nothing in memory and nothing shared, so two
// threads do twice the iterations of one exactly when the host runs the
// process on two whole CPUs.  On these machines it does not always
// (docs/devel/performance.rst, "The fast path as a leaf function"), and
// fast_pair_1's two threads cannot scale better than this.
void BM_HostScaling(benchmark::State& state)
{
    std::uint64_t x = std::uint64_t(state.thread_index()) + 1, y = 2;
    for (auto _ : state) {
        for (std::uint64_t i = 0; i < 16; i++) {
            x += y ^ i;
            y ^= x + 3;
        }
        benchmark::DoNotOptimize(x);
    }
    state.SetItemsProcessed(state.iterations());
}

// Iteration counts: fixed, so that each set-up (up to a million ranges)
// runs once; Linux's full 32-bit space walks the whole tree on every
// failed allocation, hence far fewer iterations there.
struct Counts {
    benchmark::IterationCount full32, live48, mixed;
};

template <class A>
void register_for(const std::string& w, const Counts& n)
{
    const std::string name = std::string("/") + A::kName;
    if (w == "fast_pair_1") {
        benchmark::RegisterBenchmark((w + name).c_str(), BM_FastPair<A>)
            ->Arg(1)->Setup(make_shared<A>)->Teardown(drop_shared<A>)
            ->Threads(1)->Threads(2)->UseRealTime();
    } else if (w == "fast_pair_1_32") {
        benchmark::RegisterBenchmark((w + name).c_str(), BM_FastPair<A>)
            ->Arg(32)->Setup(make_shared<A>)->Teardown(drop_shared<A>)
            ->Threads(1)->UseRealTime();
    } else if (w == "full_32bit") {
        benchmark::RegisterBenchmark((w + name).c_str(), BM_Full32Bit<A>)
            ->Iterations(n.full32)->Unit(benchmark::kMicrosecond);
    } else if (w == "live_300k_48bit") {
        benchmark::RegisterBenchmark((w + name).c_str(), BM_Live48Bit<A>)
            ->Arg(300'000)->Iterations(n.live48)
            ->Unit(benchmark::kMicrosecond);
    } else {
        benchmark::RegisterBenchmark((w + name).c_str(), BM_Mixed<A>)
            ->Arg(w.ends_with("rcache") ? 1 : 0)->Iterations(n.mixed)
            ->Unit(benchmark::kMicrosecond);
    }
}

// Runs before main(): the shim's CPUs and worker, then the benchmarks,
// each workload for ours and then for Linux, fast_pair_1's followed by
// the host's scaling.
const bool registered = [] {
    kshim_init(kCpus);
    const Counts ours{200'000, 200'000, 200'000};
    const Counts linux{100, 20'000, 20'000};
    for (const char* w :
         {"fast_pair_1", "fast_pair_1_32", "full_32bit", "live_300k_48bit",
          "mixed_1_64_100k_rcache", "mixed_1_64_100k_tree"}) {
        register_for<Ours>(w, ours);
        register_for<Linux>(w, linux);
        if (std::string(w) == "fast_pair_1") {
            benchmark::RegisterBenchmark("fast_pair_1/host", BM_HostScaling)
                ->Threads(1)->Threads(2)->UseRealTime();
        }
    }
    return true;
}();

} // namespace
