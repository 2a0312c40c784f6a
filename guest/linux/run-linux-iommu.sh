#!/bin/bash
# Boot the Linux guest kernel with the virt-iommu driver and check it
#
# usage: guest/linux/run-linux-iommu.sh [--shell|--seed] [--] [QEMU ARG...]
#
# Packs the guest's initramfs (static busybox + guest/linux/init) into
# OUTDIR, boots KERNEL (guest/linux/build-kernel.sh's vmlinux, PVH entry) on
# q35 under TCG with -device virt-iommu (strict-checks on), dma-testdev as
# an SR-IOV PF at 00:06.0, an NVMe controller on a small raw image, and
# virtio-blk and virtio-net with iommu_platform=on at 00:08.0 and 00:09.0
# (the network's only peer an echo server run by slirp), and lets /init run
# block I/O in every default domain type, virtio block and network I/O in
# DMA and DMA-FQ, VF churn and kmemleak scans.  The guest's figures (bytes
# written and verified per device and domain type) are summed into
# OUTDIR/figures.txt and checked, and so is the virtio-blk image against the
# guest's last read of it.
# When the guest prints its verdict, the device's view is
# taken over QMP (query-virt-iommu, OUTDIR/virt-iommu.json; the 'info
# virt-iommu' text in OUTDIR/virt-iommu.txt) and
# guest/linux/compare.py holds it against the guest's view (groups and
# their types, the driver's accounting, the kernel log).  While the guest
# runs, guest/qmp-inject.py arms the fault injections it asks for on the
# console (x-virt-iommu-inject over the same QMP socket; OUTDIR/inject.log):
# a request that could not be armed fails the run.  The serial
# console goes to the terminal and OUTDIR/console.log, the guest's kernel
# log also to OUTDIR/dmesg.log.  Arguments after the
# options go to QEMU unchanged, e.g. -trace 'virt_iommu_cmd*'.
#
#   --shell   boot into a busybox shell instead (Ctrl-A x quits QEMU)
#   --seed    run the iova_magazine kmemleak scenario (guest/linux/seed)
#             instead of the checks, with one NVMe I/O queue pair; its
#             verdict is the guest's SEED-IOVA-MAGAZINE line (used by
#             guest/linux/seed-iova-magazine.sh)
#
# Environment:
#   QEMU      qemu-system-x86_64 (default <repo>/build/qemu/qemu-system-x86_64)
#   KERNEL    guest kernel (default <repo>/build/linux/vmlinux)
#   OUTDIR    initramfs, disk image and logs (default <repo>/build/guest-linux)
#   TIMEOUT   seconds before QEMU is killed (default 300; a run takes ~1 min)
#   SMP       vCPUs (default 4, CONFIG_NR_CPUS of the guest kernel)
#   CYCLES    SR-IOV enable/disable cycles (default 20)
#   VFS       VFs per cycle (default 7)
#   APPEND    extra kernel command line, e.g. 'dyndbg="file virt-iommu.c +p"'
#   TRACE     QEMU trace event pattern; events go to OUTDIR/trace.log
#   VIRTIO    the virtio devices to put behind virt-iommu: 'blk net'
#             (default), 'blk', 'net' or 'none'
#   BUSYBOX   static busybox (default /bin/busybox)
#
# Exit status: 0 on PASS, 1 on FAIL, 124 on timeout, 2 if it could not start.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -uo pipefail

LINUX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LINUX_DIR/../.." && pwd)

QEMU=${QEMU:-$ROOT/build/qemu/qemu-system-x86_64}
KERNEL=${KERNEL:-$ROOT/build/linux/vmlinux}
OUTDIR=${OUTDIR:-$ROOT/build/guest-linux}
TIMEOUT=${TIMEOUT:-300}
SMP=${SMP:-4}
CYCLES=${CYCLES:-20}
VFS=${VFS:-7}
APPEND=${APPEND:-}
TRACE=${TRACE:-}
VIRTIO=${VIRTIO-blk net}
[ "$VIRTIO" = none ] && VIRTIO=
BUSYBOX=${BUSYBOX:-/bin/busybox}
HOLD=60

