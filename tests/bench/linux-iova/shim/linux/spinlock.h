/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: spin locks and sleeping mutexes.
 *
 * A spin lock costs what Linux's queued spin lock costs when uncontended:
 * one compare-and-swap to take it and one release store (a plain store on
 * x86) to drop it.  Interrupts do not exist here, so the _irqsave forms
 * are the plain ones (Linux also pays pushf/cli/popf, a few cycles).
 * Unlike the kernel, a holder can be preempted, so a waiter yields the CPU
 * after a short spin instead of spinning for a whole time slice.
 */
#ifndef KSHIM_LINUX_SPINLOCK_H
#define KSHIM_LINUX_SPINLOCK_H

#include <pthread.h>

#include <linux/compiler.h>

typedef struct {
    int locked; /* 0 or 1 */
} spinlock_t;

void kshim_spin_lock_contended(spinlock_t *lock);

static inline void spin_lock_init(spinlock_t *lock)
{
    lock->locked = 0;
}

static inline void spin_lock(spinlock_t *lock)
{
    int unlocked = 0;

    if (likely(__atomic_compare_exchange_n(&lock->locked, &unlocked, 1, false,
                                           __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED))) {
        return;
    }
    kshim_spin_lock_contended(lock);
}

static inline void spin_unlock(spinlock_t *lock)
{
    __atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

#define spin_lock_irqsave(lock, flags) \
    do { (flags) = 0; spin_lock(lock); } while (0)
#define spin_unlock_irqrestore(lock, flags) \
    do { (void)(flags); spin_unlock(lock); } while (0)
/* Always checked, as in Linux without lock debugging. */
#define assert_spin_locked(lock) \
    BUG_ON(!__atomic_load_n(&(lock)->locked, __ATOMIC_RELAXED))

struct mutex {
    pthread_mutex_t m;
};

#define DEFINE_MUTEX(name) struct mutex name = { PTHREAD_MUTEX_INITIALIZER }

static inline void mutex_lock(struct mutex *lock)
{
    pthread_mutex_lock(&lock->m);
}

static inline void mutex_unlock(struct mutex *lock)
{
    pthread_mutex_unlock(&lock->m);
}

#endif
