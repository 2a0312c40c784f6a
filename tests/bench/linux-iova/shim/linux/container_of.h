/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel shim: the structure that embeds a member, from the member. */
#ifndef KSHIM_LINUX_CONTAINER_OF_H
#define KSHIM_LINUX_CONTAINER_OF_H

#include <linux/stddef.h>

#define container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
