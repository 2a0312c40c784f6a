// SPDX-License-Identifier: GPL-2.0-or-later
//
// fuzz_iova.cpp - libFuzzer target: the fuzzer's bytes become a domain
// configuration and a sequence of allocator operations, each run on an
// iova::Domain and on the property test's ReferenceModel.  Any difference
// in a result or in the counters, a broken invariant, an entry left behind
// at the end or a leaked magazine aborts, so libFuzzer saves the input.
// The property test draws operations from a PRNG with fixed weights; here
// coverage feedback steers them, which reaches orders (trim right after a
// CPU goes away, reserve over a cached range...) a PRNG rarely builds.
//
// Build: a clang build with -fsanitize=fuzzer (make fuzz-iova, which sets
// up build/iova-fuzz with -Dfuzz=true).  Replay one input with
//   build/iova-fuzz/iova/fuzz/iova-fuzz CRASH-FILE
#include "reference_model.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace iova::test {
namespace {

// 16 MiB granule, as the property test: the 32-bit window is pfns below
// 256, so small limits reach the max32 logic.
constexpr std::uint64_t kGranule = std::uint64_t{1} << 24;
constexpr std::uint64_t kTrimDelay = 777;

[[noreturn]] void fail(const char* op, const std::string& what)
{
    std::fprintf(stderr, "iova-fuzz: %s: %s\n", op, what.c_str());
    std::fflush(stderr);
    std::abort();
}

void check(bool ok, const char* op, const char* what)
{
    if (!ok) {
        fail(op, what);
    }
}

// The counters the model keeps; the max32 counter is not modelled.
void same_stats(const Stats& got, const Stats& want, const char* op)
{
    check(got.live_ranges == want.live_ranges, op, "live_ranges");
    check(got.reserved_ranges == want.reserved_ranges, op, "reserved_ranges");
    check(got.live_pfns == want.live_pfns, op, "live_pfns");
    check(got.mags_allocated == want.mags_allocated, op, "mags_allocated");
    check(got.mags_freed == want.mags_freed, op, "mags_freed");
    check(got.mags_live == want.mags_live, op, "mags_live");
    check(got.mags_reachable == want.mags_reachable, op, "mags_reachable");
    check(got.depot_mags == want.depot_mags, op, "depot_mags");
    check(got.cached_pfns == want.cached_pfns, op, "cached_pfns");
    check(got.rcache_hits == want.rcache_hits, op, "rcache_hits");
    check(got.rcache_misses == want.rcache_misses, op, "rcache_misses");
    check(got.depot_trims == want.depot_trims, op, "depot_trims");
    check(got.rcache_flushes == want.rcache_flushes, op, "rcache_flushes");
    check(got.cpu_flushes == want.cpu_flushes, op, "cpu_flushes");
    check(got.stale_cached_pfns == 0, op, "stale_cached_pfns");
    check(got.depot_mags_per_class == want.depot_mags_per_class, op,
          "depot_mags_per_class");
    check(got.hits_per_class == want.hits_per_class, op, "hits_per_class");
    check(got.misses_per_class == want.misses_per_class, op,
          "misses_per_class");
}

template <class T>
void same_result(const Result<T>& got, const Result<T>& want, const char* op)
{
    check(got.status() == want.status(), op, "status differs");
    if (want.ok()) {
        check(*got == *want, op, "value differs");
    }
}

// One input: a configuration, then operations until the bytes run out.
class FuzzRun {
public:
    explicit FuzzRun(FuzzedDataProvider& in) : in_(in)
    {
        static constexpr unsigned kMags[] = {1, 2, 3, 8, 127};
        static constexpr std::uint64_t kCached[] = {1, 4, 32};
        cfg_.start_pfn = in_.ConsumeIntegralInRange<std::uint64_t>(1, 5);
        cfg_.ncpus = in_.ConsumeIntegralInRange<unsigned>(1, 4);
        cfg_.mag_size = in_.PickValueInArray(kMags);
        cfg_.max_cached_size = in_.PickValueInArray(kCached);
        cfg_.has_hook = in_.ConsumeBool();
        Options o;
        o.ncpus = cfg_.ncpus;
        o.mag_size = cfg_.mag_size;
        o.max_cached_size = cfg_.max_cached_size;
        o.trim_delay_ns = kTrimDelay;
        if (cfg_.has_hook) {
            o.schedule_trim = [this](std::uint64_t ns) {
                check(ns == kTrimDelay, "schedule_trim", "delay");
                ++hook_calls_;
            };
        }
        dom_ = std::make_unique<Domain>(kGranule, cfg_.start_pfn, o);
        cfg_.max_pfn = dom_->max_pfn();
        model_ = std::make_unique<ReferenceModel>(cfg_);
    }

