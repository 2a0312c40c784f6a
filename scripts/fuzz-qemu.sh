#!/usr/bin/env bash
# QEMU's generic-fuzz target (libFuzzer) on virt-iommu and dma-testdev.
#
#   scripts/fuzz-qemu.sh SECONDS       fuzz for SECONDS (make fuzz-qemu)
#   scripts/fuzz-qemu.sh --regions     list the fuzzed memory regions
#   scripts/fuzz-qemu.sh --replay F..  run inputs once (a crash reproduces)
#   scripts/fuzz-qemu.sh --trace F     the qtest commands input F sends, for
#                                      QEMU's scripts/oss-fuzz/output_reproducer.py
#
# QEMU_FUZZ_BUILD (default build/qemu-fuzz) holds qemu-fuzz-x86_64, built
# by `make fuzz-qemu`.  The seeds come from scripts/fuzz-seeds.py.
# FUZZ_RUN_NAME (default qemu) names the run: its corpus, log and crash
# files go to build/fuzz/NAME/.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QEMU_FUZZ_BUILD:-$top/build/qemu-fuzz}
bin=$build/qemu-fuzz-x86_64
seeds=$top/build/fuzz/qemu-seeds

# The machine: q35 with the IOMMU at 04.0 and dma-testdev at 06.0, as the
# qtests have them, but with 3 VFs rather than 7: every function is an
# address space that each memory transaction rebuilds, and the rebuilds
# dominate the time per input (3 VFs: ~75 inputs/s, 7: ~55 on 2 cores).
# generic-fuzz adds -machine accel=qtest and maps every BAR of the
# matched PCI devices before each input.
QEMU_FUZZ_ARGS="-M q35 -m 256M -smp 2 -nodefaults"
QEMU_FUZZ_ARGS+=" -device virt-iommu,addr=04.0 -device dma-testdev,addr=06.0,total-vfs=3"
export QEMU_FUZZ_ARGS
# What the fuzzer may touch: MMIO of the MCH (whose config space enables
# the ECAM window), the ECAM window itself (the SR-IOV capability is in
# extended config space, beyond the 256 bytes of port 0xcf8), virt-iommu,
# dma-testdev and the VFs' register blocks; config space (first 256
# bytes) of the MCH, virt-iommu and the PF.  DMA reads of guest memory
# (command rings, descriptors, buffers) are filled by the fuzzer.
export QEMU_FUZZ_OBJECTS="mch pcie-mmcfg-mmio* virt-iommu dma-testdev dma-testdev-regs*"
# A double fetch (the device reading the same guest memory twice in one
# MMIO write) cannot be replayed faithfully; generic-fuzz avoids it.
export QEMU_AVOID_DOUBLE_FETCH=1

[ -x "$bin" ] || { echo "fuzz-qemu: $bin is not built (make fuzz-qemu)" >&2; exit 1; }
mkdir -p "$seeds"
python3 "$top/scripts/fuzz-seeds.py" "$seeds" || exit 1

case "${1:-}" in
--regions)
    exec "$bin" --fuzz-target=generic-fuzz -runs=0
    ;;
--replay)
    shift
    exec "$bin" --fuzz-target=generic-fuzz "$@"
    ;;
--trace)
    shift
    # generic-fuzz prints each qtest command it sends (and [DMA] fills)
    QTEST_LOG=1 FUZZ_SERIALIZE_QTEST=1 exec "$bin" --fuzz-target=generic-fuzz "$@"
    ;;
''|-*)
    echo "usage: $0 SECONDS | --regions | --replay FILE... | --trace FILE" >&2
    exit 2
    ;;
esac

# A reset between inputs keeps each one independent.  -rss_limit_mb: the
# ASan build of QEMU runs above libFuzzer's 2 GB default.
exec "$top/scripts/fuzz-run.sh" "${FUZZ_RUN_NAME:-qemu}" "$1" "$bin" --fuzz-target=generic-fuzz \
    -rss_limit_mb=4096 -timeout=20 -- "$seeds"
