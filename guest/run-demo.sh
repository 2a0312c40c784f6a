#!/bin/bash
# Boot the virt-iommu demo guest and report whether its check passed
#
# usage: guest/run-demo.sh [--shell] [--no-iommu] [--] [QEMU ARG...]
#
# Brings the guest up to date (guest/build-initramfs.sh, a no-op when nothing
# changed), boots it on q35 under TCG with -device virt-iommu and
# -device dma-testdev,addr=06.0 (PF at 00:06.0, VFs at 06.1-06.7), streams
# the serial console to the terminal and to OUTDIR/demo.log, then shows the
# device's own view (taken over QMP: query-virt-iommu in
# OUTDIR/virt-iommu.json, which the verdict checks, and HMP's 'info
# virt-iommu' text in OUTDIR/virt-iommu.txt) and ends with one verdict
# line.  Arguments after the options go to QEMU
# unchanged, e.g.
#   guest/run-demo.sh -trace 'virt_iommu_*'
#
#   --shell      boot into an interactive busybox shell instead of the check
#                (no timeout, no log; Ctrl-A x quits QEMU)
#   --no-iommu   leave out -device virt-iommu: the check must then fail
#
# Environment:
#   QEMU      qemu-system-x86_64 (default <repo>/build/qemu/qemu-system-x86_64)
#   OUTDIR    guest build directory (default <repo>/build/guest)
#   TIMEOUT   seconds before QEMU is killed (default 60)
#   APPEND    extra kernel command line arguments
#   KVM=1     use KVM instead of TCG (/dev/kvm may exist and not work)
#   NO_IOMMU=1  same as --no-iommu
#   GUEST_ARGS  arguments for the guest's virt-iommu-probe, e.g. '-c 5 -n 4'
#             (5 SR-IOV cycles, at most 4 VFs each; '-h' lists them all)
#   TRACE     QEMU trace event pattern, e.g. 'virt_iommu_*' or 'dma_testdev_*';
#             the events go to OUTDIR/trace.log (with --shell: the terminal)
#   HOLD      seconds the guest waits after its verdict for the monitor
#             query (default 30; the script quits QEMU as soon as it is done)
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
TIMEOUT=${TIMEOUT:-60}
APPEND=${APPEND:-}
GUEST_ARGS=${GUEST_ARGS:-}
TRACE=${TRACE:-}
HOLD=${HOLD:-30}

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
[[ "$HOLD" =~ ^[0-9]+$ ]] ||
    die "HOLD must be a number of seconds, not '$HOLD'"
# The kernel command line splits at spaces: the guest's /init turns the
# commas back into spaces.
[[ "$GUEST_ARGS" != *,* ]] || die "GUEST_ARGS cannot contain commas"
# shellcheck disable=SC2086  # word splitting squeezes the spaces
guest_args=$(echo $GUEST_ARGS | tr ' ' ,)
# Only the check holds for the monitor query; the shell has its own monitor.
hold=
[ "$mode" = check ] && [ "$HOLD" -gt 0 ] && hold=$HOLD
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
    -append "console=ttyS0 panic=-1 quiet hugepages=4 virt_iommu_demo=$mode ${guest_args:+virt_iommu_args=$guest_args }${hold:+virt_iommu_hold=$hold }$APPEND"
    "${iommu[@]}"
    -device "dma-testdev,addr=06.0"
)
if [ -n "$TRACE" ] && [ "$mode" = shell ]; then
    args+=(-trace "enable=$TRACE")
elif [ -n "$TRACE" ]; then
    # A file of their own, so that they never split the console's lines.
    rm -f "$OUTDIR/trace.log"
    args+=(-trace "enable=$TRACE,file=$OUTDIR/trace.log")
fi
args+=("$@")

if [ "$mode" = shell ]; then
    say "interactive shell; 'exit' powers the guest off, Ctrl-A x quits QEMU"
    exec "$QEMU" -serial mon:stdio "${args[@]}"
fi

# The device's own view at the end: the guest holds after its verdict
# (virt_iommu_hold) until run_until_verdict has taken it; if that fails,
# the guest powers off by itself after HOLD seconds.
. "$GUEST_DIR/run-until-verdict.sh"
run_until_verdict demo.log VIRT-IOMMU-DEMO:
secs=$elapsed_ms
secs=$(printf '%d.%d' $((secs / 1000)) $((secs % 1000 / 100)))
if [ -n "$interrupted" ]; then
    say "interrupted after $secs s (log: $log)"
    exit 130
fi

