// SPDX-License-Identifier: GPL-2.0-or-later
//
// bench_util.hpp - helpers shared by the allocator benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace iova::bench {

inline constexpr std::uint64_t k4K = 4096;

// Per-call latency statistics, reported as benchmark counters: mean, p99
// and max (ns).  Every sample is kept, in room reserved up front so that
// the timed loop never grows the vector.
class Latency {
public:
    // per_iteration: how many calls each benchmark iteration times.
    explicit Latency(const benchmark::State& state, std::size_t per_iteration = 1)
    {
        ns_.reserve(static_cast<std::size_t>(state.max_iterations) * per_iteration);
    }

    template <class F>
    auto time(F&& f)
    {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = f();
        const auto t1 = std::chrono::steady_clock::now();
        ns_.push_back(static_cast<float>(
            std::chrono::duration<double, std::nano>(t1 - t0).count()));
        return r;
    }
    void report(benchmark::State& state, const char* prefix)
    {
        if (ns_.empty()) {
            return;
        }
        const std::string p(prefix);
        double sum = 0;
        for (const float v : ns_) {
            sum += v;
        }
        const auto p99 = ns_.begin() + static_cast<std::ptrdiff_t>(
                                           (ns_.size() - 1) * 99 / 100);
        std::nth_element(ns_.begin(), p99, ns_.end());
        state.counters[p + "_mean_ns"] = sum / static_cast<double>(ns_.size());
        state.counters[p + "_p99_ns"] = *p99;
        state.counters[p + "_max_ns"] = *std::max_element(ns_.begin(), ns_.end());
    }

private:
    std::vector<float> ns_;
};

// Fixed work of about 300 ns (dependent multiply-adds), timed beside the
// calls of a latency benchmark as the machine's own tail: on a shared VM
// the max of any short call is set by interrupts and the host, so an
// allocator's max can only be judged against this one's.
inline std::uint64_t machine_work(std::uint64_t seed) noexcept
{
    std::uint64_t x = seed;
    for (int i = 0; i < 256; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    return x;
}

} // namespace iova::bench
