"""Unit tests of scripts/guest_io.py (make check-scripts): what a boot's
console log must hold for its figures to count, and the figures.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_io  # noqa: E402

# The lines io-bench and its init print, with kernel noise between them
RESULTS = {phase: (1000 + i, 4096 * (1000 + i), 3_000_000_000 + i)
           for i, phase in enumerate(guest_io.PHASES)}


def console(domain="DMA-FQ", exit_status=0, drop=None, only=None):
    lines = ["[    1.234] nvme nvme0: 2/0/0 default/read/poll queues",
             f"io-bench: domain {domain}"]
    for phase, (ops, nbytes, ns) in RESULTS.items():
        if phase != drop and (only is None or phase in only):
            lines.append(f"io-bench: result {phase} {ops} {nbytes} {ns}")
    lines += ["io-bench: verified 67108864 of 67108864",
              f"io-bench: exit {exit_status}",
              "[    9.876] reboot: Power down"]
    return "\n".join(lines) + "\n"


class ParseLog(unittest.TestCase):
    def test_every_phase_is_read(self):
        self.assertEqual(guest_io.parse_log(console(), "virt-dma-fq", "x"),
                         RESULTS)

    def test_no_iommu_reports_none(self):
        self.assertEqual(guest_io.parse_log(console("none"), "none", "x"),
                         RESULTS)

    def test_other_domain_type_fails(self):
        # iommu.strict=0 ignored: the measurement would be of DMA
        with self.assertRaisesRegex(RuntimeError, "got domain type DMA,"):
            guest_io.parse_log(console("DMA"), "virt-dma-fq", "x")

    def test_failed_check_fails(self):
        with self.assertRaisesRegex(RuntimeError, "exit 1"):
            guest_io.parse_log(console(exit_status=1), "virt-dma", "x")

    def test_missing_phase_fails(self):
        with self.assertRaisesRegex(RuntimeError, "io-bench failed"):
            guest_io.parse_log(console("DMA", drop="rand-read-4k-qd32"),
                               "virt-dma", "x")

    def test_chosen_phases_are_read(self):
        qd32 = ["rand-read-4k-qd32", "rand-write-4k-qd32"]
        self.assertEqual(guest_io.parse_log(console("DMA", only=qd32),
                                            "virt-dma", "x", qd32),
                         {p: RESULTS[p] for p in qd32})

    def test_phases_not_chosen_fail(self):
        # io_bench_phases= not honoured: the boot ran every phase
        with self.assertRaisesRegex(RuntimeError, "io-bench failed"):
            guest_io.parse_log(console(), "virt-dma", "x",
                               ["rand-read-4k-qd32"])

    def test_killed_boot_fails(self):
        log = console().split("io-bench: result")[0]
        with self.assertRaisesRegex(RuntimeError, "no check, exit None"):
            guest_io.parse_log(log, "virt-dma-fq", "x")


class Figures(unittest.TestCase):
    def test_mb_per_s_and_iops(self):
        # 1 MB in 1 ms is 1000 MB/s; 500 requests in 0.25 s are 2000 IOPS
        self.assertAlmostEqual(
            guest_io.figure("seq-read-128k", (8, 1_000_000, 1_000_000)),
            1000.0)
        self.assertAlmostEqual(
            guest_io.figure("rand-read-4k-qd1", (500, 2_048_000,
                                                 250_000_000)), 2000.0)

    def test_targets_compare_with_no_iommu(self):
        # DMA-FQ at 95% of no IOMMU in every run meets the 90% target
        runs = 5
        none = [{p: (100, 100 * 4096, 10**9) for p in guest_io.PHASES}
                for _ in range(runs)]
        fq = [{p: (95, 95 * 4096, 10**9) for p in guest_io.PHASES}
              for _ in range(runs)]
        out = guest_io.targets({"none": none, "virt-dma-fq": fq})
        self.assertEqual(len(out), len(guest_io.PHASES))
        for name, m, lo, hi, goal in out:
            self.assertIn(">= 90% of no IOMMU", name)
            self.assertAlmostEqual(m, 0.95)
            self.assertEqual((lo, hi), (m, m))
            self.assertEqual(goal, 0.90)


if __name__ == "__main__":
    unittest.main()
