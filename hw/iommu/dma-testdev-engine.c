/*
 * dma-testdev: the DMA engine shared by the PF and every VF
 *
 * Work is done synchronously inside the doorbell write, so a test sees
 * the final STATUS on its next read and nothing runs behind its back.
 * Every byte moves through pci_dma_rw() of the function that owns the
 * engine, so through the IOMMU of that function's requester ID, and every
 * MemTxResult is checked.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/crc32c.h"
#include "qemu/log.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "hw/pci/msix.h"
#include "migration/vmstate.h"
#include "hw/iommu/dma-testdev.h"
#include "trace.h"

/* The header's struct is a convenience; the offsets are the ABI. */
QEMU_BUILD_BUG_ON(sizeof(DmaTestdevDesc) != DMA_TESTDEV_DESC_SIZE);
QEMU_BUILD_BUG_ON(offsetof(DmaTestdevDesc, src) != DMA_TESTDEV_DESC_SRC);
QEMU_BUILD_BUG_ON(offsetof(DmaTestdevDesc, pattern) !=
                  DMA_TESTDEV_DESC_PATTERN);
QEMU_BUILD_BUG_ON(offsetof(DmaTestdevDesc, status) !=
                  DMA_TESTDEV_DESC_STATUS);
QEMU_BUILD_BUG_ON(offsetof(DmaTestdevDesc, result) !=
                  DMA_TESTDEV_DESC_RESULT);

/*
 * Transfers are cut at this granule so that FAULT_ADDR names the piece
 * that failed rather than the start of a 1 MiB transfer.
 */
#define DMA_TESTDEV_DMA_GRANULE 4096

static uint8_t engine_devfn(DmaTestdevEngine *e)
{
    return e->pci->devfn;
}

/*
 * One piece through the shadow IOTLB, as vhost accesses guest memory: a
 * miss is refused here, and the IOMMU never sees the access.
 */
static MemTxResult engine_shadow_rw(DmaTestdevEngine *e, uint64_t addr,
                                    uint8_t *buf, uint32_t len,
                                    DMADirection dir)
{
    bool write = dir == DMA_DIRECTION_FROM_DEVICE;
    uint64_t gpa;

    if (!(pci_get_word(e->pci->config + PCI_COMMAND) & PCI_COMMAND_MASTER) ||
        !dma_testdev_shadow_translate(e->shadow, addr, len, write, &gpa)) {
        return MEMTX_DECODE_ERROR;
    }
    return address_space_rw(&address_space_memory, gpa,
                            MEMTXATTRS_UNSPECIFIED, buf, len, write);
}

/* Moves @len bytes in granule-bounded pieces; stops at the first error. */
static MemTxResult engine_dma(DmaTestdevEngine *e, uint64_t addr,
                              uint8_t *buf, uint32_t len, DMADirection dir,
                              uint64_t *fault)
{
    bool shadow = e->shadow && dma_testdev_shadow_active(e->shadow);
    uint32_t done = 0;

    while (done < len) {
        uint64_t a = addr + done;
        uint32_t n = MIN(len - done,
                         DMA_TESTDEV_DMA_GRANULE -
                         (a & (DMA_TESTDEV_DMA_GRANULE - 1)));
        MemTxResult r = shadow ? engine_shadow_rw(e, a, buf + done, n, dir) :
                        pci_dma_rw(e->pci, a, buf + done, n, dir,
                                   MEMTXATTRS_UNSPECIFIED);

        if (r != MEMTX_OK) {
            trace_dma_testdev_dma_fault(engine_devfn(e), a, n,
                                        dir == DMA_DIRECTION_FROM_DEVICE, r);
            *fault = a;
            return r;
        }
        done += n;
    }
    return MEMTX_OK;
}

static bool range_wraps(uint64_t addr, uint32_t len)
{
    return addr + len - 1 < addr;
}

/*
 * Runs one operation.  Returns a DMA_TESTDEV_ERR_* code; *@fault is set
 * for DMA_FAULT, *@result for a successful CRC32C.
 */
