// SPDX-License-Identifier: GPL-2.0-or-later
//
// bench_util.hpp - helpers shared by the allocator benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace iova::bench {

inline constexpr std::uint64_t k4K = 4096;

// Per-call latency statistics, reported as benchmark counters (ns).
class Latency {
public:
    template <class F>
    auto time(F&& f)
    {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = f();
        const auto t1 = std::chrono::steady_clock::now();
        const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
        sum_ += ns;
        max_ = std::max(max_, ns);
        ++n_;
        return r;
    }
    void report(benchmark::State& state, const char* prefix) const
    {
        const std::string p(prefix);
        state.counters[p + "_mean_ns"] = n_ ? sum_ / static_cast<double>(n_) : 0;
        state.counters[p + "_max_ns"] = max_;
    }

private:
    double sum_ = 0;
    double max_ = 0;
    std::uint64_t n_ = 0;
};

} // namespace iova::bench
