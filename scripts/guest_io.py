#!/usr/bin/env python3
"""Guest I/O through each IOMMU: make bench's end-to-end comparison.

usage: scripts/guest_io.py --qemu QEMU --kernel VMLINUX [--out DIR]
           [--runs N] [--rounds N] [--seconds S] [--configs NAME,...]
           [--accel kvm|tcg]

Boots the Linux test kernel (guest/linux/build-kernel.sh: Debian's 6.12
with our virt-iommu driver, intel-iommu and virtio-iommu built in) with an
initramfs of busybox, guest/linux/io-bench-init and guest/linux/io-bench,
once per configuration and run, and has it run the same NVMe workload
(io-bench.c: 128 KiB sequential, 4 KiB random at queue depth 1 and 32,
every byte checked) through no IOMMU, virt-iommu with DMA and DMA-FQ
domains, intel-iommu strict and lazy, and virtio-iommu.

Every boot has a second NVMe controller, the reference, on a PCIe expander
bridge that bypasses the IOMMU (pxb-pcie bypass_iommu=on), and runs each
phase ROUNDS times on both controllers, back to back.  A QEMU process
keeps the speed it started with (on the shared machines of this project
one boot ran 1.2-1.5x faster than the next; two boots at the same time
differed as much, so it is not the machine's load), and a ratio taken
inside one boot cancels it: each sample is one round's ratio of the
controller under test to the reference, and a configuration's figure
against another is the median of those ratios (scripts/benchstats.py
gives the bootstrap interval).  Against no IOMMU that is the reference
itself; against another IOMMU, each side's ratio to its own reference.
The "none" configuration, both controllers outside any IOMMU, shows what
the two placements differ by.  The configurations of a run follow each
other, their order rotating from run to run.  A boot whose data did not
check, or whose NVMe function got another domain type than the
configuration asks for, or whose reference got any, fails the whole
measurement.

bench-report.py calls run() and section(); run on its own, this prints
the per-run figures and the table.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import benchstats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX_DIR = os.path.join(ROOT, "guest", "linux")

# name: (label, QEMU arguments before the NVMe controller, kernel command
# line, the domain type the NVMe function must get).  Each IOMMU is created
# before the device it translates.  Strict and lazy as the kernel's
# iommu.strict= sets them; the guest kernel has no default of its own for
# intel-iommu (CONFIG_INTEL_IOMMU_DEFAULT_OFF: intel_iommu=on turns it on).
CONFIGS = {
    "none": ("no IOMMU", [], "", "none"),
    "virt-dma": ("virt-iommu DMA (strict)", ["-device", "virt-iommu"],
                 "iommu.strict=1", "DMA"),
    "virt-dma-fq": ("virt-iommu DMA-FQ (lazy)", ["-device", "virt-iommu"],
                    "iommu.strict=0", "DMA-FQ"),
    # The driver as before ABI 0.4: a doorbell for every iotlb_sync_map
    # instead of MAP_FIXEDs the device runs on a miss
    "virt-dma-fq-ring": ("virt-iommu DMA-FQ, doorbell per map",
                         ["-device", "virt-iommu"],
                         "iommu.strict=0 virt_iommu.lazy_map=0", "DMA-FQ"),
    "intel-strict": ("intel-iommu strict",
                     ["-device", "intel-iommu,intremap=off"],
                     "intel_iommu=on iommu.strict=1", "DMA"),
    "intel-lazy": ("intel-iommu lazy",
                   ["-device", "intel-iommu,intremap=off"],
                   "intel_iommu=on iommu.strict=0", "DMA-FQ"),
    "virtio": ("virtio-iommu (lazy)", ["-device", "virtio-iommu-pci"],
               "iommu.strict=0", "DMA-FQ"),
}

# phase: (label, the figure it is judged by)
PHASES = {
    "seq-write-128k": ("128 KiB sequential write", "MB/s"),
    "seq-read-128k": ("128 KiB sequential read", "MB/s"),
    "rand-read-4k-qd1": ("4 KiB random read, QD1", "IOPS"),
    "rand-write-4k-qd1": ("4 KiB random write, QD1", "IOPS"),
    "rand-read-4k-qd32": ("4 KiB random read, QD32", "IOPS"),
    "rand-write-4k-qd32": ("4 KiB random write, QD32", "IOPS"),
}

DISK_MIB = 64

# The test kernel is built with kmemleak for the seed runs.  Left on, it
# records a stack trace for every allocation, and under TCG that cost
# follows how often a driver allocates rather than what its IOMMU costs:
# it was 16% of the guest kernel's time with virt-iommu's driver (a
# kzalloc per map), 7.5% with intel-iommu's and 7.3% with no IOMMU
# (docs/devel/performance.rst).
KERNEL_ARGS = "kmemleak=off"


def say(msg):
    print(f"guest-io: {msg}", file=sys.stderr, flush=True)


def build_initramfs(out, busybox="/bin/busybox"):
    """OUT/io-bench.cpio.gz: busybox, the init and a static io-bench."""
    tool = os.path.join(out, "io-bench")
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-pthread", "-o", tool,
                    os.path.join(LINUX_DIR, "io-bench.c")], check=True)
    initramfs = os.path.join(out, "io-bench.cpio.gz")
    stage = os.path.join(out, "io-bench-stage")
    script = (f'. "{ROOT}/guest/initramfs-lib.sh" && '
              f'busybox_stage "{stage}" "{busybox}" && '
              f'cp "{LINUX_DIR}/io-bench-init" "{stage}/init" && '
              f'cp "{tool}" "{stage}/io-bench" && '
              f'pack_stage "{stage}" "{initramfs}"')
    subprocess.run(["bash", "-c", script], check=True)
    return initramfs


def firmware_args():
    """-L for each of Debian's firmware directories present (seabios,
    qemu-system-data, ipxe-qemu): QEMU's tarball ships no firmware."""
    return [a for d in ("/usr/share/seabios", "/usr/share/qemu",
                        "/usr/lib/ipxe/qemu") if os.path.isdir(d)
            for a in ("-L", d)]