static uint32_t engine_run_op(DmaTestdevEngine *e, uint32_t op, uint64_t src,
                              uint64_t dst, uint32_t len, uint32_t pattern,
                              uint64_t *result, uint64_t *fault)
{
    g_autofree uint8_t *buf = NULL;

    *result = 0;
    if (op != DMA_TESTDEV_OP_COPY && op != DMA_TESTDEV_OP_FILL &&
        op != DMA_TESTDEV_OP_CRC32C) {
        qemu_log_mask(LOG_GUEST_ERROR, "dma-testdev %02x.%x: bad op %u\n",
                      PCI_SLOT(engine_devfn(e)), PCI_FUNC(engine_devfn(e)),
                      op);
        return DMA_TESTDEV_ERR_BAD_OP;
    }
    if (len == 0 || len > DMA_TESTDEV_MAX_LEN) {
        qemu_log_mask(LOG_GUEST_ERROR, "dma-testdev %02x.%x: bad len %u\n",
                      PCI_SLOT(engine_devfn(e)), PCI_FUNC(engine_devfn(e)),
                      len);
        return DMA_TESTDEV_ERR_BAD_LEN;
    }
    if ((op != DMA_TESTDEV_OP_FILL && range_wraps(src, len)) ||
        (op != DMA_TESTDEV_OP_CRC32C && range_wraps(dst, len))) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dma-testdev %02x.%x: address range wraps\n",
                      PCI_SLOT(engine_devfn(e)), PCI_FUNC(engine_devfn(e)));
        return DMA_TESTDEV_ERR_BAD_ADDR;
    }

    /* One bounce buffer: COPY then behaves as memmove on overlap. */
    buf = g_malloc(len);
    switch (op) {
    case DMA_TESTDEV_OP_COPY:
        if (engine_dma(e, src, buf, len, DMA_DIRECTION_TO_DEVICE, fault) ||
            engine_dma(e, dst, buf, len, DMA_DIRECTION_FROM_DEVICE, fault)) {
            return DMA_TESTDEV_ERR_DMA_FAULT;
        }
        break;
    case DMA_TESTDEV_OP_FILL:
        for (uint32_t i = 0; i < len; i++) {
            buf[i] = pattern >> (8 * (i & 3));
        }
        if (engine_dma(e, dst, buf, len, DMA_DIRECTION_FROM_DEVICE, fault)) {
            return DMA_TESTDEV_ERR_DMA_FAULT;
        }
        break;
    case DMA_TESTDEV_OP_CRC32C:
        if (engine_dma(e, src, buf, len, DMA_DIRECTION_TO_DEVICE, fault)) {
            return DMA_TESTDEV_ERR_DMA_FAULT;
        }
        /* crc32c() applies the final inversion; the caller the initial. */
        *result = crc32c(0xffffffff, buf, len);
        break;
    }
    return DMA_TESTDEV_ERR_NONE;
}

static void engine_account(DmaTestdevEngine *e, uint32_t err, uint32_t len)
{
    if (err == DMA_TESTDEV_ERR_NONE) {
        e->completed_ops++;
        e->completed_bytes += len;
    } else {
        e->error_count++;
    }
}

static void engine_doorbell_op(DmaTestdevEngine *e)
{
    uint64_t fault = 0;
    uint32_t err = engine_run_op(e, e->op, e->src, e->dst, e->len,
                                 e->pattern, &e->result, &fault);

    trace_dma_testdev_op(engine_devfn(e), e->op, e->src, e->dst, e->len,
                         err);
    engine_account(e, err, e->len);
    e->error = err;
    e->fault_addr = fault;
    e->status = err ? DMA_TESTDEV_ST_ERROR : DMA_TESTDEV_ST_DONE;
}

static bool engine_ring_valid(DmaTestdevEngine *e)
{
    uint64_t bytes = (uint64_t)e->ring_size * DMA_TESTDEV_DESC_SIZE;

    return e->ring_size >= 2 && e->ring_size <= DMA_TESTDEV_RING_MAX_ENTRIES &&
           is_power_of_2(e->ring_size) &&
           !(e->ring_base & (DMA_TESTDEV_DESC_SIZE - 1)) &&
           e->ring_base + bytes - 1 > e->ring_base &&
           e->ring_head < e->ring_size && e->ring_tail < e->ring_size;
}

/*
 * Consumes descriptors from HEAD towards TAIL, at most RING_BUDGET per
 * doorbell so that one MMIO write is bounded.  A descriptor is consumed
 * (HEAD moves past it) once its status has been written back; the first
 * failing descriptor stops processing.  Returns true if an interrupt is
 * due.
 */
