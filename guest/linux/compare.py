#!/usr/bin/env python3
"""Hold the Linux guest's view of virt-iommu against the device's own.

usage: guest/linux/compare.py CONSOLE_LOG HMP_LOG

CONSOLE_LOG is the guest's serial console (guest/linux/init prints its
groups, the driver's debugfs accounting and dmesg between markers);
HMP_LOG is the device's 'info virt-iommu' taken while the guest held after
its verdict.  Prints both views side by side and every mismatch; exit
status 0 only if the guest passed its own checks and nothing mismatched:

  - the guest's verdict is PASS and its kernel log has no WARNING, BUG,
    Oops, call trace or error line of the driver;
  - every endpoint in an IOMMU group is attached, on the device, to a domain
    of its group's type, and the device has no other endpoint attached;
  - the device has as many domains of each type as the guest has groups of
    that type, and the driver counts the same (no leaked domain);
  - the driver's mappings and mapped bytes equal the device's;
  - no fault, strict-check record, command error or dropped event; the
    device wrote exactly the records the driver read.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import re
import sys

# sysfs group type -> device domain type
TYPES = {"DMA": "DMA", "DMA-FQ": "DMA_FQ", "identity": "IDENTITY",
         "blocked": "BLOCKED"}
BAD_KERNEL = re.compile(r"WARNING:|BUG:|Oops|Call Trace|kernel BUG|"
                        r"virt-iommu.*(command|fault|stuck|strict|SYNC|"
                        r"freeing domain|split)")


def section(text, name):
    m = re.search(r"linux-iommu: ---- %s ----\n(.*?)linux-iommu: ---- end %s"
                  % (name, name), text, re.S)
    return m.group(1) if m else None


def bdf(s):
    """Normalise 0000:00:07.0 and 00:07.0 to 00:07.0."""
    return s[-7:]


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    console = open(sys.argv[1], errors="replace").read().replace("\r", "")
    try:
        hmp = open(sys.argv[2], errors="replace").read()
    except OSError:
        hmp = ""
    problems = []

    verdict = re.search(r"VIRT-IOMMU-LINUX: (PASS|FAIL)[^\n]*", console)
    if not verdict:
        print("compare: no verdict from the guest")
        return 1
    print("guest:", verdict.group(0))
    if verdict.group(1) != "PASS":
        problems.append("the guest's own checks failed: " +
                        "; ".join(re.findall(r"linux-iommu: FAIL: (.*)",
                                             console)))

    view = section(console, "guest view")
    dmesg = section(console, "dmesg")
    if view is None or dmesg is None:
        problems.append("the guest printed no view or no dmesg")
        view, dmesg = view or "", dmesg or ""
    for line in dmesg.splitlines():
        if BAD_KERNEL.search(line):
            problems.append("kernel log: " + line.strip())

    groups = {}      # endpoint -> (group, device domain type)
    group_types = {}  # group -> device domain type
    for m in re.finditer(r"^group (\d+) (\S+) (\S+)$", view, re.M):
        gtype = TYPES.get(m.group(2), m.group(2))
        groups[bdf(m.group(3))] = (m.group(1), gtype)
        group_types[m.group(1)] = gtype
    stats = {m.group(1): int(m.group(2))
             for m in re.finditer(r"^stat (\S+) (\d+)$", view, re.M)}

    if not hmp.startswith("virt-iommu "):
        problems.append("no 'info virt-iommu' from the monitor")
    dev_domains = {}  # id -> (type, endpoints, mappings, bytes)
    for m in re.finditer(r"^  domain (\d+) (\S+): (\d+) endpoints([^\n]*)\n"
                         r"    (\d+) mappings \((\d+) bytes\)", hmp, re.M):
        dev_domains[m.group(1)] = (m.group(2), m.group(4).split(),
                                   int(m.group(5)), int(m.group(6)))
    m = re.search(r"; (\d+) records, (\d+) dropped", hmp)
    dev_events, dev_dropped = (int(m.group(1)), int(m.group(2))) if m \
        else (None, None)
    m = re.search(r"iotlb: \d+ entries, \d+ hits, \d+ misses, (\d+) "
                  r"invalidated", hmp)
    dev_invalidated = int(m.group(1)) if m else None

    # Endpoints: the same attachments on both sides
    dev_attached = {}
    for did, (dtype, eps, _, _) in dev_domains.items():
        for ep in eps:
            dev_attached[ep] = (did, dtype)
    for ep, (grp, gtype) in sorted(groups.items()):
        if ep not in dev_attached:
            problems.append("%s (group %s, %s) is not attached on the device"
                            % (ep, grp, gtype))
        elif dev_attached[ep][1] != gtype:
            problems.append("%s: group %s is %s, the device's domain %s is %s"
                            % (ep, grp, gtype, *dev_attached[ep]))
    for ep in sorted(set(dev_attached) - set(groups)):
        problems.append("%s is attached on the device but in no guest group"
                        % ep)

    # Domains: one default domain per group, nothing else
    print("%-10s %8s %8s %8s" % ("domains", "groups", "driver", "device"))
    for dtype in ("BLOCKED", "IDENTITY", "DMA", "DMA_FQ"):
        n_groups = sum(1 for t in group_types.values() if t == dtype)
        n_driver = stats.get("domains_" + dtype.lower(), -1)
        n_device = sum(1 for d in dev_domains.values() if d[0] == dtype)
        print("%-10s %8d %8d %8d" % (dtype, n_groups, n_driver, n_device))
        if not n_groups == n_driver == n_device:
            problems.append("%s domains: %d groups, driver %d, device %d"
                            % (dtype, n_groups, n_driver, n_device))

    rows = [
        ("endpoints", stats.get("endpoints"), len(dev_attached)),
        ("mappings", stats.get("mappings"),
         sum(d[2] for d in dev_domains.values())),
        ("mapped bytes", stats.get("mapped_bytes"),
         sum(d[3] for d in dev_domains.values())),
        ("event records", (stats.get("faults", 0) +
                           stats.get("endpoints_gone", 0) +
                           stats.get("strict_events", 0)), dev_events),
    ]
    print("%-14s %12s %12s" % ("", "driver", "device"))
    for name, drv, dev in rows:
        print("%-14s %12s %12s" % (name, drv, dev))
        if drv is None or dev is None or drv != dev:
            problems.append("%s: driver %s, device %s" % (name, drv, dev))
    print("driver: %s commands, %s invalidations, %s type changes, "
          "%s endpoints gone; device: %s IOTLB entries invalidated"
          % (stats.get("commands"), stats.get("invalidations"),
             stats.get("type_changes"), stats.get("endpoints_gone"),
             dev_invalidated))

    for name in ("faults", "strict_events", "command_errors",
                 "event_overflows"):
        if stats.get(name, -1) != 0:
            problems.append("driver %s: %s" % (name, stats.get(name)))
    if dev_dropped != 0:
        problems.append("device dropped %s event records" % dev_dropped)
    if not stats.get("invalidations"):
        problems.append("the driver never invalidated the IOTLB")
    if not stats.get("mappings"):
        problems.append("nothing is mapped at the end (the NVMe queues "
                        "should be)")

    for p in problems:
        print("compare: MISMATCH: " + p)
    if problems:
        return 1
    print("compare: the guest's and the device's views agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
