#!/usr/bin/env python3
"""Where a TCG guest's time goes, by guest kernel function.

usage: scripts/guest_profile.py --qemu QEMU --kernel VMLINUX [--out DIR]
           [--configs NAME,...] [--phases NAME,...] [--seconds S] [--top N]

Boots each configuration of scripts/guest_io.py once, running the same
NVMe workload, with QEMU under `perf record -e cpu-clock` and QEMU's
-perfmap, which names every block TCG translates by the guest address it
came from.  A sample in such a block is charged to the guest kernel
function holding that address (from `nm VMLINUX`); samples elsewhere are
QEMU itself, TCG's lookups and translation, or the host kernel.  For each
configuration it prints the host CPU time per I/O request (all phases'
requests together) spent in groups of guest kernel functions and in the
top functions, so two IOMMUs' guest paths can be compared where a host
profile only shows TCG.  --phases runs only the io-bench phases named
(guest_io.PHASES), e.g. the queue depth 32 ones; the untimed first pass of
128 KiB writes that gives the disk its data then still runs, and its 512
requests are in the samples but not in the count.  TCG only: under KVM
the guest does not run in QEMU's translated code.  Needs perf with
cpu-clock events.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import bisect
import collections
import os
import re
import subprocess
import sys

import guest_io

# Groups of guest kernel functions, first match wins.  The drivers' own
# functions share the viommu_ prefix (ours and Linux's virtio-iommu): a
# configuration runs one of them.
GROUPS = [
    ("kmemleak and its stack traces",
     r"kmemleak|_object$|_object_|find_stack|stack_trace|unwind|"
     r"stack_state|arch_stack_walk|kernel_text|stack_depot|paint_"),
    ("slab", r"slab|kmalloc|kfree|kmem_cache"),
    ("IOMMU driver", r"^viommu_|^intel_|dma_pte|^qi_|^dmar_|^domain_flush"),
    ("IOMMU core, dma-iommu, iova", r"iommu|iova|^dma_|^__dma_"),
    ("interval and rb trees", r"interval_tree|^rb_|^__rb_"),
    ("NVMe and block", r"^nvme_|^blk_|^bio_|^__blk|^__bio|_direct_IO"),
]

KERNEL_BASE = 0xffff800000000000
GUEST_PREFIX = "guest-0x"


class Symbols:
    """Guest kernel text symbols, from `nm -n VMLINUX`."""

    def __init__(self, nm_lines):
        entries = []
        for line in nm_lines:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW":
                entries.append((int(parts[0], 16), parts[2]))
        entries.sort()
        self.addrs = [a for a, _ in entries]
        self.names = [n for _, n in entries]

    def function(self, addr):
        i = bisect.bisect_right(self.addrs, addr) - 1
        return self.names[i] if i >= 0 else "?"


def group_of(function):
    for name, pattern in GROUPS:
        if re.search(pattern, function):
            return name
    return "other guest kernel"


def attribute(script_lines, symbols):
    """(Counter of guest kernel functions, guest user samples, other
    samples) from `perf script -F ip,sym` lines."""
    functions = collections.Counter()
    user = other = 0
    for line in script_lines:
        fields = line.split(None, 1)
        if not fields:
            continue
        sym = fields[-1]
        if not sym.startswith(GUEST_PREFIX):
            other += 1
            continue
        addr = int(sym[len(GUEST_PREFIX):].split("+")[0], 16)
        if addr >= KERNEL_BASE:
            functions[symbols.function(addr)] += 1
        else:
            user += 1
    return functions, user, other


def profile(args, initramfs, config, symbols):
    """Boots CONFIG under perf: (functions, user, other, requests)."""
    data = os.path.join(args.out, f"perf-{config}.data")
    wrap = ["perf", "record", "-q", "-e", "cpu-clock", "-F",
            str(args.frequency), "-o", data, "--"]
    res = guest_io.boot_once(args, initramfs, config, wrap=wrap,
                             qemu_args=["-perfmap"], phases=args.phases)
    requests = sum(ops for ops, _, _ in res.values())
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"],
                            capture_output=True, text=True, check=True)
    return (*attribute(script.stdout.splitlines(), symbols), requests)


def report(config, functions, user, other, requests, frequency, top):
    """Markdown lines: host CPU us per request by group and function."""
    us = 1e6 / frequency / requests
    kernel = sum(functions.values())
    groups = collections.Counter()
    for f, n in functions.items():
        groups[group_of(f)] += n
    lines = [f"### {guest_io.CONFIGS[config][0]}", "",
             f"{requests} requests; per request: guest kernel "
             f"{kernel * us:.1f} us, guest user {user * us:.1f} us, "
             f"QEMU/TCG/host {other * us:.1f} us", "",
             "| guest kernel code | us / request | share |", "|---|---|---|"]
    for name, n in groups.most_common():
        lines.append(f"| {name} | {n * us:.2f} | {100 * n / kernel:.1f}% |")
    lines += ["", "| function | us / request |", "|---|---|"]
    for f, n in functions.most_common(top):
        lines.append(f"| {f} | {n * us:.2f} |")
    return lines + [""]


def phase_list(text):
    """The --phases argument: names of guest_io.PHASES, comma-separated."""
    names = text.split(",")
    unknown = [n for n in names if n not in guest_io.PHASES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"not a phase: {', '.join(unknown)} (phases: "
            f"{', '.join(guest_io.PHASES)})")
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--out", default="build/guest-profile")
    ap.add_argument("--configs", default="none,virt-dma-fq,intel-lazy")
    ap.add_argument("--phases", type=phase_list, default=None)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--frequency", type=int, default=999)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    args.accel = "tcg"
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    nm = subprocess.run(["nm", "-n", args.kernel], capture_output=True,
                        text=True, check=True)
    symbols = Symbols(nm.stdout.splitlines())
    initramfs = guest_io.build_initramfs(args.out)
    for config in args.configs.split(","):
        if config not in guest_io.CONFIGS:
            ap.error(f"unknown configuration {config}")
        print("\n".join(report(config, *profile(args, initramfs, config,
                                                  symbols),
                               args.frequency, args.top)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
