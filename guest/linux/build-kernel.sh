#!/bin/bash
# Build the Linux guest kernel with the virt-iommu driver: OUTDIR/vmlinux
#
# usage: guest/linux/build-kernel.sh [OUTDIR]      (default: <repo>/build/linux)
#
# The source is Debian's linux-source-6.12 package (Debian's patches already
# applied), its newest version that apt offers (bookworm-security's, not
# backports' older one), fetched with `apt-get download` into
# ${VIRT_IOMMU_CACHE:-~/.cache/virt-iommu}/linux and never installed.  Its
# tarball is unpacked into OUTDIR/src and checked for the code this project
# exists to debug: iova.c's flexible depot (iova_depot_pop(), v6.7) and the
# kmemleak fix in it (kmemleak_transient_leak(), v6.13 and 6.12.103); the
# driver (guest/linux/drivers/) is copied in and guest/linux/patches/*.patch
# applied (one of them makes the fix a boot-time switch); the configuration is
# `make tinyconfig` with guest/linux/config.fragment merged over it (every
# line of the fragment is checked to have taken); the build goes to
# OUTDIR/obj with kbuild's own incremental rebuild.
#
# OUTDIR/.stamp holds a hash of every input (the package's name and size,
# the fragment, the patches, the driver, this script): with nothing changed
# a re-run checks that and returns in well under a second.  A new package or
# changed patches unpack the tree again; tar keeps the files' times, so
# kbuild still rebuilds only what the change touched.
#
# Environment:
#   LINUX_SOURCE_PKG  Debian source package (default linux-source-6.12)
#   VIRT_IOMMU_CACHE  cache directory (default ~/.cache/virt-iommu)
#   JOBS              parallel jobs (default: the number of CPUs)
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

LINUX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LINUX_DIR/../.." && pwd)
SELF="$LINUX_DIR/$(basename "${BASH_SOURCE[0]}")"

OUTDIR=${1:-$ROOT/build/linux}
PKG=${LINUX_SOURCE_PKG:-linux-source-6.12}
CACHE=${VIRT_IOMMU_CACHE:-$HOME/.cache/virt-iommu}/linux
JOBS=${JOBS:-$(nproc)}
FRAGMENT=$LINUX_DIR/config.fragment

# ccache (scripts/install-deps.sh) makes a rebuild in a fresh clone, as
# CI's, cheap; paths under OUTDIR are hashed relative to it.
KMAKE=(make -s)
if command -v ccache >/dev/null; then
    KMAKE+=(CC="ccache gcc")
fi

log() { echo "build-kernel: $*"; }
die() { echo "build-kernel: error: $*" >&2; exit 1; }

mkdir -p "$OUTDIR" "$CACHE"
OUTDIR=$(cd "$OUTDIR" && pwd)
export CCACHE_BASEDIR=$OUTDIR
SRC=$OUTDIR/src
OBJ=$OUTDIR/obj

exec 9>"$OUTDIR/.lock"
flock 9

# --- the source package --------------------------------------------------

. "$ROOT/guest/fetch-deb.sh"
DEB=$(fetch_deb "$PKG" "$CACHE")

