/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel shim: NULL, offsetof, true/false. */
#ifndef KSHIM_LINUX_STDDEF_H
#define KSHIM_LINUX_STDDEF_H

#include <stdbool.h>
#include <stddef.h>

#endif
