#!/usr/bin/env python3
"""Hold the Linux guest's view of virt-iommu against the device's own.

usage: guest/linux/compare.py CONSOLE_LOG VIEW_JSON

CONSOLE_LOG is the guest's serial console (guest/linux/init prints its
groups, the driver's debugfs accounting and dmesg between markers);
VIEW_JSON is the device's view, QMP's query-virt-iommu as guest/qmp-view.py
took it (through QEMU's Python QMP library) while the guest held after its
verdict.  Prints both views side by side and every mismatch; exit
status 0 only if the guest passed its own checks and nothing mismatched:

  - the guest's verdict is PASS and its kernel log has no WARNING, BUG,
    Oops, call trace or error line of the driver;
  - every endpoint in an IOMMU group is attached to the same domain ID in
    the driver's listing (debugfs "domains") and on the device, that
    domain's core type is the group's type, and no other endpoint is
    attached;
  - the driver and the device have the same domain IDs, each with the same
    device type, endpoint count, mappings and bytes, as many as there are
    groups, none without an endpoint (no leaked domain); the core's type
    may differ from the device's only as DMA vs DMA_FQ, which the driver
    mirrors lazily;
  - the driver's total mappings and mapped bytes equal the device's;
  - exactly the faults the guest provoked were reported (driver count and
    kernel log), less the records an injection dropped; no strict-check
    record; the device wrote exactly the records the driver read;
  - the fault injections the guest had armed (its "linux-iommu: injected"
    line; none if it printed none) are exactly what fired on the device
    (query-virt-iommu's injected, and QUERY_STATS as the driver read it),
    and their errors are exactly what the driver counted and logged: a
    command error for each injected status and refused ATTACH and no
    other, a timeout and a late completion for each SYNC held beyond the
    driver's timeout, an overflow for each burst of dropped records, and
    no other dropped record.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import re
import sys

# sysfs group type -> device domain type
TYPES = {"DMA": "DMA", "DMA-FQ": "DMA_FQ", "identity": "IDENTITY",
         "blocked": "BLOCKED"}
BAD_KERNEL = re.compile(r"WARNING:|BUG:|Oops|Call Trace|kernel BUG|"
                        r"virt-iommu.*(command|stuck|strict|SYNC|"
                        r"freeing domain|split|overflow|unknown)")
# The driver's report of a fault record; the guest provokes some on purpose
FAULT_LINE = re.compile(r"virt-iommu \S+: fault: endpoint")
# The driver's reports of what fault injections make go wrong: each kind is
# counted against its expected number instead of failing the run as such.
INJECTED_LINES = {
    "command_errors": re.compile(r"virt-iommu \S+: command 0x[0-9a-f]+ "
                                 r"\(domain \d+, endpoint (?:0x)?[0-9a-f]+, "
                                 r"iova (?:0x)?[0-9a-f]+, "
                                 r"size (?:0x)?[0-9a-f]+\): "
                                 r"[A-Z_]+$"),
    "sync_timeouts": re.compile(r"virt-iommu \S+: SYNC \d+ held beyond "
                                r"\d+ ms at \d+: the next command waits "
                                r"for it$"),
    "sync_late": re.compile(r"virt-iommu \S+: SYNC \d+ completed late, the "
                            r"queue is in step$"),
    "event_overflows": re.compile(r"virt-iommu \S+: event queue overflow$"),
}
# The guest's total of what it had armed
INJECTED = re.compile(r"linux-iommu: injected status (\d+) syncs (\d+) drops "
                      r"(\d+) attaches (\d+) sync-timeouts (\d+) overflows "
                      r"(\d+)$", re.M)


def section(text, name):
    m = re.search(r"linux-iommu: ---- %s ----\n(.*?)linux-iommu: ---- end %s"
                  % (name, name), text, re.S)
    return m.group(1) if m else None


def bdf(s):
    """Normalise 0000:00:07.0 and 00:07.0 to 00:07.0."""
    return s[-7:]


def rid_bdf(rid):
    """A requester ID as the guest names the function: 00:07.0."""
    return "%02x:%02x.%x" % (rid >> 8, (rid >> 3) & 0x1f, rid & 7)


def load_view(path):
    """query-virt-iommu's entry for the one device, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            view = json.load(f)
    except (OSError, ValueError):
        return None
    return view[0] if isinstance(view, list) and len(view) == 1 else None


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    console = open(sys.argv[1], errors="replace").read().replace("\r", "")
    dev = load_view(sys.argv[2])
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
    fault_lines = 0
    injected_lines = dict.fromkeys(INJECTED_LINES, 0)
    for line in dmesg.splitlines():
        line = line.strip()
        kind = next((k for k, r in INJECTED_LINES.items() if r.search(line)),
                    None)
        if kind:
            injected_lines[kind] += 1
        elif BAD_KERNEL.search(line):
            problems.append("kernel log: " + line)
        if FAULT_LINE.search(line):
            fault_lines += 1
    m = INJECTED.search(console)
    armed = dict(zip(("status", "syncs", "drops", "attaches",
                      "sync_timeouts", "overflows"),
                     (int(x) for x in m.groups()) if m else (0,) * 6))
    m = re.search(r"linux-iommu: provoked (\d+) faults", console)
    provoked = int(m.group(1)) if m else 0

    groups = {}      # endpoint -> (group, device domain type)
    group_types = {}  # group -> device domain type
    for m in re.finditer(r"^group (\d+) (\S+) (\S+)$", view, re.M):
        gtype = TYPES.get(m.group(2), m.group(2))
        groups[bdf(m.group(3))] = (m.group(1), gtype)
        group_types[m.group(1)] = gtype
    stats = {m.group(1): int(m.group(2))
             for m in re.finditer(r"^stat (\S+) (\d+)$", view, re.M)}

    dev_domains = {}  # id -> (type, endpoints, mappings, bytes)
    dev_events = dev_dropped = dev_invalidated = dev_injected = None
    if dev is None:
        problems.append("no query-virt-iommu result for one device from "
                        "the monitor")
    else:
        for d in dev["domains"]:
            # QAPI's dma-fq is the driver's (and the ABI's) DMA_FQ
            dev_domains[str(d["id"])] = (
                d["type"].upper().replace("-", "_"),
                [rid_bdf(rid) for rid in d["endpoints"]],
                d["mapping-count"], d["mapped-bytes"])
        dev_events, dev_dropped = dev["events"], dev["events-dropped"]
        dev_invalidated = dev["iotlb"]["invalidations"]
        dev_injected = dev["injected"]

    # The driver's own listing: domains (core type, device type) and
    # endpoints with their domain IDs
    drv_domains = {}
    for m in re.finditer(r"^domain (\d+) core (\S+) device (\S+) endpoints "
                         r"(\d+) mappings (\d+) bytes (\d+)$", view, re.M):
        drv_domains[m.group(1)] = (m.group(2), m.group(3), int(m.group(4)),
                                   int(m.group(5)), int(m.group(6)))
    drv_attached = {m.group(1): m.group(2) for m in re.finditer(
        r"^endpoint (\S+) domain (\d+)$", view, re.M)}

    # Endpoints: the kernel's groups, the driver and the device agree on
    # which domain each function is attached to
    dev_attached = {}
    for did, (dtype, eps, _, _) in dev_domains.items():
        for ep in eps:
            dev_attached[ep] = did
    for ep in sorted(set(groups) | set(drv_attached) | set(dev_attached)):
        grp, gtype = groups.get(ep, ("-", None))
        drv, dev = drv_attached.get(ep), dev_attached.get(ep)
        if gtype is None:
            problems.append("%s is attached (driver %s, device %s) but in "
                            "no IOMMU group" % (ep, drv, dev))
        elif drv is None or drv == "0":
            problems.append("%s (group %s) has no domain in the driver"
                            % (ep, grp))
        elif drv != dev:
            problems.append("%s: the driver attached it to domain %s, the "
                            "device has it in %s" % (ep, drv, dev))
        elif drv_domains.get(drv, ("?",))[0] != gtype:
            problems.append("%s: group %s is %s, its domain %s is %s in the "
                            "driver" % (ep, grp, gtype, drv,
                                        drv_domains.get(drv, ("none",))[0]))

    # Domains: the same IDs, types and contents on both sides; each is some
    # group's domain (none leaked)
    lazy = 0
    for did in sorted(set(drv_domains) | set(dev_domains), key=int):
        drv, dev = drv_domains.get(did), dev_domains.get(did)
        if drv is None or dev is None:
            problems.append("domain %s exists only in the %s" %
                            (did, "device" if drv is None else "driver"))
            continue
        core, dtype, eps, maps, nbytes = drv
        if dtype != dev[0]:
            problems.append("domain %s: driver says the device has %s, the "
                            "device says %s" % (did, dtype, dev[0]))
        if core != dtype:
            if {core, dtype} == {"DMA", "DMA_FQ"}:
                lazy += 1   # mirrored at the next operation on the domain
            else:
                problems.append("domain %s: core type %s, device type %s"
                                % (did, core, dtype))
        if (eps, maps, nbytes) != (len(dev[1]), dev[2], dev[3]):
            problems.append("domain %s: driver %d endpoints, %d mappings, "
                            "%d bytes; device %d, %d, %d" %
                            (did, eps, maps, nbytes, *(len(dev[1]),
                                                       dev[2], dev[3])))
        if not eps:
            problems.append("domain %s (%s) has no endpoint: leaked"
                            % (did, core))
    n_groups = len(set(g for g, _ in groups.values()))
    print("%d groups, %d driver domains, %d device domains (%d awaiting "
          "the driver's lazy DMA/DMA_FQ mirror)"
          % (n_groups, len(drv_domains), len(dev_domains), lazy))
    if not n_groups == len(drv_domains) == len(dev_domains):
        problems.append("%d groups but %d driver and %d device domains"
                        % (n_groups, len(drv_domains), len(dev_domains)))

    print("%-10s %8s %8s" % ("domains", "driver", "device"))
    for dtype in ("BLOCKED", "IDENTITY", "DMA", "DMA_FQ"):
        n_driver = stats.get("domains_" + dtype.lower(), -1)
        n_device = sum(1 for d in dev_domains.values() if d[0] == dtype)
        print("%-10s %8d %8d" % (dtype, n_driver, n_device))
        if n_driver != n_device:
            problems.append("%s domains: driver %d, device %d"
                            % (dtype, n_driver, n_device))

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

    # Every fault the guest provoked, and no other, reached the device's
    # event queue, the driver and the kernel log (ratelimiting allows the
    # few of this test), but for the records an injection dropped.
    print("faults: %d provoked, %d records dropped by injection, driver %s, "
          "kernel log %d" % (provoked, armed["drops"], stats.get("faults"),
                             fault_lines))
    if not provoked - armed["drops"] == stats.get("faults") == fault_lines:
        problems.append("faults: %d provoked, %d dropped by injection, "
                        "driver %s, kernel log %d"
                        % (provoked, armed["drops"], stats.get("faults"),
                           fault_lines))
    if stats.get("strict_events", -1) != 0:
        problems.append("driver strict_events: %s"
                        % stats.get("strict_events"))
    if dev_dropped != armed["drops"]:
        problems.append("device dropped %s event records, %d by injection"
                        % (dev_dropped, armed["drops"]))

    # Fault injections: what the guest armed fired on the device, the
    # driver read the same counters, and each error they caused was
    # counted and logged once, as the error it is, and no other error.
    print("%-18s %7s %7s %7s" % ("injected", "armed", "device", "driver"))
    for kind in ("status", "syncs", "drops", "attaches"):
        fired = dev_injected.get(kind) if dev_injected else None
        read = stats.get("device_injected_" + kind)
        print("%-18s %7d %7s %7s" % (kind, armed[kind], fired, read))
        if not armed[kind] == fired == read:
            problems.append("injected %s: the guest armed %d, the device "
                            "counts %s, the driver read %s"
                            % (kind, armed[kind], fired, read))
    expect = {
        "command_errors": armed["status"] + armed["attaches"],
        "sync_timeouts": armed["sync_timeouts"],
        "sync_late": armed["sync_timeouts"],
        "event_overflows": armed["overflows"],
    }
    print("%-18s %7s %7s %7s" % ("driver errors", "expect", "count", "log"))
    for name, want in expect.items():
        print("%-18s %7d %7s %7d" % (name, want, stats.get(name),
                                     injected_lines[name]))
        if not want == stats.get(name) == injected_lines[name]:
            problems.append("driver %s: %d expected from the injections, "
                            "counted %s, logged %d"
                            % (name, want, stats.get(name),
                               injected_lines[name]))
    if not stats.get("invalidations") or not dev_invalidated:
        problems.append("no IOTLB invalidation: driver %s commands, device "
                        "%s entries" % (stats.get("invalidations"),
                                        dev_invalidated))
    # The device's totals as the driver read them (QUERY_STATS) in the
    # guest, against the monitor's, taken a moment later with the guest idle
    for name, dev in (("device_domains", len(dev_domains)),
                      ("device_endpoints", len(dev_attached)),
                      ("device_mappings", sum(d[2] for d in
                                              dev_domains.values()))):
        if stats.get(name) != dev:
            problems.append("QUERY_STATS in the guest: %s %s, monitor %d"
                            % (name, stats.get(name), dev))
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
