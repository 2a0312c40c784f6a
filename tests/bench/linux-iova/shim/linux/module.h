/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel shim: module metadata, dropped. */
#ifndef KSHIM_LINUX_MODULE_H
#define KSHIM_LINUX_MODULE_H

#include <linux/export.h>

#define MODULE_AUTHOR(s)
#define MODULE_DESCRIPTION(s)
#define MODULE_LICENSE(s)

#endif
