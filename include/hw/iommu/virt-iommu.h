/*
 * virt-iommu: a paravirtual PCI IOMMU whose IOVA space is managed by the
 * C++ allocator in iova/.  What code outside hw/iommu/ needs: the QOM
 * type.  The guest ABI is hw/iommu/virt-iommu-regs.h; the device's own
 * state and layers are private to hw/iommu/ (virt-iommu-internal.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_VIRT_IOMMU_H
#define HW_IOMMU_VIRT_IOMMU_H

#include "qom/object.h"

#define TYPE_VIRT_IOMMU "virt-iommu"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMMUState, VIRT_IOMMU)

#endif /* HW_IOMMU_VIRT_IOMMU_H */
