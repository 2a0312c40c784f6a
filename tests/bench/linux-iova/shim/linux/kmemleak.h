/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel shim: no leak detector runs here; its annotations do nothing. */
#ifndef KSHIM_LINUX_KMEMLEAK_H
#define KSHIM_LINUX_KMEMLEAK_H

static inline void kmemleak_transient_leak(const void *ptr)
{
    (void)ptr;
}

#endif
