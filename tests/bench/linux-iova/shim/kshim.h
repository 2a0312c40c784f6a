/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel shim's own interface, for the benchmark (C and C++): set up
 * the CPUs and the worker thread, give each benchmark thread its CPU index,
 * and arm delayed calls on the same worker that runs iova.c's depot work
 * (virt-iommu's allocator uses it for its depot trim).
 */
#ifndef KSHIM_KSHIM_H
#define KSHIM_KSHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CPU indexes 0 .. ncpus - 1 (nr_cpu_ids); starts the worker thread. */
void kshim_init(unsigned int ncpus);
/* Stops the worker (pending work is dropped). */
void kshim_exit(void);
/* The calling thread is CPU `cpu` from now on (default 0). */
void kshim_set_cpu(unsigned int cpu);

/* A delayed call of fn(arg) on the worker thread. */
struct kshim_timer;
struct kshim_timer *kshim_timer_new(void (*fn)(void *arg), void *arg);
/* Calls fn after delay_ns ns unless already armed; from any thread. */
void kshim_timer_arm(struct kshim_timer *timer, uint64_t delay_ns);
/* Disarms, waits for a call in progress, frees; NULL is allowed. */
void kshim_timer_free(struct kshim_timer *timer);

#ifdef __cplusplus
}
#endif

#endif
