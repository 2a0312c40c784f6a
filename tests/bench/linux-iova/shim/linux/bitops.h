/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim: the bit and power-of-two helpers iova.c uses (the kernel
 * spreads them over bitops.h and log2.h), for 64-bit unsigned long.
 */
#ifndef KSHIM_LINUX_BITOPS_H
#define KSHIM_LINUX_BITOPS_H

#include <linux/types.h>

/* Index of the lowest set bit; word != 0. */
static inline unsigned long __ffs(unsigned long word)
{
    return (unsigned long)__builtin_ctzl(word);
}

/* 1-based index of the highest set bit, 0 for 0. */
static inline unsigned int fls_long(unsigned long x)
{
    return x ? 64 - (unsigned int)__builtin_clzl(x) : 0;
}

static inline bool is_power_of_2(unsigned long n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* Smallest power of two >= n; n >= 1. */
static inline unsigned long roundup_pow_of_two(unsigned long n)
{
    return 1UL << fls_long(n - 1);
}

/* ceil(log2(n)), 0 for n <= 1. */
static inline unsigned int order_base_2(unsigned long n)
{
    return n > 1 ? fls_long(n - 1) : 0;
}

#endif
