#!/usr/bin/env bash
# Installs what virt-iommu needs to build QEMU 10.0, its tests and the demo
# guest, on Debian 12 (bookworm) or 13 (trixie).  Idempotent: with
# everything present it only checks and returns.  Run as root (or with sudo
# available).
set -euo pipefail

packages=(
    # QEMU 10.0 build
    build-essential ninja-build pkg-config python3 python3-venv
    libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev libslirp-dev
    flex bison dpkg-dev xz-utils patch
    # firmware for q35 (Debian's QEMU source tarball carries none)
    seabios ipxe-qemu qemu-system-data
    # allocator tests and benchmarks
    libgtest-dev libgmock-dev libbenchmark-dev
    # make bench: the report's plots
    gnuplot-nox
    # make fuzz: clang with libFuzzer and the sanitizer runtimes
    clang libclang-rt-dev
    # demo guest: static busybox, initramfs, kernel .deb extraction
    busybox-static cpio
    # Linux guest kernel (guest/linux/): objtool needs libelf, kernel/time
    # bc; ccache makes its rebuild in a fresh clone cheap
    libelf-dev bc ccache
)
# meson >= 1.5 and pycotap (QEMU's test harness); from backports on bookworm
newer_packages=(meson python3-pycotap)

sources_file=/etc/apt/sources.list.d/virt-iommu.sources
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

say() { echo "install-deps: $*"; }

. /etc/os-release 2>/dev/null || true
case "${ID:-}:${VERSION_CODENAME:-}" in
debian:bookworm) backports=bookworm-backports ;;
debian:trixie) backports= ;;
*)
    cat >&2 <<EOF
install-deps: this script knows Debian 12 (bookworm) and 13 (trixie); this
is ${PRETTY_NAME:-an unknown system}.  Install by hand:
  - a C/C++ toolchain (gcc/g++ 12+), ninja, pkg-config, meson >= 1.5,
    python3 with venv, flex, bison, patch, xz
  - development files of glib-2.0, libfdt, pixman, zlib, libslirp
  - firmware: SeaBIOS (bios-256k.bin), iPXE option ROMs, QEMU's
    linuxboot_dma.bin/kvmvapic.bin (./configure links them from Debian's
    paths; adapt it to yours)
  - GoogleTest, GoogleMock, Google Benchmark
  - a static busybox and cpio, and a Linux x86_64 kernel image for the demo
  - the QEMU 10.0.x source (pass it with ./configure --qemu-source=...)
EOF
    exit 1
    ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "run me as root" >&2; exit 1; }
    exec sudo "$0" "$@"
fi

# trixie's deb-src gives QEMU 10.0.x to `apt-get source qemu`; on bookworm,
# backports gives meson >= 1.5 and pycotap.  Source entries never change
# which binary packages get installed.
want_sources=$(
    if [ -n "$backports" ]; then
        printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: %s\n\n' \
            "$backports" "$keyring"
    fi
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: %s\n' \
        "$keyring"
)
need_update=no
if [ "$(cat "$sources_file" 2>/dev/null)" != "$want_sources" ]; then
    printf '%s\n' "$want_sources" > "$sources_file"
    need_update=yes
fi
# apt-get source needs the source index even when nothing is missing.
compgen -G '/var/lib/apt/lists/*trixie_main_source_Sources*' >/dev/null ||
    need_update=yes

installed() {
    dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed
}
meson_ok() {
    command -v meson >/dev/null &&
        dpkg --compare-versions "$(meson --version)" ge 1.5
}
missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
missing_newer=()
for p in "${newer_packages[@]}"; do
    installed "$p" || missing_newer+=("$p")
done
meson_ok || missing_newer+=(meson)

all_missing=("${missing[@]}" "${missing_newer[@]}")
if [ ${#all_missing[@]} -eq 0 ] && [ "$need_update" = no ]; then
    say "everything is installed"
    exit 0
fi
say "installing: ${all_missing[*]:-(nothing; refreshing package lists)}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#missing_newer[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends \
        ${backports:+-t "$backports"} "${missing_newer[@]}" >/dev/null
fi
meson_ok || { say "meson >= 1.5 is still missing" >&2; exit 1; }
say "done"
