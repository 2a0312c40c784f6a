"""Unit tests of scripts/guest_profile.py (make check-scripts): which guest
kernel function a perf sample in TCG's translated code is charged to.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import collections
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_profile  # noqa: E402

NM = ["ffffffff81000000 T _stext",
      "ffffffff81001000 t viommu_map_pages",
      "ffffffff81001200 d some_data",
      "ffffffff81001400 T __kmalloc_noprof",
      "ffffffff81002000 W kmemleak_alloc"]


class Attribute(unittest.TestCase):
    def setUp(self):
        self.symbols = guest_profile.Symbols(NM)

    def test_address_goes_to_the_function_below_it(self):
        self.assertEqual(self.symbols.function(0xffffffff81001004),
                         "viommu_map_pages")
        # data symbols are not functions: still viommu_map_pages
        self.assertEqual(self.symbols.function(0xffffffff81001300),
                         "viommu_map_pages")
        self.assertEqual(self.symbols.function(0xffffffff81001400),
                         "__kmalloc_noprof")

    def test_samples_split_kernel_user_and_other(self):
        lines = ["ffffffff82 guest-0xffffffff81001008",
                 "7f00 guest-0xffffffff81001010+0x4",
                 "7f01 guest-0x401d68",
                 "55aa helper_lookup_tb_ptr",
                 "ffffffff83 [unknown]",
                 "",
                 "7f02 guest-0xffffffff81002004"]
        functions, user, other = guest_profile.attribute(lines, self.symbols)
        self.assertEqual(functions, {"viommu_map_pages": 2,
                                     "kmemleak_alloc": 1})
        self.assertEqual((user, other), (1, 2))

    def test_groups(self):
        self.assertEqual(guest_profile.group_of("kmemleak_alloc"),
                         "kmemleak and its stack traces")
        self.assertEqual(guest_profile.group_of("viommu_map_pages"),
                         "IOMMU driver")
        self.assertEqual(guest_profile.group_of("__kmalloc_noprof"), "slab")
        self.assertEqual(guest_profile.group_of("iommu_dma_map_page"),
                         "IOMMU core, dma-iommu, iova")
        self.assertEqual(guest_profile.group_of("schedule"),
                         "other guest kernel")

    def test_report_per_request(self):
        functions = collections.Counter({"viommu_map_pages": 300,
                                         "schedule": 700})
        lines = guest_profile.report("virt-dma-fq", functions, 100, 1000,
                                     requests=1000, frequency=1000, top=5)
        text = "\n".join(lines)
        # 1000 samples at 1 kHz over 1000 requests: 1 ms each
        self.assertIn("guest kernel 1000.0 us", text)
        self.assertIn("| IOMMU driver | 300.00 | 30.0% |", text)
        self.assertIn("| schedule | 700.00 |", text)


class PhaseList(unittest.TestCase):
    def test_known_phases_pass(self):
        self.assertEqual(
            guest_profile.phase_list("rand-read-4k-qd32,rand-write-4k-qd32"),
            ["rand-read-4k-qd32", "rand-write-4k-qd32"])

    def test_unknown_phase_is_refused(self):
        with self.assertRaisesRegex(Exception, "not a phase: qd32"):
            guest_profile.phase_list("rand-read-4k-qd32,qd32")


if __name__ == "__main__":
    unittest.main()
