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


def paired_console(rounds=2, domain="DMA-FQ", reference="none", drop=None):
    """The console of a paired boot: every phase ROUNDS times on each
    controller, the reference's figures twice the tested one's."""
    lines = [f"io-bench: domain {domain}",
             f"io-bench: reference domain {reference}"]
    for r in range(rounds):
        for phase, (ops, nbytes, ns) in RESULTS.items():
            if (r, phase) == drop:
                continue
            lines += [f"io-bench: result {phase} {ops} {nbytes} {ns}",
                      f"io-bench: reference {phase} {2 * ops} "
                      f"{2 * nbytes} {ns}",
                      "io-bench: verified 67108864 of 67108864"]
    lines.append("io-bench: exit 0")
    return "\n".join(lines) + "\n"


class ParsePairedLog(unittest.TestCase):
    def test_every_round_of_both_is_read(self):
        test, ref = guest_io.parse_paired_log(paired_console(3),
                                              "virt-dma-fq", "x", 3)
        self.assertEqual(test, [RESULTS] * 3)
        self.assertEqual(ref, [{p: (2 * o, 2 * b, ns) for p, (o, b, ns)
                                in RESULTS.items()}] * 3)

    def test_translated_reference_fails(self):
        # bypass_iommu not honoured: the reference would pay for the IOMMU
        with self.assertRaisesRegex(RuntimeError, "reference NVMe function "
                                    "got domain type DMA-FQ"):
            guest_io.parse_paired_log(paired_console(reference="DMA-FQ"),
                                      "virt-dma-fq", "x", 2)

    def test_missing_round_fails(self):
        with self.assertRaisesRegex(RuntimeError, "io-bench failed"):
            guest_io.parse_paired_log(
                paired_console(drop=(1, "seq-read-128k")),
                "virt-dma-fq", "x", 2)

    def test_extra_round_fails(self):
        with self.assertRaisesRegex(RuntimeError, "io-bench failed"):
            guest_io.parse_paired_log(paired_console(3), "virt-dma-fq",
                                      "x", 2)

    def test_other_domain_type_fails(self):
        with self.assertRaisesRegex(RuntimeError, "got domain type DMA,"):
            guest_io.parse_paired_log(paired_console(domain="DMA"),
                                      "virt-dma-fq", "x", 2)


class Figures(unittest.TestCase):
    def test_mb_per_s_and_iops(self):
        # 1 MB in 1 ms is 1000 MB/s; 500 requests in 0.25 s are 2000 IOPS
        self.assertAlmostEqual(
            guest_io.figure("seq-read-128k", (8, 1_000_000, 1_000_000)),
            1000.0)
        self.assertAlmostEqual(
            guest_io.figure("rand-read-4k-qd1", (500, 2_048_000,
                                                 250_000_000)), 2000.0)

    @staticmethod
    def samples(ops, n=6):
        return [{p: (ops, ops * 4096, 10**9) for p in guest_io.PHASES}
                for _ in range(n)]

    def test_targets_compare_with_the_reference(self):
        # DMA-FQ at 95% of its own boot's reference in every sample meets
        # the 90% target, however fast the boots ran
        fq = self.samples(95) + self.samples(190)
        ref = self.samples(100) + self.samples(200)
        out = guest_io.targets({"virt-dma-fq": fq}, {"virt-dma-fq": ref})
        self.assertEqual(len(out), len(guest_io.PHASES))
        for name, m, lo, hi, goal in out:
            self.assertIn(">= 90% of no IOMMU", name)
            self.assertAlmostEqual(m, 0.95)
            self.assertAlmostEqual(lo, m)
            self.assertAlmostEqual(hi, m)
            self.assertEqual(goal, 0.90)

    def test_targets_compare_ratios_to_references(self):
        # DMA-FQ at 0.9 of its reference, intel-iommu at 0.6 of a reference
        # that ran twice as fast: DMA-FQ is 1.5x ahead, whatever the
        # absolute figures say
        results = {"virt-dma-fq": self.samples(90),
                   "intel-lazy": self.samples(120)}
        refs = {"virt-dma-fq": self.samples(100),
                "intel-lazy": self.samples(200)}
        out = [t for t in guest_io.targets(results, refs)
               if "intel" in t[0]]
        self.assertEqual(len(out), len(guest_io.PHASES))
        for name, m, lo, hi, goal in out:
            self.assertAlmostEqual(m, 1.5)
            self.assertEqual(goal, 1.0)

    def test_lazy_vs_ring_is_a_ratio_of_ratios(self):
        # lazy at 0.9 of its reference, a doorbell per map at 0.75 of a
        # reference twice as fast: 1.2x, from the ratios, not the figures
        results = {"virt-dma-fq": self.samples(90),
                   "virt-dma-fq-ring": self.samples(150)}
        refs = {"virt-dma-fq": self.samples(100),
                "virt-dma-fq-ring": self.samples(200)}
        out = guest_io.lazy_vs_ring(results, refs)
        self.assertEqual([o[0] for o in out],
                         [label for label, _ in guest_io.PHASES.values()])
        for _, m, lo, hi in out:
            self.assertAlmostEqual(m, 1.2)
            self.assertAlmostEqual(lo, 1.2)
            self.assertAlmostEqual(hi, 1.2)
        del results["virt-dma-fq-ring"]
        self.assertEqual(guest_io.lazy_vs_ring(results, refs), [])


if __name__ == "__main__":
    unittest.main()
