/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virt-iommu guest ABI, as the Linux driver sees it.
 *
 * The normative description is docs/specs/virt-iommu.rst in the virt-iommu
 * project (ABI 0.4).  Only what this driver uses is defined here, in kernel
 * types; the command and event layouts are little-endian.
 */
#ifndef _VIRT_IOMMU_H
#define _VIRT_IOMMU_H

#include <linux/bits.h>
#include <linux/types.h>

#define VIOMMU_PCI_VENDOR_ID		0x1234
#define VIOMMU_PCI_DEVICE_ID		0x1f10

/* BAR0 registers */
#define VIOMMU_REG_MAGIC		0x000
#define VIOMMU_REG_VERSION		0x004
#define VIOMMU_REG_CAP			0x008
#define VIOMMU_REG_PGSIZE_MASK		0x010
#define VIOMMU_REG_IOVA_BITS		0x018
#define VIOMMU_REG_DOMAIN_TYPES		0x01c
#define VIOMMU_REG_COMMANDS		0x020
#define VIOMMU_REG_MAX_DOMAINS		0x028
#define VIOMMU_REG_CONTROL		0x040
#define VIOMMU_REG_STATUS		0x044
#define VIOMMU_REG_ERROR		0x048
#define VIOMMU_REG_CMDQ_BASE		0x080
#define VIOMMU_REG_CMDQ_SIZE		0x088
#define VIOMMU_REG_CMDQ_HEAD		0x090
#define VIOMMU_REG_CMDQ_TAIL		0x094
#define VIOMMU_REG_CMDQ_TAIL_ADDR	0x098	/* ABI 0.4 */
#define VIOMMU_REG_EVTQ_BASE		0x0a0
#define VIOMMU_REG_EVTQ_SIZE		0x0a8
#define VIOMMU_REG_EVTQ_HEAD		0x0b0
#define VIOMMU_REG_EVTQ_TAIL		0x0b4

#define VIOMMU_MAGIC			0x4d4f4956	/* "VIOM" */
#define VIOMMU_VERSION_MAJOR(v)		((v) >> 16)
#define VIOMMU_VERSION_MINOR(v)		((v) & 0xffff)
/* The driver needs ABI 0.3: DMA_FQ domains, ENDPOINT_GONE records */
#define VIOMMU_DRIVER_MAJOR		0
#define VIOMMU_DRIVER_MINOR		3

#define VIOMMU_CAP_CMDQ			BIT_ULL(0)
#define VIOMMU_CAP_EVTQ			BIT_ULL(1)
#define VIOMMU_CAP_MSIX			BIT_ULL(2)
/* ABI 0.4: a translation miss runs the mapping commands the shadow covers */
#define VIOMMU_CAP_CMDQ_LAZY		BIT_ULL(3)

#define VIOMMU_CTRL_ENABLE		BIT(0)
#define VIOMMU_CTRL_DEFAULT_BYPASS	BIT(1)
#define VIOMMU_CTRL_CMDQ_EN		BIT(2)
#define VIOMMU_CTRL_EVTQ_EN		BIT(3)

#define VIOMMU_STS_ENABLED		BIT(0)
#define VIOMMU_STS_BYPASS		BIT(1)
#define VIOMMU_STS_CMDQ_ON		BIT(2)
#define VIOMMU_STS_EVTQ_ON		BIT(3)

#define VIOMMU_ERR_CMDQ_TAIL		BIT(1)
#define VIOMMU_ERR_CMDQ_FETCH		BIT(2)
#define VIOMMU_ERR_CMDQ_MASK		(VIOMMU_ERR_CMDQ_TAIL | VIOMMU_ERR_CMDQ_FETCH)
#define VIOMMU_ERR_EVTQ_OVERFLOW	BIT(5)
#define VIOMMU_ERR_MASK			0x7f

#define VIOMMU_MSIX_EVENT		0
#define VIOMMU_MSIX_VECTORS		2

/* Domain types: bit positions of DOMAIN_TYPES */
#define VIOMMU_DOMAIN_BLOCKED		0
#define VIOMMU_DOMAIN_IDENTITY		1
#define VIOMMU_DOMAIN_DMA		2
#define VIOMMU_DOMAIN_DMA_FQ		3
#define VIOMMU_NR_DOMAIN_TYPES		4

/* Commands */
#define VIOMMU_CMD_DOMAIN_ALLOC		0x01
#define VIOMMU_CMD_DOMAIN_FREE		0x02
#define VIOMMU_CMD_DOMAIN_SET_TYPE	0x03
#define VIOMMU_CMD_ATTACH		0x04
#define VIOMMU_CMD_DETACH		0x05
#define VIOMMU_CMD_MAP_FIXED		0x07
#define VIOMMU_CMD_UNMAP		0x08
#define VIOMMU_CMD_INVALIDATE		0x09
#define VIOMMU_CMD_SYNC			0x0a
#define VIOMMU_CMD_QUERY_STATS		0x0b

#define VIOMMU_INV_DOMAIN		1
#define VIOMMU_INV_RANGE		2

#define VIOMMU_PERM_READ		BIT(0)
#define VIOMMU_PERM_WRITE		BIT(1)

#define VIOMMU_S_PENDING		0
#define VIOMMU_S_OK			1
#define VIOMMU_S_INVALID		3
#define VIOMMU_S_NO_DOMAIN		4
#define VIOMMU_S_BUSY			5
#define VIOMMU_S_NO_SPACE		6
#define VIOMMU_S_EXISTS			7
#define VIOMMU_S_NOT_MAPPED		8
#define VIOMMU_S_PARTIAL		9
#define VIOMMU_S_RANGE			10
#define VIOMMU_S_WRONG_TYPE		11
#define VIOMMU_S_NO_ENDPOINT		13

/* One command slot: 64 bytes */
struct viommu_cmd {
	u8	opcode;
	u8	flags;
	__le16	status;
	__le32	domain;
	__le32	endpoint;
	__le32	arg;
	__le64	iova;
	__le64	addr;
	__le64	size;
	__le64	limit;
	__le64	result;
	__le64	reserved;
};

/* One event record: 32 bytes */
struct viommu_event {
	u8	type;
	u8	reason;
	__le16	endpoint;
	__le32	domain;
	__le64	iova;
	__le32	access;
	__le32	reserved0;
	__le64	reserved1;
};

#define VIOMMU_EVT_FAULT		1
#define VIOMMU_EVT_ENDPOINT_GONE	2
#define VIOMMU_EVT_STRICT		3

/* QUERY_STATS result: 256 bytes; the fields this driver reads */
struct viommu_stats {
	__le32	domain;
	__le32	type;
	__le32	endpoints;
	__le32	reserved0;
	__le64	mappings;
	__le64	mapped_bytes;
	__le64	fq_pending;
	__le64	fq_flushes;
	__le64	other[20];	/* allocator and device counters */
	/* Domain 0: fault injections that fired (the device's x-inject) */
	__le64	injected_status;
	__le64	injected_syncs;
	__le64	injected_drops;
	__le64	injected_attaches;
	__le64	reserved[2];
};

#endif /* _VIRT_IOMMU_H */
