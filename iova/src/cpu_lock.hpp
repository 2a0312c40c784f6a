// SPDX-License-Identifier: GPL-2.0-or-later
//
// cpu_lock.hpp - the lock of one CPU index's rcache slots: a spin lock that
// the thread using that CPU index all the time holds without any atomic
// read-modify-write (a biased lock).
//
// Why not std::mutex: in a process that has started a thread (QEMU always
// has), glibc's pthread_mutex takes and releases with an atomic
// read-modify-write each, about 6 ns apiece here, so an
// alloc_fast+free_fast pair paid four: more than the whole work.  A spin
// lock takes with one exchange and releases with a release store (a plain
// store on x86), as Linux's queued spin lock does: two per pair.
//
// Why biased: the caller names the CPU index, and in practice each index
// is used by one thread (a vCPU thread, a benchmark thread), while the
// contract lets any thread use any index and lets maintenance (cpu_dead,
// flushes, stats, checks, teardown) take every CPU's lock.  So after a
// thread has taken the lock kBiasAfter times in a row through the fast
// path, it becomes the lock's *owner* and from then on enters with plain
// stores and loads:
//
//   owner:   my.inside = this; compiler barrier; if owner_ is me, go in;
//            ...; my.inside = nullptr (release).  (Any thread marks
//            itself so before it reads owner_, and clears the mark if it
//            is not the owner: a revoker only reads the owner's mark.)
//   anybody else (lock()): take the spin lock; if owner_ names another
//            thread, *revoke*: owner_ = nullptr; heavy_fence(); wait until
//            that thread's inside != this (acquire).
//
// That is Dekker's mutual exclusion with an asymmetric fence: the owner's
// store-then-load needs a full barrier, which heavy_fence() supplies after
// the fact by making every running thread of the process execute one
// (Linux's membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)); a thread not
// running has passed a context switch, which is one.  So either the
// revoker sees the owner inside and waits for it to leave, or the
// owner sees owner_ == nullptr and takes the spin lock like everybody
// else.  A revocation costs a system call and an IPI per running CPU
// (1.5 us or more); it happens only when another thread takes the lock,
// which maintenance does (rarely), and the owner earns the bias back after
// kBiasAfter consecutive acquisitions.  Two threads sharing one index
// alternately never reach kBiasAfter and just use the spin lock.
//
// The "inside" mark is per thread (a ThreadSlot), not per lock: a thread
// that read owner_ == me just before a revocation writes its mark after
// it, sees that it is no longer the owner and clears the mark; were the
// mark in the lock, that late clear could erase the mark of a new owner
// that is inside, and a revoker would walk in on it (the TSan build of
// the concurrency test caught exactly that with two threads sharing one
// CPU index).  ThreadSlots are taken from a process-wide registry when a
// thread first uses a CpuLock and given back when it exits, never freed:
// a revoker may still read the slot of an owner that has exited, and a
// new thread that is given that slot inherits the bias, which is safe
// because the dead one cannot be inside (the registry's mutex orders the
// two threads).
//
// Without membarrier (not Linux, or refused by a seccomp filter) no thread
// is ever made owner and this is a plain spin lock.
//
// Thread-safety: every member may be called from any thread; unlock() only
// by the thread that holds the lock through lock().  Not recursive, and a
// thread holds at most one CpuLock through OwnerGuard or FastGuard at a
// time.  Meets BasicLockable, so std::lock_guard works for the maintenance
// paths; the fast path tries OwnerGuard and falls back to FastGuard.
#pragma once

#include <atomic>
#include <cstdint>

