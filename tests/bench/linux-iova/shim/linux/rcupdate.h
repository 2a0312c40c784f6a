/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: the RCU pointer accessors rbtree.h names.  iova.c takes its
 * tree lock for every access, so only their plain meaning matters: a
 * publishing store is a release store (on x86 a plain store, as in Linux).
 */
#ifndef KSHIM_LINUX_RCUPDATE_H
#define KSHIM_LINUX_RCUPDATE_H

#include <linux/compiler.h>

#define rcu_dereference_raw(p) READ_ONCE(p)
#define rcu_assign_pointer(p, v) \
    __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define RCU_INIT_POINTER(p, v) WRITE_ONCE(p, v)

#endif
