// SPDX-License-Identifier: GPL-2.0-or-later
//
// cpu_lock_test.cpp - mutual exclusion of CpuLock (iova/src/cpu_lock.hpp),
// the rcache's biased per-CPU lock: a thread that has become the owner
// enters with plain stores, everybody else takes the spin lock and revokes
// the bias.  Each test increments a plain counter under the lock from
// several threads and checks the exact total; in the TSan build (suite
// "concurrency") any missing happens-before edge is also reported.
#include "cpu_lock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace iova::detail {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kScale = 4;
#else
constexpr std::uint64_t kScale = 1;
#endif

// One thread uses the lock through the fast path long enough to become
// its owner, while another keeps taking it through lock() (what cpu_dead,
// flushes and stats do), revoking the bias each time.
TEST(CpuLock, OwnerAndRevokerExcludeEachOther)
{
    CpuLock lock;
    std::uint64_t counter = 0; // guarded by lock
    std::atomic<bool> done{false};
    std::uint64_t fast_ops = 0; // the owner thread's own count
    const std::uint64_t slow_ops = 2'000 / kScale;
    std::thread owner([&] {
        // Until the revoker is done, and at least long enough to be made
        // the owner again after each revocation.
        while (!done.load(std::memory_order_relaxed) || fast_ops < 100'000) {
            CpuLock::FastGuard g(lock);
            ++counter;
            ++fast_ops;
        }
    });
    std::thread revoker([&] {
        for (std::uint64_t i = 0; i < slow_ops; ++i) {
            {
                std::lock_guard<CpuLock> g(lock);
                ++counter;
            }
            // Give the owner time to earn its bias back.
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
        done.store(true, std::memory_order_relaxed);
    });
    owner.join();
    revoker.join();
    std::lock_guard<CpuLock> g(lock);
    EXPECT_EQ(counter, fast_ops + slow_ops);
}

// Several threads share one lock through the fast path (two threads on
// one CPU index): in long runs of its own a thread becomes the owner, the
// others revoke it from their fast path.
TEST(CpuLock, FastPathThreadsShareOneLock)
{
    CpuLock lock;
    std::uint64_t counter = 0; // guarded by lock
    constexpr unsigned kThreads = 3;
    const std::uint64_t ops = 100'000 / kScale;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (std::uint64_t i = 0; i < ops; ++i) {
                CpuLock::FastGuard g(lock);
                ++counter;
                if (t == 0 && i % 1000 == 999) {
                    std::this_thread::yield(); // let the others in
                }
            }
        });
    }
    for (std::thread& th : threads) {
        th.join();
    }
    std::lock_guard<CpuLock> g(lock);
    EXPECT_EQ(counter, kThreads * ops);
}

} // namespace
} // namespace iova::detail
