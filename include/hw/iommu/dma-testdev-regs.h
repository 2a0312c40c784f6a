/*
 * dma-testdev guest ABI: PCI identity, BAR0 register block, status and
 * error codes, ring descriptor format.
 *
 * This header is the contract between the device model, the qtests and
 * guest tools, so it uses nothing beyond <stdint.h>.  The prose version
 * is docs/specs/dma-testdev.rst.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_IOMMU_DMA_TESTDEV_REGS_H
#define HW_IOMMU_DMA_TESTDEV_REGS_H

#include <stdint.h>

#define DMA_TESTDEV_PCI_VENDOR_ID       0x1234
#define DMA_TESTDEV_PCI_DEVICE_ID       0x1f11  /* PF */
#define DMA_TESTDEV_PCI_VF_DEVICE_ID    0x1f12  /* in the PF's SR-IOV cap */
#define DMA_TESTDEV_PCI_CLASS           0x00ff  /* unclassified device */
#define DMA_TESTDEV_PCI_REVISION        0x01

/* PCI layout (config space offsets) */
#define DMA_TESTDEV_PCIE_CAP_OFFSET     0x80
#define DMA_TESTDEV_SRIOV_CAP_OFFSET    0x100
#define DMA_TESTDEV_ARI_CAP_OFFSET      0x150   /* PF; a VF's is at 0x100 */
#define DMA_TESTDEV_VF_ARI_CAP_OFFSET   0x100

/* BAR0 of the PF and of every VF: 32-bit non-prefetchable memory, 4 KiB */
#define DMA_TESTDEV_BAR0_SIZE           0x1000
#define DMA_TESTDEV_MSIX_TABLE_OFFSET   0x800
#define DMA_TESTDEV_MSIX_PBA_OFFSET     0xc00
#define DMA_TESTDEV_MSIX_VECTORS        1

#define DMA_TESTDEV_MAGIC               0x54414d44u  /* "DMAT" little-endian */
#define DMA_TESTDEV_VERSION             0x00010000u  /* 1.0: major << 16 */

/* Largest LEN of one operation, and the bound on RING_SIZE */
#define DMA_TESTDEV_MAX_LEN             (1u << 20)
#define DMA_TESTDEV_RING_MAX_ENTRIES    4096u
/* Descriptors processed per ring doorbell at most; ring again for more */
#define DMA_TESTDEV_RING_BUDGET         256u

/*
 * Registers.  64-bit registers may be accessed as one 64-bit access or as
 * two 32-bit halves; everything else is 32 bits wide.
 */
#define DMA_TESTDEV_REG_MAGIC           0x000   /* 32: RO */
#define DMA_TESTDEV_REG_VERSION         0x004   /* 32: RO */
#define DMA_TESTDEV_REG_FUNC            0x008   /* 32: RO, DMA_TESTDEV_FUNC_* */
#define DMA_TESTDEV_REG_MAX_LEN         0x00c   /* 32: RO */
#define DMA_TESTDEV_REG_SRC             0x010   /* 64: RW */
#define DMA_TESTDEV_REG_DST             0x018   /* 64: RW */
#define DMA_TESTDEV_REG_LEN             0x020   /* 32: RW */
#define DMA_TESTDEV_REG_OP              0x024   /* 32: RW, DMA_TESTDEV_OP_* */
#define DMA_TESTDEV_REG_PATTERN         0x028   /* 32: RW */
#define DMA_TESTDEV_REG_CONTROL         0x02c   /* 32: RW, DMA_TESTDEV_CTRL_* */
#define DMA_TESTDEV_REG_DOORBELL        0x030   /* 32: WO, DMA_TESTDEV_DB_* */
#define DMA_TESTDEV_REG_STATUS          0x034   /* 32: RO, DMA_TESTDEV_ST_* */
#define DMA_TESTDEV_REG_ERROR           0x038   /* 32: RO, DMA_TESTDEV_ERR_* */
#define DMA_TESTDEV_REG_RESULT          0x040   /* 64: RO */
#define DMA_TESTDEV_REG_FAULT_ADDR      0x048   /* 64: RO */
#define DMA_TESTDEV_REG_RING_BASE       0x050   /* 64: RW */
#define DMA_TESTDEV_REG_RING_SIZE       0x058   /* 32: RW, entries */
#define DMA_TESTDEV_REG_RING_HEAD       0x05c   /* 32: RW, device advances */
#define DMA_TESTDEV_REG_RING_TAIL       0x060   /* 32: RW */
#define DMA_TESTDEV_REG_COMPLETED_OPS   0x068   /* 64: RO */
#define DMA_TESTDEV_REG_COMPLETED_BYTES 0x070   /* 64: RO */
#define DMA_TESTDEV_REG_ERROR_COUNT     0x078   /* 64: RO */
#define DMA_TESTDEV_REG_END             0x080   /* reserved up to 0x800 */

