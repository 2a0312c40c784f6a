// SPDX-License-Identifier: GPL-2.0-or-later
//
// cpu_lock.hpp - the lock of one CPU index's rcache slots: a spin lock.
//
// Why not std::mutex: in a process that has started a thread (QEMU always
// has), glibc's pthread_mutex takes and releases with an atomic
// read-modify-write each, about 6 ns apiece here, so an
// alloc_fast+free_fast pair paid four.  A spin lock takes with one
// exchange and releases with a release store (a plain store on x86), as
// Linux's queued spin lock does.  The critical sections it guards are a
// few dozen instructions; a waiter spins briefly and then yields, because
// here, unlike in the kernel, a holder can be preempted.
//
// Thread-safety: lock()/unlock() may be called from any thread; unlock()
// only by the holder.  Meets BasicLockable, so std::lock_guard works.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace iova::detail {

class CpuLock {
public:
    CpuLock() = default;
    CpuLock(const CpuLock&) = delete;
    CpuLock& operator=(const CpuLock&) = delete;

    void lock() noexcept
    {
        // Test before exchanging, so that a waiter does not keep pulling
        // the line away from the holder.
        if (word_.load(std::memory_order_relaxed) == 0 &&
            word_.exchange(1, std::memory_order_acquire) == 0) {
            return;
        }
        lock_contended();
    }
    void unlock() noexcept { word_.store(0, std::memory_order_release); }

private:
    void lock_contended() noexcept
    {
        for (unsigned spins = 0;; ++spins) {
            if (word_.load(std::memory_order_relaxed) == 0 &&
                word_.exchange(1, std::memory_order_acquire) == 0) {
                return;
            }
            if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                std::this_thread::yield(); // the holder may be preempted
            }
        }
    }

    std::atomic<std::uint32_t> word_{0}; // 0 free, 1 held
};

} // namespace iova::detail
