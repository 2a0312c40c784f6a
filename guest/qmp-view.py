#!/usr/bin/env python3
"""Take virt-iommu's view of a running QEMU over QMP, then quit QEMU.

usage: guest/qmp-view.py [--no-quit] SOCKET JSON_OUT TEXT_OUT

Connects to the QMP monitor on the unix socket SOCKET (QEMU started with
-qmp unix:SOCKET,server=on,wait=off), waiting up to 10 s for it to
listen; writes query-virt-iommu's result to JSON_OUT (what scripts
compare) and HMP's 'info virt-iommu', taken through human-monitor-command,
to TEXT_OUT (what people read); then sends quit unless --no-quit.  Each
file appears whole or not at all.  Exit status 0, or 1 if the monitor
could not be reached or a command failed.

The client is QEMU's own QMP library, python/qemu/qmp of the QEMU tree
that configure unpacked (build/qemu-src/python; QEMU_PYTHON overrides),
through guest/qemu_qmp.py.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import os
import sys
import time

from qemu_qmp import ConnectError, QMPError, connect


def write_whole(path, text):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    args = sys.argv[1:]
    quit_qemu = True
    if args[:1] == ["--no-quit"]:
        quit_qemu, args = False, args[1:]
    if len(args) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    path, json_out, text_out = args
    try:
        qmp = connect(path, time.monotonic() + 10)
    except (ConnectError, OSError) as err:
        print(f"qmp-view: cannot reach {path}: {err}", file=sys.stderr)
        return 1
    status = 0
    try:
        qmp.settimeout(10)
        view = qmp.cmd("query-virt-iommu")
        write_whole(json_out, json.dumps(view, indent=2, sort_keys=True) +
                    "\n")
        text = qmp.cmd("human-monitor-command",
                       **{"command-line": "info virt-iommu"})
        write_whole(text_out, text.replace("\r\n", "\n"))
    except (QMPError, OSError, TimeoutError) as err:
        print(f"qmp-view: {err}", file=sys.stderr)
        status = 1
    try:
        if quit_qemu:
            qmp.cmd("quit")
    except (QMPError, OSError, TimeoutError) as err:
        print(f"qmp-view: quit: {err}", file=sys.stderr)
        status = 1
    try:
        qmp.close()
    except EOFError:
        # QEMU closed the socket: expected once it took the quit
        if not quit_qemu:
            raise
    return status


if __name__ == "__main__":
    sys.exit(main())
