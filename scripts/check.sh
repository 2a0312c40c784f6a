#!/usr/bin/env bash
# `make check`: runs every test suite (each a make target), keeps going
# after a failure, and ends with one summary line counting the individual
# tests of every suite.  Exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=0
failed_suites=()

# Adds the results of the last `meson test` run in build dir $1.
count_meson() {
    local log="$1/meson-logs/testlog.json" counts
    [ -f "$log" ] || return 1
    counts=$(python3 - "$log" <<'EOF'
import json, sys
ok = bad = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r == "SKIP":
        skip += 1
    else:
        bad += 1
print(ok, bad, skip)
EOF
    ) || return 1
    set -- $counts
    passed=$((passed + $1))
    failed=$((failed + $2))
    skipped=$((skipped + $3))
}

# suite NAME BUILD-DIR|- MAKE-TARGET: runs the target; counts its meson
# tests, or the target itself as one test when it has no build dir.
suite() {
    local name=$1 dir=$2 target=$3 rc
    echo "=== $name (make $target)"
    [ "$dir" != - ] && rm -f "$dir/meson-logs/testlog.json"
    make --no-print-directory "$target"
    rc=$?
    if [ "$dir" != - ] && count_meson "$dir"; then
        # A build failure leaves no log; count it as a failure below.
        [ $rc -eq 0 ] || failed_suites+=("$name")
        return
    fi
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_suites+=("$name")
    fi
}

suite scripts - check-scripts
suite iova build/iova check-iova
suite iova-asan build/iova-asan check-iova-asan
suite iova-tsan build/iova-tsan check-iova-tsan
suite qtest build/qemu check-qtest
suite qtest-asan build/qemu-fuzz check-qtest-asan
suite fuzz - check-fuzz
suite demo - run
suite mmio-race - check-mmio-race
suite linux-iommu - run-linux-iommu
suite seed-iova-magazine - check-seed

echo
[ ${#failed_suites[@]} -eq 0 ] || echo "failing suites: ${failed_suites[*]}"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ] && [ ${#failed_suites[@]} -eq 0 ]
