# virt-iommu: a thin wrapper over ./configure, QEMU's ninja build, the iova
# Meson project and the guest scripts.  Each target does any missing setup
# step first, so `make run` and `make check` work on a fresh clone.

SHELL := /bin/bash
.DEFAULT_GOAL := all

BUILD := build
QEMU_BUILD := $(BUILD)/qemu
IOVA_BUILD := $(BUILD)/iova
IOVA_ASAN := $(BUILD)/iova-asan
IOVA_TSAN := $(BUILD)/iova-tsan
GUEST_BUILD := $(BUILD)/guest
QEMU := $(QEMU_BUILD)/qemu-system-x86_64
# Our qtests, as listed for QEMU's build (patches/0003)
QTESTS := $(shell cat tests/qtest/virt-iommu-qtests.txt)
# ccache (./configure puts it in QEMU's machine file; Meson finds it for
# the iova projects): paths are hashed relative to the clone, and the
# build directory is left out of the hash, so any clone of the project
# shares the cache.  Debug info then names the directory that first built
# an object.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# Ninja's own default would use every core; the machines have two.
NINJA := ninja -j$(shell nproc)

.PHONY: all deps configure qemu iova guest run check check-iova check-qtest check-scripts \
        check-sanitizers check-iova-asan check-iova-tsan check-qtest-asan \
        configure-qemu-fuzz \
        bench fuzz fuzz-qemu fuzz-iova check-fuzz soak soak-iova soak-qtest \
        clean distclean

all: qemu iova

# Stamped so that every target does not re-check the packages.
deps: $(BUILD)/.deps
$(BUILD)/.deps: scripts/install-deps.sh
	scripts/install-deps.sh
	@mkdir -p $(BUILD) && touch $@

# Cheap when nothing changed: configure keeps its own stamps.
configure: deps
	./configure

qemu: configure
	$(NINJA) -C $(QEMU_BUILD) qemu-system-x86_64

$(IOVA_BUILD)/build.ninja: | deps
	meson setup $(IOVA_BUILD)

iova: $(IOVA_BUILD)/build.ninja
	$(NINJA) -C $(IOVA_BUILD)

guest: deps
	guest/build-initramfs.sh $(GUEST_BUILD)

# The main job: boot the demo guest with -device virt-iommu.
run: qemu guest
	guest/run-demo.sh

# MMIO reads stay routed while another device's BAR moves (QEMU's TCG,
# patches/0008): the demo's kernel on 2 vCPUs, guest/run-mmio-race.sh.
check-mmio-race: qemu guest
	QEMU=$(QEMU) KERNEL=$(GUEST_BUILD)/vmlinuz OUTDIR=$(BUILD)/mmio-race \
	    guest/run-mmio-race.sh

# The Linux guest with the virt-iommu IOMMU driver (guest/linux/): Debian's
# 6.12 kernel source with the driver, cached so that a re-run takes seconds.
LINUX_BUILD := $(BUILD)/linux
GUEST_LINUX_BUILD := $(BUILD)/guest-linux
guest-kernel: deps
	guest/linux/build-kernel.sh $(LINUX_BUILD)

run-linux-iommu: qemu guest-kernel
	QEMU=$(QEMU) KERNEL=$(LINUX_BUILD)/vmlinux OUTDIR=$(GUEST_LINUX_BUILD) \
	    guest/linux/run-linux-iommu.sh

.PHONY: guest-kernel run-linux-iommu check-mmio-race

# The iova_magazine kmemleak report reproduced and decided: the same kernel
# booted with the kmemleak fix off, then on, and a true leak as control
# (docs/devel/seed-iova-magazine.rst).  make check runs a shorter one.
SEED_WORKLOAD := 120
SEED_STRESS := 60
seed-iova-magazine: qemu guest-kernel
	QEMU=$(QEMU) KERNEL=$(LINUX_BUILD)/vmlinux \
	    SEED_WORKLOAD=$(SEED_WORKLOAD) SEED_STRESS=$(SEED_STRESS) \
	    guest/linux/seed-iova-magazine.sh
check-seed: SEED_WORKLOAD := 20
check-seed: SEED_STRESS := 50
check-seed: seed-iova-magazine
.PHONY: seed-iova-magazine check-seed

