// SPDX-License-Identifier: GPL-2.0-or-later
//
// reference_model.hpp - a deliberately simple, slow model of iova::Domain
// for the property test: a std::map of ranges searched by a linear
// top-down scan, and the rcache as plain vectors following the documented
// magazine rules (loaded/prev per CPU and class, LIFO depot, one magazine
// per class per trim).  It shares no code with the library.
#pragma once

#include "iova/domain.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace iova::test {

class ReferenceModel {
public:
    struct Config {
        std::uint64_t start_pfn;
        std::uint64_t max_pfn;
        unsigned ncpus;
        unsigned mag_size;
        std::uint64_t max_cached_size;
        bool has_hook;
    };
    explicit ReferenceModel(const Config& c);

    Result<std::uint64_t> alloc(std::uint64_t size, std::uint64_t limit,
                                bool aligned);
    Result<Range> free(std::uint64_t pfn);
    Result<Range> find(std::uint64_t pfn) const;
    Result<Range> reserve(std::uint64_t lo, std::uint64_t hi);
    Result<std::uint64_t> alloc_fast(std::uint64_t size, std::uint64_t limit,
                                     unsigned cpu, bool flush);
    Status free_fast(std::uint64_t pfn, std::uint64_t size, unsigned cpu);
    void cpu_dead(unsigned cpu);
    void flush();
    void trim();

    // What stats() must say (the max32 / stale counters are not modelled).
    Stats expected_stats() const;
    std::uint64_t hook_calls() const { return hook_calls_; }
    bool is_cached(std::uint64_t pfn) const;
    const std::map<std::uint64_t, Range>& ranges() const { return ranges_; }

private:
    using Mag = std::vector<std::uint64_t>;
    struct Slot {
        std::optional<Mag> loaded, prev;
    };

    std::uint64_t scan_top_down(std::uint64_t size, std::uint64_t align,
                                std::uint64_t limit) const;
    void release(const Mag& m);
    void request_trim();
    unsigned cls_of(std::uint64_t pow2_size) const;

    Config c_;
    unsigned nclasses_;
    std::map<std::uint64_t, Range> ranges_; // by pfn_lo
    std::vector<std::vector<Slot>> cpu_;    // [cpu][class]
    std::vector<std::vector<Mag>> depot_;   // [class], back() = top
    std::vector<std::uint64_t> hits_, misses_;
    std::uint64_t mags_alloc_ = 0, mags_freed_ = 0, cached_ = 0;
    std::uint64_t trims_ = 0, flushes_ = 0, cpu_flushes_ = 0;
    std::uint64_t hook_calls_ = 0;
    bool pending_ = false;
};

} // namespace iova::test
