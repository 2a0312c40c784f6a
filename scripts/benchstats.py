"""Confidence intervals and verdicts for make bench's ratios.

A ratio of medians from one run on a shared machine moves by several
percent between runs, so a target is decided only when a bootstrap
confidence interval of the ratio clears it: "met" when the whole interval
is on the right side, "missed" when it is wholly on the wrong side, and
"not decided" otherwise.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import random
import statistics

# Resamples per interval: the 2.5 and 97.5 percentiles move by well under
# a percent of the ratio between seeds at this count.
RESAMPLES = 2000
CONFIDENCE = 0.95


def _interval(estimates, confidence):
    """The central confidence interval (lo, hi) of bootstrap estimates."""
    estimates = sorted(estimates)
    tail = (1 - confidence) / 2
    last = len(estimates) - 1
    return estimates[int(tail * last)], estimates[int((1 - tail) * last)]


def ratio_ci(num, den, resamples=RESAMPLES, confidence=CONFIDENCE, seed=1):
    """Bootstrap interval (lo, hi) of median(num) / median(den).

    num and den are per-run values.  Runs of the two were interleaved
    (run i of each in the same round), so when they have equal counts the
    rounds are resampled together, which keeps what a round shared (the
    machine's load at the time) in both; otherwise each is resampled
    apart.  Deterministic for a given seed.
    """
    if not num or not den:
        raise ValueError("ratio_ci needs at least one run of each")
    rng = random.Random(seed)
    paired = len(num) == len(den)
    ratios = []
    for _ in range(resamples):
        if paired:
            idx = [rng.randrange(len(num)) for _ in num]
            n = [num[i] for i in idx]
            d = [den[i] for i in idx]
        else:
            n = [rng.choice(num) for _ in num]
            d = [rng.choice(den) for _ in den]
        ratios.append(statistics.median(n) / statistics.median(d))
    return _interval(ratios, confidence)


def paired_ratio_ci(num, den, resamples=RESAMPLES, confidence=CONFIDENCE,
                    seed=1):
    """Median of the per-run ratios num[i] / den[i], and its interval.

    For runs measured in pairs back to back (virt-iommu-bench --ab: A and
    B of a variant within milliseconds of each other), a change of the
    machine's speed between runs hits both halves of a pair alike and
    cancels in its ratio, where it stays in each side's median: with the
    bimodal speed of the shared machine the ratio of medians can move by
    10-20% when a few runs change mode, the median of the ratios does not.
    Returns (median, lo, hi); deterministic for a given seed.
    """
    if not num or len(num) != len(den):
        raise ValueError("paired_ratio_ci needs runs in pairs")
    ratios = [n / d for n, d in zip(num, den)]
    rng = random.Random(seed)
    meds = [statistics.median(rng.choices(ratios, k=len(ratios)))
            for _ in range(resamples)]
    return (statistics.median(ratios),) + _interval(meds, confidence)


def decide(lo, hi, target, higher_is_better=True):
    """'met', 'missed' or 'not decided' for an interval against a target."""
    if higher_is_better:
        if lo >= target:
            return "met"
        if hi < target:
            return "missed"
    else:
        if hi <= target:
            return "met"
        if lo > target:
            return "missed"
    return "not decided"