def kvm_boots(args, initramfs):
    """True when a guest boots and runs io-bench under KVM.  /dev/kvm may
    open and still be unusable: under nested KVM on this machine class the
    guest stops early in boot with a KVM emulation failure (at XRSTORS, or
    at the kernel's INT3 self-test with noxsave), so only a boot tells."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    probe = argparse.Namespace(**vars(args))
    probe.accel, probe.seconds = "kvm", 1
    try:
        boot_once(probe, initramfs, "none", timeout=60)
    except RuntimeError as e:
        say(f"KVM does not boot the guest, using TCG ({e})")
        return False
    return True


# The reference controller: a root port on a PCIe expander bridge that
# every IOMMU of CONFIGS leaves untranslated (QEMU's bypass_iommu, which
# virt-iommu honours as intel-iommu and virtio-iommu do).
REFERENCE_ARGS = ["-device", "pxb-pcie,id=io-bench-pxb,bus_nr=128,"
                  "bypass_iommu=on,bus=pcie.0",
                  "-device", "pcie-root-port,id=io-bench-rp,"
                  "bus=io-bench-pxb,chassis=1"]


def nvme_args(args, name, serial, bus):
    """A fresh DISK_MIB MiB image OUT/NAME.img and its NVMe controller."""
    disk = os.path.join(args.out, f"{name}.img")
    with open(disk, "wb") as f:
        f.truncate(DISK_MIB << 20)
    return ["-drive", f"file={disk},if=none,id={name},format=raw",
            "-device", f"nvme,serial={serial},drive={name},bus={bus}"]


def boot(args, initramfs, config, timeout, wrap, qemu_args, append,
         devices):
    """One boot of CONFIG with DEVICES and APPEND on the kernel command
    line: its console log, also written to OUT/console-CONFIG.log."""
    _, extra, config_append, _ = CONFIGS[config]
    cmd = [*wrap, args.qemu, *qemu_args, "-machine", "q35",
           "-accel", args.accel, "-smp", "2", "-m", "512M", "-nodefaults",
           "-display", "none", "-no-reboot", "-serial", "stdio",
           "-kernel", args.kernel, "-initrd", initramfs,
           "-append", f"console=ttyS0 panic=-1 loglevel=4 {KERNEL_ARGS} "
           f"io_bench_seconds={args.seconds} {config_append}{append}",
           *extra, *devices, *firmware_args()]
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as p:
        try:
            log, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            log, _ = p.communicate()
            log += f"\nguest-io: killed after {timeout} s\n"
    log = log.replace("\r", "")
    with open(os.path.join(args.out, f"console-{config}.log"), "w") as f:
        f.write(log)
    return log


def boot_once(args, initramfs, config, timeout=None, wrap=(), qemu_args=(),
              phases=None):
    """One boot of CONFIG, one controller: {phase: (ops, bytes, ns)};
    raises on failure, and after TIMEOUT seconds (default: ample for
    args.seconds).  WRAP runs QEMU (e.g. under perf), with QEMU_ARGS
    added.  PHASES, a list of names of PHASES, runs only those (io-bench's
    IO_BENCH_PHASES)."""
    append = f" io_bench_phases={','.join(phases)}" if phases else ""
    log = boot(args, initramfs, config, timeout or 6 * args.seconds + 180,
               wrap, qemu_args, append,
               nvme_args(args, "io-bench-nvme", "io-bench", "pcie.0"))
    return parse_log(log, config, f"see {args.out}/console-{config}.log",
                     phases or PHASES)


def boot_paired(args, initramfs, config):
    """One boot of CONFIG with the reference controller, args.rounds
    rounds: ([{phase: (ops, bytes, ns)}] of the controller under test,
    the same of the reference), one dict per round; raises on failure."""
    append = (f" io_bench_rounds={args.rounds}"
              f" io_bench_phases={','.join(PHASES)}")
    devices = (nvme_args(args, "io-bench-nvme", "io-bench", "pcie.0") +
               REFERENCE_ARGS +
               nvme_args(args, "io-bench-ref", "io-bench-ref",
                         "io-bench-rp"))
    timeout = 2 * len(PHASES) * args.rounds * (args.seconds + 2) + 180
    log = boot(args, initramfs, config, timeout, (), (), append, devices)
    return parse_paired_log(log, config,
                            f"see {args.out}/console-{config}.log",
                            args.rounds)


def scan_log(log):
    """The io-bench lines of a console LOG: ({label: [(phase, sample)]},
    {"domain": type, "reference": type}, exit status, last check line)."""
    res, dtypes, status, verified = {}, {}, None, None
    for line in log.splitlines():
        f = line.split()
        if len(f) < 3 or f[0] != "io-bench:":
            continue
        if f[1] in ("result", "reference") and len(f) == 6:
            res.setdefault(f[1], []).append(
                (f[2], tuple(int(x) for x in f[3:6])))
        elif f[1] == "domain":
            dtypes["domain"] = f[2]
        elif f[1:3] == ["reference", "domain"] and len(f) == 4:
            dtypes["reference"] = f[3]
        elif f[1] == "exit":
            status = int(f[2])
        elif f[1] == "verified":
            verified = line
    return res, dtypes, status, verified


def check_domain(config, dtypes, where):
    """Raises unless the NVMe function got the domain type CONFIG asks
    for."""
    want_type = CONFIGS[config][3]
    if dtypes.get("domain") != want_type:
        raise RuntimeError(f"{config}: the NVMe function got domain type "
                           f"{dtypes.get('domain')}, not {want_type}; "
                           f"{where}")


def parse_log(log, config, where, phases=PHASES):
    """{phase: (ops, bytes, ns)} from the console LOG of a boot of CONFIG;
    raises RuntimeError (naming WHERE) unless io-bench exited 0 with
    exactly the PHASES run and the NVMe function got the domain type
    CONFIG asks for."""
    res, dtypes, status, verified = scan_log(log)
    got = dict(res.get("result", []))
    if status != 0 or set(got) != set(phases):
        raise RuntimeError(f"{config}: io-bench failed "
                           f"({verified or 'no check'}, exit {status}); "
                           f"{where}")
    check_domain(config, dtypes, where)
    return got


def parse_paired_log(log, config, where, rounds):
    """(test, reference) from the console LOG of a paired boot of CONFIG:
    each a list of ROUNDS dicts {phase: (ops, bytes, ns)}.  Raises
    RuntimeError (naming WHERE) unless io-bench exited 0 with every phase
    run ROUNDS times on each controller, the NVMe function got the domain
    type CONFIG asks for and the reference none."""
    res, dtypes, status, verified = scan_log(log)
    out, complete = [], True
    for label in ("result", "reference"):
        per_round = [{} for _ in range(rounds)]
        for phase, sample in res.get(label, []):
            slot = next((r for r in per_round if phase not in r), None)
            if slot is None:
                complete = False
                break
            slot[phase] = sample
        complete &= all(set(r) == set(PHASES) for r in per_round)
        out.append(per_round)
    if status != 0 or not complete:
        raise RuntimeError(f"{config}: io-bench failed "
                           f"({verified or 'no check'}, exit {status}, "
                           f"{'all' if complete else 'not all'} rounds); "
                           f"{where}")
    check_domain(config, dtypes, where)
    if dtypes.get("reference") != "none":
        raise RuntimeError(f"{config}: the reference NVMe function got "
                           f"domain type {dtypes.get('reference')}, not "
                           f"none; {where}")
    return tuple(out)


def run(args, raw):
    """All boots, interleaved: ({config: [per-sample {phase: (ops, bytes,
    ns)}]} of the controller under test, the same of each sample's
    reference, the load averages before and after).  A sample is one
    round of one boot, runs times rounds of them per configuration."""
    os.makedirs(args.out, exist_ok=True)
    initramfs = build_initramfs(args.out)
    if not args.accel:
        args.accel = "kvm" if kvm_boots(args, initramfs) else "tcg"
    configs = list(args.configs)
    load0 = os.getloadavg()[0]
    per_boot = 2 * len(PHASES) * args.rounds * (args.seconds + 0.2) + 8
    say(f"{args.runs} runs of {len(configs)} configurations, "
        f"{args.rounds} rounds of {args.seconds} s per phase and "
        f"controller, accel {args.accel} (about "
        f"{int(args.runs * len(configs) * per_boot) // 60 + 1} min)")
    results = {c: [] for c in configs}
    refs = {c: [] for c in configs}
    for r in range(args.runs):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for c in order:
            test, ref = boot_paired(args, initramfs, c)
            results[c] += test
            refs[c] += ref
        say(f"run {r + 1}/{args.runs} done")
    loads = (load0, os.getloadavg()[0])
    with open(os.path.join(raw, "guest-io.json"), "w") as f:
        json.dump({"accel": args.accel, "seconds": args.seconds,
                   "rounds": args.rounds, "loads": loads,
                   "results": results, "references": refs}, f, indent=1)
    return results, refs, loads


def figure(phase, sample):
    """The phase's figure from one run's (ops, bytes, ns)."""
    ops, nbytes, ns = sample
    return nbytes / ns * 1e3 if PHASES[phase][1] == "MB/s" else ops / ns * 1e9


def series(results, config, phase):
    return [figure(phase, run[phase]) for run in results[config]]


def relative(results, refs, config, phase):
    """Each sample's figure over its reference's, same boot and round."""
    return [t / r for t, r in zip(series(results, config, phase),
                                  series(refs, config, phase))]


def versus(results, refs, config, other, phase):
    """(median, lo, hi) of CONFIG against OTHER: each sample's ratio to
    its own reference, paired (> 1: CONFIG is faster)."""
    return benchstats.paired_ratio_ci(relative(results, refs, config, phase),
                                      relative(results, refs, other, phase))


def rows(results, refs):
    """Per phase and configuration: median, min, max and the median of the
    per-sample ratios to the reference (no IOMMU) with its interval."""
    out = []
    for phase in PHASES:
        for c in results:
            v = series(results, c, phase)
            ratio = benchstats.paired_ratio_ci(v, series(refs, c, phase))
            out.append({"phase": phase, "config": c, "samples": len(v),
                        "min": min(v), "med": statistics.median(v),
                        "max": max(v), "ratio": ratio})
    return out


def targets(results, refs):
    """(name, value, lo, hi, goal) per target of issue 18 item 4."""
    out = []
    if "virt-dma-fq" not in results:
        return out
    for phase, (label, _) in PHASES.items():
        m, lo, hi = benchstats.paired_ratio_ci(
            series(results, "virt-dma-fq", phase),
            series(refs, "virt-dma-fq", phase))
        out.append((f"{label}: virt-iommu DMA-FQ >= 90% of no IOMMU",
                    m, lo, hi, 0.90))
        for other in ("intel-strict", "intel-lazy", "virtio"):
            if other in results:
                m, lo, hi = versus(results, refs, "virt-dma-fq", other,
                                   phase)
                out.append((f"{label}: virt-iommu DMA-FQ ahead of "
                            f"{CONFIGS[other][0]} (ratio > 1)",
                            m, lo, hi, 1.0))
    return out


def lazy_vs_ring(results, refs):
    """(label, median, lo, hi) per phase: virt-iommu DMA-FQ with MAP_FIXEDs
    run on a miss (the driver's lazy_map, ABI 0.4) over the same with a
    doorbell per map, each as its ratio to its own reference; > 1: faster
    without the doorbell.  Empty unless both ran."""
    if not {"virt-dma-fq", "virt-dma-fq-ring"} <= results.keys():
        return []
    return [(label,) + versus(results, refs, "virt-dma-fq",
                              "virt-dma-fq-ring", phase)
            for phase, (label, _) in PHASES.items()]


def fmt(v, unit):
    return f"{v:,.0f}" if unit == "IOPS" else f"{v:,.1f}"


def table(results, refs):
    md = ["| workload | configuration | samples | min | median | max | "
          "% of no IOMMU [95% interval] |",
          "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows(results, refs):
        label, unit = PHASES[r["phase"]]
        pct = "{:.1f}% [{:.1f}, {:.1f}]".format(
            *(x * 100 for x in r["ratio"]))
        md.append(f"| {label} ({unit}) | {CONFIGS[r['config']][0]} | "
                  f"{r['samples']} | {fmt(r['min'], unit)} | "
                  f"{fmt(r['med'], unit)} | {fmt(r['max'], unit)} | {pct} |")
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--out", default="build/bench/guest-io")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=1)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--accel", choices=("kvm", "tcg"))
    args = ap.parse_args()
    args.configs = args.configs.split(",")
    for c in args.configs:
        if c not in CONFIGS:
            ap.error(f"unknown configuration {c}: one of {', '.join(CONFIGS)}")
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.monotonic()
    results, refs, loads = run(args, args.out)
    print("\n".join(table(results, refs)))
    for name, m, lo, hi, goal in targets(results, refs):
        print(f"{name}: {m:.3f} [{lo:.3f}, {hi:.3f}] "
              f"{benchstats.decide(lo, hi, goal)}")
    for label, m, lo, hi in lazy_vs_ring(results, refs):
        print(f"{label}: no doorbell per map / doorbell per map "
              f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
    print(f"load average {loads[0]:.1f} before, {loads[1]:.1f} after; "
          f"{time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
