// SPDX-License-Identifier: GPL-2.0-or-later
//
// cpu_lock.cpp - the rare parts of CpuLock (see cpu_lock.hpp): waiting for
// the spin lock, revoking a bias, the process-wide heavy fence and the
// registry of thread slots.
#include "cpu_lock.hpp"

#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace iova::detail {
namespace {

#if defined(__linux__)
long membarrier(int cmd) noexcept
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}
#endif

// Makes every running thread of the process execute a full memory
// barrier before returning.  Only called once biasing_available() said
// yes.  The registration is per process image: a child after fork() must
// register again, which it does here on EPERM; other failures (ENOMEM)
// are transient and retried.
void heavy_fence() noexcept
{
#if defined(__linux__)
    while (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
        if (errno == EPERM) {
            (void)membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
        } else {
            std::this_thread::yield();
        }
    }
#endif
}

void relax(unsigned spins) noexcept
{
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        std::this_thread::yield(); // the holder may be preempted
    }
}

// Holds a T that is constructed on first use and never destroyed.
template <class T>
union NoDestroy {
    NoDestroy() : value() {}
    ~NoDestroy() {}
    T value;
};

// Every ThreadSlot ever made, and those whose thread has exited.  Never
// destroyed (threads may exit after static destructors have run), so
// slots stay readable for revokers forever; at most one slot per thread
// alive at once.
class SlotRegistry {
public:
    static SlotRegistry& get() noexcept
    {
        static NoDestroy<SlotRegistry> r;
        return r.value;
    }
    ThreadSlot* take() noexcept
    {
        std::lock_guard<std::mutex> g(m_);
        if (!free_.empty()) {
            ThreadSlot* s = free_.back();
            free_.pop_back();
            return s;
        }
        try {
            free_.reserve(all_.size() + 1); // give_back() cannot throw
            all_.push_back(std::make_unique<ThreadSlot>());
            return all_.back().get();
        } catch (const std::bad_alloc&) {
            return nullptr;
        }
    }
    void give_back(ThreadSlot* s) noexcept
    {
        std::lock_guard<std::mutex> g(m_);
        free_.push_back(s);
    }

private:
    std::mutex m_;
    std::vector<std::unique_ptr<ThreadSlot>> all_;
    std::vector<ThreadSlot*> free_;
};

// Gives the slot back when its thread exits.
struct SlotReturn {
    ~SlotReturn()
    {
        if (t_thread_slot) {
            SlotRegistry::get().give_back(t_thread_slot);
            t_thread_slot = nullptr;
        }
    }
};
thread_local SlotReturn t_slot_return;

} // namespace

ThreadSlot* CpuLock::attach_thread() noexcept
{
    // Out of memory: no slot, so this thread never becomes an owner (it
    // tries again next time).
    ThreadSlot* s = SlotRegistry::get().take();
    if (s == nullptr) {
        return nullptr;
    }
    (void)&t_slot_return; // constructs it, so that it runs at thread exit
    t_thread_slot = s;
    return s;
}

bool CpuLock::biasing_available() noexcept
{
#if defined(__linux__)
    static const bool ok = [] {
        const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
        return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
               membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    }();
    return ok;
#else
    return false;
#endif
}

ThreadSlot* CpuLock::self() noexcept
{
    ThreadSlot* const s = t_thread_slot;
    return s ? s : attach_thread();
}

void CpuLock::lock() noexcept
{
    // Test before exchanging, so that a waiter does not keep pulling the
    // line away from the holder.
    for (unsigned spins = 0;; ++spins) {
        if (word_.load(std::memory_order_relaxed) == 0 &&
            word_.exchange(1, std::memory_order_acquire) == 0) {
            break;
        }
        relax(spins);
    }
    ThreadSlot* const o = owner_.load(std::memory_order_relaxed);
    if (o != nullptr && o != self()) {
        revoke(*o);
    }
}

void CpuLock::lock_and_count() noexcept
{
    lock();
    ThreadSlot* const me = self();
    if (last_ != me) {
        last_ = me;
        streak_ = 1;
    } else if (++streak_ >= kBiasAfter) {
        streak_ = 0;
        if (me != nullptr && biasing_available()) {
            owner_.store(me, std::memory_order_relaxed);
        }
    }
}

void CpuLock::revoke(ThreadSlot& owner) noexcept
{
    // With word_ held nobody can be made owner meanwhile.
    owner_.store(nullptr, std::memory_order_relaxed);
    heavy_fence();
    // The owner either saw nullptr and is waiting for word_, or is inside
    // and leaves with a release store: wait for that.
    for (unsigned spins = 0;
         owner.inside.load(std::memory_order_acquire) == this; ++spins) {
        relax(spins);
    }
}

} // namespace iova::detail
