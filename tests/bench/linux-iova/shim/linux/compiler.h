/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: compiler annotations and single-copy accesses, with the
 * kernel's meaning (READ_ONCE/WRITE_ONCE are volatile accesses).
 */
#ifndef KSHIM_LINUX_COMPILER_H
#define KSHIM_LINUX_COMPILER_H

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif
#define barrier() __asm__ __volatile__("" ::: "memory")

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) \
    do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)

#endif