say() { echo "run-linux-iommu: $*"; }
die() { echo "run-linux-iommu: error: $*" >&2; exit 2; }
for v in $VIRTIO; do
    case $v in
    blk|net) ;;
    *) die "VIRTIO: '$v' is not blk, net or none" ;;
    esac
done

mode=check
while [ $# -gt 0 ]; do
    case "$1" in
    --shell) mode=shell ;;
    --seed) mode=seed ;;
    -h|--help) sed -n '4,/^# SPDX/{/^# SPDX/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --) shift; break ;;
    *) break ;;
    esac
    shift
done

for v in TIMEOUT CYCLES VFS SMP; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
[ "$VFS" -ge 1 ] && [ "$VFS" -le 7 ] || die "VFS must be 1..7 (dma-testdev's TotalVFs)"
[ -x "$QEMU" ] || die "no QEMU at $QEMU: run 'make qemu' or set QEMU"
[ -f "$KERNEL" ] || die "no kernel at $KERNEL: run 'make guest-kernel' or set KERNEL"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found: install busybox-static"
readelf -l "$BUSYBOX" | grep -q 'program interpreter' &&
    die "$BUSYBOX is dynamically linked: install busybox-static or set BUSYBOX"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# --- initramfs: busybox, our /init and /seed, rebuilt when one changed -----

. "$ROOT/guest/initramfs-lib.sh"
INITRAMFS=$OUTDIR/initramfs.cpio.gz
if [ ! -f "$INITRAMFS" ] || [ "$LINUX_DIR/init" -nt "$INITRAMFS" ] ||
   [ "$LINUX_DIR/seed" -nt "$INITRAMFS" ] ||
   [ "$BUSYBOX" -nt "$INITRAMFS" ] || [ "$0" -nt "$INITRAMFS" ] ||
   [ "$ROOT/guest/initramfs-lib.sh" -nt "$INITRAMFS" ]; then
    stage=$OUTDIR/initramfs
    busybox_stage "$stage" "$BUSYBOX" || die "cannot stage $stage"
    cp "$LINUX_DIR/init" "$stage/init"
    cp "$LINUX_DIR/seed" "$stage/seed"
    chmod 755 "$stage/init" "$stage/seed"
    pack_stage "$stage" "$INITRAMFS" || die "packing $INITRAMFS failed"
    say "packed $INITRAMFS"
fi

# The NVMe disk: 16 MiB of zeroes.  The virtio-blk disk: 16 MiB of random
# data, whose sha256 the guest checks on its first read; its own sha256 at
# the end is checked against the file.  Both fresh for every boot.
DISK=$OUTDIR/nvme.img
VDISK=$OUTDIR/virtio-blk.img
head -c 16M /dev/urandom >"$VDISK.orig" || die "cannot create $VDISK.orig"
vdisk_sha=$(sha256sum <"$VDISK.orig" | cut -d' ' -f1)
fresh_disks() {
    rm -f "$DISK"
    truncate -s 16M "$DISK" || die "cannot create $DISK"
    cp "$VDISK.orig" "$VDISK" || die "cannot create $VDISK"
}

firmware=()
for dir in /usr/share/seabios /usr/share/qemu /usr/lib/ipxe/qemu; do
    [ -d "$dir" ] && firmware+=(-L "$dir")
done

hold=
[ "$mode" != shell ] && hold="linux_iommu_hold=$HOLD "
# virtio-blk and virtio-net, their DMA through the guest's IOMMU layer
# (iommu_platform=on; modern only, as the guest looks for the modern IDs).
# The network's only peer is on this machine: slirp, restricted (no way
# out), forwards TCP to 10.0.2.100:7 to a cat of its own per connection, an
# echo server.  IPv6 off: slirp's router advertisements would otherwise
# reach the guest at any time, also while the two views are taken.  The
# seed scenario counts every IOVA of one NVMe queue and runs without them.
virtio=()
[ "$mode" = seed ] && VIRTIO=
has_virtio() { case " $VIRTIO " in *" $1 "*) return 0 ;; esac; return 1; }
if has_virtio blk; then
    virtio+=(
        -drive "file=$VDISK,if=none,id=vblk,format=raw"
        -device virtio-blk-pci,drive=vblk,addr=08.0,iommu_platform=on,disable-legacy=on
    )
    hold+="linux_iommu_vblk_sha256=$vdisk_sha "