PATCHES=("$LINUX_DIR"/patches/*.patch)
DRIVER_FILES=("$LINUX_DIR"/drivers/iommu/*)

# Every input of the build, hashed: the key of the stamp.
inputs_hash() {
    {
        echo "$(basename "$DEB") $(stat -c %s "$DEB")"
        sha256sum "$FRAGMENT" "${PATCHES[@]}" "${DRIVER_FILES[@]}" "$SELF" |
            sed "s| $LINUX_DIR/| |"
    } | sha256sum | cut -d' ' -f1
}

KEY=$(inputs_hash)
if [ -f "$OBJ/vmlinux" ] && [ "$(cat "$OUTDIR/.stamp" 2>/dev/null)" = "$KEY" ]; then
    log "up to date: $OUTDIR/vmlinux"
    exit 0
fi
rm -f "$OUTDIR/.stamp"

# --- the source tree ------------------------------------------------------

# The guest must run the depot code of the iova_magazine kmemleak report
# (docs/devel/seed-iova-magazine.rst); patches/0002 switches the fix.
check_iova() {
    local depot=no fix=no

    grep -q '^static struct iova_magazine \*iova_depot_pop(' "$1" && depot=yes
    grep -q 'kmemleak_transient_leak(mag->next);' "$1" && fix=yes
    log "$(basename "$DEB"): iova.c flexible depot (iova_depot_pop): $depot," \
        "kmemleak fix (kmemleak_transient_leak): $fix"
    [ $depot = yes ] ||
        die "this tree's iova.c has no iova_depot_pop(): the depot is the" \
            "fixed array of Linux < 6.7; use linux-source-6.12 or newer"
    [ $fix = yes ] ||
        die "this tree's iova_depot_pop() lacks kmemleak_transient_leak()" \
            "(Linux 6.12.103+ or 6.13+ has it; backports' 6.12.95 does not)"
}

# The tree is unpacked again when the package or the patches change;
# .tree names what it was made from.
tree_key=$({ basename "$DEB"; cat "${PATCHES[@]}"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$SRC/.tree" 2>/dev/null)" != "$tree_key" ]; then
    log "unpacking $(basename "$DEB") into $SRC"
    rm -rf "$SRC" "$SRC.tmp"
    mkdir -p "$SRC.tmp"
    # The .deb holds usr/src/linux-source-6.12.tar.xz: stream it straight
    # into tar.  Times are kept, so an old object tree stays valid.
    dpkg-deb --fsys-tarfile "$DEB" |
        tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
        tar -xJ -C "$SRC.tmp" --strip-components=1
    [ -f "$SRC.tmp/Makefile" ] || die "$DEB held no kernel source tarball"
    check_iova "$SRC.tmp/drivers/iommu/iova.c"
    for p in "${PATCHES[@]}"; do
        log "applying $(basename "$p")"
        patch -s -d "$SRC.tmp" -p1 --no-backup-if-mismatch <"$p" ||
            die "$(basename "$p") does not apply to $(basename "$DEB")"
    done
    echo "$tree_key" >"$SRC.tmp/.tree"
    mv "$SRC.tmp" "$SRC"
fi

# The driver's files: copied only when they differ, so that kbuild sees
# unchanged ones as unchanged.
for f in "${DRIVER_FILES[@]}"; do
    dst=$SRC/drivers/iommu/$(basename "$f")
    cmp -s "$f" "$dst" || cp "$f" "$dst"
done

# --- configuration ----------------------------------------------------------

frag_key=$(cat "$FRAGMENT" "$SRC/.tree" | sha256sum | cut -d' ' -f1)
if [ ! -f "$OBJ/.config" ] ||
   [ "$(cat "$OBJ/.fragment" 2>/dev/null)" != "$frag_key" ]; then
    log "configuring: tinyconfig + $(basename "$FRAGMENT")"
    mkdir -p "$OBJ"
    "${KMAKE[@]}" -C "$SRC" O="$OBJ" tinyconfig >/dev/null
    # Its notes on every overridden value go to a log, not the terminal
    "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" \
        "$FRAGMENT" >"$OBJ/merge_config.log" 2>&1 ||
        die "merge_config.sh failed (see $OBJ/merge_config.log)"
    "${KMAKE[@]}" -C "$SRC" O="$OBJ" olddefconfig >>"$OBJ/merge_config.log" 2>&1 ||
        die "make olddefconfig failed (see $OBJ/merge_config.log)"
    # A symbol whose dependencies are missing is silently dropped: say so.
    missing=
    while read -r line; do
        case "$line" in
        CONFIG_*=*)
            grep -qxF "$line" "$OBJ/.config" || missing+=" $line" ;;
        "# CONFIG_"*" is not set")
            sym=${line#\# }
            sym=${sym%% *}
            grep -q "^$sym=" "$OBJ/.config" && missing+=" $sym=n" ;;
        esac
    done <"$FRAGMENT"
    [ -z "$missing" ] ||
        die "the configuration did not take:$missing (see $OBJ/.config)"
    echo "$frag_key" >"$OBJ/.fragment"
fi

# --- build ------------------------------------------------------------------

log "building vmlinux in $OBJ (-j$JOBS)"
start=$SECONDS
"${KMAKE[@]}" -C "$SRC" O="$OBJ" -j"$JOBS" vmlinux
ln -sf obj/vmlinux "$OUTDIR/vmlinux"
echo "$KEY" >"$OUTDIR/.stamp"
log "built $OUTDIR/vmlinux in $((SECONDS - start)) s"
