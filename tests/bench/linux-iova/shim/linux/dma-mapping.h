/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel shim: iova.h needs only dma_addr_t from here. */
#ifndef KSHIM_LINUX_DMA_MAPPING_H
#define KSHIM_LINUX_DMA_MAPPING_H

#include <linux/types.h>

#endif
