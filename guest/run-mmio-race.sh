#!/bin/bash
# MMIO stays routed while the memory topology changes: QEMU's TCG, not
# virt-iommu, but every guest this project boots depends on it.
#
# usage: guest/run-mmio-race.sh
#
# Boots the demo guest's kernel (build/guest/vmlinuz, from
# guest/build-initramfs.sh) on 2 vCPUs with virt-iommu and two edu devices,
# and runs guest/mmio-race/mmio-race.c from an initramfs of its own: one
# vCPU reads an edu's constant ID register while the other moves the other
# edu's BAR0 back and forth.  Without patches/0008 a read now and then
# reaches another region, or QEMU aborts in iotlb_to_section()
# (docs/devel/linux-driver.rst, "A second worked case").  Passes when no
# read went astray, QEMU exited cleanly and the BAR moved at least
# MIN_MOVES times.
#
# Environment:
#   QEMU       qemu-system-x86_64 (default <repo>/build/qemu/qemu-system-x86_64)
#   KERNEL     bzImage (default <repo>/build/guest/vmlinuz)
#   OUTDIR     work directory (default <repo>/build/mmio-race)
#   RACE_SECONDS  guest seconds of reading (default 10)
#   MIN_MOVES  fewest BAR moves that count as a run (default 200)
#
# Exit status: 0 pass, 1 fail, 2 could not run.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QEMU=${QEMU:-$ROOT/build/qemu/qemu-system-x86_64}
KERNEL=${KERNEL:-$ROOT/build/guest/vmlinuz}
OUTDIR=${OUTDIR:-$ROOT/build/mmio-race}
RUN_SECONDS=${RACE_SECONDS:-10}
MIN_MOVES=${MIN_MOVES:-200}
BUSYBOX=${BUSYBOX:-/bin/busybox}

say() { echo "run-mmio-race: $*"; }
die() { say "error: $*" >&2; exit 2; }

[ -x "$QEMU" ] || die "no QEMU at $QEMU: run 'make qemu' or set QEMU"
[ -f "$KERNEL" ] || die "no kernel at $KERNEL: run 'make guest' or set KERNEL"
mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"

. "$ROOT/guest/initramfs-lib.sh"
src=$ROOT/guest/mmio-race
initramfs=$OUTDIR/initramfs.cpio.gz
if [ ! -f "$initramfs" ] || [ "$src/mmio-race.c" -nt "$initramfs" ] ||
   [ "$src/init" -nt "$initramfs" ] || [ "$0" -nt "$initramfs" ]; then
    stage=$OUTDIR/stage
    busybox_stage "$stage" "$BUSYBOX" || die "cannot stage $stage"
    ${CC:-gcc} -static -O2 -pthread -Wall -o "$stage/mmio-race" \
        "$src/mmio-race.c" || die "cannot build mmio-race"
    install -m 755 "$src/init" "$stage/init" || die "cannot stage init"
    pack_stage "$stage" "$initramfs" || die "packing $initramfs failed"
fi

firmware=()
for dir in /usr/share/seabios /usr/share/qemu; do
    [ -d "$dir" ] && firmware+=(-L "$dir")
done
log=$OUTDIR/console.log
say "booting $(basename "$KERNEL") with 2 vCPUs, $RUN_SECONDS s of reads"
timeout $((RUN_SECONDS + 120)) "$QEMU" -machine q35 -accel tcg -smp 2 -m 256M \
    -nodefaults -display none -no-reboot -serial stdio "${firmware[@]}" \
    -kernel "$KERNEL" -initrd "$initramfs" \
    -append "console=ttyS0 panic=-1 loglevel=3 mmio_race=00:05.0,00:0a.0,$RUN_SECONDS" \
    -device virt-iommu -device edu,addr=05.0 -device edu,addr=0a.0 \
    </dev/null >"$log" 2>&1
rc=$?
grep -a '^mmio-race' "$log"
result=$(grep -a '^mmio-race: [0-9]* reads' "$log")
if [ $rc -ne 0 ]; then
    tail -5 "$log"
    say "FAIL: QEMU exited with status $rc (see $log)"
    exit 1
fi
read -r reads wrong moves < <(echo "$result" |
    sed -n 's/^mmio-race: \([0-9]*\) reads, \([0-9]*\) wrong.*, \([0-9]*\) BAR moves.*/\1 \2 \3/p')
[ -n "${moves:-}" ] || { tail -5 "$log"; say "FAIL: no result line (see $log)"; exit 1; }
if [ "$wrong" -ne 0 ]; then
    say "FAIL: $wrong of $reads MMIO reads reached another region"
    exit 1
fi
if [ "$moves" -lt "$MIN_MOVES" ]; then
    say "FAIL: only $moves BAR moves (want $MIN_MOVES): the race was not run"
    exit 1
fi
say "PASS: $reads MMIO reads, none astray, across $moves BAR moves"
