#!/bin/bash
# Build the virt-iommu demo guest: OUTDIR/vmlinu{x,z}, OUTDIR/initramfs.cpio.gz
#
# usage: guest/build-initramfs.sh [OUTDIR]      (default: <repo>/build/guest)
#
# The kernel is Debian's, from the versioned package that linux-image-amd64
# depends on (e.g. linux-image-6.1.0-56-amd64).  It is fetched with
# `apt-get download` (guest/fetch-deb.sh) into
# ${VIRT_IOMMU_CACHE:-~/.cache/virt-iommu}/guest and
# unpacked with `dpkg-deb -x` into OUTDIR/kernel, never installed on the host;
# the unpacked tree stays there because its modules (pci-pf-stub.ko for
# SR-IOV) are meant to go into the initramfs.  OUTDIR/vmlinuz is its bzImage,
# OUTDIR/vmlinux the same kernel uncompressed (faster to boot under TCG).
# The initramfs holds the static busybox from busybox-static with its applets
# linked, guest/rootfs/ (/init and friends), the static virt-iommu-probe
# built from guest/tool/, and the kernel's pci-pf-stub.ko as
# /lib/modules/pci-pf-stub.ko (decompressed if the package ships it
# compressed: busybox's insmod and the tool load it uncompressed).
#
# Each step runs only when its inputs are newer than its output, so a re-run
# with nothing changed does nothing.
#
# Environment:
#   KERNEL_PKG        kernel package to use instead of the one apt resolves
#   VIRT_IOMMU_CACHE  cache directory (default ~/.cache/virt-iommu)
#   BUSYBOX           static busybox binary (default /bin/busybox)
#   CC, CFLAGS        compiler and flags for the guest tool
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$GUEST_DIR")
SELF="$GUEST_DIR/$(basename "${BASH_SOURCE[0]}")"

OUTDIR=${1:-$ROOT/build/guest}
CACHE=${VIRT_IOMMU_CACHE:-$HOME/.cache/virt-iommu}/guest
BUSYBOX=${BUSYBOX:-/bin/busybox}
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--O2 -Wall -Wextra}
APT_LISTS=/var/lib/apt/lists

log() { echo "build-initramfs: $*"; }
die() { echo "build-initramfs: error: $*" >&2; exit 1; }

# stale TARGET DEP...: true if TARGET is missing or any DEP is newer.
# A DEP that is a directory is searched: any file or directory in it that is
# newer counts (a directory's mtime also catches removed files).
stale() {
    local target=$1 dep
    shift
    [ -e "$target" ] || return 0
    for dep; do
        if [ -d "$dep" ]; then
            [ -n "$(find "$dep" -newer "$target" -print -quit)" ] && return 0
        elif [ "$dep" -nt "$target" ]; then
            return 0
        fi
    done
    return 1
}

mkdir -p "$OUTDIR" "$CACHE"
OUTDIR=$(cd "$OUTDIR" && pwd)

# Two builds into one OUTDIR (e.g. parallel make targets) take turns.
exec 9>"$OUTDIR/.lock"
flock 9

# --- the kernel package ----------------------------------------------------

# Resolving through apt-cache costs about a second (Debian containers keep no
# package cache), so the answer is remembered until apt's lists change.
resolve_kernel_pkg() {
    local memo="$CACHE/kernel-package" pkg

    if [ -n "${KERNEL_PKG:-}" ]; then
        echo "$KERNEL_PKG"
        return
    fi
    if [ -s "$memo" ] && ! stale "$memo" "$APT_LISTS"; then
        cat "$memo"
        return
    fi
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' |
          head -n 1) || true
    if [ -z "$pkg" ]; then
        die "cannot tell which kernel package linux-image-amd64 depends on:" \
            "'apt-cache depends linux-image-amd64' named none" \
            "(run 'apt-get update', or set KERNEL_PKG=linux-image-...-amd64)"
    fi
    echo "$pkg" >"$memo"
    echo "$pkg"
}

KPKG=$(resolve_kernel_pkg)

. "$GUEST_DIR/fetch-deb.sh"
. "$GUEST_DIR/initramfs-lib.sh"
DEB=$(fetch_deb "$KPKG" "$CACHE")

# OUTDIR/kernel is the package's tree; .deb names the package it came from.
KDIR=$OUTDIR/kernel
KSTAMP=$KDIR/.deb
if stale "$KSTAMP" "$DEB" ||
   [ "$(cat "$KSTAMP")" != "$(basename "$DEB")" ]; then
    log "unpacking $(basename "$DEB") into $KDIR"
    rm -rf "$KDIR"
    mkdir -p "$KDIR"
    dpkg-deb -x "$DEB" "$KDIR"
    basename "$DEB" >"$KSTAMP"
fi

