/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: the helpers of linux/kernel.h that iova.c and iova.h use,
 * and what the real header brings in on the way (locks, bit operations).
 * This build has CONFIG_IOMMU_IOVA and 4 KiB pages.
 */
#ifndef KSHIM_LINUX_KERNEL_H
#define KSHIM_LINUX_KERNEL_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/container_of.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#define CONFIG_IOMMU_IOVA 1
/* Only ever asked about options this header defines to 1. */
#define IS_REACHABLE(option) (option)

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT) /* bytes */

#define ENOTSUPP 524 /* kernel-internal errno */

#define min(a, b) \
    ({ __typeof__(a) _min_a = (a); __typeof__(b) _min_b = (b); \
       _min_a < _min_b ? _min_a : _min_b; })
#define max(a, b) \
    ({ __typeof__(a) _max_a = (a); __typeof__(b) _max_b = (b); \
       _max_a > _max_b ? _max_a : _max_b; })
#define swap(a, b) \
    do { __typeof__(a) _swap_t = (a); (a) = (b); (b) = _swap_t; } while (0)

#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define ALIGN(x, a) ALIGN_DOWN((x) + ((__typeof__(x))(a) - 1), (a))

/* The kernel's form: the message is optional. */
#undef static_assert
#define static_assert(expr, ...) _Static_assert(expr, #expr)

/* Report and stop (BUG) or report and go on (WARN, which returns cond). */
void kshim_bug(const char *file, int line, const char *cond)
    __attribute__((noreturn, cold));
void kshim_warn(const char *file, int line, const char *cond)
    __attribute__((cold));

#define BUG_ON(cond) \
    do { if (unlikely(cond)) kshim_bug(__FILE__, __LINE__, #cond); } while (0)
#define WARN_ON(cond) \
    ({ int _warn_c = !!(cond); \
       if (unlikely(_warn_c)) kshim_warn(__FILE__, __LINE__, #cond); \
       unlikely(_warn_c); })

#define pr_err(...) fprintf(stderr, __VA_ARGS__)
#define ERR_PTR(err) ((void *)(long)(err))

#endif