/* FUNC: which function this register block belongs to */
#define DMA_TESTDEV_FUNC_VF             (1u << 31)
#define DMA_TESTDEV_FUNC_VF_NUM_MASK    0xffffu /* VF number, 0 for the PF */

/* OP (also the op field of a descriptor) */
#define DMA_TESTDEV_OP_COPY             1   /* dst[0..len) = src[0..len) */
#define DMA_TESTDEV_OP_FILL             2   /* dst = pattern, LE, repeated */
#define DMA_TESTDEV_OP_CRC32C           3   /* RESULT = CRC-32C(src[0..len)) */

/* CONTROL */
#define DMA_TESTDEV_CTRL_IRQ_EN         (1u << 0)   /* MSI-X vector 0 */
#define DMA_TESTDEV_CTRL_MASK           DMA_TESTDEV_CTRL_IRQ_EN

/* DOORBELL values */
#define DMA_TESTDEV_DB_OP               1   /* run SRC/DST/LEN/OP/PATTERN */
#define DMA_TESTDEV_DB_RING             2   /* run descriptors HEAD..TAIL */

/* STATUS */
#define DMA_TESTDEV_ST_IDLE             0
#define DMA_TESTDEV_ST_BUSY             1   /* never seen: work is sync */
#define DMA_TESTDEV_ST_DONE             2
#define DMA_TESTDEV_ST_ERROR            3

/* ERROR (valid when STATUS is ERROR; also the low byte of a desc status) */
#define DMA_TESTDEV_ERR_NONE            0
#define DMA_TESTDEV_ERR_DMA_FAULT       1   /* FAULT_ADDR says where */
#define DMA_TESTDEV_ERR_BAD_LEN         2   /* zero or above MAX_LEN */
#define DMA_TESTDEV_ERR_BAD_OP          3
#define DMA_TESTDEV_ERR_BAD_ADDR        4   /* address + len wraps 2^64 */
#define DMA_TESTDEV_ERR_BAD_RING        5   /* base, size, head or tail */
#define DMA_TESTDEV_ERR_BAD_DOORBELL    6
#define DMA_TESTDEV_ERR_BAD_FLAGS       7   /* reserved descriptor flag */
#define DMA_TESTDEV_ERR_DISABLED        8   /* function not enabled */

/*
 * Ring descriptor, 64 bytes, little-endian, RING_BASE aligned to 64.
 * The guest fills op..pattern and clears status; the device writes
 * status (and result) back once the descriptor is consumed.
 */
#define DMA_TESTDEV_DESC_SIZE           64
#define DMA_TESTDEV_DESC_OP             0x00    /* 32 */
#define DMA_TESTDEV_DESC_FLAGS          0x04    /* 32, DMA_TESTDEV_DESC_F_* */
#define DMA_TESTDEV_DESC_SRC            0x08    /* 64 */
#define DMA_TESTDEV_DESC_DST            0x10    /* 64 */
#define DMA_TESTDEV_DESC_LEN            0x18    /* 32 */
#define DMA_TESTDEV_DESC_PATTERN        0x1c    /* 32 */
#define DMA_TESTDEV_DESC_STATUS         0x20    /* 32, written by device */
#define DMA_TESTDEV_DESC_RESULT         0x28    /* 64, written by device */

/* Descriptor flags */
#define DMA_TESTDEV_DESC_F_IRQ          (1u << 0)   /* interrupt when done */
#define DMA_TESTDEV_DESC_F_MASK         DMA_TESTDEV_DESC_F_IRQ

/* Descriptor status: COMPLETE | error code */
#define DMA_TESTDEV_DESC_ST_COMPLETE    (1u << 31)
#define DMA_TESTDEV_DESC_ST_ERR_MASK    0xffu

typedef struct DmaTestdevDesc {
    uint32_t op;
    uint32_t flags;
    uint64_t src;
    uint64_t dst;
    uint32_t len;
    uint32_t pattern;
    uint32_t status;
    uint32_t reserved0;
    uint64_t result;
    uint64_t reserved1[2];
} DmaTestdevDesc;

#endif /* HW_IOMMU_DMA_TESTDEV_REGS_H */
