/*
 * A C shim over QEMU's util/iova-tree.c for the comparison benchmark
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/iova-tree.h"
#include "qemu-iova-tree-shim.h"

QemuIovaTree *qemu_iova_tree_new(void)
{
    return (QemuIovaTree *)iova_tree_new();
}

void qemu_iova_tree_free(QemuIovaTree *tree)
{
    iova_tree_destroy((IOVATree *)tree);
}

bool qemu_iova_tree_alloc(QemuIovaTree *tree, uint64_t size, uint64_t begin,
                          uint64_t last, uint64_t *iova)
{
    /* DMAMap sizes are inclusive: the length minus one. */
    DMAMap map = { .size = size - 1, .perm = IOMMU_RW };

    if (iova_tree_alloc_map((IOVATree *)tree, &map, begin, last) != IOVA_OK) {
        return false;
    }
    *iova = map.iova;
    return true;
}

bool qemu_iova_tree_insert(QemuIovaTree *tree, uint64_t iova, uint64_t size)
{
    DMAMap map = { .iova = iova, .size = size - 1, .perm = IOMMU_RW };

    return iova_tree_insert((IOVATree *)tree, &map) == IOVA_OK;
}

void qemu_iova_tree_remove(QemuIovaTree *tree, uint64_t iova, uint64_t size)
{
    DMAMap map = { .iova = iova, .size = size - 1 };

    iova_tree_remove((IOVATree *)tree, map);
}
