#!/usr/bin/env python3
"""Arm virt-iommu fault injections when the guest asks for them.

usage: guest/qmp-inject.py SOCKET CONSOLE_LOG RESULT_LOG MARKER

Follows the guest's serial console in CONSOLE_LOG while QEMU runs and,
for each request line the guest prints,

  linux-iommu: inject SEQ KIND COUNT [ARG [ARG]]

(KIND status COUNT OPCODE STATUS, sync-delay COUNT NS, drop-events COUNT
or refuse-attach COUNT STATUS: the x-inject syntax of
docs/system/virt-iommu-debugging.rst), connects to the QMP monitor on the
unix socket SOCKET, sends x-virt-iommu-inject for the device whose id is
viommu, and disconnects again: QEMU serves one QMP client at a time, and
the verdict's watcher (guest/run-until-verdict.sh) connects once the
guest has printed MARKER followed by PASS or FAIL, after every request.
The guest cannot see the arming itself; it runs traffic until the
injection's counter moves, and fails its check if it never does.

Each request gets one line in RESULT_LOG, "armed SEQ ..." or "FAILED SEQ
...: why".  Stops at the verdict (or when killed).  Exit status 0 if
every request was armed, 1 if one could not be (the run must fail then).

The client is QEMU's own QMP library, through guest/qemu_qmp.py as in
guest/qmp-view.py (build/qemu-src/python; QEMU_PYTHON overrides).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import re
import sys
import time

from qemu_qmp import ConnectError, QMPError, connect

# Anywhere in a line: the kernel may print into the middle of the guest's
REQUEST = re.compile(r"linux-iommu: inject (\d+) (status|sync-delay|"
                     r"drop-events|refuse-attach) (\d+)((?: [\w-]+){0,2})"
                     r"\s*$")
DEVICE = "viommu"


def arguments(kind, count, rest):
    """x-virt-iommu-inject's arguments for one request, or ValueError."""
    args = {"device": DEVICE, "kind": kind, "count": int(count)}
    want = {"status": ["opcode", "status"], "sync-delay": ["delay-ns"],
            "drop-events": [], "refuse-attach": ["status"]}[kind]
    if len(rest) != len(want):
        raise ValueError("%s takes %d arguments after the count, not %d"
                         % (kind, len(want), len(rest)))
    for name, value in zip(want, rest):
        args[name] = int(value) if name == "delay-ns" else value
    return args


def arm(path, args):
    """Sends one x-virt-iommu-inject; None, or what went wrong."""
    try:
        qmp = connect(path, time.monotonic() + 10)
    except (ConnectError, OSError) as err:
        return "cannot reach %s: %s" % (path, err)
    try:
        qmp.settimeout(10)
        qmp.cmd("x-virt-iommu-inject", **args)
        return None
    except (QMPError, OSError, TimeoutError) as err:
        return str(err)
    finally:
        qmp.close()


def main():
    if len(sys.argv) != 5:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    path, console, result, marker = sys.argv[1:]
    verdict = re.compile(re.escape(marker) + r" (PASS|FAIL)")
    seen, failed = set(), 0
    with open(result, "w", encoding="utf-8") as out:
        pos, partial = 0, ""
        while True:
            try:
                with open(console, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except OSError:
                data = b""
            pos += len(data)
            lines = (partial + data.decode("utf-8", "replace")).split("\n")
            partial = lines.pop()
            done = False
            for line in lines:
                line = line.replace("\r", "")
                if verdict.search(line):
                    done = True
                m = REQUEST.search(line)
                if not m or m.group(1) in seen:
                    continue
                seen.add(m.group(1))
                desc = " ".join(m.group(2, 3)) + m.group(4)
                try:
                    why = arm(path, arguments(m.group(2), m.group(3),
                                              m.group(4).split()))
                except ValueError as err:
                    why = str(err)
                if why is None:
                    print("armed %s %s" % (m.group(1), desc), file=out)
                else:
                    failed += 1
                    print("FAILED %s %s: %s" % (m.group(1), desc, why),
                          file=out)
                out.flush()
            if done:
                break
            time.sleep(0.1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
