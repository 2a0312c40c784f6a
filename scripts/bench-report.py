#!/usr/bin/env python3
"""Run virt-iommu's benchmarks and write one report (make bench).

usage: scripts/bench-report.py --qemu QEMU --bench VIRT_IOMMU_BENCH
           [--iova-bench IOVA_BENCH] [--iova-vs-tree IOVA_VS_TREE]
           [--iova-vs-linux IOVA_VS_LINUX] [--fast-path-rounds N]
           [--guest-dir build/guest] [--out build/bench]
           [--runs N] [--scale F] [--boot-runs N] [--skip PART,...]
           [--kernel VMLINUX] [--io-runs N] [--io-rounds N]
           [--io-seconds S] [--io-accel kvm|tcg]
       scripts/bench-report.py --ab --qemu QEMU_A [--qemu-b QEMU_B]
           [--qemu-args-a ARGS] [--qemu-args-b ARGS] [--label-a NAME]
           [--label-b NAME] [--ab-target RATIO] --bench VIRT_IOMMU_BENCH
           [--runs N] [--scale F] [--out DIR]

Parts: dma and cmd (tests/bench/virt-iommu-bench.c, one QEMU per
configuration, all measured in the same run), boot (the demo guest's
kernel to its first userspace line, with and without -device virt-iommu,
alternated), iova (the allocator's Google Benchmark programs, and
iova-vs-linux: the allocator against Linux's own iova.c, side by side),
guest-io (with --kernel: the Linux test guest's NVMe workload through no
IOMMU, virt-iommu, intel-iommu and virtio-iommu; scripts/guest_io.py).  Writes
OUT/report.md, OUT/raw/* (every measurement) and OUT/*.png (gnuplot).

Every figure is a ratio of medians measured in this run on this machine;
run counts and min/median/max are in the tables.  Each ratio a target
judges comes with a 95% bootstrap interval over the interleaved runs
(scripts/benchstats.py), and a target is met or missed only when that
interval clears it, "not decided" otherwise; the exit status is 0 either
way (a missed target is a finding, not a failure of the run).

--ab compares two QEMU configurations, A and B (two binaries, or one
binary with different arguments, e.g. -global virt-iommu.flight-recorder=0),
on the cmd part: virt-iommu-bench --ab measures every variant on A and on
B back to back, which goes first alternating, in fresh QEMUs every run,
and the report gives per variant the medians of both and B/A with its
bootstrap interval, the runs paired; --ab-target judges B/A against a
floor (0.95: B at most 5% slower than A).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

import benchstats
import fast_path
import guest_io


def say(msg):
    print(f"bench-report: {msg}", flush=True)


def stats(values):
    return min(values), statistics.median(values), max(values)


def fmt_rate(v):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.2f} {unit}"
    return f"{v:.1f} "


# ---- virt-iommu-bench ----------------------------------------------------

def run_virt_iommu_bench(args, parts, raw, extra=(), env_extra=None):
    env = dict(os.environ, QTEST_QEMU_BINARY=args.qemu, **(env_extra or {}))
    cmd = [args.bench, "--runs", str(args.runs), "--scale", str(args.scale)]
    cmd += list(extra) + parts
    say("running " + " ".join(f"{k}={v}" for k, v in
                              (env_extra or {}).items()) + " "
        + " ".join(shlex.quote(c) for c in cmd))
    # One CPU for the program and all its QEMUs: only one of them works
    # at a time anyway, and so every configuration runs where the others
    # do, instead of one landing next to a busy neighbour more often.
    cpu = max(os.sched_getaffinity(0))
    say(f"pinned to CPU {cpu}")
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE,
                         text=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu})
                         ).stdout
    with open(os.path.join(raw, "virt-iommu-bench.tsv"), "w") as f:
        f.write(out)
    return parse_virt_iommu_bench(out)


def parse_virt_iommu_bench(out):
    dma, cmdr, rtt = {}, {}, None
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = line.split("\t")
        if f[0] == "dma":
            key = (f[1], f[2], int(f[3]))
            ops, nbytes, cpu, wall = map(int, f[5:9])
            dma.setdefault(key, []).append((ops, nbytes, cpu, wall))
        elif f[0] == "cmd":
            # --ab: the side, a or b, ends the line
            key = (f[1], int(f[2])) + tuple(f[7:8])
            pairs, cpu, wall = map(int, f[4:7])
            cmdr.setdefault(key, []).append((pairs, cpu, wall))
        elif f[0] == "rtt":
            n, cpu, wall = map(int, f[1:4])
            rtt = (cpu / n, wall / n)
    return dma, cmdr, rtt


DMA_ORDER = [("none", "warm"), ("bypass", "warm"), ("identity", "warm"),
             ("dma", "warm"), ("virtio-iommu", "warm"),
             ("none", "cold"), ("dma", "cold"), ("virtio-iommu", "cold")]
DMA_LABEL = {
    ("none", "warm"): "no IOMMU",
    ("bypass", "warm"): "virt-iommu bypass",
    ("identity", "warm"): "virt-iommu IDENTITY domain",
    ("dma", "warm"): "virt-iommu DMA domain, warm IOTLB",
    ("virtio-iommu", "warm"): "virtio-iommu, same mappings",
    ("none", "cold"): "no IOMMU (cold pattern)",
    ("dma", "cold"): "virt-iommu DMA domain, working set > IOTLB",
    ("virtio-iommu", "cold"): "virtio-iommu (cold pattern)",
}


def dma_rates(samples, clock):
    """Per-run operations/s and bytes/s on clock 2 (CPU) or 3 (wall)."""
    ops = [s[0] / (s[clock] / 1e9) for s in samples]
    bps = [s[1] / (s[clock] / 1e9) for s in samples]
    return ops, bps


def dma_table(dma, clock):
    rows = []
    sizes = sorted({k[2] for k in dma})
    for size in sizes:
        base = {}
        for pat in ("warm", "cold"):
            if ("none", pat, size) in dma:
                base[pat] = dma_rates(dma[("none", pat, size)], clock)[0]
        for cfg, pat in DMA_ORDER:
            key = (cfg, pat, size)
            if key not in dma:
                continue
            ops, bps = dma_rates(dma[key], clock)
            lo, med, hi = stats(ops)
            ci = benchstats.ratio_ci(ops, base[pat]) if pat in base \
                else (float("nan"), float("nan"))
            rows.append({
                "size": size, "cfg": cfg, "pat": pat,
                "label": DMA_LABEL[(cfg, pat)], "runs": len(ops),
                "ops": ops, "ops_min": lo, "ops_med": med, "ops_max": hi,
                "gbs": statistics.median(bps) / 1e9,
                "ratio": med / statistics.median(base[pat])
                if pat in base else float("nan"),
                "ci": ci,
            })
    return rows


CMD_LABEL = {
    "dma-alloc": "virt-iommu DMA (strict), 4095 MAPs (device allocates), "
                 "then their UNMAPs",
    "dma-alloc-pair": "virt-iommu DMA (strict), MAP (device allocates) + "
                      "its UNMAP",
    "dma-fixed": "virt-iommu DMA (strict), MAP_FIXED + UNMAP",
    "fq-alloc": "virt-iommu DMA_FQ, 4095 MAPs, then their UNMAPs",
    "fq-fixed": "virt-iommu DMA_FQ, MAP_FIXED + UNMAP",
    "virtio-iommu": "virtio-iommu MAP + UNMAP on its request queue",
}


def cmd_table(cmdr, clock):
    rows = []
    for pages in sorted({k[1] for k in cmdr}):
        vio = cmdr.get(("virtio-iommu", pages))
        vio_rates = [s[0] / (s[clock] / 1e9) for s in vio] if vio else None
        for var in CMD_LABEL:
            samples = cmdr.get((var, pages))
            if not samples:
                continue
            rates = [s[0] / (s[clock] / 1e9) for s in samples]
            lo, med, hi = stats(rates)
            rows.append({
                "pages": pages, "var": var, "label": CMD_LABEL[var],
                "runs": len(rates), "min": lo, "med": med, "max": hi,
                "ratio": med / statistics.median(vio_rates)
                if vio_rates else float("nan"),
                "ci": benchstats.ratio_ci(rates, vio_rates)
                if vio_rates else (float("nan"), float("nan")),
            })
    return rows


# ---- A/B: two QEMU configurations, interleaved -------------------------------

def run_ab(args, raw):
    """virt-iommu-bench --ab: the cmd part on A and B, interleaved."""
    extra = ["--ab", "--args-a", args.qemu_args_a,
             "--args-b", args.qemu_args_b]
    env = {"QTEST_QEMU_BINARY_B": args.qemu_b or args.qemu}
    before = os.getloadavg()
    _, cmdr, _ = run_virt_iommu_bench(args, ["cmd"], raw, extra, env)
    return cmdr, (before, os.getloadavg())


def ab_rows(cmdr, target=None):
    """Per variant: medians of A and B (pairs per second of QEMU CPU), B/A."""
    rows = []
    for p in sorted({k[1] for k in cmdr}):
        for var in CMD_LABEL:
            a, b = cmdr.get((var, p, "a")), cmdr.get((var, p, "b"))
            if not a or not b:
                continue
            ra = [x[0] / (x[1] / 1e9) for x in a]
            rb = [x[0] / (x[1] / 1e9) for x in b]
            ratio = statistics.median(rb) / statistics.median(ra)
            pmed, plo, phi = benchstats.paired_ratio_ci(rb, ra)
            rows.append({
                "var": var, "pages": p, "runs": min(len(ra), len(rb)),
                "a": statistics.median(ra), "b": statistics.median(rb),
                "ratio": ratio, "ci": benchstats.ratio_ci(rb, ra),
                "paired": (pmed, plo, phi),
                # A and B ran back to back: judged on the per-run ratios.
                # virtio-iommu is not the device under test: a control.
                "verdict": "control" if var == "virtio-iommu" else
                benchstats.decide(plo, phi, target)
                if target is not None else "",
            })
    return rows


def ab_report(args, cmdr, loads, seconds):
    md = []
    w = md.append
    w("# virt-iommu A/B report: MAP+UNMAP pairs\n")
    w(f"Generated by scripts/bench-report.py --ab on "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, host "
      f"`{os.uname().nodename}`, {os.cpu_count()} CPUs.  {args.runs} runs "
      f"at --scale {args.scale}; in each run every variant on A and on B "
      f"back to back (which goes first alternates), in fresh QEMUs, all "
      f"pinned to one CPU.  Pairs per second of QEMU main-thread CPU time, "
      f"medians of the runs; B/A with its 95% bootstrap interval, the runs "
      f"paired.  virtio-iommu runs the same QEMU code on both sides unless "
      f"the binaries differ there: a control.\n")
    w(f"- A ({args.label_a}): `{args.qemu}` `{args.qemu_args_a}`")
    w(f"- B ({args.label_b}): `{args.qemu_b or args.qemu}` "
      f"`{args.qemu_args_b}`")
    w(f"- bench: `{args.bench}`")
    if loads:
        w(f"- load average (1, 5, 15 min) before: "
          f"{', '.join(f'{x:.2f}' for x in loads[0])}; after: "
          f"{', '.join(f'{x:.2f}' for x in loads[1])}")
    if seconds is not None:
        w(f"- duration: {seconds:.0f} s")
    w("")
    rows = ab_rows(cmdr, args.ab_target)
    judged = args.ab_target is not None
    w("| pages | variant | runs | A pairs/s | B pairs/s | "
      "B/A of the medians [95%] | B/A per run, median [95%] |" +
      (f" B/A >= {args.ab_target} |" if judged else ""))
    w("|---:|---|---:|---:|---:|---:|---:|" + ("---|" if judged else ""))
    for r in rows:
        w(f"| {r['pages']} | {r['var']} | {r['runs']} | {fmt_rate(r['a'])} | "
          f"{fmt_rate(r['b'])} | {r['ratio']:.3f} "
          f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {r['paired'][0]:.3f} "
          f"[{r['paired'][1]:.3f}, {r['paired'][2]:.3f}] |" +
          (f" {verdict(r['verdict'])} |" if judged else ""))
    w("")
    w("B/A of the medians resamples whole runs (scripts/benchstats.py "
      "ratio_ci); B/A per run is the median of the runs' own B/A, each "
      "from the two halves of a pair measured milliseconds apart "
      "(paired_ratio_ci), which a change of the machine's speed between "
      "runs does not move.  Verdicts use the latter.\n")
    return md


# ---- boot -------------------------------------------------------------------

MARKER = "VIRT-IOMMU-BENCH-USERSPACE"


BOOT_EXTRA = {
    "none": [],
    "bypass": ["-device", "virt-iommu"],
    # control: the cost of one more PCI function of any kind
    "edu": ["-device", "edu"],
}


def boot_once(args, config):
    kernel = os.path.join(args.guest_dir, "vmlinux")
    if not os.path.exists(kernel):
        kernel = os.path.join(args.guest_dir, "vmlinuz")
    cmd = [args.qemu, "-machine", "q35", "-accel", "tcg", "-m", "512M",
           "-nodefaults", "-display", "none", "-no-reboot",
           "-serial", "stdio", *guest_io.firmware_args()]
    # The first userspace program is echo itself: its line is the marker.
    cmd += ["-kernel", kernel,
            "-initrd", os.path.join(args.guest_dir, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 panic=-1 quiet rdinit=/bin/echo -- "
            + MARKER]
    cmd += BOOT_EXTRA[config]
    cmd += ["-device", "dma-testdev,addr=06.0"]
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = None
    log = []
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace")
            log.append(line)
            if MARKER in line and not line.lstrip().startswith("[") \
                    and "Kernel command line" not in line:
                seen = time.monotonic() - start
                # utime + stime of all QEMU threads (vCPU under TCG too)
                with open(f"/proc/{p.pid}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                cpu = (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
                break
            if time.monotonic() - start > 120:
                break
    finally:
        p.kill()
        p.wait()
    if seen is None:
        raise RuntimeError("boot did not reach userspace:\n" +
                           "".join(log[-20:]))
    return seen, cpu


def run_boot(args, raw):
    times = {}
    say(f"booting the demo kernel {args.boot_runs} times each way")
    boot_once(args, "none")         # warm the page cache, not counted
    for _ in range(args.boot_runs):
        for k in BOOT_EXTRA:
            wall, cpu = boot_once(args, k)
            times.setdefault(k, []).append(wall)
            times.setdefault(k + "_cpu", []).append(cpu)
    with open(os.path.join(raw, "boot.json"), "w") as f:
        json.dump(times, f, indent=1)
    return times


# ---- allocator benchmarks ---------------------------------------------------

def run_gbench(path, raw, name, extra):
    out = os.path.join(raw, name + ".json")
    cmd = [path, "--benchmark_format=console", "--benchmark_out=" + out,
           "--benchmark_out_format=json"] + extra
    say("running " + " ".join(cmd))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)["benchmarks"]


# ---- against Linux's iova.c (tests/bench/linux-iova) -----------------------

VS_LINUX_WORKLOADS = [
    ("fast_pair_1", "fast pair, size 1 (rcache hit)"),
    ("fast_pair_1_32", "fast pair, sizes 1-32 cycled"),
    ("full_32bit", "32-bit space full: free one, alloc 1 (finds it), "
                   "alloc 1 (fails)"),
    ("live_300k_48bit", "300k live ranges, 48-bit: free one, alloc 1"),
    ("mixed_1_64_100k_rcache", "mixed sizes 1-64, 100k live, fast path"),
    ("mixed_1_64_100k_tree", "mixed sizes 1-64, 100k live, tree only"),
]
LATENCY_PREFIXES = ["alloc", "ok_alloc", "failed_alloc"]


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.1f} ns"


def faster(ratio):
    """Who is faster, and by how much, for a ratio ours/Linux of times."""
    def times(x):
        return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"
    if ratio < 1:
        return f"ours, {times(1 / ratio)}"
    return f"Linux, {times(ratio)}" if ratio > 1 else "same"


def vs_linux_rows(benchmarks):
    """(workload label, measure, ours, linux, ratio, faster) rows.

    Names are WORKLOAD/ALLOCATOR[/arg]/...[/threads:N]."""
    by = fast_path.index(benchmarks)
    rows = []
    for w, label in VS_LINUX_WORKLOADS:
        for threads in (1, 2):
            o, l = by.get((w, "ours", threads)), by.get((w, "linux", threads))
            if not o or not l:
                continue
            lab = label + (f", {threads} threads" if threads > 1 else "")
            if w.startswith("fast_pair"):
                # ns per pair on each thread; items/s counts every thread
                po = threads * 1e9 / o["items_per_second"]
                pl = threads * 1e9 / l["items_per_second"]
                rows.append((lab, "time per pair (each thread)", fmt_ns(po),
                             fmt_ns(pl), f"{po / pl:.2f}", faster(po / pl)))
                # CPU time of all threads per pair: what other load on the
                # machine does not stretch
                co, cl = o["cpu_time"], l["cpu_time"]
                rows.append((lab, "CPU time per pair", fmt_ns(co),
                             fmt_ns(cl), f"{co / cl:.2f}", faster(co / cl)))
                if threads > 1:
                    so = o["items_per_second"] / \
                        by[(w, "ours", 1)]["items_per_second"]
                    sl = l["items_per_second"] / \
                        by[(w, "linux", 1)]["items_per_second"]
                    rows.append((lab, "pairs/s, 2 threads / 1 thread",
                                 f"{so:.2f}x", f"{sl:.2f}x",
                                 f"{so / sl:.2f}", ""))
                continue
            for pre in LATENCY_PREFIXES:
                if pre + "_mean_ns" not in o:
                    continue
                what = {"alloc": "alloc", "ok_alloc": "alloc that fits",
                        "failed_alloc": "alloc that fails"}[pre]
                for stat in ("mean", "p99", "max"):
                    k = f"{pre}_{stat}_ns"
                    r = o[k] / l[k]
                    rows.append((label, f"{what}, {stat}", fmt_ns(o[k]),
                                 fmt_ns(l[k]), f"{r:.3g}", faster(r)))
            rows.append((label, "iterations", str(o["iterations"]),
                         str(l["iterations"]), "", ""))
    return rows


# ---- plots (gnuplot) ----------------------------------------------------------

def gnuplot(script, out_dir):
    if not shutil.which("gnuplot"):
        say("gnuplot not found: no plots (scripts/install-deps.sh installs it)")
        return False
    subprocess.run(["gnuplot"], input=script, text=True, check=True,
                   cwd=out_dir)
    return True


def bar_plot(out_dir, name, title, ylabel, groups, series, values,
             errors=None):
    """groups x series clustered bars; values[g][s] (None: absent);
    errors[g][s]: (lo, hi) of an error bar, or None."""
    data = os.path.join(out_dir, "raw", name + ".dat")
    if errors is None:
        errors = [[None] * len(series) for _ in groups]
    with open(data, "w") as f:
        f.write("group " + " ".join(f'"{s}" lo hi' for s in series) + "\n")
        for g, row, erow in zip(groups, values, errors):
            cells = []
            for v, e in zip(row, erow):
                if v is None:
                    cells.append("NaN NaN NaN")
                else:
                    lo, hi = e if e else (v, v)
                    cells.append(f"{v:.6g} {lo:.6g} {hi:.6g}")
            f.write(f'"{g}" ' + " ".join(cells) + "\n")
    script = f"""