static bool engine_doorbell_ring(DmaTestdevEngine *e)
{
    uint32_t processed = 0;
    bool irq = false;

    if (!engine_ring_valid(e)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dma-testdev %02x.%x: bad ring base 0x%" PRIx64
                      " size %u head %u tail %u\n",
                      PCI_SLOT(engine_devfn(e)), PCI_FUNC(engine_devfn(e)),
                      e->ring_base, e->ring_size, e->ring_head, e->ring_tail);
        e->error = DMA_TESTDEV_ERR_BAD_RING;
        e->error_count++;
        e->status = DMA_TESTDEV_ST_ERROR;
        return true;
    }

    while (e->ring_head != e->ring_tail &&
           processed < DMA_TESTDEV_RING_BUDGET) {
        uint64_t daddr = e->ring_base +
                         (uint64_t)e->ring_head * DMA_TESTDEV_DESC_SIZE;
        uint8_t d[DMA_TESTDEV_DESC_SIZE];
        uint8_t wb[16] = { 0 };
        uint32_t op, flags, len, err;
        uint64_t result = 0, fault = 0;

        if (engine_dma(e, daddr, d, sizeof(d), DMA_DIRECTION_TO_DEVICE,
                       &fault)) {
            e->error = DMA_TESTDEV_ERR_DMA_FAULT;
            e->fault_addr = fault;
            e->error_count++;
            break;
        }
        op = ldl_le_p(d + DMA_TESTDEV_DESC_OP);
        flags = ldl_le_p(d + DMA_TESTDEV_DESC_FLAGS);
        len = ldl_le_p(d + DMA_TESTDEV_DESC_LEN);
        if (flags & ~DMA_TESTDEV_DESC_F_MASK) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "dma-testdev %02x.%x: desc %u flags 0x%x\n",
                          PCI_SLOT(engine_devfn(e)),
                          PCI_FUNC(engine_devfn(e)), e->ring_head, flags);
            err = DMA_TESTDEV_ERR_BAD_FLAGS;
        } else {
            err = engine_run_op(e, op, ldq_le_p(d + DMA_TESTDEV_DESC_SRC),
                                ldq_le_p(d + DMA_TESTDEV_DESC_DST), len,
                                ldl_le_p(d + DMA_TESTDEV_DESC_PATTERN),
                                &result, &fault);
        }
        trace_dma_testdev_desc(engine_devfn(e), e->ring_head, op, len, err);

        stl_le_p(wb, DMA_TESTDEV_DESC_ST_COMPLETE | err);
        stq_le_p(wb + 8, result);
        if (engine_dma(e, daddr + DMA_TESTDEV_DESC_STATUS, wb, sizeof(wb),
                       DMA_DIRECTION_FROM_DEVICE, &fault)) {
            e->error = DMA_TESTDEV_ERR_DMA_FAULT;
            e->fault_addr = fault;
            e->error_count++;
            break;
        }
        engine_account(e, err, len);
        e->ring_head = (e->ring_head + 1) & (e->ring_size - 1);
        processed++;
        irq |= flags & DMA_TESTDEV_DESC_F_IRQ;
        if (err) {
            e->error = err;
            e->fault_addr = fault;
            break;
        }
    }

    trace_dma_testdev_ring(engine_devfn(e), e->ring_head, e->ring_tail,
                           processed, e->error);
    e->status = e->error ? DMA_TESTDEV_ST_ERROR : DMA_TESTDEV_ST_DONE;
    return irq || e->error;
}

static void engine_doorbell(DmaTestdevEngine *e, uint32_t val)
{
    bool irq = true;

    trace_dma_testdev_doorbell(engine_devfn(e), val);
    /* Each doorbell reports only its own outcome. */
    e->error = DMA_TESTDEV_ERR_NONE;
    e->fault_addr = 0;
    /*
     * A disabled VF has no BAR mapped, so this is only reachable through
     * a stale path; refuse rather than DMA for a function that is gone.
     */
    if (!e->pci->enabled) {
        e->status = DMA_TESTDEV_ST_ERROR;
        e->error = DMA_TESTDEV_ERR_DISABLED;
        e->error_count++;
        return;
    }

    e->status = DMA_TESTDEV_ST_BUSY;
    switch (val) {
    case DMA_TESTDEV_DB_OP:
        engine_doorbell_op(e);
        break;
    case DMA_TESTDEV_DB_RING:
        irq = engine_doorbell_ring(e);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dma-testdev %02x.%x: bad doorbell value 0x%x\n",
                      PCI_SLOT(engine_devfn(e)), PCI_FUNC(engine_devfn(e)),
                      val);
        e->status = DMA_TESTDEV_ST_ERROR;
        e->error = DMA_TESTDEV_ERR_BAD_DOORBELL;
        e->error_count++;
        break;
    }

    if (irq && (e->control & DMA_TESTDEV_CTRL_IRQ_EN) &&
        msix_enabled(e->pci)) {
        msix_notify(e->pci, 0);
    }
}