namespace iova::detail {

class CpuLock;

// One per live thread that has used a CpuLock: the lock it is inside as
// the owner, if any.  On a cache line of its own (written on every biased
// entry and exit).
struct alignas(64) ThreadSlot {
    std::atomic<const CpuLock*> inside{nullptr};
};

// The calling thread's slot, once it has one (cpu_lock.cpp).  Initial-exec:
// the library is compiled as PIC, where the default model reaches a
// thread-local through a call to __tls_get_addr; even where the linker
// turns that call into a plain %fs load, the compiler has already spilled
// every live register around it, which cost the fast path a stack frame.
// The library is linked into programs, not loaded with dlopen(), so the
// static model is available.
[[gnu::tls_model("initial-exec")]] inline constinit thread_local ThreadSlot*
    t_thread_slot = nullptr;

class CpuLock {
public:
    // Consecutive fast-path acquisitions by one thread before it becomes
    // the owner.  Large enough that a revocation (a system call) is paid
    // for by many cheap entries; small enough that a benchmark's warm-up
    // or a vCPU's first burst of DMA reaches it.
    static constexpr std::uint32_t kBiasAfter = 256;

    CpuLock() = default;
    CpuLock(const CpuLock&) = delete;
    CpuLock& operator=(const CpuLock&) = delete;

    // Exclusive against every other holder, biased or not.  Revokes the
    // bias of any other thread (a system call, see above).
    void lock() noexcept;
    void unlock() noexcept { word_.store(0, std::memory_order_release); }

    // For a caller with a fallback: holds the lock only if the calling
    // thread is its owner, with plain stores and no call; otherwise holds
    // nothing (false), and the caller takes the lock through FastGuard,
    // which is also how a thread becomes the owner.
    class OwnerGuard {
    public:
        explicit OwnerGuard(CpuLock& l) noexcept : in_(l.enter_biased()) {}
        ~OwnerGuard()
        {
            if (in_) {
                t_thread_slot->inside.store(nullptr, std::memory_order_release);
            }
        }
        OwnerGuard(const OwnerGuard&) = delete;
        OwnerGuard& operator=(const OwnerGuard&) = delete;
        explicit operator bool() const noexcept { return in_; }

    private:
        const bool in_;
    };

    // The fast path's critical section: the owner enters as OwnerGuard
    // does, any other thread through lock() (and counts towards becoming
    // the owner).
    class FastGuard {
    public:
        explicit FastGuard(CpuLock& l) noexcept : l_(l), biased_(l)
        {
            if (!biased_) {
                l_.lock_and_count();
            }
        }
        ~FastGuard()
        {
            if (!biased_) {
                l_.unlock();
            }
        }
        FastGuard(const FastGuard&) = delete;
        FastGuard& operator=(const FastGuard&) = delete;

    private:
        CpuLock& l_;
        const OwnerGuard biased_; // holds the lock if this thread owns it
    };

private:
    // The calling thread's slot (one thread-local load once it has one),
    // nullptr if none could be allocated.
    static ThreadSlot* self() noexcept;

    bool enter_biased() noexcept
    {
        ThreadSlot* const me = t_thread_slot;
        if (me == nullptr) {
            return false;
        }
        // Marked before owner_ is read at all: one load of it, not two.  A
        // thread that is not the owner only marks its own slot, which no
        // revoker of this lock reads (a revoker reads the owner's slot).
        me->inside.store(this, std::memory_order_relaxed);
        // Only the compiler must keep the store before the load: the
        // revoker's heavy_fence() is the processor's barrier.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        if (owner_.load(std::memory_order_relaxed) == me) {
            return true;
        }
        me->inside.store(nullptr, std::memory_order_release); // revoked
        return false;
    }

    // Out of line (cpu_lock.cpp), so that the fast path's code that the
    // rcache inlines stays small: the biased entry and exit only.
    // lock(), then count this thread's consecutive fast-path acquisitions
    // (under the lock) and make it the owner at kBiasAfter.
    void lock_and_count() noexcept;
    void revoke(ThreadSlot& owner) noexcept;
    // Gives the calling thread its slot (from the registry).
    static ThreadSlot* attach_thread() noexcept;
    // True if heavy_fence() works in this process (asked once).
    static bool biasing_available() noexcept;

    std::atomic<std::uint32_t> word_{0};       // spin lock: 0 free, 1 held
    std::atomic<ThreadSlot*> owner_{nullptr};  // biased thread, or nullptr
    // Guarded by word_: the last thread to take it through the fast path
    // and how many times in a row.
    ThreadSlot* last_ = nullptr;
    std::uint32_t streak_ = 0;
};

} // namespace iova::detail
