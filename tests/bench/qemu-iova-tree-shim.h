/*
 * A C shim over QEMU's util/iova-tree.c for the comparison benchmark:
 * QEMU's header and iova.h both define IOVA_OK and IOVA_ERR_NOMEM, so no
 * translation unit may include both.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QEMU_IOVA_TREE_SHIM_H
#define QEMU_IOVA_TREE_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct QemuIovaTree QemuIovaTree;

QemuIovaTree *qemu_iova_tree_new(void);
void qemu_iova_tree_free(QemuIovaTree *tree);

/*
 * iova_tree_alloc_map(): the lowest free range of @size bytes in
 * [@begin, @last]; stores its start in *@iova.  False if none.
 */
bool qemu_iova_tree_alloc(QemuIovaTree *tree, uint64_t size, uint64_t begin,
                          uint64_t last, uint64_t *iova);

/* iova_tree_insert() of the @size bytes at @iova; false on overlap. */
bool qemu_iova_tree_insert(QemuIovaTree *tree, uint64_t iova, uint64_t size);

/* iova_tree_remove() of the @size bytes at @iova. */
void qemu_iova_tree_remove(QemuIovaTree *tree, uint64_t iova, uint64_t size);

#ifdef __cplusplus
}
#endif

#endif