fi
if has_virtio net; then
    "$QEMU" -netdev help | grep -qx user ||
        die "$QEMU has no slirp (-netdev user): configure QEMU with libslirp"
    virtio+=(
        -netdev user,id=vnet,ipv6=off,restrict=on,guestfwd=tcp:10.0.2.100:7-cmd:cat
        -device virtio-net-pci,netdev=vnet,addr=09.0,iommu_platform=on,disable-legacy=on,romfile=
    )
fi
[ "$mode" = shell ] || hold+="linux_iommu_virtio=$(echo ${VIRTIO:-none} | tr ' ' ,) "
nvme=serial=virt-iommu,drive=nvm,addr=07.0
# One I/O queue pair: every completion, so every IOVA free, on one CPU
[ "$mode" = seed ] && nvme+=,max_ioqpairs=1
args=(
    -machine q35 -accel tcg -smp "$SMP" -m 512M
    -nodefaults -display none -no-reboot
    "${firmware[@]}"
    -kernel "$KERNEL" -initrd "$INITRAMFS"
    -append "console=ttyS0 panic=-1 oops=panic loglevel=6 linux_iommu=$mode linux_iommu_cycles=$CYCLES linux_iommu_vfs=$VFS ${hold}$APPEND"
    -device virt-iommu,id=viommu,strict-checks=on
    -device dma-testdev,addr=06.0
    -drive "file=$DISK,if=none,id=nvm,format=raw"
    -device "nvme,$nvme"
    "${virtio[@]}"
)
if [ -n "$TRACE" ]; then
    rm -f "$OUTDIR/trace.log"
    args+=(-trace "enable=$TRACE,file=$OUTDIR/trace.log")
fi
args+=("$@")

if [ "$mode" = shell ]; then
    say "interactive shell; 'poweroff -f' ends it, Ctrl-A x quits QEMU"
    fresh_disks
    exec "$QEMU" -serial mon:stdio "${args[@]}"
fi

. "$ROOT/guest/run-until-verdict.sh"
marker=VIRT-IOMMU-LINUX:
[ "$mode" = seed ] && marker=SEED-IOVA-MAGAZINE:
# The guest's fault injection requests, armed over QMP as they come
[ "$mode" = check ] &&
    sidecar=(python3 "$ROOT/guest/qmp-inject.py" "$OUTDIR/qmp.sock"
             "$OUTDIR/console.log" "$OUTDIR/inject.log" "$marker")
# TCG sometimes loses the LAPIC timer of a halted vCPU: RCU then reports
# that its grace-period kthread's timer never fired and the guest stalls
# until the timeout, every stalled CPU idle in HLT, none spinning on a lock
# (a corrupted lock looks different).  That says nothing about the IOMMU,
# so such a boot is tried once more, on fresh disks.
# Earlier in the boot the same loss leaves the console silent: the kernel
# never starts the init that prints "linux-iommu:" or "seed:" lines, and
# no CPU takes a tick to report an RCU stall or a lockup in the whole
# timeout (a CPU hung in a driver's probe would be reported by the others).
lost_timer() {
    if grep -aq "timer wakeup didn't happen" "$1"; then
        grep -aq pv_native_safe_halt "$1" &&
            ! grep -aq spin_lock_slowpath "$1"
    else
        ! grep -aqE '^(linux-iommu|seed): ' "$1" &&
            ! grep -aqE 'rcu: |watchdog: |BUG|INFO: |Call Trace' "$1"
    fi
}
for attempt in 1 2; do
    rm -f "$OUTDIR/inject.log" "$OUTDIR/console-lost-timer.log"
    fresh_disks
    run_until_verdict console.log "$marker"
    [ "$status" -eq 124 ] && [ $attempt = 1 ] && lost_timer "$log" || break
    cp "$log" "$OUTDIR/console-lost-timer.log"
    say "TCG lost a vCPU's timer (RCU stall, or silent before init; $OUTDIR/console-lost-timer.log); booting again"
done
secs=$((elapsed_ms / 1000))

if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    say "FAIL: timed out after $TIMEOUT s (log: $log)"
    exit 124
