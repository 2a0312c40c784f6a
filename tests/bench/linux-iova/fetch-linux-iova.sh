#!/bin/bash
# Extract Linux's IOVA allocator and red-black tree, unmodified, from the
# Debian linux-source package the guest kernel is built from:
#
# usage: tests/bench/linux-iova/fetch-linux-iova.sh OUTDIR
#
# Writes OUTDIR/{iova.c,rbtree.c,iova.h,rbtree.h,rbtree_augmented.h,
# rbtree_types.h} (drivers/iommu/iova.c, lib/rbtree.c, include/linux/...) and
# OUTDIR/VERSION (the package file they came from).  The package is the one
# guest/linux/build-kernel.sh uses (LINUX_SOURCE_PKG, default
# linux-source-6.12), fetched by guest/fetch-deb.sh into
# ${VIRT_IOMMU_CACHE:-~/.cache/virt-iommu}/linux and never installed.  These
# files are GPL-2.0 and stay in the build directory: never commit them.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUTDIR=${1:?usage: $0 OUTDIR}
PKG=${LINUX_SOURCE_PKG:-linux-source-6.12}
CACHE=${VIRT_IOMMU_CACHE:-$HOME/.cache/virt-iommu}/linux

die() { echo "fetch-linux-iova: error: $*" >&2; exit 1; }

. "$ROOT/guest/fetch-deb.sh"
DEB=$(fetch_deb "$PKG" "$CACHE")

# linux-source-X.Y holds /usr/src/linux-source-X.Y.tar.xz, whose top
# directory is linux-source-X.Y.
TOP=$PKG
TARBALL=./usr/src/$TOP.tar.xz
FILES=(drivers/iommu/iova.c lib/rbtree.c include/linux/iova.h
       include/linux/rbtree.h include/linux/rbtree_augmented.h
       include/linux/rbtree_types.h)

TMP=$(mktemp -d "${OUTDIR%/}.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "fetch-linux-iova: extracting ${FILES[*]} from $(basename "$DEB")" >&2
dpkg-deb --fsys-tarfile "$DEB" | tar -xO "$TARBALL" |
    tar -xJ -C "$TMP" "${FILES[@]/#/$TOP/}" ||
    die "could not extract ${FILES[*]} from $TARBALL in $DEB"
mkdir -p "$OUTDIR"
# tar keeps the tarball's dates; the build tool wants outputs newer
# than this script.
for f in "${FILES[@]}"; do
    touch "$TMP/$TOP/$f"
    mv "$TMP/$TOP/$f" "$OUTDIR/"
done
basename "$DEB" >"$OUTDIR/VERSION"