set terminal pngcairo size 1000,520 noenhanced font ",10"
set output '{name}.png'
set title "{title}"
set ylabel "{ylabel}"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set bars front
set key below horizontal
set grid ytics
set yrange [0:*]
set xtics rotate by -20
plot for [j=0:{len(series) - 1}] 'raw/{name}.dat' using (column(2+3*j)):(column(3+3*j)):(column(4+3*j)):xtic(1) title columnheader(2+3*j)
"""
    return gnuplot(script, out_dir)


# ---- report -----------------------------------------------------------------

def target(name, value, lo, hi, goal, higher_is_better=True, fmt="{:.3f}"):
    """A row of the targets table: the ratio, its interval and verdict."""
    shown = f"{fmt.format(value)} [{fmt.format(lo)}, {fmt.format(hi)}]"
    return (name, shown, benchstats.decide(lo, hi, goal, higher_is_better))


def verdict(status):
    return f"**{status}**"


def write_report(out, md):
    """Writes the report's lines to OUT/report.md and prints them."""
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    say(f"wrote {path}")
    print("\n".join(md))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--iova-bench")
    ap.add_argument("--iova-vs-tree")
    ap.add_argument("--iova-vs-linux")
    ap.add_argument("--fast-path-rounds", type=int, default=9,
                    help="rounds of iova-vs-linux's fast pairs that decide "
                    "the fast-path targets (0: none)")
    ap.add_argument("--guest-dir", default="build/guest")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--boot-runs", type=int, default=9)
    ap.add_argument("--skip", default="")
    ap.add_argument("--kernel", help="the Linux test kernel (guest-io)")
    ap.add_argument("--io-runs", type=int, default=5)
    ap.add_argument("--io-rounds", type=int, default=3)
    ap.add_argument("--io-seconds", type=int, default=1)
    ap.add_argument("--io-accel", choices=("kvm", "tcg"),
                    help="default: kvm if a probe boot works, else tcg")
    ap.add_argument("--ab", action="store_true",
                    help="compare QEMU configurations A (--qemu, "
                    "--qemu-args-a) and B (--qemu-b, --qemu-args-b) on the "
                    "cmd part, interleaved")
    ap.add_argument("--qemu-b", help="B's binary (default: --qemu)")
    ap.add_argument("--qemu-args-a", default="",
                    help="QEMU arguments added for A")
    ap.add_argument("--qemu-args-b", default="",
                    help="QEMU arguments added for B")
    ap.add_argument("--label-a", default="A")
    ap.add_argument("--label-b", default="B")
    ap.add_argument("--ab-tsv", help="report on this raw output of an "
                    "earlier --ab run instead of running the bench")
    ap.add_argument("--ab-target", type=float,
                    help="judge each B/A against this floor (met, missed, "
                    "not decided)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    args.qemu = os.path.abspath(args.qemu)
    if args.qemu_b:
        args.qemu_b = os.path.abspath(args.qemu_b)
    args.bench = os.path.abspath(args.bench)
    raw = os.path.join(args.out, "raw")
    os.makedirs(raw, exist_ok=True)
    t0 = time.monotonic()

    if args.ab and args.ab_tsv:
        with open(args.ab_tsv) as f:
            cmdr = parse_virt_iommu_bench(f.read())[1]
        loads, seconds = None, None
        ab_json = os.path.join(os.path.dirname(args.ab_tsv), "ab.json")
        if os.path.exists(ab_json):
            with open(ab_json) as f:
                saved = json.load(f)
            loads, seconds = saved["loads"], saved.get("seconds")
    elif args.ab:
        cmdr, loads = run_ab(args, raw)
        seconds = time.monotonic() - t0
        with open(os.path.join(raw, "ab.json"), "w") as f:
            json.dump({"loads": loads, "seconds": seconds,
                       "cmd": [[list(k), v] for k, v in cmdr.items()]},
                      f, indent=1)
    if args.ab:
        write_report(args.out, ab_report(args, cmdr, loads, seconds))
        return 0

    parts = [p for p in ("dma", "cmd") if p not in skip]
    dma, cmdr, rtt = run_virt_iommu_bench(args, parts, raw) if parts \
        else ({}, {}, None)
    boot = run_boot(args, raw) if "boot" not in skip else None
    gio = None
    if "guest-io" not in skip and args.kernel:
        gargs = argparse.Namespace(
            qemu=args.qemu, kernel=os.path.abspath(args.kernel),
            out=os.path.abspath(os.path.join(args.out, "guest-io")),
            runs=args.io_runs, rounds=args.io_rounds,
            seconds=args.io_seconds,
            configs=list(guest_io.CONFIGS),
            accel=args.io_accel)
        gio = (gargs,) + guest_io.run(gargs, raw)
    iova = []
    vs_linux = []
    vs_linux_rounds = []
    if "iova" not in skip:
        if args.iova_bench:
            iova += run_gbench(args.iova_bench, raw, "iova-bench",
                               ["--benchmark_min_time=0.05"])
        if args.iova_vs_tree:
            iova += run_gbench(args.iova_vs_tree, raw, "iova-vs-iova-tree",
                               ["--benchmark_min_time=0.05"])
        if args.iova_vs_linux:
            # fixed iterations per workload, set in the program
            vs_linux = run_gbench(args.iova_vs_linux, raw, "iova-vs-linux",
                                  [])
            # the fast pairs again, a round per process (scripts/fast_path.py)
            for i in range(args.fast_path_rounds):
                vs_linux_rounds.append(run_gbench(
                    args.iova_vs_linux, raw, f"iova-vs-linux-fast-{i + 1}",
                    fast_path.ROUND_ARGS))

    md = []
    w = md.append
    w("# virt-iommu performance report\n")
    w(f"Generated by `make bench` (scripts/bench-report.py) on "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
      f"host `{os.uname().nodename}`, {os.cpu_count()} CPUs, load average "
      f"{os.getloadavg()[0]:.1f} at the end.  Method: "
      "docs/devel/performance.rst.\n")
    w("All ratios are of medians measured in this run.  Throughput is per "
      "second of QEMU main-thread CPU time (the thread that runs the device "
      "models), so that other load on the machine does not skew one "
      "configuration more than another; the wall-clock tables are in "
      "raw/.\n")
    if rtt:
        w(f"One qtest MMIO round trip: {rtt[0] / 1e3:.1f} us of QEMU CPU, "
          f"{rtt[1] / 1e3:.1f} us wall (included once per doorbell).\n")

    targets = []
    plots = []
    if dma:
        rows = dma_table(dma, 2)
        w("## 1. DMA throughput through translation\n")
        w("dma-testdev COPY descriptors on its ring (512 entries, refilled "
          "by moving TAIL; 256 descriptors per doorbell), each descriptor "
          "read and its status written back through the same translation. "
          "Warm: one source and one destination buffer.  Cold: 256 buffers "
          "of 64 KiB per direction, one mapping each, cycled, so that no "
          "IOTLB of 64 entries holds the working set.\n")
        w("| size | configuration | runs | ops/s min | ops/s median | "
          "ops/s max | GB/s | vs no IOMMU [95% interval] |")
        w("|---:|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            w(f"| {r['size']} | {r['label']} | {r['runs']} | "
              f"{fmt_rate(r['ops_min'])} | {fmt_rate(r['ops_med'])} | "
              f"{fmt_rate(r['ops_max'])} | {r['gbs']:.3f} | "
              f"{r['ratio'] * 100:.1f}% [{r['ci'][0] * 100:.1f}, "
              f"{r['ci'][1] * 100:.1f}] |")
        w("")
        by = {(r["cfg"], r["pat"], r["size"]): r for r in rows}
        sizes = sorted({r["size"] for r in rows})
        if ("dma", "warm", 4096) in by:
            d = by[("dma", "warm", 4096)]
            targets.append(target("DMA domain, warm IOTLB, 4 KiB copies >= "
                                   "90% of no IOMMU", d["ratio"], *d["ci"],
                                   0.90))
            if ("virtio-iommu", "warm", 4096) in by:
                v = by[("virtio-iommu", "warm", 4096)]
                x = d["ops_med"] / v["ops_med"]
                targets.append(target("DMA domain, warm IOTLB, 4 KiB copies "
                                      ">= 2x virtio-iommu", x,
                                      *benchstats.ratio_ci(d["ops"], v["ops"]),
                                      2.0, fmt="{:.2f}"))
                n = by[("none", "warm", 4096)]
                od = 1 / d["ops_med"] - 1 / n["ops_med"]
                ov = 1 / v["ops_med"] - 1 / n["ops_med"]
                if od > 0:
                    w(f"Translation overhead per 4 KiB descriptor over no "
                      f"IOMMU: virt-iommu {od * 1e9:.0f} ns, virtio-iommu "
                      f"{ov * 1e9:.0f} ns ({ov / od:.1f}x).\n")
        for size in sizes:
            if ("bypass", "warm", size) in by:
                b = by[("bypass", "warm", size)]
                targets.append(target(f"bypass >= 98% of no IOMMU "
                                      f"({size} B)", b["ratio"], *b["ci"],
                                      0.98))
        series = [DMA_LABEL[k] for k in DMA_ORDER
                  if any((k[0], k[1], s) in by for s in sizes)]
        keys = [k for k in DMA_ORDER
                if any((k[0], k[1], s) in by for s in sizes)]
        vals = [[by[(k[0], k[1], s)]["ratio"] * 100
                 if (k[0], k[1], s) in by else None for k in keys]
                for s in sizes]
        errs = [[tuple(x * 100 for x in by[(k[0], k[1], s)]["ci"])
                 if (k[0], k[1], s) in by else None for k in keys]
                for s in sizes]
        if bar_plot(args.out, "dma-ratio",
                    "DMA throughput relative to no IOMMU (median, CPU time; "
                    "bars: 95% interval)",
                    "% of no IOMMU", [f"{s} B" for s in sizes], series,
                    vals, errs):
            plots.append(("dma-ratio.png", "DMA throughput, % of no IOMMU"))
        vals = [[by[(k[0], k[1], s)]["gbs"]
                 if (k[0], k[1], s) in by else None for k in keys]
                for s in sizes]
        if bar_plot(args.out, "dma-gbs", "DMA throughput (median)",
                    "GB/s of QEMU CPU time", [f"{s} B" for s in sizes],
                    series, vals):
            plots.append(("dma-gbs.png", "DMA throughput, GB/s"))

    if cmdr:
        rows = cmd_table(cmdr, 1)
        w("## 2. Command throughput: MAP+UNMAP pairs\n")
        w("virt-iommu: a full command ring (4096 entries) per TAIL write: "
          "2047 MAP_FIXED+UNMAP pairs, or 4095 MAPs then, after reading "
          "back the IOVAs, 4095 UNMAPs.  virtio-iommu: 64 MAP+UNMAP pairs "
          "(256 descriptors, its full request queue) per notify.  Only the "
          "doorbell writes are timed.\n")
        w("| pages | variant | runs | pairs/s min | pairs/s median | "
          "pairs/s max | vs virtio-iommu [95% interval] |")
        w("|---:|---|---:|---:|---:|---:|---:|")
        for r in rows:
            w(f"| {r['pages']} | {r['label']} | {r['runs']} | "
              f"{fmt_rate(r['min'])} | {fmt_rate(r['med'])} | "
              f"{fmt_rate(r['max'])} | {r['ratio']:.2f}x "
              f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}] |")
        w("")
        for r in rows:
            if r["var"] != "virtio-iommu":
                plural = "s" if r["pages"] > 1 else ""
                targets.append(target(f"MAP+UNMAP >= 2x virtio-iommu "
                                      f"({r['var']}, {r['pages']} "
                                      f"page{plural})", r["ratio"],
                                      *r["ci"], 2.0, fmt="{:.2f}"))
        pages = sorted({r["pages"] for r in rows})
        vars_ = [v for v in CMD_LABEL if any(r["var"] == v for r in rows)]
        byc = {(r["var"], r["pages"]): r for r in rows}
        vals = [[byc[(v, p)]["med"] / 1e6 if (v, p) in byc else None
                 for v in vars_] for p in pages]
        if bar_plot(args.out, "cmd-pairs", "MAP+UNMAP pairs per second "
                    "(median, CPU time)", "million pairs/s",
                    [f"{p} page(s)" for p in pages], vars_, vals):
            plots.append(("cmd-pairs.png", "MAP+UNMAP pairs/s"))

    if boot:
        w("## 3. Boot overhead\n")
        w("The demo kernel and initramfs under TCG (guest/run-demo.sh's "
          "machine: q35, 512 MiB, -nodefaults, dma-testdev at 06.0), "
          "`rdinit=/bin/echo` printing a marker: host wall time from "
          "starting QEMU to that line on the serial console.  With and "
          "without `-device virt-iommu` (left in bypass: no driver), and "
          "with `-device edu` as a control, alternated.\n")
        w("QEMU CPU time (user + system, all threads, at the marker) is "
          "the figure: under TCG it is the work of booting, and unlike wall "
          "time it does not grow with other load on the machine.\n")
        w("| configuration | clock | runs | min s | median s | max s |")
        w("|---|---|---:|---:|---:|---:|")
        for k, label in (("none", "no IOMMU"),
                         ("bypass", "-device virt-iommu (bypass)"),
                         ("edu", "-device edu (control)")):
            for clk, suffix in (("CPU", "_cpu"), ("wall", "")):
                lo, med, hi = stats(boot[k + suffix])
                w(f"| {label} | {clk} | {len(boot[k + suffix])} | "
                  f"{lo:.3f} | {med:.3f} | {hi:.3f} |")
        ratio = statistics.median(boot["bypass_cpu"]) / \
            statistics.median(boot["none_cpu"])
        wratio = statistics.median(boot["bypass"]) / \
            statistics.median(boot["none"])
        w(f"\nRatio of medians (virt-iommu / none): CPU {ratio:.4f} "
          f"({(ratio - 1) * 100:+.2f}%), wall {wratio:.4f} "
          f"({(wratio - 1) * 100:+.2f}%).  The control, one more PCI "
          f"function of another kind (edu): CPU "
          f"{statistics.median(boot['edu_cpu']) / statistics.median(boot['none_cpu']):.4f}"
          f".\n")
        targets.append(target("boot with virt-iommu in bypass <= 2% slower "
                              "(CPU time, ratio)", ratio,
                              *benchstats.ratio_ci(boot["bypass_cpu"],
                                                   boot["none_cpu"]),
                              1.02, higher_is_better=False, fmt="{:.4f}"))

    if iova:
        w("## 4. Allocator benchmarks\n")
        w("Google Benchmark, `--benchmark_min_time=0.05`: iova/bench "
          "(build/iova-release) and tests/bench/iova-vs-iova-tree (virt-iommu's "
          "allocator against QEMU's util/iova-tree.c).  Times per "
          "iteration.\n")
        w("| benchmark | iterations | real time | CPU time |")
        w("|---|---:|---:|---:|")
        for b in iova:
            if b.get("run_type") == "aggregate":
                continue
            unit = b.get("time_unit", "ns")
            w(f"| {b['name']} | {b['iterations']} | "
              f"{b['real_time']:.1f} {unit} | {b['cpu_time']:.1f} {unit} |")
        w("")

    if vs_linux:
        version = os.path.join(os.path.dirname(args.iova_vs_linux), "linux",
                               "VERSION")
        source = open(version).read().strip() if os.path.exists(version) \
            else "Debian linux-source"
        w("## 5. Against Linux's iova.c\n")
        w(f"tests/bench/linux-iova/iova-vs-linux: Linux's "
          f"drivers/iommu/iova.c from `{source}`, built unmodified in "
          "userspace over our kernel shim, and virt-iommu's allocator, "
          "through the same workloads in the same program, one after the "
          "other (4 KiB granule, 2 CPUs, depot trim after 100 ms on the "
          "same worker thread; both in a process with a second thread).  "
          "Wall-clock times, and for the fast pairs also CPU time (of all "
          "threads, per pair), which load on the machine does not "
          "stretch; latencies are of one allocation call, timed alone.  Ratio ours/Linux: below 1, ours is faster (for the "
          "scaling row: ours scales worse below 1).\n")
        w("| workload | measure | ours | Linux | ours/Linux | faster |")
        w("|---|---|---:|---:|---:|---|")
        for row in vs_linux_rows(vs_linux):
            w("| " + " | ".join(row) + " |")
        w("")
        if vs_linux_rounds:
            w(f"The fast-path targets (Targets below) are decided over "
              f"{len(vs_linux_rounds)} more rounds of the fast pairs, each "
              "a process of its own with ours and Linux's back to back: the "
              "median of the per-round ratios, with its interval (raw/"
              "iova-vs-linux-fast-*.json).\n")
            host = fast_path.scaling(vs_linux_rounds)
            if host:
                w("Two threads can only scale as far as the host lets "
                  "them; in the same rounds:\n")
                for label, m, lo, hi in host:
                    w(f"- {label}: {m:.3f} [{lo:.3f}, {hi:.3f}]")
                w("")
        for name, m, lo, hi, goal, higher in fast_path.targets(
                vs_linux_rounds):
            targets.append(target(name, m, lo, hi, goal, higher))

    if gio:
        gargs, results, refs, loads = gio
        w("## 6. Guest I/O through each IOMMU\n")
        w(f"The Linux test kernel (Debian 6.12 with our driver) under "
          f"{gargs.accel.upper()}, 2 vCPUs, NVMe controllers each on a "
          f"{guest_io.DISK_MIB} MiB raw image (host page cache), "
          "guest/linux/io-bench.c on a namespace with O_DIRECT, every "
          "byte read compared with what was written.  Queue depth 32 is "
          "32 threads with one request each.  Every boot also has a "
          "reference controller on a PCIe expander bridge that bypasses "
          "the IOMMU, and runs each phase for "
          f"{gargs.seconds} s of guest time on both, back to back, "
          f"{gargs.rounds} times.  One boot per configuration per run, the "
          f"order rotating; {gargs.runs} runs, load average "
          f"{loads[0]:.1f} before and {loads[1]:.1f} after.  The "
          "percentage is the median over samples (one round of one boot) "
          "of the ratio to the same round's reference, with its bootstrap "
          "interval; a boot keeps the speed it started with, and that "
          "ratio cancels it.  The no IOMMU row compares two controllers "
          "that are both outside any IOMMU: what the two placements "
          "differ by.  Against another IOMMU a target compares the two "
          "ratios to their references (scripts/guest_io.py).\n")
        md.extend(guest_io.table(results, refs))
        w("")
        lazy = guest_io.lazy_vs_ring(results, refs)
        if lazy:
            w("\"Doorbell per map\" is virt-iommu DMA-FQ with the driver's "
              "lazy_map off: every iotlb_sync_map rings, as before ABI "
              "0.4, where the default leaves the MAP_FIXEDs for the device "
              "to run on the DMA's miss.  Each as its ratio to its own "
              "reference, no doorbell per map over a doorbell per map "
              "(> 1: faster without):\n")
            w("| workload | ratio [95% interval] |")
            w("|---|---:|")
            for label, m, lo, hi in lazy:
                w(f"| {label} | {m:.3f} [{lo:.3f}, {hi:.3f}] |")
            w("")
        for name, m, lo, hi, goal in guest_io.targets(results, refs):
            targets.append(target(name, m, lo, hi, goal))
        phases = list(guest_io.PHASES)
        cfgs = list(results)
        ratio = {(r["phase"], r["config"]): r["ratio"]
                 for r in guest_io.rows(results, refs)}
        vals = [[ratio[ph, c][0] * 100 for c in cfgs] for ph in phases]
        errs = [[(ratio[ph, c][1] * 100, ratio[ph, c][2] * 100)
                 for c in cfgs] for ph in phases]
        if bar_plot(args.out, "guest-io", "Guest NVMe I/O, % of the same "
                    "boot's reference controller (median, 95% interval)",
                    "% of no IOMMU", [guest_io.PHASES[p][0] for p in phases],
                    [guest_io.CONFIGS[c][0] for c in cfgs], vals, errs):
            plots.append(("guest-io.png", "Guest NVMe I/O, % of no IOMMU"))

    if targets:
        w("## Targets\n")
        w("Measured: the ratio of medians [its 95% bootstrap interval].  "
          "Met or missed only when the whole interval is on one side of "
          "the target.\n")
        w("| target | measured | verdict |")
        w("|---|---:|---|")
        for name, val, status in targets:
            w(f"| {name} | {val} | {verdict(status)} |")
        w("")
    if plots:
        w("## Plots\n")
        for png, title in plots:
            w(f"![{title}]({png})\n")
    w(f"Total time of this report: {time.monotonic() - t0:.0f} s.\n")

    write_report(args.out, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
