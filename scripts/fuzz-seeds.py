#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the seed corpus of the virt-iommu generic-fuzz configuration.

Each seed is one of the qtests' command sequences (tests/qtest/*.c)
re-expressed in the input format of QEMU's generic-fuzz target
(tests/qtest/fuzz/generic_fuzz.c): operations separated by "FUZZ", the
first byte of each an opcode.  Command rings, event rings and descriptor
rings are not written by the seeds: generic-fuzz fills guest memory when
a device reads it by DMA, from the patterns added with ADD_DMA_PATTERN,
one pattern per read, in order.  So a batch of N commands is: clear the
patterns, add N patterns (one 64-byte VirtIOMMUCmd each), write
CMDQ_TAIL.  A seed that gets the fuzzer past "set up the queues, allocate
a domain, attach, map, DMA" gives it the states where the interesting
code is, which random bytes alone take hours to reach.

MMIO operations name a region by its index among the fuzzed memory
regions in address order (generic-fuzz's own numbering, see LAYOUT below,
checked by `scripts/fuzz-qemu.sh --regions`).  Addresses are those the
fuzzer's machine gives (QEMU_FUZZ_ARGS in scripts/fuzz-qemu.sh): the
IOMMU at 04.0, dma-testdev at 06.0, VFs from 06.1.

