"""Unit tests of scripts/benchstats.py (make check-scripts).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchstats  # noqa: E402


class RatioCi(unittest.TestCase):
    def test_interval_holds_the_point_estimate(self):
        num = [100, 104, 98, 101, 99, 103, 97]
        den = [50, 51, 49, 50, 52, 48, 50]
        lo, hi = benchstats.ratio_ci(num, den)
        self.assertLessEqual(lo, 101 / 50)
        self.assertGreaterEqual(hi, 101 / 50)
        self.assertLess(hi - lo, 0.2)

    def test_constant_runs_give_a_point(self):
        self.assertEqual(benchstats.ratio_ci([3, 3, 3], [2, 2, 2]),
                         (1.5, 1.5))

    def test_noise_widens_the_interval(self):
        quiet = benchstats.ratio_ci([100, 101, 99, 100, 100],
                                    [100, 100, 101, 99, 100])
        noisy = benchstats.ratio_ci([100, 130, 80, 115, 90],
                                    [100, 100, 101, 99, 100])
        self.assertGreater(noisy[1] - noisy[0], quiet[1] - quiet[0])

    def test_same_seed_same_interval(self):
        a = benchstats.ratio_ci([1, 2, 3, 4], [2, 2, 3])
        self.assertEqual(a, benchstats.ratio_ci([1, 2, 3, 4], [2, 2, 3]))

    def test_empty_input_is_an_error(self):
        with self.assertRaises(ValueError):
            benchstats.ratio_ci([], [1])


class PairedRatioCi(unittest.TestCase):
    # The machine's speed jumps between two modes from run to run; B is
    # 3% slower than A in every pair.
    SPEED = [1.0, 0.55, 1.0, 0.6, 1.0, 0.5, 0.58, 1.0, 0.52, 1.0, 0.57]

    def test_a_shared_mode_cancels_in_each_pair(self):
        a = [100 * x for x in self.SPEED]
        b = [97 * x for x in self.SPEED]
        med, lo, hi = benchstats.paired_ratio_ci(b, a)
        self.assertAlmostEqual(med, 0.97)
        self.assertAlmostEqual(lo, 0.97)
        self.assertAlmostEqual(hi, 0.97)

    def test_narrower_than_the_ratio_of_medians(self):
        a = [100 * x for x in self.SPEED]
        # half of B's runs fell into the other mode than their A
        b = [97 * x * (1.0 if i % 2 else 1.05) for i, x in
             enumerate(self.SPEED)]
        _, lo, hi = benchstats.paired_ratio_ci(b, a)
        rlo, rhi = benchstats.ratio_ci(b, a)
        self.assertLess(hi - lo, rhi - rlo)
        self.assertLessEqual(lo, 0.97 * 1.05)
        self.assertGreaterEqual(hi, 0.97)

    def test_unpaired_input_is_an_error(self):
        with self.assertRaises(ValueError):
            benchstats.paired_ratio_ci([1, 2], [1])
        with self.assertRaises(ValueError):
            benchstats.paired_ratio_ci([], [])


class Decide(unittest.TestCase):
    def test_higher_is_better(self):
        self.assertEqual(benchstats.decide(0.92, 0.95, 0.90), "met")
        self.assertEqual(benchstats.decide(0.80, 0.89, 0.90), "missed")
        self.assertEqual(benchstats.decide(0.88, 0.93, 0.90), "not decided")

    def test_lower_is_better(self):
        self.assertEqual(benchstats.decide(0.99, 1.01, 1.02, False), "met")
        self.assertEqual(benchstats.decide(1.03, 1.05, 1.02, False),
                         "missed")
        self.assertEqual(benchstats.decide(1.00, 1.04, 1.02, False),
                         "not decided")


if __name__ == "__main__":
    unittest.main()
