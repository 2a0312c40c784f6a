"""The allocator's fast-path targets against Linux's iova.c (issue 18 item
2), decided over rounds of iova-vs-linux's fast_pair workloads.

One run of the program samples the host in one state: on these machines
the host switches between a fast and a slow state for seconds at a time,
which slows both allocators but not by the same factor
(docs/devel/performance.rst, "The fast path as a leaf function").  So
make bench runs the fast pairs again in several rounds, each round one
process with ours and Linux's workloads back to back, and judges the
median of the per-round ratios with its bootstrap interval.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import benchstats

# iova-vs-linux's arguments for one round
ROUND_ARGS = ["--benchmark_filter=fast_pair", "--benchmark_min_time=0.5"]

# (target name, workload, measure, goal, higher_is_better); measure
# "cpu": ours' CPU time per pair over Linux's on one thread; "scaling":
# ours' pairs/s on two threads over one thread
TARGETS = [
    ("fast pair, size 1: ours/Linux CPU time per pair <= 0.7",
     "fast_pair_1", "cpu", 0.7, False),
    ("fast pair, sizes 1-32: ours/Linux CPU time per pair <= 1.0",
     "fast_pair_1_32", "cpu", 1.0, False),
    ("fast pair, size 1: ours' pairs/s with 2 threads >= 1.9x one thread",
     "fast_pair_1", "scaling", 1.9, True),
]


def index(benchmarks):
    """{(workload, allocator, threads): benchmark} of an iova-vs-linux
    run's JSON benchmarks, without aggregates and failed runs (also
    bench-report.py's table); names are WORKLOAD/ALLOCATOR/arg/.../threads:N."""
    by = {}
    for b in benchmarks:
        if b.get("run_type") == "aggregate" or b.get("error_occurred"):
            continue
        parts = b["name"].split("/")
        by[(parts[0], parts[1], int(b.get("threads", 1)))] = b
    return by


def scaling(rounds):
    """How fast_pair_1's two threads scale against the host's own scaling
    (iova-vs-linux's fast_pair_1/host, a loop with nothing in memory, in
    the same rounds): [(label, median, lo, hi)] of the host's
    iterations/s on 2 threads over 1, and of ours' 2-over-1 ratio over the
    host's, round by round; empty unless every round has both."""
    rounds = [index(r) for r in rounds]
    keys = [("fast_pair_1", who, n) for who in ("ours", "host")
            for n in (1, 2)]
    if not rounds or any(k not in r for r in rounds for k in keys):
        return []

    def per_s(who, threads):
        return [r[("fast_pair_1", who, threads)]["items_per_second"]
                for r in rounds]

    def two_over_one(who):
        return [two / one for two, one in zip(per_s(who, 2), per_s(who, 1))]
    return [("the host's own: a loop with nothing in memory, "
             "2 threads / 1 thread",
             *benchstats.paired_ratio_ci(per_s("host", 2), per_s("host", 1))),
            ("fast pair, size 1: ours' 2 threads / 1 thread, over the "
             "host's", *benchstats.paired_ratio_ci(two_over_one("ours"),
                                                   two_over_one("host")))]


def targets(rounds):
    """(name, median, lo, hi, goal, higher_is_better) for each target that
    every round measured; rounds: a list of each round's benchmarks."""
    rounds = [index(r) for r in rounds]
    out = []
    for name, w, measure, goal, higher in TARGETS:
        if measure == "cpu":
            keys = ((w, "ours", 1), (w, "linux", 1))
            field = "cpu_time"
        else:
            keys = ((w, "ours", 2), (w, "ours", 1))
            field = "items_per_second"
        if not rounds or any(k not in r for r in rounds for k in keys):
            continue
        num = [r[keys[0]][field] for r in rounds]
        den = [r[keys[1]][field] for r in rounds]
        med, lo, hi = benchstats.paired_ratio_ci(num, den)
        out.append((name, med, lo, hi, goal, higher))
    return out
