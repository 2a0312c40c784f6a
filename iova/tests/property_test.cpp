// SPDX-License-Identifier: GPL-2.0-or-later
//
// property_test.cpp - long random operation sequences on a Domain and on
// the ReferenceModel; after every step the results and the counters must
// agree, and every few hundred steps check_invariants() runs.
//
// Environment:
//   IOVA_PROPERTY_OPS  operations in total (default 1,000,000; 200,000
//                      under ASan/TSan)
//   IOVA_SEED          seed (default: random; printed on failure)
#include "reference_model.hpp"
#include "test_util.hpp"

#include <cstdlib>
#include <random>
#include <vector>

namespace iova::test {
namespace {

std::uint64_t env_u64(const char* name, std::uint64_t fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

void ExpectSameStats(const Stats& got, const Stats& want)
{
    EXPECT_EQ(got.live_ranges, want.live_ranges);
    EXPECT_EQ(got.reserved_ranges, want.reserved_ranges);
    EXPECT_EQ(got.live_pfns, want.live_pfns);
    EXPECT_EQ(got.mags_allocated, want.mags_allocated);
    EXPECT_EQ(got.mags_freed, want.mags_freed);
    EXPECT_EQ(got.mags_live, want.mags_live);
    EXPECT_EQ(got.mags_reachable, want.mags_reachable);
    EXPECT_EQ(got.depot_mags, want.depot_mags);
    EXPECT_EQ(got.cached_pfns, want.cached_pfns);
    EXPECT_EQ(got.rcache_hits, want.rcache_hits);
    EXPECT_EQ(got.rcache_misses, want.rcache_misses);
    EXPECT_EQ(got.depot_trims, want.depot_trims);
    EXPECT_EQ(got.rcache_flushes, want.rcache_flushes);
    EXPECT_EQ(got.cpu_flushes, want.cpu_flushes);
    EXPECT_EQ(got.stale_cached_pfns, 0u);
    EXPECT_EQ(got.depot_mags_per_class, want.depot_mags_per_class);
    EXPECT_EQ(got.hits_per_class, want.hits_per_class);
    EXPECT_EQ(got.misses_per_class, want.misses_per_class);
}

// One run: a configuration drawn from rng, then `ops` random operations.
class PropertyRun {
public:
    explicit PropertyRun(std::mt19937_64& rng) : rng_(rng)
    {
        const unsigned mags[] = {1, 2, 3, 8, 127};
        const std::uint64_t cached[] = {1, 4, 32};
        cfg_.start_pfn = 1 + rng_() % 5;
        cfg_.ncpus = 1 + rng_() % 4;
        cfg_.mag_size = mags[rng_() % 5];
        cfg_.max_cached_size = cached[rng_() % 3];
        cfg_.has_hook = rng_() % 4 != 0;
        Options o;
        o.ncpus = cfg_.ncpus;
        o.mag_size = cfg_.mag_size;
        o.max_cached_size = cfg_.max_cached_size;
        o.trim_delay_ns = 777;
        if (cfg_.has_hook) {
            o.schedule_trim = [this](std::uint64_t ns) {
                EXPECT_EQ(ns, 777u);
                ++hook_calls_;
            };
        }
        // 16 MiB granule: the 32-bit window is pfns below 256, so the
        // max32 logic is exercised by ordinary limits.
        dom_ = std::make_unique<Domain>(k16M, cfg_.start_pfn, o);
        cfg_.max_pfn = dom_->max_pfn();
        model_ = std::make_unique<ReferenceModel>(cfg_);
    }

    std::string describe() const
    {
        return "start_pfn=" + std::to_string(cfg_.start_pfn) +
               " ncpus=" + std::to_string(cfg_.ncpus) +
               " mag_size=" + std::to_string(cfg_.mag_size) +
               " max_cached=" + std::to_string(cfg_.max_cached_size) +
               " hook=" + std::to_string(cfg_.has_hook);
    }

    void go(std::uint64_t ops)
    {
        for (std::uint64_t i = 0; i < ops; ++i) {
            if (i % 4096 == 0) {
                fill_bias_ = rng_() % 3; // phases: drain, balanced, fill
            }
            step();
            if (::testing::Test::HasFailure()) {
                ADD_FAILURE() << "first divergence at step " << i
                              << " (op " << last_op_ << ")";
                return;
            }
            if (i % 257 == 0) {
                ASSERT_TRUE(Consistent(*dom_)) << "at step " << i;
            }
        }
        finish();
    }

private:
    std::uint64_t size()
    {
        switch (rng_() % 16) {
        case 0:
            return 0;                         // invalid
        case 1:
            return dom_->max_pfn() + rng_() % 3; // above or equal the space
        case 2:
        case 3:
            return 1 + rng_() % 80;           // above the rcache sometimes
        default:
            return 1 + rng_() % 8;
        }
    }

    std::uint64_t limit()
    {
        switch (rng_() % 16) {
        case 0:
            return dom_->dma_32bit_pfn() - 1;
        case 1:
            return rng_() % 8;                // below or near start_pfn
        case 2:
            return UINT64_MAX;
        case 3:
            return dom_->max_pfn() - rng_() % 64;
        default:
            return rng_() % 1400;
        }
    }

    // Fast-path callers use DMA masks: mostly 32-bit or 64-bit limits.
    std::uint64_t fast_limit()
    {
        switch (rng_() % 5) {
        case 0:
        case 1:
            return dom_->dma_32bit_pfn() - 1;
        case 2:
            return UINT64_MAX;
        default:
            return limit();
        }
    }

    unsigned cpu() { return static_cast<unsigned>(rng_() % (cfg_.ncpus + (rng_() % 50 == 0))); }

    void step()
    {
        // Cumulative weights per mille of the main operations, per phase:
        // drain empties the space, fill exhausts it (flush-and-retry,
        // max32), balanced sits in between; cpu choice is random, so
        // magazines wander through the depots (trims).
        static constexpr unsigned kPhase[3][4] = {
            // alloc, +alloc_fast, +free_fast, +free
            {30, 150, 560, 740},  // drain
            {60, 310, 610, 740},  // balanced
            {100, 450, 660, 740}, // fill
        };
        const unsigned r = static_cast<unsigned>(rng_() % 1000);
        const unsigned alloc_w = kPhase[fill_bias_][0];
        const unsigned fast_w = kPhase[fill_bias_][1];
        const unsigned free_fast_w = kPhase[fill_bias_][2];
        const unsigned free_w = kPhase[fill_bias_][3];
        if (r < alloc_w) {
            last_op_ = "alloc";
            const std::uint64_t s = size(), l = limit();
            const bool a = rng_() % 2;
            const auto got = dom_->alloc(s, l, a);
            const auto want = model_->alloc(s, l, a);
            ASSERT_EQ(got.status(), want.status()) << "alloc " << s << " " << l << " " << a;
            if (want.ok()) {
                ASSERT_EQ(*got, *want) << "alloc " << s << " " << l << " " << a;
                slow_.push_back(*want);
            }
        } else if (r < fast_w) {
            last_op_ = "alloc_fast";
            const std::uint64_t s = rng_() % 4 ? 1 + rng_() % 8 : size();
            const std::uint64_t l = fast_limit();
            const unsigned c = cpu();
            const bool f = rng_() % 32 == 0;
            const auto got = dom_->alloc_fast(s, l, c, f);
            const auto want = model_->alloc_fast(s, l, c, f);
            ASSERT_EQ(got.status(), want.status()) << "alloc_fast " << s << " " << l;
            if (want.ok()) {
                ASSERT_EQ(*got, *want) << "alloc_fast " << s << " " << l << " cpu " << c;
                fast_.push_back({*want, s});
            }
        } else if (r < free_fast_w) {
            last_op_ = "free_fast";
            if (fast_.empty()) {
                return;
            }
            const std::size_t i = rng_() % fast_.size();
            const unsigned c = cpu();
            const Status got = dom_->free_fast(fast_[i].pfn, fast_[i].size, c);
            const Status want = model_->free_fast(fast_[i].pfn, fast_[i].size, c);
            ASSERT_EQ(got, want);
            if (want == Status::ok) {
                fast_[i] = fast_.back();
                fast_.pop_back();
            }
        } else if (r < free_w) {
            last_op_ = "free";
            std::vector<std::uint64_t>* from = &slow_;
            if (slow_.empty() || (!fast_.empty() && rng_() % 3 == 0)) {
                from = nullptr;
            }
            std::uint64_t pfn;
            if (from) {
                const std::size_t i = rng_() % slow_.size();
                // Any pfn of the range frees it.
                const Range rg = model_->find(slow_[i]).value();
                pfn = rg.pfn_lo + rng_() % (rg.pfn_hi - rg.pfn_lo + 1);
                slow_[i] = slow_.back();
                slow_.pop_back();
            } else if (!fast_.empty()) {
                const std::size_t i = rng_() % fast_.size();
                pfn = fast_[i].pfn;
                fast_[i] = fast_.back();
                fast_.pop_back();
            } else {
                return;
            }
            const auto want = model_->free(pfn);
            const auto got = dom_->free(pfn);
            ASSERT_EQ(got.status(), want.status());
            if (want.ok()) {
                ASSERT_EQ(*got, *want);
            }
        } else if (r < 760) {
            last_op_ = "free unknown";
            const std::uint64_t pfn = rng_() % 1500;
            if (model_->find(pfn).ok()) {
                return; // would free someone's range
            }
            ASSERT_EQ(dom_->free(pfn).status(), Status::not_found);
        } else if (r < 785) {
            last_op_ = "reserve";
            const std::uint64_t lo = rng_() % 1400;
            const std::uint64_t hi = lo + (rng_() % 8 == 0 ? rng_() % 60 : rng_() % 4);
            const auto got = dom_->reserve(lo, hi);
            const auto want = model_->reserve(lo, hi);
            ASSERT_EQ(got.status(), want.status()) << "reserve " << lo << " " << hi;
            if (want.ok()) {
                ASSERT_EQ(*got, *want);
            }
        } else if (r < 810) {
            last_op_ = "free reserved";
            std::vector<std::uint64_t> res;
            for (const auto& [lo, rg] : model_->ranges()) {
                if (rg.reserved) {
                    res.push_back(lo);
                }
            }
            if (res.empty()) {
                return;
            }
            const std::uint64_t pfn = res[rng_() % res.size()];
            const auto want = model_->free(pfn);
            ASSERT_EQ(Ok(dom_->free(pfn)), *want);
        } else if (r < 950) {
            last_op_ = "find";
            const std::uint64_t pfn = rng_() % 2 ? rng_() % 1500 : dom_->max_pfn() - rng_() % 100;
            const auto got = dom_->find(pfn);
            const auto want = model_->find(pfn);
            ASSERT_EQ(got.status(), want.status());
            if (want.ok()) {
                ASSERT_EQ(*got, *want);
            }
        } else if (r < 993) {
            last_op_ = "trim";
            dom_->trim_depot();
            model_->trim();
        } else if (r < 998) {
            last_op_ = "cpu_dead";
            const unsigned c = cpu();
            dom_->cpu_dead(c);
            model_->cpu_dead(c);
        } else {
            last_op_ = "flush";
            dom_->flush_rcaches();
            model_->flush();
        }
        ExpectSameStats(dom_->stats(), model_->expected_stats());
        ASSERT_EQ(hook_calls_, model_->hook_calls());
    }

    void finish()
    {
        // Return everything: the domain must end empty and balanced.
        for (std::uint64_t p : slow_) {
            ASSERT_EQ(dom_->free(p).status(), model_->free(p).status());
        }
        for (const Fast& f : fast_) {
            ASSERT_EQ(dom_->free_fast(f.pfn, f.size, 0), model_->free_fast(f.pfn, f.size, 0));
        }
        dom_->flush_rcaches();
        model_->flush();
        ExpectSameStats(dom_->stats(), model_->expected_stats());
        const Stats s = dom_->stats();
        EXPECT_EQ(s.live_ranges, s.reserved_ranges);
        EXPECT_EQ(s.mags_live, 0u);
        EXPECT_EQ(s.cached_pfns, 0u);
        ASSERT_TRUE(Consistent(*dom_));
    }

    struct Fast {
        std::uint64_t pfn;
        std::uint64_t size;
    };
    std::mt19937_64& rng_;
    ReferenceModel::Config cfg_{};
    std::unique_ptr<Domain> dom_;
    std::unique_ptr<ReferenceModel> model_;
    std::vector<std::uint64_t> slow_;
    std::vector<Fast> fast_;
    std::uint64_t hook_calls_ = 0;
    unsigned fill_bias_ = 1;
    const char* last_op_ = "";
};

TEST(Property, RandomOperationsMatchTheReferenceModel)
{
    const std::uint64_t seed = env_u64("IOVA_SEED", std::random_device{}());
    const std::uint64_t total = env_u64("IOVA_PROPERTY_OPS", kSanitized ? 200'000 : 1'000'000);
    SCOPED_TRACE("IOVA_SEED=" + std::to_string(seed) +
                 " IOVA_PROPERTY_OPS=" + std::to_string(total));
    std::mt19937_64 rng(seed);
    const int runs = 4;
    const std::int64_t magazines_before = live_magazines();
    for (int i = 0; i < runs && !HasFailure(); ++i) {
        PropertyRun run(rng);
        SCOPED_TRACE("run " + std::to_string(i) + ": " + run.describe());
        run.go(total / runs);
    }
    EXPECT_EQ(live_magazines(), magazines_before);
}

} // namespace
} // namespace iova::test
