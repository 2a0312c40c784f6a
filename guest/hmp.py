#!/usr/bin/env python3
"""Run HMP commands on a QEMU monitor listening on a unix socket.

usage: guest/hmp.py SOCKET COMMAND...

Prints what each command printed (without the echo of the command and
the prompt), in order.  "quit" is sent last if given and waits for QEMU to
close the socket.  Exit status 0, or 1 if the monitor could not be reached
within 10 s.  run-demo.sh uses it to show `info virt-iommu` at the end of
the demo; nothing but the Python standard library is needed.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import re
import socket
import sys
import time

PROMPT = b"(qemu) "
# HMP's readline redraws the line with terminal escapes even on a socket.
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\r")


def read_until_prompt(sock, deadline):
    buf = b""
    while not buf.endswith(PROMPT):
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    path, commands = sys.argv[1], sys.argv[2:]
    deadline = time.monotonic() + 10
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            sock.connect(path)
            break
        except OSError as err:
            if time.monotonic() > deadline:
                print(f"hmp.py: cannot reach {path}: {err}", file=sys.stderr)
                return 1
            time.sleep(0.1)
    try:
        read_until_prompt(sock, deadline)       # the banner
        for cmd in commands:
            sock.sendall(cmd.encode() + b"\n")
            if cmd == "quit":
                sock.settimeout(10)
                while sock.recv(65536):
                    pass
                break
            out = read_until_prompt(sock, time.monotonic() + 10)
            text = ESCAPES.sub("", out.decode(errors="replace"))
            lines = text.split("\n")
            # First line: the echo of the command; last: the next prompt.
            if lines and lines[0].strip().endswith(cmd):
                lines = lines[1:]
            if lines and lines[-1].startswith("(qemu)"):
                lines = lines[:-1]
            sys.stdout.write("".join(line + "\n" for line in lines))
    except OSError as err:
        print(f"hmp.py: {err}", file=sys.stderr)
        return 1
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