check-iova: iova
	meson test -C $(IOVA_BUILD) --print-errorlogs

# The allocator's tests under ASan+UBSan (all suites) and TSan (the
# concurrency suite); any sanitizer report fails the test.
$(IOVA_ASAN)/build.ninja: | deps
	meson setup -Db_sanitize=address,undefined -Db_lundef=false $(IOVA_ASAN)

$(IOVA_TSAN)/build.ninja: | deps
	meson setup -Db_sanitize=thread -Db_lundef=false $(IOVA_TSAN)

check-iova-asan: $(IOVA_ASAN)/build.ninja
	$(NINJA) -C $(IOVA_ASAN)
	meson test -C $(IOVA_ASAN) --print-errorlogs

check-iova-tsan: $(IOVA_TSAN)/build.ninja
	$(NINJA) -C $(IOVA_TSAN)
	meson test -C $(IOVA_TSAN) --print-errorlogs --suite concurrency

# One test-only QEMU build serves the sanitized qtests and the fuzzer: clang
# with ASan+UBSan and libFuzzer's instrumentation (QEMU links its other
# binaries with -fsanitize=fuzzer-no-link), compiling only the devices the
# tests create (configs/devices/x86_64-softmmu/virt-iommu-tests.mak).  Two
# builds cost a fresh machine about 10 more minutes (docs/devel/build.rst).
QEMU_FUZZ := $(BUILD)/qemu-fuzz
TEST_DEVICES := --without-default-devices --with-devices-x86_64=virt-iommu-tests
configure-qemu-fuzz: deps
	./configure --objdir=$(notdir $(QEMU_FUZZ)) -- --cc=clang --cxx=clang++ \
	    --enable-fuzzing --enable-asan --enable-ubsan $(TEST_DEVICES)

# Every qtest against that build's qemu-system-x86_64 (the device models
# are guest-facing attack surface); any report fails it.  Under ASan a
# QEMU start takes about 0.9 s, so virt-iommu-cmd-test's 70 starts and the
# migration test's 256 MiB stream each take about 60 s, QEMU's default
# qtest timeout: give this lane three times as long.
check-qtest-asan: configure-qemu-fuzz
	$(NINJA) -C $(QEMU_FUZZ) qemu-system-x86_64 \
	    $(addprefix tests/qtest/,$(QTESTS))
	cd $(QEMU_FUZZ) && QTEST_SANITIZED=1 meson test --no-rebuild \
	    --timeout-multiplier 3 --print-errorlogs $(addprefix qtest-x86_64/,$(QTESTS))

check-sanitizers: check-iova-asan check-iova-tsan check-qtest-asan

check-qtest: configure
	$(NINJA) -C $(QEMU_BUILD) qemu-system-x86_64 \
	    $(addprefix tests/qtest/,$(QTESTS))
	cd $(QEMU_BUILD) && meson test --no-rebuild --print-errorlogs \
	    $(addprefix qtest-x86_64/,$(QTESTS))

# Unit tests of the Python helpers (make bench's statistics).
check-scripts:
	python3 -m unittest discover -s scripts -p 'test_*.py' -v

check:
	scripts/check.sh

# libFuzzer runs (clang builds): QEMU's generic-fuzz on virt-iommu and
# dma-testdev (scripts/fuzz-qemu.sh), and the allocator against its
# reference model.  Each prints executions, exec/s and cov/ft; a crash,
# leak or sanitizer report fails it.  See docs/devel/testing.rst.
IOVA_FUZZ := $(BUILD)/iova-fuzz
FUZZ_SECONDS := 180
FUZZ_IOVA_SECONDS := $(FUZZ_SECONDS)

fuzz: fuzz-qemu fuzz-iova

# make check's short run (scripts/check.sh): any finding fails it.
check-fuzz: FUZZ_SECONDS := 120
check-fuzz: FUZZ_IOVA_SECONDS := 30
check-fuzz: fuzz-qemu fuzz-iova

fuzz-qemu: configure-qemu-fuzz
	$(NINJA) -C $(QEMU_FUZZ) qemu-fuzz-x86_64
	QEMU_FUZZ_BUILD=$(QEMU_FUZZ) scripts/fuzz-qemu.sh $(FUZZ_SECONDS)

