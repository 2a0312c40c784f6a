/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel shim: symbol exports mean nothing in one userspace program. */
#ifndef KSHIM_LINUX_EXPORT_H
#define KSHIM_LINUX_EXPORT_H

#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)

#endif