static uint64_t *engine_reg64(DmaTestdevEngine *e, hwaddr reg)
{
    switch (reg) {
    case DMA_TESTDEV_REG_SRC:
        return &e->src;
    case DMA_TESTDEV_REG_DST:
        return &e->dst;
    case DMA_TESTDEV_REG_RESULT:
        return &e->result;
    case DMA_TESTDEV_REG_FAULT_ADDR:
        return &e->fault_addr;
    case DMA_TESTDEV_REG_RING_BASE:
        return &e->ring_base;
    case DMA_TESTDEV_REG_COMPLETED_OPS:
        return &e->completed_ops;
    case DMA_TESTDEV_REG_COMPLETED_BYTES:
        return &e->completed_bytes;
    case DMA_TESTDEV_REG_ERROR_COUNT:
        return &e->error_count;
    default:
        return NULL;
    }
}

static uint32_t engine_func(DmaTestdevEngine *e)
{
    if (pci_is_vf(e->pci)) {
        return DMA_TESTDEV_FUNC_VF | pcie_sriov_vf_number(e->pci);
    }
    return 0;
}

static uint64_t engine_read(void *opaque, hwaddr addr, unsigned size)
{
    DmaTestdevEngine *e = opaque;
    uint64_t *r64 = engine_reg64(e, addr & ~7ULL);
    uint64_t val;

    if (r64) {
        val = extract64(*r64, (addr & 4) * 8, 32);
    } else {
        switch (addr) {
        case DMA_TESTDEV_REG_MAGIC:
            val = DMA_TESTDEV_MAGIC;
            break;
        case DMA_TESTDEV_REG_VERSION:
            val = DMA_TESTDEV_VERSION;
            break;
        case DMA_TESTDEV_REG_FUNC:
            val = engine_func(e);
            break;
        case DMA_TESTDEV_REG_MAX_LEN:
            val = DMA_TESTDEV_MAX_LEN;
            break;
        case DMA_TESTDEV_REG_LEN:
            val = e->len;
            break;
        case DMA_TESTDEV_REG_OP:
            val = e->op;
            break;
        case DMA_TESTDEV_REG_PATTERN:
            val = e->pattern;
            break;
        case DMA_TESTDEV_REG_CONTROL:
            val = e->control;
            break;
        case DMA_TESTDEV_REG_STATUS:
            val = e->status;
            break;
        case DMA_TESTDEV_REG_ERROR:
            val = e->error;
            break;
        case DMA_TESTDEV_REG_RING_SIZE:
            val = e->ring_size;
            break;
        case DMA_TESTDEV_REG_RING_HEAD:
            val = e->ring_head;
            break;
        case DMA_TESTDEV_REG_RING_TAIL:
            val = e->ring_tail;
            break;
        default:
            /* DOORBELL and reserved offsets read as zero */
            val = 0;
            break;
        }
    }
    trace_dma_testdev_reg_read(engine_devfn(e), addr, val);
    return val;
}