$(IOVA_FUZZ)/build.ninja: | deps
	CC=clang CXX=clang++ meson setup -Dfuzz=true \
	    -Db_sanitize=address,undefined -Db_lundef=false \
	    -Dcpp_args=-fsanitize=fuzzer-no-link $(IOVA_FUZZ)

fuzz-iova: $(IOVA_FUZZ)/build.ninja
	$(NINJA) -C $(IOVA_FUZZ)
	scripts/fuzz-run.sh iova $(FUZZ_IOVA_SECONDS) \
	    $(IOVA_FUZZ)/iova/fuzz/iova-fuzz --

# Long runs: the allocator's differential test for SOAK_IOVA_OPS
# operations, then the lifecycle qtests (VF churn, domain type changes,
# rcache) for SOAK_CYCLES cycles each, reporting QEMU's RSS and the
# allocator counters; a leak or RSS growth fails.  Not part of make check.
SOAK_IOVA_OPS := 10000000
SOAK_CYCLES := 10000
SOAK_QTESTS := virt-iommu-churn-test virt-iommu-rcache-test

soak: soak-iova soak-qtest

soak-iova: iova
	IOVA_PROPERTY_OPS=$(SOAK_IOVA_OPS) meson test -C $(IOVA_BUILD) \
	    --suite property --print-errorlogs --verbose --timeout-multiplier 0

soak-qtest: deps
	./configure --objdir=$(notdir $(QEMU_BUILD))
	$(NINJA) -C $(QEMU_BUILD) qemu-system-x86_64 \
	    $(addprefix tests/qtest/,$(SOAK_QTESTS))
	cd $(QEMU_BUILD) && VIRT_IOMMU_SOAK_CYCLES=$(SOAK_CYCLES) \
	    meson test --no-rebuild --print-errorlogs --verbose \
	    --timeout-multiplier 0 $(addprefix qtest-x86_64/,$(SOAK_QTESTS))

# The performance report: DMA and command throughput against no
# IOMMU and virtio-iommu, boot overhead, the allocator benchmarks (also
# against Linux's iova.c, from the guest kernel's Debian source package)
# and the Linux guest's NVMe I/O through each IOMMU (guest-io), in
# $(BENCH_OUT)/report.md with PNG plots; see docs/devel/performance.rst.
# QEMU_BUILD=build/NAME measures another objdir (configured like build/qemu);
# BENCH_ARGS passes e.g. '--runs 9 --scale 2 --boot-runs 7 --skip boot' or
# '--io-runs 7 --io-rounds 5 --io-seconds 2 --io-accel tcg'.
BENCH_OUT := $(BUILD)/bench
BENCH_ARGS :=
bench: deps guest-kernel
	./configure --objdir=$(notdir $(QEMU_BUILD))
	[ -f $(BUILD)/iova-release/build.ninja ] || \
	    meson setup -Dbuildtype=release $(BUILD)/iova-release
	$(NINJA) -C $(BUILD)/iova-release
	$(NINJA) -C $(BUILD)/iova-release tests/bench/linux-iova/iova-vs-linux
	$(NINJA) -C $(QEMU_BUILD) qemu-system-x86_64 \
	    tests/bench/virt-iommu/virt-iommu-bench \
	    tests/bench/virt-iommu/iova-vs-iova-tree
	guest/build-initramfs.sh $(GUEST_BUILD)
	scripts/bench-report.py --qemu $(QEMU) \
	    --bench $(QEMU_BUILD)/tests/bench/virt-iommu/virt-iommu-bench \
	    --iova-bench $(BUILD)/iova-release/iova/bench/iova-bench \
	    --iova-vs-tree $(QEMU_BUILD)/tests/bench/virt-iommu/iova-vs-iova-tree \
	    --iova-vs-linux $(BUILD)/iova-release/tests/bench/linux-iova/iova-vs-linux \
	    --guest-dir $(GUEST_BUILD) --kernel $(LINUX_BUILD)/vmlinux \
	    --out $(BENCH_OUT) $(BENCH_ARGS)

clean:
	-$(NINJA) -C $(QEMU_BUILD) clean
	-$(NINJA) -C $(QEMU_FUZZ) clean
	-$(NINJA) -C $(IOVA_BUILD) clean

distclean:
	rm -rf $(BUILD)
