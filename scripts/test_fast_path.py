"""Unit tests of scripts/fast_path.py (make check-scripts): which figures of
iova-vs-linux's rounds each fast-path target takes, and its verdict.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchstats  # noqa: E402
import fast_path  # noqa: E402


def bench(workload, who, threads, cpu, ips):
    return {"name": f"{workload}/{who}/1/real_time/threads:{threads}",
            "threads": threads, "run_type": "iteration",
            "cpu_time": cpu, "items_per_second": ips}


def round_(ours1, linux1, ours32, linux32, ips1, ips2):
    """One round: CPU times per pair (ns) and ours' pairs/s."""
    return [bench("fast_pair_1", "ours", 1, ours1, ips1),
            bench("fast_pair_1", "ours", 2, ours1, ips2),
            bench("fast_pair_1", "linux", 1, linux1, 1e8),
            bench("fast_pair_1", "linux", 2, linux1, 2e8),
            bench("fast_pair_1_32", "ours", 1, ours32, 1e8),
            bench("fast_pair_1_32", "linux", 1, linux32, 1e8)]


def with_host(rnd, ips1, ips2):
    """ROUND with the host's loop at IPS1 and IPS2 iterations/s."""
    return rnd + [bench("fast_pair_1", "host", 1, 1.0, ips1),
                  bench("fast_pair_1", "host", 2, 1.0, ips2)]


def verdicts(rounds):
    return {name: benchstats.decide(lo, hi, goal, higher)
            for name, _, lo, hi, goal, higher in fast_path.targets(rounds)}


class Scaling(unittest.TestCase):
    def test_ours_is_read_against_the_hosts_own(self):
        # the host gave 1.8x and 2.0x; ours scaled 1.8x and 1.9x
        rounds = [with_host(round_(6.0, 10.0, 7.0, 10.0, 1e8, 1.8e8),
                            1e9, 1.8e9),
                  with_host(round_(6.0, 10.0, 7.0, 10.0, 1e8, 1.9e8),
                            1e9, 2.0e9)] * 2
        (_, host, *_), (_, ours, lo, hi) = fast_path.scaling(rounds)
        self.assertAlmostEqual(host, 1.9)
        self.assertAlmostEqual(ours, 0.975)
        self.assertAlmostEqual(lo, 0.95)
        self.assertAlmostEqual(hi, 1.0)

    def test_rounds_without_the_host_loop_give_nothing(self):
        self.assertEqual(fast_path.scaling(
            [round_(6.0, 10.0, 7.0, 10.0, 1e8, 2e8)] * 3), [])


class Targets(unittest.TestCase):
    def test_ratios_are_ours_over_linux_and_two_over_one_thread(self):
        rounds = [round_(6.0, 10.0, 7.0, 10.0, 1e8, 2e8)] * 3
        got = {t[0]: t[1] for t in fast_path.targets(rounds)}
        names = [t[0] for t in fast_path.TARGETS]
        self.assertAlmostEqual(got[names[0]], 0.6)
        self.assertAlmostEqual(got[names[1]], 0.7)
        self.assertAlmostEqual(got[names[2]], 2.0)

    def test_met_missed_and_not_decided(self):
        names = [t[0] for t in fast_path.TARGETS]
        fast = [round_(6.0, 10.0, 7.0, 10.0, 1e8, 2e8)] * 5
        self.assertEqual(set(verdicts(fast).values()), {"met"})
        slow = [round_(9.0, 10.0, 11.0, 10.0, 1e8, 1.5e8)] * 5
        self.assertEqual(set(verdicts(slow).values()), {"missed"})
        # per-round size-1 ratios 0.6 and 0.8 straddle 0.7
        mixed = [round_(6.0, 10.0, 7.0, 10.0, 1e8, 2e8),
                 round_(8.0, 10.0, 7.0, 10.0, 1e8, 2e8)] * 3
        self.assertEqual(verdicts(mixed)[names[0]], "not decided")

    def test_a_round_without_a_workload_leaves_its_target_out(self):
        rounds = [round_(6.0, 10.0, 7.0, 10.0, 1e8, 2e8)] * 2
        rounds.append([b for b in rounds[0]
                       if not b["name"].startswith("fast_pair_1_32")])
        names = [t[0] for t in fast_path.targets(rounds)]
        self.assertNotIn(fast_path.TARGETS[1][0], names)
        self.assertIn(fast_path.TARGETS[0][0], names)

    def test_failed_runs_do_not_count(self):
        r = round_(6.0, 10.0, 7.0, 10.0, 1e8, 2e8)
        r[0] = dict(r[0], error_occurred=True)
        self.assertNotIn(fast_path.TARGETS[0][0],
                         [t[0] for t in fast_path.targets([r])])


if __name__ == "__main__":
    unittest.main()
