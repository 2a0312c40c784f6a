#!/bin/bash
# Boot the virt-iommu demo guest and report whether its check passed
#
# usage: guest/run-demo.sh [--shell] [--no-iommu] [--] [QEMU ARG...]
#
# Brings the guest up to date (guest/build-initramfs.sh, a no-op when nothing
# changed), boots it on q35 under TCG with -device virt-iommu, streams the
# serial console to the terminal and to OUTDIR/demo.log, and ends with one
# verdict line.  Arguments after the options go to QEMU unchanged, e.g.
#   guest/run-demo.sh -trace 'virt_iommu_*'
#
#   --shell      boot into an interactive busybox shell instead of the check
#                (no timeout, no log; Ctrl-A x quits QEMU)
#   --no-iommu   leave out -device virt-iommu: the check must then fail
#
# Environment:
#   QEMU      qemu-system-x86_64 (default <repo>/build/qemu/qemu-system-x86_64)
#   OUTDIR    guest build directory (default <repo>/build/guest)
#   TIMEOUT   seconds before QEMU is killed (default 120)
#   APPEND    extra kernel command line arguments
#   KVM=1     use KVM instead of TCG (/dev/kvm may exist and not work)
#   NO_IOMMU=1  same as --no-iommu
#
# Exit status: 0 if the guest's check passed, 1 if it failed, 124 if the
# guest timed out, 2 if the demo could not be started, 130 on ^C.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$GUEST_DIR")

QEMU=${QEMU:-$ROOT/build/qemu/qemu-system-x86_64}
OUTDIR=${OUTDIR:-$ROOT/build/guest}
TIMEOUT=${TIMEOUT:-120}
APPEND=${APPEND:-}

say() { echo "run-demo: $*"; }
die() { echo "run-demo: error: $*" >&2; exit 2; }

usage() {
    sed -n '4,/^# SPDX/{/^# SPDX/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

mode=check
iommu=(-device virt-iommu)
[ "${NO_IOMMU:-0}" = 1 ] && iommu=()
while [ $# -gt 0 ]; do
    case "$1" in
    --shell) mode=shell ;;
    --no-iommu) iommu=() ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) break ;;
    esac
    shift
done

[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] ||
    die "TIMEOUT must be a number of seconds, not '$TIMEOUT'"
[ -x "$QEMU" ] ||
    die "no QEMU binary at $QEMU: build it first, or set QEMU=/path/to/it"

"$GUEST_DIR/build-initramfs.sh" "$OUTDIR" || die "building the guest failed"

# The uncompressed kernel boots about 3.5 s faster under TCG (PVH entry, no
# xz decompression in the guest); build-initramfs.sh makes it when it can.
kernel=$OUTDIR/vmlinux
[ -f "$kernel" ] || kernel=$OUTDIR/vmlinuz

accel=tcg
[ "${KVM:-0}" = 1 ] && accel=kvm

# Debian's firmware packages (seabios, qemu-system-data, ipxe-qemu); QEMU
# still searches its own data directories after these.
firmware=()
for dir in /usr/share/seabios /usr/share/qemu /usr/lib/ipxe/qemu; do
    [ -d "$dir" ] && firmware+=(-L "$dir")
done

# -nodefaults matters for time: the default VGA's option ROM alone takes
# about 30 s under TCG.
args=(
    -machine q35 -accel "$accel" -m 512M
    -nodefaults -display none -no-reboot
    "${firmware[@]}"
    -kernel "$kernel" -initrd "$OUTDIR/initramfs.cpio.gz"
    -append "console=ttyS0 panic=-1 quiet hugepages=4 virt_iommu_demo=$mode $APPEND"
    "${iommu[@]}"
    -device dma-testdev,addr=06.0
    "$@"
)

if [ "$mode" = shell ]; then
    say "interactive shell; 'exit' powers the guest off, Ctrl-A x quits QEMU"
    exec "$QEMU" -serial mon:stdio "${args[@]}"
fi

# The check never reads the terminal: stdin from /dev/null keeps QEMU from
# switching the terminal to raw mode and leaving it so if it gets killed.
# ^C reaches QEMU (timeout --foreground keeps it in our process group), tee
# keeps copying until QEMU is gone, and the verdict says what happened.
log=$OUTDIR/demo.log
interrupted=
trap 'interrupted=1' INT
start=$(date +%s%N)
timeout --foreground -k 5 "$TIMEOUT" "$QEMU" -serial stdio "${args[@]}" \
    </dev/null 2>&1 | tee -i "$log"
status=${PIPESTATUS[0]}
trap - INT
secs=$(( ($(date +%s%N) - start) / 1000000 ))
secs=$(printf '%d.%d' $((secs / 1000)) $((secs % 1000 / 100)))
if [ -n "$interrupted" ]; then
    say "interrupted after $secs s (log: $log)"
    exit 130
fi

# The console has CRLF line ends, and kernel messages may share a line with
# ours, so look for the strings anywhere.
summary=$(tr -d '\r' <"$log" |
          grep -a -o 'virt-iommu-probe: [0-9]* passed, [0-9]* failed' |
          tail -n 1)
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    say "FAIL: timed out after $TIMEOUT s (log: $log)"
    exit 124
elif grep -a -q 'VIRT-IOMMU-DEMO: PASS' "$log" &&
     [[ "$summary" == *", 0 failed" ]] && [ "$status" -eq 0 ]; then
    say "PASS ($summary) in $secs s"
    exit 0
elif grep -a -q 'VIRT-IOMMU-DEMO: PASS' "$log" && [ "$status" -ne 0 ]; then
    say "FAIL: the guest passed but QEMU exited with status $status," \
        "after $secs s (log: $log)"
elif grep -a -q 'VIRT-IOMMU-DEMO: ' "$log"; then
    say "FAIL: ${summary:-the guest check failed} after $secs s (log: $log)"
else
    say "FAIL: no verdict from the guest; QEMU exited with status $status" \
        "after $secs s (log: $log)"
fi
exit 1
