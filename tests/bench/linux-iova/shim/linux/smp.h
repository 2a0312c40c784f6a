/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: CPUs.  A "CPU" is an index that the benchmark gives each of
 * its threads with kshim_set_cpu() (kshim.h), the same index it passes to
 * virt-iommu's allocator; every CPU is possible and online, none goes away.
 * A thread must own its index as a kernel task owns its CPU with preemption
 * off: two threads never use the same index at the same time.
 */
#ifndef KSHIM_LINUX_SMP_H
#define KSHIM_LINUX_SMP_H

extern unsigned int nr_cpu_ids;
/*
 * Initial-exec, as virt-iommu's own thread-local: this code is built as
 * PIC, where the default model reaches a thread-local through a call to
 * __tls_get_addr, and even where the linker turns that into one %fs load
 * the compiler has spilled the live registers around it.  Linux reads its
 * CPU number with one %gs-relative load.
 */
extern _Thread_local unsigned int kshim_this_cpu
    __attribute__((tls_model("initial-exec")));

static inline unsigned int smp_processor_id(void)
{
    return kshim_this_cpu;
}

static inline unsigned int num_online_cpus(void)
{
    return nr_cpu_ids;
}

#define for_each_possible_cpu(cpu) \
    for ((cpu) = 0; (cpu) < nr_cpu_ids; (cpu)++)
#define for_each_online_cpu(cpu) for_each_possible_cpu(cpu)

#endif
