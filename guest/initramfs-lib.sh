# Shell functions shared by the scripts that build a guest's initramfs
# (guest/build-initramfs.sh, guest/linux/run-linux-iommu.sh,
# scripts/guest_io.py).  Source it.
#
# SPDX-License-Identifier: GPL-2.0-or-later

# busybox_stage STAGE BUSYBOX: a fresh STAGE directory with the usual mount
# points and BUSYBOX (static) as /bin/busybox with a link per applet.
busybox_stage() {
    local stage=$1 busybox=$2 applet
    rm -rf "$stage"
    mkdir -p "$stage"/{bin,dev,proc,sys,tmp}
    cp "$busybox" "$stage/bin/busybox" || return 1
    for applet in $("$busybox" --list); do
        [ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
    done
    ln -s bin "$stage/sbin"
}

# pack_stage STAGE OUT: STAGE as a gzipped newc cpio at OUT, replaced only
# when complete.  Sorted names, owner root and no device numbers: the same
# inputs give the same archive.
pack_stage() {
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) |
        gzip -n -9 >"$2.tmp" && mv "$2.tmp" "$2"
}