vmlinuz=("$KDIR"/boot/vmlinuz-*)
VMLINUZ=${vmlinuz[0]}
[ -f "$VMLINUZ" ] || die "$DEB holds no boot/vmlinuz-*"
KREL=${VMLINUZ##*/vmlinuz-}
if stale "$OUTDIR/vmlinuz" "$KSTAMP" ||
   stale "$OUTDIR/kernel-release" "$KSTAMP"; then
    cp "$VMLINUZ" "$OUTDIR/vmlinuz"
    echo "$KREL" >"$OUTDIR/kernel-release"
fi

# Under TCG the bzImage's own xz decompressor takes about 3.5 s, half of the
# demo's run time.  Debian's kernels are built with CONFIG_PVH, so QEMU can
# instead start the uncompressed ELF vmlinux at its PVH entry point (with its
# pvh.bin option ROM); the host's xz unpacks it in under a second, once per
# kernel package.  The payload is found as scripts/extract-vmlinux finds it:
# try each xz magic in the bzImage until one decompresses to an ELF file.
extract_vmlinux() {
    local bzimage=$1 out=$2 off

    while read -r off; do
        if xz -dc --single-stream <(tail -c +$((off + 1)) "$bzimage") \
                >"$out.tmp" 2>/dev/null &&
           [ "$(od -An -tx1 -N4 "$out.tmp" | tr -d ' ')" = 7f454c46 ]; then
            mv "$out.tmp" "$out"
            return 0
        fi
    done < <(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bzimage" | cut -d: -f1)
    rm -f "$out.tmp"
    return 1
}

VMLINUX=$OUTDIR/vmlinux
if stale "$VMLINUX" "$KSTAMP"; then
    rm -f "$VMLINUX"
    if grep -q '^CONFIG_PVH=y' "$KDIR/boot/config-$KREL" &&
       extract_vmlinux "$OUTDIR/vmlinuz" "$VMLINUX"; then
        log "unpacked $VMLINUX for PVH boot"
    else
        log "note: $KREL has no PVH entry or no xz payload;" \
            "the demo boots the slower bzImage"
    fi
fi

# --- the guest tool ----------------------------------------------------------

TOOL=$OUTDIR/tool/virt-iommu-probe
REGS_H=$ROOT/include/hw/iommu/virt-iommu-regs.h
TESTDEV_H=$ROOT/include/hw/iommu/dma-testdev-regs.h
if stale "$TOOL" "$GUEST_DIR/tool" "$REGS_H" "$TESTDEV_H" "$SELF"; then
    log "compiling $TOOL"
    mkdir -p "$OUTDIR/tool"
    # shellcheck disable=SC2086  # CFLAGS is a list of words
    $CC -static $CFLAGS -I"$ROOT/include" -o "$TOOL.tmp" "$GUEST_DIR"/tool/*.c
    mv "$TOOL.tmp" "$TOOL"
fi

# --- the initramfs -----------------------------------------------------------

# A dynamically linked busybox (package "busybox") would find no libc in the
# guest and the kernel would panic with a confusing message; say it here.
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found: install busybox-static"
if readelf -l "$BUSYBOX" | grep -q 'program interpreter'; then
    die "$BUSYBOX is dynamically linked: install busybox-static or set BUSYBOX"
fi

# pci-pf-stub: the SR-IOV enabler for a PF without a driver of its own.
# Debian 12 ships modules uncompressed; later kernels may use .ko.xz or
# .ko.zst, which busybox's insmod cannot read, so unpack it here.
PF_STUB=$OUTDIR/pci-pf-stub.ko
stub_src=
for ext in "" .xz .zst .gz; do
    f=$KDIR/lib/modules/$KREL/kernel/drivers/pci/pci-pf-stub.ko$ext
    if [ -f "$f" ]; then
        stub_src=$f
        break
    fi
done
[ -n "$stub_src" ] ||
    die "$KPKG has no drivers/pci/pci-pf-stub.ko (needs CONFIG_PCI_PF_STUB=m)"
if stale "$PF_STUB" "$stub_src"; then
    case "$stub_src" in
    *.xz) xz -dc "$stub_src" >"$PF_STUB.tmp" ;;
    *.zst) zstd -qdc "$stub_src" >"$PF_STUB.tmp" ;;
    *.gz) gzip -dc "$stub_src" >"$PF_STUB.tmp" ;;
    *) cp "$stub_src" "$PF_STUB.tmp" ;;
    esac
    mv "$PF_STUB.tmp" "$PF_STUB"
fi

INITRAMFS=$OUTDIR/initramfs.cpio.gz
if stale "$INITRAMFS" "$TOOL" "$PF_STUB" "$GUEST_DIR/rootfs" "$BUSYBOX" \
        "$SELF" "$GUEST_DIR/initramfs-lib.sh"; then
    log "packing $INITRAMFS"
    stage=$OUTDIR/initramfs
    busybox_stage "$stage" "$BUSYBOX" || die "cannot stage $stage"
    mkdir -p "$stage/root" "$stage/lib/modules"
    cp -R "$GUEST_DIR"/rootfs/. "$stage"/
    cp "$TOOL" "$stage/bin/virt-iommu-probe"
    cp "$PF_STUB" "$stage/lib/modules/pci-pf-stub.ko"
    pack_stage "$stage" "$INITRAMFS" || die "packing $INITRAMFS failed"
fi

log "up to date: $OUTDIR/vmlinu{x,z} ($KREL), $INITRAMFS" \
    "($(( $(stat -c %s "$INITRAMFS") / 1024 )) KiB)"