static void engine_write(void *opaque, hwaddr addr, uint64_t val,
                         unsigned size)
{
    DmaTestdevEngine *e = opaque;

    trace_dma_testdev_reg_write(engine_devfn(e), addr, val);
    switch (addr & ~7ULL) {
    case DMA_TESTDEV_REG_SRC:
    case DMA_TESTDEV_REG_DST:
    case DMA_TESTDEV_REG_RING_BASE: {
        uint64_t *r64 = engine_reg64(e, addr & ~7ULL);

        *r64 = deposit64(*r64, (addr & 4) * 8, 32, val);
        return;
    }
    }

    switch (addr) {
    case DMA_TESTDEV_REG_LEN:
        e->len = val;
        break;
    case DMA_TESTDEV_REG_OP:
        e->op = val;
        break;
    case DMA_TESTDEV_REG_PATTERN:
        e->pattern = val;
        break;
    case DMA_TESTDEV_REG_CONTROL:
        e->control = val & DMA_TESTDEV_CTRL_MASK;
        break;
    case DMA_TESTDEV_REG_DOORBELL:
        engine_doorbell(e, val);
        break;
    case DMA_TESTDEV_REG_RING_SIZE:
        e->ring_size = val;
        break;
    case DMA_TESTDEV_REG_RING_HEAD:
        e->ring_head = val;
        break;
    case DMA_TESTDEV_REG_RING_TAIL:
        e->ring_tail = val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "dma-testdev %02x.%x: write 0x%" PRIx64
                      " to read-only or reserved offset 0x%" HWADDR_PRIx "\n",
                      PCI_SLOT(engine_devfn(e)), PCI_FUNC(engine_devfn(e)),
                      val, addr);
        break;
    }
}

static const MemoryRegionOps engine_ops = {
    .read = engine_read,
    .write = engine_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* 64-bit accesses are split into two halves, low half first. */
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

bool dma_testdev_engine_realize(DmaTestdevEngine *e, PCIDevice *pci,
                                Error **errp)
{
    Object *owner = OBJECT(pci);

    e->pci = pci;
    memory_region_init(&e->bar, owner, "dma-testdev-bar0",
                       DMA_TESTDEV_BAR0_SIZE);
    memory_region_init_io(&e->regs, owner, &engine_ops, e, "dma-testdev-regs",
                          DMA_TESTDEV_MSIX_TABLE_OFFSET);
    memory_region_add_subregion(&e->bar, 0, &e->regs);
    pci_register_bar(pci, 0, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_32, &e->bar);

    if (msix_init(pci, DMA_TESTDEV_MSIX_VECTORS, &e->bar, 0,
                  DMA_TESTDEV_MSIX_TABLE_OFFSET, &e->bar, 0,
                  DMA_TESTDEV_MSIX_PBA_OFFSET, 0, errp) < 0) {
        return false;
    }
    msix_vector_use(pci, 0);
    dma_testdev_engine_reset(e);
    return true;
}

void dma_testdev_engine_unrealize(DmaTestdevEngine *e)
{
    msix_unuse_all_vectors(e->pci);
    msix_uninit(e->pci, &e->bar, &e->bar);
}

void dma_testdev_engine_reset(DmaTestdevEngine *e)
{
    e->src = 0;
    e->dst = 0;
    e->len = 0;
    e->op = 0;
    e->pattern = 0;
    e->control = 0;
    e->status = DMA_TESTDEV_ST_IDLE;
    e->error = DMA_TESTDEV_ERR_NONE;
    e->result = 0;
    e->fault_addr = 0;
    e->ring_base = 0;
    e->ring_size = 0;
    e->ring_head = 0;
    e->ring_tail = 0;
    e->completed_ops = 0;
    e->completed_bytes = 0;
    e->error_count = 0;
}

const VMStateDescription vmstate_dma_testdev_engine = {
    .name = "dma-testdev-engine",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(src, DmaTestdevEngine),
        VMSTATE_UINT64(dst, DmaTestdevEngine),
        VMSTATE_UINT32(len, DmaTestdevEngine),
        VMSTATE_UINT32(op, DmaTestdevEngine),
        VMSTATE_UINT32(pattern, DmaTestdevEngine),
        VMSTATE_UINT32(control, DmaTestdevEngine),
        VMSTATE_UINT32(status, DmaTestdevEngine),
        VMSTATE_UINT32(error, DmaTestdevEngine),
        VMSTATE_UINT64(result, DmaTestdevEngine),
        VMSTATE_UINT64(fault_addr, DmaTestdevEngine),
        VMSTATE_UINT64(ring_base, DmaTestdevEngine),
        VMSTATE_UINT32(ring_size, DmaTestdevEngine),
        VMSTATE_UINT32(ring_head, DmaTestdevEngine),
        VMSTATE_UINT32(ring_tail, DmaTestdevEngine),
        VMSTATE_UINT64(completed_ops, DmaTestdevEngine),
        VMSTATE_UINT64(completed_bytes, DmaTestdevEngine),
        VMSTATE_UINT64(error_count, DmaTestdevEngine),
        VMSTATE_END_OF_LIST()
    },
};
