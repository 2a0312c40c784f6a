/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: CPU hotplug.  No CPU goes offline during a benchmark, so
 * registering the "CPU dead" callback and its instances succeeds and
 * nothing ever calls it.
 */
#ifndef KSHIM_LINUX_CPU_H
#define KSHIM_LINUX_CPU_H

#include <linux/container_of.h>
#include <linux/smp.h>
#include <linux/types.h>

enum cpuhp_state {
    CPUHP_IOMMU_IOVA_DEAD,
};

#define hlist_entry_safe(ptr, type, member) \
    ({ __typeof__(ptr) _hl_p = (ptr); \
       _hl_p ? container_of(_hl_p, type, member) : NULL; })

typedef int (*kshim_cpuhp_cb)(unsigned int cpu, struct hlist_node *node);

static inline int cpuhp_setup_state_multi(enum cpuhp_state state,
                                          const char *name,
                                          kshim_cpuhp_cb startup,
                                          kshim_cpuhp_cb teardown)
{
    (void)state, (void)name, (void)startup, (void)teardown;
    return 0;
}

static inline void cpuhp_remove_multi_state(enum cpuhp_state state)
{
    (void)state;
}

static inline int cpuhp_state_add_instance_nocalls(enum cpuhp_state state,
                                                   struct hlist_node *node)
{
    (void)state, (void)node;
    return 0;
}

static inline int cpuhp_state_remove_instance_nocalls(enum cpuhp_state state,
                                                      struct hlist_node *node)
{
    (void)state, (void)node;
    return 0;
}

#endif