    void go()
    {
        unsigned steps = 0;
        while (in_.remaining_bytes() > 0) {
            step();
            same_stats(dom_->stats(), model_->expected_stats(), op_);
            check(hook_calls_ == model_->hook_calls(), op_, "trim requests");
            if (++steps % 64 == 0) {
                invariants();
            }
        }
        finish();
    }

private:
    void invariants() const
    {
        std::string why;
        if (!dom_->check_invariants(&why)) {
            fail(op_, "invariant broken: " + why);
        }
    }

    // Sizes around the interesting edges: 0 (invalid), the rcache classes,
    // just above them, and the whole space.
    std::uint64_t size()
    {
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 7)) {
        case 0:
            return 0;
        case 1:
            return dom_->max_pfn() - in_.ConsumeIntegralInRange<unsigned>(0, 3);
        case 2:
            return in_.ConsumeIntegralInRange<std::uint64_t>(1, 80);
        default:
            return in_.ConsumeIntegralInRange<std::uint64_t>(1, 8);
        }
    }

    std::uint64_t limit()
    {
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 5)) {
        case 0:
            return dom_->dma_32bit_pfn() - 1;
        case 1:
            return in_.ConsumeIntegralInRange<std::uint64_t>(0, 8);
        case 2:
            return UINT64_MAX;
        case 3:
            return dom_->max_pfn() - in_.ConsumeIntegralInRange<unsigned>(0, 63);
        default:
            return in_.ConsumeIntegralInRange<std::uint64_t>(0, 1400);
        }
    }

    // Usually a valid CPU, sometimes one past the last.
    unsigned cpu() { return in_.ConsumeIntegralInRange<unsigned>(0, cfg_.ncpus); }

    template <class V>
    std::size_t pick(const V& v)
    {
        return in_.ConsumeIntegralInRange<std::size_t>(0, v.size() - 1);
    }

    void step()
    {
        switch (in_.ConsumeIntegralInRange<unsigned>(0, 10)) {
        case 0: {
            op_ = "alloc";
            const std::uint64_t s = size(), l = limit();
            const bool a = in_.ConsumeBool();
            const auto want = model_->alloc(s, l, a);
            same_result(dom_->alloc(s, l, a), want, op_);
            if (want.ok()) {
                slow_.push_back(*want);
            }
            break;
        }
        case 1: {
            op_ = "alloc_fast";
            const std::uint64_t s = in_.ConsumeBool() ? size() :
                in_.ConsumeIntegralInRange<std::uint64_t>(1, 8);
            const std::uint64_t l = in_.ConsumeBool() ?
                dom_->dma_32bit_pfn() - 1 : limit();
            const unsigned c = cpu();
            const bool f = in_.ConsumeBool();
            const auto want = model_->alloc_fast(s, l, c, f);
            same_result(dom_->alloc_fast(s, l, c, f), want, op_);
            if (want.ok()) {
                fast_.push_back({*want, s});
            }
            break;
        }
        case 2: {
            op_ = "free_fast";
            if (fast_.empty()) {
                break;
            }
            const std::size_t i = pick(fast_);
            const unsigned c = cpu();
            const Status want = model_->free_fast(fast_[i].pfn, fast_[i].size, c);
            check(dom_->free_fast(fast_[i].pfn, fast_[i].size, c) == want, op_,
                  "status differs");
            if (want == Status::ok) {
                fast_[i] = fast_.back();
                fast_.pop_back();
            }
            break;
        }
        case 3: {
            op_ = "free";
            std::uint64_t pfn;
            if (!slow_.empty() && (fast_.empty() || in_.ConsumeBool())) {
                const std::size_t i = pick(slow_);
                const Range rg = model_->find(slow_[i]).value();
                // Any pfn of the range frees it.
                pfn = rg.pfn_lo + in_.ConsumeIntegralInRange<std::uint64_t>(
                                      0, rg.pfn_hi - rg.pfn_lo);
                slow_[i] = slow_.back();
                slow_.pop_back();
            } else if (!fast_.empty()) {
                const std::size_t i = pick(fast_);
                pfn = fast_[i].pfn;
                fast_[i] = fast_.back();
                fast_.pop_back();
            } else {
                break;
            }
            const auto want = model_->free(pfn);
            same_result(dom_->free(pfn), want, op_);
            break;
        }
        case 4: {
            op_ = "free unknown";
            const std::uint64_t pfn = in_.ConsumeIntegral<std::uint64_t>();
            if (model_->find(pfn).ok()) {
                break; // would free a range someone holds
            }
            check(dom_->free(pfn).status() == Status::not_found, op_,
                  "freed a pfn no range holds");
            break;
        }
        case 5: {
            op_ = "reserve";
            const std::uint64_t lo = in_.ConsumeBool() ?
                in_.ConsumeIntegralInRange<std::uint64_t>(0, 1400) :
                in_.ConsumeIntegral<std::uint64_t>();
            const std::uint64_t hi = lo + in_.ConsumeIntegralInRange<std::uint64_t>(0, 60);
            const auto want = model_->reserve(lo, hi);
            same_result(dom_->reserve(lo, hi), want, op_);
            break;
        }
        case 6: {
            op_ = "free reserved";
            std::vector<std::uint64_t> res;
            for (const auto& [lo, rg] : model_->ranges()) {
                if (rg.reserved) {
                    res.push_back(lo);
                }
            }
            if (res.empty()) {
                break;
            }
            const std::uint64_t pfn = res[pick(res)];
            const auto want = model_->free(pfn);
            same_result(dom_->free(pfn), want, op_);
            break;
        }
        case 7: {
            op_ = "find";
            const std::uint64_t pfn = in_.ConsumeIntegral<std::uint64_t>() %
                (in_.ConsumeBool() ? 1500 : UINT64_MAX);
            same_result(dom_->find(pfn), model_->find(pfn), op_);
            break;
        }
        case 8:
            op_ = "trim";
            dom_->trim_depot();
            model_->trim();
            break;
        case 9: {
            op_ = "cpu_dead";
            const unsigned c = cpu();
            dom_->cpu_dead(c);
            model_->cpu_dead(c);
            break;
        }
        default:
            op_ = "flush";
            dom_->flush_rcaches();
            model_->flush();
            break;
        }
    }

    // Returns everything: the domain must end with its reserved ranges
    // only and no magazine.
    void finish()
    {
        op_ = "finish";
        for (std::uint64_t p : slow_) {
            check(dom_->free(p).status() == model_->free(p).status(), op_,
                  "free status");
        }
        for (const Fast& f : fast_) {
            check(dom_->free_fast(f.pfn, f.size, 0) ==
                  model_->free_fast(f.pfn, f.size, 0), op_, "free_fast status");
        }
        dom_->flush_rcaches();
        model_->flush();
        same_stats(dom_->stats(), model_->expected_stats(), op_);
        const Stats s = dom_->stats();
        check(s.live_ranges == s.reserved_ranges, op_, "ranges left");
        check(s.mags_live == 0 && s.cached_pfns == 0, op_, "magazines left");
        invariants();
    }

    struct Fast {
        std::uint64_t pfn;
        std::uint64_t size;
    };
    FuzzedDataProvider& in_;
    ReferenceModel::Config cfg_{};
    std::unique_ptr<Domain> dom_;
    std::unique_ptr<ReferenceModel> model_;
    std::vector<std::uint64_t> slow_;
    std::vector<Fast> fast_;
    std::uint64_t hook_calls_ = 0;
    const char* op_ = "setup";
};

} // namespace
} // namespace iova::test

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::int64_t before = iova::live_magazines();
    {
        FuzzedDataProvider in(data, size);
        iova::test::FuzzRun run(in);
        run.go();
    }
    iova::test::check(iova::live_magazines() == before, "teardown",
                      "magazines leaked by ~Domain");
    return 0;
}