Usage: scripts/fuzz-seeds.py OUTDIR   (make fuzz regenerates it)
"""

import struct
import sys
from pathlib import Path

SEP = b"FUZZ"
OP_READ, OP_WRITE, OP_PCI_READ, OP_PCI_WRITE = 2, 3, 4, 5
OP_ADD_DMA_PATTERN, OP_CLEAR_DMA_PATTERNS, OP_CLOCK_STEP = 7, 8, 9
SZ_B, SZ_W, SZ_L, SZ_Q = 0, 1, 2, 3

# generic-fuzz's index of each fuzzed MMIO region, counted in address
# order over the regions mapped at that moment (each BAR: registers, then
# MSI-X table and PBA); the PCI device index is the order of the objects
# in QEMU_FUZZ_OBJECTS.  The ECAM window (0xb0000000) is mapped only once
# PCIEXBAR enables it, and a VF's registers (0xc0000000) only once VF
# Enable and the VF's MEM bit are set: the regions above them shift.
LAYOUT = {
    "pci": {"mch": 0, "iommu": 1, "pf": 2},
    "plain": {"iommu": 0, "pf": 3},
    "ecam": {"ecam": 0, "iommu": 1, "pf": 4},
    "vf0": {"ecam": 0, "vf0": 1, "iommu": 2, "pf": 5},
}

# Guest-physical layout used by the seeds (RAM is 256 MiB).
CMDQ, EVTQ, BUF, RING = 0x100000, 0x110000, 0x200000, 0x300000
CMDQ_LOG2, EVTQ_LOG2 = 6, 4
PF_RID, VF0_RID = 0x30, 0x31
ECAM = 0xB0000000
SRIOV = 0x100               # dma-testdev's SR-IOV capability
VF_BAR = 0xC0000000         # where the seeds put VF BAR0

# virt-iommu (include/hw/iommu/virt-iommu-regs.h)
R_CONTROL, R_ERROR = 0x40, 0x48
R_CMDQ_BASE, R_CMDQ_SIZE, R_CMDQ_TAIL = 0x80, 0x88, 0x94
R_EVTQ_BASE, R_EVTQ_SIZE, R_EVTQ_HEAD = 0xA0, 0xA8, 0xB0
C_ENABLE, C_BYPASS, C_CMDQ, C_EVTQ = 1, 2, 4, 8
ALLOC, FREE, SET_TYPE, ATTACH, DETACH = 1, 2, 3, 4, 5
MAP, MAP_FIXED, UNMAP, INVALIDATE, SYNC, STATS = 6, 7, 8, 9, 10, 11
BLOCKED, IDENTITY, DMA, DMA_FQ = 0, 1, 2, 3
RD, WR = 1, 2
TOP = 1 << 48               # default iova-bits; MAP hands out top-down

# dma-testdev (include/hw/iommu/dma-testdev-regs.h)
T_SRC, T_DST, T_LEN, T_OP, T_PATTERN, T_DOORBELL = 0x10, 0x18, 0x20, 0x24, 0x28, 0x30
T_ERROR = 0x38
T_RING_BASE, T_RING_SIZE, T_RING_HEAD, T_RING_TAIL = 0x50, 0x58, 0x5C, 0x60
COPY, FILL, CRC = 1, 2, 3
DB_OP, DB_RING = 1, 2


class Seed:
    def __init__(self):
        self.ops = []
        self.regions = LAYOUT["plain"]

    def op(self, code, payload=b""):
        self.ops.append(bytes([code]) + payload)

    def write(self, region, off, value, size=SZ_L):
        # struct { u8 size; u8 base; u32 offset; u64 value; }, padded
        self.op(OP_WRITE, struct.pack("<BBxxIQ", size, self.regions[region],
                                      off, value))

    def read(self, region, off, size=SZ_L):
        self.op(OP_READ, struct.pack("<BBxxI", size, self.regions[region], off))

    def pci_write(self, dev, off, value, size=SZ_L):
        # struct { u8 size; u8 base; u8 offset; u32 value; }, padded
        self.op(OP_PCI_WRITE, struct.pack("<BBBxI", size,
                                          LAYOUT["pci"][dev], off, value))

    def patterns(self, blobs):
        self.op(OP_CLEAR_DMA_PATTERNS)
        for b in blobs:
            self.op(OP_ADD_DMA_PATTERN, b"\0\0" + b)

    def clock(self, n=1):
        for _ in range(n):
            self.op(OP_CLOCK_STEP)

    def bytes(self):
        data = SEP.join(self.ops)
        assert all(SEP not in o[1:] for o in self.ops), "payload holds FUZZ"
        return data


def cmd(opcode, domain=0, endpoint=0, arg=0, iova=0, addr=0, size=0,
        limit=0, flags=0):
    return struct.pack("<BBHIIIQQQQQQ", opcode, flags, 0, domain, endpoint,
                       arg, iova, addr, size, limit, 0, 0)


def desc(op, src=0, dst=0, length=0, pattern=0, flags=0):
    return struct.pack("<IIQQII", op, flags, src, dst, length, pattern) + \
        bytes(64 - 32)


def iommu_start(s, control=C_ENABLE, evtq_log2=EVTQ_LOG2):
    s.write("iommu", R_CMDQ_BASE, CMDQ, SZ_Q)
    s.write("iommu", R_CMDQ_SIZE, CMDQ_LOG2)
    s.write("iommu", R_EVTQ_BASE, EVTQ, SZ_Q)
    s.write("iommu", R_EVTQ_SIZE, evtq_log2)
    s.write("iommu", R_CONTROL, control | C_CMDQ | C_EVTQ)


class Ring:
    """The command ring's tail, as the qtests' driver keeps it."""

    def __init__(self, seed):
        self.s, self.tail = seed, 0

    def run(self, *cmds):
        self.s.patterns(cmds)
        self.tail = (self.tail + len(cmds)) % (1 << CMDQ_LOG2)
        self.s.write("iommu", R_CMDQ_TAIL, self.tail)


def testdev_op(s, fn, op, src, dst, length, pattern=0):
    s.write(fn, T_SRC, src, SZ_Q)
    s.write(fn, T_DST, dst, SZ_Q)
    s.write(fn, T_LEN, length)
    s.write(fn, T_OP, op)
    s.write(fn, T_PATTERN, pattern)
    s.write(fn, T_DOORBELL, DB_OP)
    s.read(fn, T_ERROR)             # shows in a --trace: did it work?


def seed_registers():
    """virt-iommu-test: every register of both devices read."""
    s = Seed()
    for off in range(0, 0xC0, 4):
        s.read("iommu", off)
    for off in range(0, 0x80, 4):
        s.read("pf", off)
    s.write("iommu", R_CONTROL, C_ENABLE | C_BYPASS)
    s.write("iommu", R_ERROR, 0x7F)
    return s


def seed_map_dma(dtype):
    """virt-iommu-test/dma-testdev-test: map, DMA through it, unmap."""
    s = Seed()
    iommu_start(s)
    r = Ring(s)
    r.run(cmd(ALLOC, arg=dtype),
          cmd(ATTACH, domain=1, endpoint=PF_RID),
          cmd(MAP, domain=1, addr=BUF, size=0x1000, arg=RD),
          cmd(MAP, domain=1, addr=BUF + 0x1000, size=0x2000, arg=RD | WR))
    src, dst = TOP - 0x1000, TOP - 0x4000
    s.patterns([b"\x5a\xa5" * 32])
    testdev_op(s, "pf", COPY, src, dst, 0x800)
    testdev_op(s, "pf", FILL, 0, dst + 0x10, 0x1000, 0x11223344)
    testdev_op(s, "pf", CRC, src, 0, 0x100)
    testdev_op(s, "pf", COPY, dst, src, 0x10)          # write to RO: fault
    testdev_op(s, "pf", COPY, TOP - 0x100000, dst, 8)  # not mapped: fault
    r.run(cmd(UNMAP, domain=1, iova=src, size=0x1000),
          cmd(INVALIDATE, domain=1, arg=1),
          cmd(STATS, domain=1, addr=BUF + 0x8000),
          cmd(STATS, domain=0, addr=BUF + 0x8000),
          cmd(SYNC, addr=BUF + 0x9000, limit=0x1234, flags=1))
    testdev_op(s, "pf", COPY, src, dst, 0x10)          # after unmap
    s.clock(3)                                         # flush-queue timer
    r.run(cmd(DETACH, endpoint=PF_RID),
          cmd(FREE, domain=1))
    s.write("iommu", R_EVTQ_HEAD, 2)
    return s


def seed_type_changes():
    """churn-test suite 2: one domain through every type, with traffic."""
    s = Seed()
    iommu_start(s)
    r = Ring(s)
    r.run(cmd(ALLOC, arg=DMA),
          cmd(ATTACH, domain=1, endpoint=PF_RID),
          cmd(MAP, domain=1, addr=BUF, size=0x8000, arg=RD | WR),
          cmd(MAP_FIXED, domain=1, iova=0x10000, addr=BUF, size=0x1000,
              arg=RD))
    testdev_op(s, "pf", COPY, 0x10000, TOP - 0x8000, 0x1000)
    for t in (DMA_FQ, IDENTITY, BLOCKED, DMA, DMA_FQ, DMA):
        r.run(cmd(SET_TYPE, domain=1, arg=t),
              cmd(MAP, domain=1, addr=BUF, size=0x1000, arg=RD | WR),
              cmd(UNMAP, domain=1, iova=TOP - 0x1000, size=0x1000))
        testdev_op(s, "pf", COPY, BUF, BUF + 0x4000, 0x100)
    r.run(cmd(DETACH, endpoint=PF_RID), cmd(FREE, domain=1))
    return s


def seed_rcache():
    """rcache-test: many small maps and unmaps through the magazines."""
    s = Seed()
    iommu_start(s)
    r = Ring(s)
    r.run(cmd(ALLOC, arg=DMA_FQ), cmd(ALLOC, arg=DMA))
    maps = [cmd(MAP, domain=1 + i % 2, addr=BUF + i * 0x1000,
                size=0x1000 << (i % 3), arg=RD | WR) for i in range(24)]
    r.run(*maps)
    unmaps = [cmd(UNMAP, domain=2, iova=TOP - 0x1000 * (i + 1),
                  size=0x1000) for i in range(12)]
    r.run(*unmaps)
    s.clock(5)
    r.run(*maps[:8])
    r.run(cmd(INVALIDATE, arg=0), cmd(FREE, domain=1), cmd(FREE, domain=2))
    return s


def seed_bad_commands():
    """cmd-test/hostile-test: refused commands and queue errors."""
    s = Seed()
    iommu_start(s, control=C_ENABLE, evtq_log2=1)
    r = Ring(s)
    r.run(cmd(0x7F),
          cmd(ALLOC, arg=9),
          cmd(MAP, domain=7, addr=BUF, size=0x1000, arg=RD),
          cmd(ALLOC, arg=DMA),
          cmd(MAP, domain=1, addr=BUF, size=0x1234, arg=RD),
          cmd(MAP, domain=1, addr=BUF, size=0x1000, arg=0),
          cmd(MAP_FIXED, domain=1, iova=0xFEE00000, addr=BUF, size=0x1000,
              arg=RD),
          cmd(MAP_FIXED, domain=1, iova=TOP, addr=BUF, size=0x1000, arg=RD),
          cmd(UNMAP, domain=1, iova=0x5000, size=0x1000),
          cmd(ATTACH, domain=1, endpoint=0x99),
          cmd(SYNC, addr=0xFFFFFFFFF000, limit=1),
          cmd(STATS, domain=1, addr=0xFEE00000))
    # faults overflow a two-entry event ring
    r.run(cmd(ATTACH, domain=1, endpoint=PF_RID))
    for i in range(4):
        testdev_op(s, "pf", COPY, 0x1000 * (i + 1), 0x2000, 8)
    s.write("iommu", R_CMDQ_TAIL, 0x1000)               # beyond the ring
    s.write("iommu", R_ERROR, 0x7F)
    s.write("iommu", R_EVTQ_HEAD, 9)
    s.write("iommu", R_CONTROL, 0)
    return s


def seed_testdev_ring():
    """dma-testdev-test: the descriptor ring, through an IDENTITY domain.

    generic-fuzz fills a DMA read at the address the device used, not at
    the one it translates to, so the ring is read through an IDENTITY
    domain (IOVA = GPA), where the descriptors arrive as patterns.
    """
    s = Seed()
    iommu_start(s)
    r = Ring(s)
    r.run(cmd(ALLOC, arg=IDENTITY),
          cmd(ATTACH, domain=1, endpoint=PF_RID))
    s.patterns([desc(COPY, BUF, BUF + 0x800, 0x40),
                desc(FILL, 0, BUF + 0x100, 0x40, 0xA5A5A5A5, flags=1),
                desc(CRC, BUF, 0, 0x80),
                desc(COPY, 0x1000, BUF, 0x40, flags=2)])
    s.write("pf", T_RING_BASE, RING, SZ_Q)
    s.write("pf", T_RING_SIZE, 8)
    s.write("pf", T_RING_HEAD, 0)
    s.write("pf", T_RING_TAIL, 4)
    s.write("pf", T_DOORBELL, DB_RING)
    s.read("pf", T_ERROR)
    s.write("pf", T_DOORBELL, DB_RING)
    r.run(cmd(SET_TYPE, domain=1, arg=BLOCKED))
    s.write("pf", T_RING_TAIL, 6)
    s.write("pf", T_DOORBELL, DB_RING)
    s.read("pf", T_ERROR)
    return s


def seed_vfs():
    """churn-test suite 1: VFs enabled, attached, DMA, switched off."""
    s = Seed()
    # ECAM on (the MCH's PCIEXBAR), then the PF's SR-IOV capability
    s.pci_write("mch", 0x60, ECAM | 1)
    s.regions = LAYOUT["ecam"]
    pf = PF_RID << 12
    s.write("ecam", pf + SRIOV + 0x24, VF_BAR)            # VF BAR0
    s.write("ecam", pf + SRIOV + 0x10, 3, SZ_W)           # NumVFs
    s.write("ecam", pf + SRIOV + 0x08, 0x9, SZ_W)         # VF Enable, MSE
    s.write("ecam", (VF0_RID << 12) + 0x04, 0x6, SZ_W)    # VF0: MEM, MASTER
    s.write("ecam", ((VF0_RID + 1) << 12) + 0x04, 0x4, SZ_W)  # VF1: MASTER
    s.regions = LAYOUT["vf0"]
    iommu_start(s)
    r = Ring(s)
    r.run(cmd(ALLOC, arg=DMA),
          cmd(ATTACH, domain=1, endpoint=VF0_RID),
          cmd(ALLOC, arg=DMA_FQ),
          cmd(ATTACH, domain=2, endpoint=VF0_RID + 1),
          cmd(MAP, domain=1, addr=BUF, size=0x2000, arg=RD | WR))
    s.patterns([b"\x3c" * 64])
    testdev_op(s, "vf0", COPY, TOP - 0x2000, TOP - 0x1000, 0x100)
    testdev_op(s, "vf0", COPY, BUF, BUF, 0x100)           # not mapped
    # VFs off with the endpoints attached; the next batch notices
    s.write("ecam", pf + SRIOV + 0x08, 0, SZ_W)
    s.regions = LAYOUT["ecam"]
    r.run(cmd(STATS, domain=0, addr=BUF + 0x4000),
          cmd(DETACH, endpoint=VF0_RID),
          cmd(FREE, domain=1), cmd(FREE, domain=2))
    s.write("ecam", pf + SRIOV + 0x08, 0x9, SZ_W)
    r.run(cmd(ALLOC, arg=IDENTITY), cmd(ATTACH, domain=1, endpoint=VF0_RID))
    s.write("ecam", pf + 0x04, 0, SZ_W)                   # PF: MEM off
    s.write("ecam", pf + SRIOV + 0x08, 0, SZ_W)
    return s


SEEDS = {
    "registers": seed_registers,
    "map-dma-strict": lambda: seed_map_dma(DMA),
    "map-dma-fq": lambda: seed_map_dma(DMA_FQ),
    "type-changes": seed_type_changes,
    "rcache": seed_rcache,
    "bad-commands": seed_bad_commands,
    "testdev-ring": seed_testdev_ring,
    "vf-churn": seed_vfs,
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, make in SEEDS.items():
        (out / name).write_bytes(make().bytes())


if __name__ == "__main__":
    main()