fi
# The guest's kernel log on its own, for reading after a failure
tr -d '\r' <"$log" |
    sed -n '/^linux-iommu: ---- dmesg ----$/,/^linux-iommu: ---- end dmesg ----$/p' |
    sed '1d;$d' >"$OUTDIR/dmesg.log"
if [ -s "$view_text" ]; then
    echo
    say "the device's view at the end ($view_text):"
    cat "$view_text"
fi
echo
if [ "$mode" = seed ]; then
    verdict=$(tr -d '\r' <"$log" | grep -a "^$marker" | tail -n 1)
    case "$verdict" in
    "$marker PASS"*) [ "$status" -eq 0 ] && { say "PASS in $secs s"; exit 0; } ;;
    esac
    say "FAIL after $secs s: ${verdict:-no verdict} (QEMU status $status, log: $log)"
    exit 1
fi

# The guest's figures, summed per device and domain type over its rounds:
# every byte written (sent, for virtio-net) must have been verified, and
# each virtio device must have run in a DMA and in a DMA-FQ domain.
figures_ok=1
figure_fail() { say "FAIL: $*"; figures_ok=0; }
tr -d '\r' <"$log" | awk '
    /^linux-iommu: bytes [^ ]+ [^ ]+ [0-9]+ [0-9]+$/ {
        w[$3 " " $4] += $5; v[$3 " " $4] += $6
    }
    END { for (k in w) printf "%s %.0f %.0f\n", k, w[k], v[k] }' |
    sort >"$OUTDIR/figures.txt"
say "bytes written and verified per device and domain type ($OUTDIR/figures.txt):"
printf '  %-11s %-9s %10s %10s\n' device type written verified
while read -r dev type written verified; do
    printf '  %-11s %-9s %10d %10d\n' "$dev" "$type" "$written" "$verified"
    [ "$written" -gt 0 ] && [ "$verified" -eq "$written" ] ||
        figure_fail "$dev in $type: $verified of $written bytes verified"
done <"$OUTDIR/figures.txt"
for dev in $VIRTIO; do
    dev=virtio-$dev
    for type in DMA DMA-FQ; do
        grep -q "^$dev $type " "$OUTDIR/figures.txt" ||
            figure_fail "no $dev figures in a $type domain"
    done
done
# Every injection the guest asked for was armed: the guest only sees that
# its counter moves, and the device's and driver's counts are compared below
requests=$(tr -d '\r' <"$log" |
    sed -n 's/.*linux-iommu: inject \([0-9]*\) .*/\1/p' | sort -u)
if [ -n "$requests" ] || [ -s "$OUTDIR/inject.log" ]; then
    say "fault injections the guest asked for ($OUTDIR/inject.log):"
    sed 's/^/  /' "$OUTDIR/inject.log" 2>/dev/null
    for seq in $requests; do
        grep -q "^armed $seq " "$OUTDIR/inject.log" 2>/dev/null ||
            figure_fail "injection request $seq was not armed"
    done
    [ "$sidecar_status" -eq 1 ] &&
        figure_fail "qmp-inject.py could not arm a request"
fi
# What the guest last read from virtio-blk is what the image file holds
if has_virtio blk; then
    guest_sha=$(tr -d '\r' <"$log" |
        sed -n 's/^linux-iommu: virtio-blk image sha256 \([0-9a-f]\{64\}\)$/\1/p' |
        tail -n 1)
    host_sha=$(sha256sum <"$VDISK" | cut -d' ' -f1)
    if [ "$guest_sha" = "$host_sha" ]; then
        say "ok: $VDISK: sha256 as the guest last read it ($host_sha)"
    else
        figure_fail "$VDISK: sha256 $host_sha, the guest read ${guest_sha:-nothing}"
    fi
fi
echo

if python3 "$LINUX_DIR/compare.py" "$log" "$view_json" && [ $figures_ok = 1 ]; then
    if [ "$status" -ne 0 ]; then
        say "FAIL: QEMU exited with status $status after $secs s (log: $log)"
        exit 1
    fi
    say "PASS in $secs s"
    exit 0
fi
say "FAIL after $secs s (log: $log)"
exit 1