if [ -n "$TRACE" ]; then
    say "trace events: $(wc -l <"$OUTDIR/trace.log" 2>/dev/null || echo 0)" \
        "lines in $OUTDIR/trace.log"
fi

if [ -s "$view_text" ]; then
    echo
    say "the device's view at the end ('info virt-iommu', $view_text):"
    cat "$view_text"
fi
# The device's view as numbers, from query-virt-iommu's JSON: event
# records written, domains, attached endpoints (empty if there is none)
device_view=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))[0]
print(d["events"], len(d["domains"]),
      sum(len(x["endpoints"]) for x in d["domains"]))
' "$view_json" 2>/dev/null)

# The console has CRLF line ends, and kernel messages may share a line with
# ours, so look for the strings anywhere.
clean=$(tr -d '\r' <"$log")
summary=$(grep -a -o 'virt-iommu-probe: [0-9]* passed, [0-9]* failed' \
          <<<"$clean" | tail -n 1)

# What the guest's report must say beyond "0 failed": every byte moved was
# verified, no fault came unprovoked, and (for the full scenario, without
# GUEST_ARGS) data moved at all and the allocator is back to baseline.
report_problem() {
    local totals moved verified unexpected

    totals=$(grep -a -o 'totals: .*' <<<"$clean" | tail -n 1)
    [ -n "$totals" ] || { echo "no totals line in the guest's report"; return; }
    moved=$(sed -n 's/.* \([0-9]*\) bytes moved by DMA.*/\1/p' <<<"$totals")
    verified=$(sed -n 's/.*DMA, \([0-9]*\) verified.*/\1/p' <<<"$totals")
    unexpected=$(sed -n 's/.* \([0-9]*\) unexpected.*/\1/p' <<<"$totals")
    if [ -z "$moved" ] || [ "$moved" != "$verified" ]; then
        echo "bytes moved ($moved) and verified ($verified) differ"
    elif [ "$unexpected" != 0 ]; then
        echo "$unexpected unexpected faults"
    elif [ -z "$GUEST_ARGS" ] && [ "$moved" -eq 0 ]; then
        echo "no DMA in the guest's report"
    elif [ -z "$GUEST_ARGS" ] &&
         ! grep -a -q '^allocator: .*; back to baseline$' <<<"$clean"; then
        echo "the allocator is not back to baseline"
    elif [ -z "$device_view" ]; then
        echo "no query-virt-iommu result from the monitor" \
            "(see $OUTDIR/qmp-view.log)"
    elif [ -z "$GUEST_ARGS" ]; then
        # The device's view must agree with the guest's: as many event
        # records written as the guest read, and nothing left behind.
        local guest_events dev_events dev_domains dev_endpoints
        guest_events=$(sed -n 's/^virt-iommu: [0-9]* commands, \([0-9]*\) event records read$/\1/p' <<<"$clean" | tail -n 1)
        read -r dev_events dev_domains dev_endpoints <<<"$device_view"
        if [ -z "$guest_events" ] || [ "$guest_events" != "$dev_events" ]; then
            echo "the guest read ${guest_events:-no} event records," \
                "the device says it wrote $dev_events"
        elif [ "$dev_domains" != 0 ] || [ "$dev_endpoints" != 0 ]; then
            echo "the device still has $dev_domains domains and" \
                "$dev_endpoints attached endpoints"
        fi
    fi
}

if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    say "FAIL: timed out after $TIMEOUT s (log: $log)"
    exit 124
elif grep -a -q 'VIRT-IOMMU-DEMO: PASS' <<<"$clean" &&
     [[ "$summary" == *", 0 failed" ]] && [ "$status" -eq 0 ]; then
    problem=$(report_problem)
    if [ -n "$problem" ]; then
        say "FAIL: $problem, after $secs s (log: $log)"
        exit 1
    fi
    say "PASS ($summary; $(grep -a -o 'totals: .*' <<<"$clean" |
        tail -n 1 | sed 's/^totals: //')) in $secs s"
    exit 0
elif grep -a -q 'VIRT-IOMMU-DEMO: PASS' <<<"$clean" && [ "$status" -ne 0 ]; then
    say "FAIL: the guest passed but QEMU exited with status $status," \
        "after $secs s (log: $log)"
elif grep -a -q 'VIRT-IOMMU-DEMO: ' <<<"$clean"; then
    say "FAIL: ${summary:-the guest check failed} after $secs s (log: $log)"
else
    say "FAIL: no verdict from the guest; QEMU exited with status $status" \
        "after $secs s (log: $log)"
fi
exit 1
