// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Kernel shim: CPU indexes, BUG/WARN, the contended spin lock, per-CPU
 * allocations.  See kshim.h and the headers in linux/.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "kshim.h"

#include <linux/kernel.h>
#include <linux/percpu.h>
#include <linux/slab.h>

unsigned int nr_cpu_ids = 1;
_Thread_local unsigned int kshim_this_cpu
    __attribute__((tls_model("initial-exec")));

void kshim_set_cpu(unsigned int cpu)
{
    BUG_ON(cpu >= nr_cpu_ids);
    kshim_this_cpu = cpu;
}

void kshim_bug(const char *file, int line, const char *cond)
{
    fprintf(stderr, "BUG at %s:%d: %s\n", file, line, cond);
    abort();
}

void kshim_warn(const char *file, int line, const char *cond)
{
    fprintf(stderr, "WARNING at %s:%d: %s\n", file, line, cond);
}

void kshim_spin_lock_contended(spinlock_t *lock)
{
    for (unsigned int spins = 0;; spins++) {
        int unlocked = 0;

        if (!__atomic_load_n(&lock->locked, __ATOMIC_RELAXED) &&
            __atomic_compare_exchange_n(&lock->locked, &unlocked, 1, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            return;
        }
        /* The holder may have been preempted: let it run. */
        if (spins >= 100) {
            sched_yield();
        } else {
            __builtin_ia32_pause();
        }
    }
}

/*
 * Layout: [header: one alignment unit ending with the header size and the
 * stride][copy 0][copy 1]...; the pointer handed out is copy 0.
 */
void *__alloc_percpu(size_t size, size_t align)
{
    const size_t unit = align > KSHIM_CACHE_LINE ? align : KSHIM_CACHE_LINE;
    const size_t stride = (size + unit - 1) / unit * unit;
    char *area = aligned_alloc(unit, unit + stride * nr_cpu_ids);

    if (!area) {
        return NULL;
    }
    memset(area, 0, unit + stride * nr_cpu_ids);
    ((size_t *)(area + unit))[-2] = unit;
    ((size_t *)(area + unit))[-1] = stride;
    return area + unit;
}

void free_percpu(void *ptr)
{
    if (ptr) {
        free((char *)ptr - ((const size_t *)ptr)[-2]);
    }
}
