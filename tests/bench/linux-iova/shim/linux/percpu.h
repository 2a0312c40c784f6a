/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: per-CPU data.  A per-CPU allocation holds one copy per CPU
 * index 0 .. nr_cpu_ids - 1, each on cache lines of its own (no false
 * sharing, as with the kernel's per-CPU areas); the distance between copies
 * is stored just below the first.  raw_cpu_ptr() picks the copy of the
 * calling thread's CPU index (smp.h): one thread-local load, as Linux's is
 * one %gs-relative load.
 */
#ifndef KSHIM_LINUX_PERCPU_H
#define KSHIM_LINUX_PERCPU_H

#include <linux/smp.h>
#include <linux/types.h>

#define __percpu

/* size, align: bytes.  Zeroed.  NULL when out of memory. */
void *__alloc_percpu(size_t size, size_t align);
void free_percpu(void *ptr);

static inline void *kshim_percpu_ptr(const void *base, unsigned int cpu)
{
    const size_t stride = ((const size_t *)base)[-1]; /* bytes */

    return (char *)base + (size_t)cpu * stride;
}

#define per_cpu_ptr(ptr, cpu) \
    ((__typeof__(ptr))kshim_percpu_ptr((ptr), (cpu)))
#define raw_cpu_ptr(ptr) per_cpu_ptr((ptr), smp_processor_id())

#endif
