"""QEMU's own Python QMP library, for the scripts in guest/.

Imports python/qemu/qmp from the QEMU tree that configure unpacked
(build/qemu-src/python; QEMU_PYTHON overrides) and gives connect(), the
negotiated connection retried until QEMU listens.  Used by qmp-view.py
and qmp-inject.py.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("QEMU_PYTHON",
                                  os.path.join(ROOT, "build", "qemu-src",
                                               "python")))
# pylint: disable=wrong-import-position,unused-import
from qemu.qmp import ConnectError, QMPError        # noqa: E402,F401
from qemu.qmp.legacy import QEMUMonitorProtocol    # noqa: E402


def connect(path, deadline):
    """The negotiated connection to the QMP socket at path, retried until
    QEMU listens or time.monotonic() passes deadline (then the last
    ConnectError or OSError is raised)."""
    while True:
        qmp = QEMUMonitorProtocol(path)
        try:
            qmp.connect()
            return qmp
        except (ConnectError, OSError):
            qmp.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
